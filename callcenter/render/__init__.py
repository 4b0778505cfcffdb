"""Rendering a checked site into an Asterisk configuration directory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import jinja2

from callcenter.daemon.paths import hand_over
from callcenter.errors import RenderError
from callcenter.render.context import build_context
from callcenter.render.music import ensure_music
from callcenter.render.templates import environment
from callcenter.site.flownodes import Voicemail, box_folder
from callcenter.site.model import Site

__all__ = ["RUNTIME_DIRS", "render_files", "render_site"]

MANIFEST = ".callcenter-rendered"
# Asterisk's own runtime folders inside the output directory (see asterisk.conf.j2)
RUNTIME_DIRS = ("log", "run", "spool", "db", "sounds", "voicemail")


def render_files(site: Site, out_dir: Path) -> dict[str, str]:
    """File name → text of every rendered file, in memory; raises RenderError."""
    env = environment()
    ctx = build_context(site, out_dir)
    files: dict[str, str] = {}
    # a template named _*.j2 is a part another one includes, not a file of its own;
    # kamailio/ holds the proxies' templates (callcenter/render/kamailio.py)
    for name in sorted(env.list_templates(
            filter_func=lambda n: n.endswith(".j2") and not Path(n).name.startswith("_")
            and not n.startswith("kamailio/"))):
        try:
            files[name.removesuffix(".j2")] = env.get_template(name).render(ctx)
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {name}: {exc}") from exc
    return files


def render_site(site: Site, out_dir: str | Path) -> list[str]:
    """Render every template into `out_dir`; return the names of files that changed.

    Everything is rendered in memory first; only then is each file written to a temporary
    name and renamed over the old one, so a failed render leaves the old files untouched."""
    out = Path(out_dir)
    files = render_files(site, out)
    try:
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        # closed to other users; a set-group-id bit the launcher put there (Asterisk's group,
        # which must read the files) is kept, and then the group may read
        shared = out.stat().st_mode & 0o2000
        os.chmod(out, 0o750 | shared if shared else 0o700)
        file_mode = 0o640 if shared else 0o600
        for d in RUNTIME_DIRS:
            (out / d).mkdir(exist_ok=True, mode=0o700)
        # the daemon's state (DIR/daemon, 0700): as root, handed to its user `callcenter`
        hand_over(out)
        # made here, so the launcher hands them to Asterisk's user: the daemon (another user)
        # would otherwise create them at the first message, where Asterisk cannot record
        for box in voicemail_boxes(site):
            (out / "voicemail" / box).mkdir(exist_ok=True, mode=0o700)
        old = set()
        if (out / MANIFEST).exists():
            old = set((out / MANIFEST).read_text(encoding="utf-8").split())
        changed = []
        staged = []
        for name, text in files.items():
            target = out / name
            data = text.encode("utf-8")
            if target.exists() and target.read_bytes() == data:
                os.chmod(target, file_mode)
                continue
            tmp = out / f".{name}.{os.getpid()}.tmp"
            # manager.conf, pjsip.conf and extensions.conf hold secrets
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode)
            os.fchmod(fd, file_mode)  # whatever the umask
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            staged.append((tmp, target))
            changed.append(name)
        for tmp, target in staged:
            os.replace(tmp, target)
        for stale in sorted(old - set(files)):
            (out / stale).unlink(missing_ok=True)
        classes = {q.music_class for q in site.spec.queues.values()} | {"default"}
        ensure_music(out / "sounds", sorted(classes))
        manifest = "\n".join(sorted(files)) + "\n"
        (out / MANIFEST).write_text(manifest, encoding="utf-8")
        os.chmod(out / MANIFEST, file_mode)
    except OSError as exc:
        raise RenderError(f"cannot write {out}: {exc.strerror} — check the folder's "
                          "permissions and free space") from exc
    return changed


def voicemail_boxes(site: Site) -> list[str]:
    """Every voicemail box a queue's overflow or a flow names, as folder names."""
    names = {q.overflow.split(":", 1)[1] for q in site.spec.queues.values()
             if q.overflow.startswith("voicemail:")}

    for flow in site.flows.values():
        names.update(node.box for node in flow.nodes.values() if isinstance(node, Voicemail))
    return sorted({box_folder(n) for n in names} - {""})


def digest(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()
