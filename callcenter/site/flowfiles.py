"""Finding and reading the IVR flow files a site names (flownodes.py and flowcheck.py
compile them)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from callcenter.errors import Problem
from callcenter.site.limits import MAX_FILE_BYTES
from callcenter.site.model import SiteFile
from callcenter.site.yamlsrc import Source, load_yaml

__all__ = ["load_flow_sources"]


def load_flow_sources(src: Source, spec: SiteFile
                      ) -> tuple[dict[str, Source], dict[str, Path], list[Problem]]:
    """Parse every flow file; check each is a mapping with an `entry` node that exists."""
    base = Path(src.file).parent
    sources: dict[str, Source] = {}
    paths: dict[str, Path] = {}
    problems: list[Problem] = []
    for name, ref in spec.flows.items():
        p = Path(ref)
        path = p if p.is_absolute() else base / p
        if not path.exists():
            problems.append(src.problem(("flows", name), f"flow file {ref} does not exist",
                                        "fix the path (relative to the site file)"))
            continue
        refused = _unreadable(path)
        if refused:
            problems.append(src.problem(("flows", name), f"flow file {ref} {refused}",
                                        "point it at a regular .yaml flow file"))
            continue
        fsrc, errs = load_yaml(path)  # refuses again what changed since (size, kind)
        problems.extend(errs)
        if fsrc is None:
            continue
        doc = fsrc.data
        if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), dict):
            problems.append(fsrc.problem((), "a flow file needs a 'nodes:' mapping",
                                         "see docs/flows.md"))
            continue
        entry = doc.get("entry")
        if not isinstance(entry, str) or not entry:
            problems.append(fsrc.problem(("entry",), "the flow has no entry point",
                                         "add 'entry: NODE' naming its first node"))
        elif entry not in doc["nodes"]:
            problems.append(fsrc.problem(("entry",), f"entry node '{entry}' is not defined",
                                         "define it under 'nodes:' or fix the name"))
        sources[name] = fsrc
        paths[name] = path
    return sources, paths, problems


def _unreadable(path: Path) -> str | None:
    """Why `path` cannot be a flow file (a folder, device, FIFO, too large), or None."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is a device, FIFO or socket, not a file"
    if st.st_size > MAX_FILE_BYTES:
        return f"is larger than {MAX_FILE_BYTES // 1024} kB"
    return None
