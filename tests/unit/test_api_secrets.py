"""API clients and webhook secrets in the secrets file: generated, checked, overridden."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from callcenter.errors import SiteError
from callcenter.site import load_site, load_site_file
from callcenter.site.secrets import generate_secrets
from tests.fix_asterisk import make_site


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "site")


def _secrets(site: Path) -> dict:
    return yaml.safe_load((site.parent / "secrets.yaml").read_text(encoding="utf-8"))


def _edit(site: Path, change) -> None:
    path = site.parent / "secrets.yaml"
    data = _secrets(site)
    change(data)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def _problems(site: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(SiteError) as err:
        load_site(site, env=env or {})
    return str(err.value)


def test_generate_adds_the_booking_system_and_the_crm(site: Path) -> None:
    clients = load_site(site, env={}).secrets.api_clients
    assert clients["booking"][1] == frozenset({"reminders"})
    assert clients["crm"][1] == frozenset({"leads", "read"})
    assert len(clients["booking"][0]) >= 32 and clients["booking"][0] != clients["crm"][0]
    before = _secrets(site)["api_clients"]
    assert generate_secrets(load_site_file(site), site.parent / "secrets.yaml") == []
    assert _secrets(site)["api_clients"] == before  # kept, not replaced


def test_webhook_secret_is_generated_and_required(site: Path) -> None:
    data = yaml.safe_load(site.read_text(encoding="utf-8"))
    data["outbound"]["webhooks"] = {"crm": {"url": "https://crm.example.test/hook"}}
    site.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert "webhook 'crm' has no secret" in _problems(site)
    added = generate_secrets(load_site_file(site), site.parent / "secrets.yaml")
    assert added == ["webhooks.crm"]
    secret = load_site(site, env={}).secrets.webhook_secrets["crm"]
    assert len(secret) >= 32
    env = {"CALLCENTER_WEBHOOK_SECRET_CRM": "k" * 8 + "Q2x9-Lm4Vb7Nc1Zr8Tp3Wy6Hs5Jd0Fg"}
    assert load_site(site, env=env).secrets.webhook_secrets["crm"] == env[
        "CALLCENTER_WEBHOOK_SECRET_CRM"]


@pytest.mark.security
@pytest.mark.parametrize(("token", "why"), [
    ("short-token-1234", "unusable"), ("x" * 40, "guessable"),
    ("changeme-changeme-changeme-changeme", "guessable"),
    ("has spaces in the token which is long", "unusable")])
def test_weak_or_short_tokens_are_refused(site: Path, token: str, why: str) -> None:
    _edit(site, lambda d: d["api_clients"]["booking"].update(token=token))
    text = _problems(site)
    assert f"token of API client 'booking' is {why}" in text
    assert "outbound.api" in text


@pytest.mark.security
def test_unknown_scope_and_shared_token_are_refused(site: Path) -> None:
    _edit(site, lambda d: d["api_clients"]["booking"].update(scopes=["reminders", "admin"]))
    assert "API client 'booking'" in (text := _problems(site)) and "unknown scope 'admin'" in text
    _edit(site, lambda d: d["api_clients"]["booking"].update(
        scopes=["reminders"], token=d["api_clients"]["crm"]["token"]))
    assert "shares its token" in _problems(site)


def test_token_from_the_environment_wins(site: Path) -> None:
    token = "Zq8Lm4Vb7Nc1Zr8Tp3Wy6Hs5Jd0FgK2x9R"
    got = load_site(site, env={"CALLCENTER_API_TOKEN_BOOKING": token}).secrets.api_clients
    assert got["booking"][0] == token
    assert "CALLCENTER_API_TOKEN_BOOKING" in _problems(
        site, {"CALLCENTER_API_TOKEN_BOOKING": "too-short"})
