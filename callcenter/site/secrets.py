"""SIP passwords, agent PINs and the AMI secret: read from a file outside the repo or the
environment, generated when asked, never written into the site file."""

from __future__ import annotations

import hashlib
import hmac
import os
import pwd
import secrets as _random
import string
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from callcenter.errors import Problem, SecretsError
from callcenter.site.model import Secrets, SiteFile
from callcenter.site.yamlsrc import Source

__all__ = ["check_file_safety", "env_name", "generate_secrets", "locate_secrets",
           "resolve_secrets", "weakness"]

ENV_FILE = "CALLCENTER_SECRETS"
_ALPHABET = string.ascii_letters + string.digits


def env_name(kind: str, name: str = "") -> str:
    """Environment variable that overrides one secret, e.g. CALLCENTER_SIP_PASSWORD_1001."""
    suffix = "_" + name.upper().replace("-", "_") if name else ""
    return f"CALLCENTER_{kind}{suffix}"


def locate_secrets(site_path: Path, spec: SiteFile, override: str | Path | None,
                   env: Mapping[str, str]) -> Path:
    """--secrets beats $CALLCENTER_SECRETS beats the site's `secrets:` key beats the default
    secrets.yaml beside the site file."""
    if override:
        return Path(override)
    if env.get(ENV_FILE):
        return Path(env[ENV_FILE])
    if spec.secrets:
        p = Path(spec.secrets).expanduser()
        return p if p.is_absolute() else site_path.parent / p
    return site_path.parent / "secrets.yaml"


def check_file_safety(path: Path) -> None:
    """Refuse a secrets file others could read or change, as ssh does for a private key: the
    file a symlink points to counts, and it must belong to us or to root."""
    target = path.resolve()
    try:
        st = target.stat()
    except OSError as exc:
        raise SecretsError(f"{path}: cannot read the secrets file ({exc.strerror})") from exc
    shown = f"{path} (→ {target})" if target != path.absolute() else str(path)
    if st.st_uid not in (0, os.geteuid()):
        try:
            owner = pwd.getpwuid(st.st_uid).pw_name
        except KeyError:
            owner = str(st.st_uid)
        raise SecretsError(f"{shown}: the secrets file belongs to user {owner}, who could "
                           f"change the secrets — run 'chown {_me()} {target}'")
    if st.st_mode & 0o077:
        raise SecretsError(f"{shown}: the secrets file is open to other users (mode "
                           f"{st.st_mode & 0o777:04o}) — run 'chmod 600 {target}'")


def _me() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


# refused anywhere in a value / as the whole value (case, "-", "_" and "." ignored)
_PLACEHOLDER_PARTS = ("changeme", "password", "passw0rd", "123456", "qwerty", "letmein")
_PLACEHOLDER_WORDS = ("secret", "secret123", "admin", "admin123", "default", "example",
                      "asterisk", "callcenter")


def weakness(value: str, *, pin: bool = False) -> str | None:
    """Why `value` is a placeholder or trivially guessable secret, or None if it is not."""
    if pin:
        if len(set(value)) == 1:
            return "one digit repeated"
        steps = {int(b) - int(a) for a, b in pairwise(value)}
        if steps in ({1}, {-1}):
            return "a run of consecutive digits"
        return None
    folded = value.lower().replace("-", "").replace("_", "").replace(".", "")
    for word in _PLACEHOLDER_PARTS:
        if word in folded:
            return f"a placeholder ('{word}')"
    if folded in _PLACEHOLDER_WORDS:
        return f"a placeholder ('{value}')"
    if len(set(value)) <= 2:
        return "one or two characters repeated"
    return None


