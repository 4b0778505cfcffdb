"""SIP passwords, agent PINs, the AMI secret, HTTP API tokens and webhook secrets: read from
a file outside the repo or the environment, generated when asked, never written into the
site file."""

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

__all__ = ["API_SCOPES", "DEFAULT_API_CLIENTS", "MIN_TOKEN", "check_file_safety", "env_name",
           "generate_secrets", "locate_secrets", "resolve_secrets", "weakness"]

ENV_FILE = "CALLCENTER_SECRETS"
_ALPHABET = string.ascii_letters + string.digits
API_SCOPES: tuple[str, ...] = ("reminders", "leads", "read")
# clients `secrets generate` creates: the booking system and the CRM
DEFAULT_API_CLIENTS: dict[str, tuple[str, ...]] = {"booking": ("reminders",),
                                                   "crm": ("leads", "read")}
MIN_TOKEN = 32  # API tokens and webhook secrets: at least this many characters
_TOKEN_CHARS = frozenset(_ALPHABET + "-._~+/=")  # what an Authorization header carries as is


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


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path) -> dict[str, Any]:
    if not path.exists() and not path.is_symlink():
        return {}
    check_file_safety(path)
    try:
        # libyaml's loader where PyYAML has it: 20,000 agents' secrets in a second, not 15
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
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
    clients = _api_clients(src, spec, data, path, env, problems)
    hooks = {name: _long_secret(src, ("outbound", "webhooks", name), f"webhook '{name}'",
                                "secret", env_name("WEBHOOK_SECRET", name),
                                (data.get("webhooks") or {}).get(name), path, env, problems)
             for name in spec.outbound.webhooks}
    if problems:
        return None, problems
    return Secrets(ami_secret=ami, sip_passwords=sip, pins=pins, trunk_passwords=trunk_pw,
                   agi_secret=_agi_secret(env, data, ami), api_clients=clients,
                   webhook_secrets=hooks), []


def _long_secret(src: Source, where: tuple, who: str, what: str, var: str, stored: Any,
                 path: Path, env: Mapping[str, str], problems: list[Problem]) -> str:
    """An API token or webhook secret: random, at least MIN_TOKEN header-safe characters."""
    value = env.get(var) or (str(stored) if stored is not None else "")
    gen = f"run 'callcenter secrets generate {src.file}'"
    fix = f"{gen} after removing it from {path}, or set {var}"
    if not value:
        problems.append(src.problem(where, f"{who} has no {what}",
                                    f"{gen} to add one to {path}, or set {var}"))
    elif len(value) < MIN_TOKEN or not set(value) <= _TOKEN_CHARS:
        problems.append(src.problem(where, f"the {what} of {who} is unusable (at least "
                                    f"{MIN_TOKEN} letters, digits or -._~+/=)", fix))
    elif why := weakness(value):
        problems.append(src.problem(where, f"the {what} of {who} is guessable: {why}", fix))
    return value


def _api_clients(src: Source, spec: SiteFile, data: dict[str, Any], path: Path,
                 env: Mapping[str, str], problems: list[Problem]
                 ) -> dict[str, tuple[str, frozenset[str]]]:
    """`api_clients: {NAME: {token: ..., scopes: [...]}}`; the token may come from
    CALLCENTER_API_TOKEN_NAME. Problems are located at the site file's outbound.api."""
    raw = data.get("api_clients") or {}
    where = ("outbound", "api")
    if not isinstance(raw, dict):
        problems.append(src.problem(where, f"api_clients in {path} is not a mapping",
                                    "write api_clients: {NAME: {token: ..., scopes: [...]}}"))
        return {}
    clients: dict[str, tuple[str, frozenset[str]]] = {}
    for name, entry in raw.items():
        name = str(name)
        entry = entry if isinstance(entry, dict) else {}
        scopes = entry.get("scopes") or []
        scopes = [scopes] if isinstance(scopes, str) else scopes
        unknown = sorted(str(s) for s in scopes if s not in API_SCOPES)
        if unknown or not scopes:
            problems.append(src.problem(
                where, f"API client '{name}' in {path}: " + (
                    f"unknown scope '{unknown[0]}'" if unknown else "no scopes"),
                f"use scopes from {', '.join(API_SCOPES)}"))
        token = _long_secret(src, where, f"API client '{name}'", "token",
                             env_name("API_TOKEN", name), entry.get("token"), path, env,
                             problems)
        if token and any(hmac.compare_digest(token, t) for t, _ in clients.values()):
            problems.append(src.problem(where, f"API client '{name}' shares its token with "
                                        "another client", f"give each client its own token "
                                        f"in {path}"))
        clients[name] = (token, frozenset(str(s) for s in scopes))
    return clients


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
    clients = data.get("api_clients") or {}
    data["api_clients"] = clients
    for name, scopes in DEFAULT_API_CLIENTS.items():
        entry = clients.setdefault(name, {}) or {}
        clients[name] = entry
        if not entry.get("token"):
            entry["token"] = _token(MIN_TOKEN + 8)
            entry.setdefault("scopes", list(scopes))
            added.append(f"api_clients.{name}.token")
    hooks = data.get("webhooks") or {}
    data["webhooks"] = hooks
    for name in spec.outbound.webhooks:
        if not hooks.get(name):
            hooks[name] = _token(MIN_TOKEN + 8)
            added.append(f"webhooks.{name}")
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
