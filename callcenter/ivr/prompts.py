"""Prompt audio: a recording wins; otherwise the text is spoken by espeak-ng. Either way the
result is an 8 kHz mono 16-bit WAV that Asterisk plays without transcoding."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from callcenter.errors import CallcenterError
from callcenter.site.model import Prompt, Site

__all__ = ["VOICES", "build_prompts"]

VOICES = {"zh": "cmn", "yue": "yue", "en": "en"}
MANIFEST = ".prompts.json"


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        raise CallcenterError(f"{name} is not installed — apt-get install {package} "
                              "(scripts/install-asterisk installs it)")
    return path


def _source_key(prompt: Prompt, base: Path) -> str:
    """What the built file depends on: the recording's bytes, or the text and voice."""
    if prompt.file:
        p = Path(prompt.file)
        p = p if p.is_absolute() else base / p
        if p.exists():
            return "file:" + hashlib.sha256(p.read_bytes()).hexdigest()
    return f"text:{prompt.language}:{prompt.text}"


def build_prompts(site: Site, out_dir: Path, *, force: bool = False) -> dict[str, str]:
    """Write out_dir/sounds/NAME.wav for every prompt; return name → "built"/"unchanged"."""
    sounds = out_dir / "sounds"
    sounds.mkdir(parents=True, exist_ok=True)
    manifest_path = sounds / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    except ValueError:
        manifest = {}
    sox = _tool("sox", "sox")
    result: dict[str, str] = {}
    for name, prompt in sorted(site.spec.prompts.items()):
        target = sounds / f"{name}.wav"
        key = _source_key(prompt, site.base_dir)
        if not force and target.exists() and manifest.get(name) == key:
            result[name] = "unchanged"
            continue
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            if key.startswith("file:"):
                p = Path(prompt.file or "")
                src = p if p.is_absolute() else site.base_dir / p
            elif prompt.text:
                espeak = _tool("espeak-ng", "espeak-ng")
                res = subprocess.run([espeak, "-v", VOICES.get(prompt.language, "cmn"), "-s",
                                      "150", "-w", str(raw), prompt.text],
                                     capture_output=True, text=True, timeout=60)
                if res.returncode:
                    raise CallcenterError(f"espeak-ng could not speak prompt '{name}': "
                                          f"{res.stderr.strip()}")
                src = raw
            else:
                raise CallcenterError(f"prompt '{name}' has neither a recording nor a text")
            tmp_out = sounds / f".{name}.{os.getpid()}.wav"
            res = subprocess.run([sox, str(src), "-r", "8000", "-c", "1", "-b", "16",
                                  "-e", "signed-integer", str(tmp_out)],
                                 capture_output=True, text=True, timeout=60)
            if res.returncode:
                tmp_out.unlink(missing_ok=True)
                raise CallcenterError(f"sox could not convert prompt '{name}' ({src}): "
                                      f"{res.stderr.strip()}")
            os.replace(tmp_out, target)
        manifest[name] = key
        result[name] = "built"
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    return result
