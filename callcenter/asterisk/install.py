"""Where Asterisk is: a system install on PATH, or the root scripts/install-asterisk built."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from callcenter.errors import AsteriskError

__all__ = ["DEFAULT_ROOT", "ROOT_ENV", "Installation", "locate"]

ROOT_ENV = "CALLCENTER_ASTERISK_ROOT"
DEFAULT_ROOT = Path("/var/lib/callcenter/asterisk-root")


@dataclass(frozen=True)
class Installation:
    """How to run the asterisk binary: directly, or under chroot in `root`."""

    root: Path | None

    def command(self, *args: str) -> list[str]:
        if self.root is None:
            return ["asterisk", *args]
        return ["chroot", str(self.root), "/usr/sbin/asterisk", *args]

    def describe(self) -> str:
        return "system Asterisk" if self.root is None else f"Asterisk in the root {self.root}"


def locate() -> Installation:
    """$CALLCENTER_ASTERISK_ROOT if set, else an asterisk on PATH, else the default root."""
    explicit = os.environ.get(ROOT_ENV)
    candidates = [Path(explicit)] if explicit else []
    for root in candidates:
        if (root / "usr/sbin/asterisk").exists():
            return Installation(root)
        raise AsteriskError(f"{ROOT_ENV}={root} holds no usr/sbin/asterisk — run "
                            "scripts/install-asterisk with that variable set, or unset it")
    if shutil.which("asterisk"):
        return Installation(None)
    if (DEFAULT_ROOT / "usr/sbin/asterisk").exists():
        return Installation(DEFAULT_ROOT)
    raise AsteriskError("Asterisk is not installed — run 'make install' (or "
                        "scripts/install-asterisk) first")
