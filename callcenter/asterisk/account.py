"""The unprivileged account Asterisk runs as, and the ownership of the rendered folder.

Asterisk starts as root only to bind and then drops to `asterisk` (`-U/-G`). Under a chroot the
user must exist in the root's /etc/passwd with the same ids as on the host
(scripts/install-asterisk makes it so), because the rendered folder is bind-mounted."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from callcenter.asterisk.install import Installation
from callcenter.errors import AsteriskError

__all__ = ["SERVICE_USER", "Account", "account", "prepare_folder"]

SERVICE_USER = "asterisk"
# Asterisk writes these (asterisk.conf.j2); the configuration itself it only reads
_WRITABLE = ("log", "run", "spool", "db", "voicemail")
# the daemon's own state (callcenter.daemon.paths): its user's, never Asterisk's
_NOT_ASTERISKS = ("daemon",)


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int


def _lookup(passwd: Path, name: str) -> tuple[int, int] | None:
    try:
        lines = passwd.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == name:
            return int(fields[2]), int(fields[3])
    return None


def account(inst: Installation) -> Account | None:
    """The service account, if it exists (None: Asterisk keeps the launcher's user)."""
    if os.geteuid() != 0:
        return None  # an unprivileged launcher runs Asterisk as itself
    host = _lookup(Path("/etc/passwd"), SERVICE_USER)
    if inst.root is None:
        return Account(SERVICE_USER, *host) if host else None
    inside = _lookup(inst.root / "etc/passwd", SERVICE_USER)
    if inside is None:
        return None
    if host is not None and host != inside:
        raise AsteriskError(f"user {SERVICE_USER} has ids {host} on this host but {inside} "
                            f"in {inst.root} — run scripts/install-asterisk again to align them")
    return Account(SERVICE_USER, *inside)


def _chown_tree(top: Path, uid: int, gid: int, mode: int) -> None:
    os.chown(top, uid, gid)
    os.chmod(top, mode)
    for base, dirs, files in os.walk(top):
        for name in dirs + files:
            path = Path(base, name)
            if not path.is_symlink():
                os.chown(path, uid, gid)


def prepare_folder(conf_dir: Path, acct: Account) -> None:
    """Config readable by Asterisk's group only (root:asterisk, 02750 so new files keep the
    group, files 0640); Asterisk's runtime folders its own (0700)."""
    os.chown(conf_dir, 0, acct.gid)
    os.chmod(conf_dir, 0o2750)
    for path in conf_dir.iterdir():
        if path.name in _WRITABLE + _NOT_ASTERISKS or path.is_symlink():
            continue
        if path.is_dir():
            _chown_tree(path, 0, acct.gid, 0o750)
        else:
            os.chown(path, 0, acct.gid)
            os.chmod(path, 0o640)
    for d in _WRITABLE:
        (conf_dir / d).mkdir(exist_ok=True)
        _chown_tree(conf_dir / d, acct.uid, acct.gid, 0o700)
