"""Prompt audio: a recording wins; otherwise the text is spoken by espeak-ng. Either way the
result is an 8 kHz mono 16-bit WAV that Asterisk plays without transcoding. Besides the
site's prompts, the built-in ones (callcenter.ivr.system_prompts) are built in the company's
language; a site prompt of the same name wins."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from callcenter.errors import CallcenterError
from callcenter.ivr.system_prompts import system_texts
from callcenter.site.model import Prompt, Site

__all__ = ["VOICES", "build_prompts", "tool", "voice"]

# espeak-ng 1.51's plain "cmn" voice reads many characters as pinyin spelled in English with
# the tone digits as English words (欢迎 comes out as "huan five, ying two"); cmn-latn-pinyin
# says them as Mandarin
VOICES = {"zh": "cmn-latn-pinyin", "yue": "yue", "en": "en"}
MANIFEST = ".prompts.json"
# built-in pieces are played one after another: cut espeak-ng's silence around each so the
# announcement sounds like one sentence (sox: trim both ends, then a short pause)
_TRIM = ["silence", "1", "0.01", "0.3%", "reverse", "silence", "1", "0.01", "0.3%", "reverse",
         "pad", "0", "0.05"]


def tool(name: str, package: str) -> str:
    """The program's path, or a CallcenterError saying which package installs it."""
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
    # the voice is part of the key: a change of voice rebuilds what it spoke
    return f"text:{voice(prompt.language)}:{prompt.text}"


def voice(language: str) -> str:
    """The espeak-ng voice that speaks `language` (Mandarin for an unknown one)."""
    return VOICES.get(language, VOICES["zh"])


def _all_prompts(site: Site) -> dict[str, tuple[Prompt, bool]]:
    """Every prompt to build: name → (prompt, trim); the site's own override built-in ones."""
    language = site.spec.company.language
    built_in = {name: (Prompt(text=text, language=language), True)
                for name, text in system_texts(language).items()}
    return built_in | {name: (p, False) for name, p in site.spec.prompts.items()}


def build_prompts(site: Site, out_dir: Path, *, force: bool = False) -> dict[str, str]:
    """Write out_dir/sounds/NAME.wav for every prompt, the built-in ones included; return
    name → "built"/"unchanged"."""
    sounds = out_dir / "sounds"
    sounds.mkdir(parents=True, exist_ok=True)
    manifest_path = sounds / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    except ValueError:
        manifest = {}
    sox = tool("sox", "sox")
    result: dict[str, str] = {}
    for name, (prompt, trim) in sorted(_all_prompts(site).items()):
        target = sounds / f"{name}.wav"
        key = _source_key(prompt, site.base_dir) + (":trim" if trim else "")
        if not force and target.exists() and manifest.get(name) == key:
            result[name] = "unchanged"
            continue
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            if key.startswith("file:"):
                p = Path(prompt.file or "")
                src = p if p.is_absolute() else site.base_dir / p
            elif prompt.text:
                espeak = tool("espeak-ng", "espeak-ng")
                res = subprocess.run([espeak, "-v", voice(prompt.language), "-s",
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
                                  "-e", "signed-integer", str(tmp_out),
                                  *(_TRIM if trim else [])],
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
