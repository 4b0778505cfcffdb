"""The jinja2 environment for Asterisk configuration: strict, deterministic, injection-proof."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import jinja2

from callcenter.contract import TEMPLATE_NAMES
from callcenter.errors import RenderError

__all__ = ["TEMPLATE_DIRS_ENV", "environment", "template_dirs"]

TEMPLATE_DIRS_ENV = "CALLCENTER_TEMPLATES"
_FOLDERS = ("asterisk_conf", "dialplans")


def template_dirs() -> list[Path]:
    """asterisk_conf/ and dialplans/: from $CALLCENTER_TEMPLATES, the source checkout, or the
    installed share/callcenter."""
    roots: list[Path] = []
    if os.environ.get(TEMPLATE_DIRS_ENV):
        roots.append(Path(os.environ[TEMPLATE_DIRS_ENV]))
    roots.append(Path(__file__).resolve().parents[2])
    roots.append(Path(sys.prefix) / "share" / "callcenter")
    for root in roots:
        dirs = [root / f for f in _FOLDERS]
        if all(d.is_dir() for d in dirs):
            return dirs
    raise RenderError("cannot find the asterisk_conf/ and dialplans/ template folders — "
                      f"set {TEMPLATE_DIRS_ENV} to the folder that holds them")


def _conf_value(value: Any) -> Any:
    """Refuse any value that could change the meaning of an Asterisk config line.

    The site model already rejects such text; this is the last line of defence, so that a
    template that forgets a filter cannot be turned into an injection."""
    if isinstance(value, str) and (any(ord(c) < 32 for c in value) or ";" in value
                                   or "${" in value or "$[" in value):
        raise RenderError(f"refusing to write unsafe text {value!r} into Asterisk "
                          "configuration — remove line breaks, ';' and '${' from the site file")
    return value


def _quoted(value: str) -> str:
    """Text inside a double-quoted caller-ID name."""
    if '"' in value or "\\" in value:
        raise RenderError(f"refusing quote or backslash in caller name {value!r}")
    return value


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs()]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_conf_value,
    )
    env.filters["quoted"] = _quoted
    # the daemon <-> dialplan names (callcenter/contract.py): {{ var.NEXT }}, {{ route.OFFER }}
    env.globals.update(TEMPLATE_NAMES)
    return env