def _read(path: Path) -> dict[str, Any]:
    if not path.exists() and not path.is_symlink():
        return {}
    check_file_safety(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SecretsError(f"{path}: cannot read the secrets file ({exc}) — fix or remove it "
                           "and run 'callcenter secrets generate'") from exc
    if not isinstance(data, dict):
        raise SecretsError(f"{path}: the secrets file must be a mapping — see README, Secrets")
    return data


def _ok_password(value: str) -> bool:
    return 8 <= len(value) <= 64 and all((c.isascii() and c.isalnum()) or c in "-_.!@%^*+=~"
                                         for c in value)


def resolve_secrets(src: Source, spec: SiteFile, path: Path,
                    env: Mapping[str, str]) -> tuple[Secrets | None, list[Problem]]:
    """Collect every secret the site needs; report each one that is missing or unusable."""
    problems: list[Problem] = []
    try:
        data = _read(path)
    except SecretsError as exc:
        return None, [src.problem(("secrets",), str(exc), "")]
    how = f"run 'callcenter secrets generate {src.file}' to create it in {path}"

    def pick(kind: str, name: str, stored: Any, where: tuple, what: str, pin: bool = False
             ) -> str:
        value = env.get(env_name(kind, name)) or (str(stored) if stored is not None else "")
        if not value:
            problems.append(src.problem(where, f"no {what}",
                                        f"{how}, or set {env_name(kind, name)}"))
        elif pin and not (value.isdigit() and 4 <= len(value) <= 8):
            problems.append(src.problem(where, f"the {what} is not 4–8 digits",
                                        f"fix it in {path} or {env_name(kind, name)}"))
        elif not pin and not _ok_password(value):
            problems.append(src.problem(
                where, f"the {what} is unusable (8–64 letters, digits or -_.!@%^*+=~)",
                f"change it in {path} or {env_name(kind, name)}"))
        elif why := weakness(value, pin=pin):
            fix = ("set the carrier's real one" if kind == "TRUNK_PASSWORD" else
                   f"run 'callcenter secrets generate {src.file}' after removing it")
            problems.append(src.problem(where, f"the {what} is guessable: {why}",
                                        f"{fix} in {path}, or set {env_name(kind, name)}"))
        return value

    agents = data.get("agents") or {}
    trunks = data.get("trunks") or {}
    sip: dict[str, str] = {}
    pins: dict[str, str] = {}
    trunk_pw: dict[str, str] = {}
    ami = pick("AMI_SECRET", "", data.get("ami_secret"), ("asterisk",), "AMI secret")
    for i, agent in enumerate(spec.agents):
        entry = agents.get(agent.id) or agents.get(int(agent.id)) or {}
        where = ("agents", i, "id")
        sip[agent.id] = pick("SIP_PASSWORD", agent.id, entry.get("sip_password"), where,
                             f"SIP password for agent {agent.id}")
        pins[agent.id] = pick("AGENT_PIN", agent.id, entry.get("pin"), where,
                              f"login PIN for agent {agent.id}", pin=True)
    for name, trunk in spec.trunks.items():
        if trunk.identify == "password":
            entry = trunks.get(name) or {}
            trunk_pw[name] = pick("TRUNK_PASSWORD", name, entry.get("password"),
                                  ("trunks", name), f"password for trunk '{name}'")
    if problems:
        return None, problems
    return Secrets(ami_secret=ami, sip_passwords=sip, pins=pins, trunk_passwords=trunk_pw,
                   agi_secret=_agi_secret(env, data, ami)), []


def _agi_secret(env: Mapping[str, str], data: dict[str, Any], ami: str) -> str:
    """The FastAGI secret; a secrets file from before it existed gets one derived from its
    (random) AMI secret, so an upgrade keeps working until 'secrets generate' adds one."""
    value = env.get(env_name("AGI_SECRET")) or str(data.get("agi_secret") or "")
    cleaned = "".join(c for c in value if c.isascii() and c.isalnum())  # a URL path part
    if cleaned:
        return cleaned
    return hmac.new(ami.encode(), b"callcenter fastagi", hashlib.sha256).hexdigest()[:32]


def generate_secrets(spec: SiteFile, path: Path) -> list[str]:
    """Add a random value for every secret the file lacks (keeping existing ones); return
    what was added. The file is written atomically with mode 0600."""
    data = _read(path)
    added: list[str] = []
    if not data.get("ami_secret"):
        data["ami_secret"] = _token(32)
        added.append("ami_secret")
    if not data.get("agi_secret"):
        data["agi_secret"] = _token(32)
        added.append("agi_secret")
    agents = data.setdefault("agents", {}) or {}
    data["agents"] = agents
    for agent in spec.agents:
        entry = agents.setdefault(agent.id, {}) or {}
        agents[agent.id] = entry
        if not entry.get("sip_password"):
            entry["sip_password"] = _token(20)
            added.append(f"agents.{agent.id}.sip_password")
        if not entry.get("pin"):
            entry["pin"] = _pin()
            added.append(f"agents.{agent.id}.pin")
    trunks = data.setdefault("trunks", {}) or {}
    data["trunks"] = trunks
    for name, trunk in spec.trunks.items():
        if trunk.identify == "password" and not (trunks.get(name) or {}).get("password"):
            trunks.setdefault(name, {})["password"] = "CHANGE-ME-carrier-password"
            added.append(f"trunks.{name}.password (set the carrier's real one)")
    if added:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("# callcenter secrets: keep this file out of version control (mode 0600)\n")
            yaml.safe_dump(data, fh, allow_unicode=True, sort_keys=True)
        os.replace(tmp, path)
    return added


def _pin() -> str:
    while True:  # a random PIN is rarely 123456 or 000000, but those are refused
        pin = "".join(_random.choice(string.digits) for _ in range(6))
        if weakness(pin, pin=True) is None:
            return pin


def _token(n: int) -> str:
    return "".join(_random.choice(_ALPHABET) for _ in range(n))
