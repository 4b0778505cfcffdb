"""Every class of mistake in a site file gets a located, actionable error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from callcenter.errors import SiteError
from callcenter.site import load_site
from callcenter.site.secrets import generate_secrets

pytestmark = pytest.mark.clock  # dates and hours: also run under a fake date

MINIMAL = """\
company: {name: Test School, timezone: Asia/Shanghai}
sites:
  hq: {name: HQ, caller_id: "01080001000", hours: std}
skills:
  sales: {}
agents:
  - {id: "1001", name: Wang, extension: "8001", site: hq, skills: {sales: 5}}
  - {id: "1002", name: Li, extension: "8002", site: hq, skills: {sales: 3}}
queues:
  sales: {name: Sales, skills: {sales: 2}, overflow: voicemail:sales}
trunks:
  ct: {host: 127.0.0.1, port: 5071}
  cu: {host: 127.0.0.1, port: 5072}
numbers:
  - {number: "4008001234", flow: main, first_route: ct, second_route: cu}
hours:
  std: {weekly: {mon: "09:00-18:00"}}
flows: {main: main.yaml}
prompts:
  hello: {text: hello}
fallback: {prompt: hello, extensions: ["8001"]}
asterisk: {sip_bind: 127.0.0.1}
"""

FLOW = "entry: start\nnodes:\n  start: {type: hangup}\n"


def write_site(tmp_path: Path, text: str = MINIMAL, *, secrets: bool = True) -> Path:
    site = tmp_path / "site.yaml"
    site.write_text(text, encoding="utf-8")
    (tmp_path / "main.yaml").write_text(FLOW, encoding="utf-8")
    if secrets:
        from callcenter.site import load_site_file

        generate_secrets(load_site_file(site), tmp_path / "secrets.yaml")
    return site


def problems(tmp_path: Path, text: str) -> list[str]:
    site = write_site(tmp_path, MINIMAL, secrets=True)
    site.write_text(text, encoding="utf-8")
    with pytest.raises(SiteError) as info:
        load_site(site, env={})
    return [str(p) for p in info.value.problems]


def one(tmp_path: Path, text: str) -> str:
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def test_minimal_site_loads(tmp_path: Path) -> None:
    site = load_site(write_site(tmp_path), env={})
    assert [a.id for a in site.spec.agents] == ["1001", "1002"]
    assert site.spec.numbers[0].first_route == "ct"
    assert site.secrets.sip_passwords["1001"] != site.secrets.sip_passwords["1002"]
    assert site.flows["main"].entry == "start"


def test_unknown_skill_is_located_with_did_you_mean(tmp_path: Path) -> None:
    text = MINIMAL.replace("skills: {sales: 3}}", "skills: {sale: 3}}")
    msg = one(tmp_path, text)
    assert msg.startswith(f"{tmp_path}/site.yaml:8:")
    assert "agents[1].skills.sale: unknown skill 'sale'" in msg
    assert "did you mean 'sales'?" in msg


def test_unknown_queue_overflow_and_trunk(tmp_path: Path) -> None:
    text = MINIMAL.replace("overflow: voicemail:sales", "overflow: queue:support").replace(
        "second_route: cu}", "second_route: cuu}")
    found = problems(tmp_path, text)
    assert any("queues.sales.overflow: unknown queue 'support'" in p for p in found)
    assert any("numbers[0].second_route: unknown trunk 'cuu'" in p and "did you mean 'cu'" in p
               for p in found)


def test_duplicate_agent_id_and_extension(tmp_path: Path) -> None:
    text = MINIMAL.replace('{id: "1002", name: Li, extension: "8002"',
                           '{id: "1001", name: Li, extension: "8001"')
    found = problems(tmp_path, text)
    assert any(":8:" in p and "duplicate agent id 1001" in p for p in found)
    assert any(":8:" in p and "duplicate extension 8001" in p for p in found)


def test_extension_colliding_with_feature_code_and_number(tmp_path: Path) -> None:
    text = MINIMAL.replace('extension: "8002"', 'extension: "95123"') + (
        'features: {login: "8001"}\n').replace("8001\"}", "8001\"}")
    text = text.replace('  - {number: "4008001234"',
                        '  - {number: "95123", flow: main, first_route: ct, second_route: cu}\n'
                        '  - {number: "4008001234"')
    found = problems(tmp_path, text)
    assert any("extension 8001 is the 'login' feature code" in p for p in found)
    assert any("extension 95123 is also a number" in p for p in found)


@pytest.mark.parametrize("number,fragment", [
    ("40080012", "malformed 400 number"),
    ("951", "malformed 95 number"),
    ("951234567", "malformed 95 number"),
    ("101012", "malformed 1010 number"),
    ("400-800-1234", "must be digits only"),
])
def test_malformed_service_numbers(tmp_path: Path, number: str, fragment: str) -> None:
    msg = one(tmp_path, MINIMAL.replace('"4008001234"', f'"{number}"'))
    assert ":15:" in msg and fragment in msg


@pytest.mark.parametrize("number", ["4008001234", "95123", "95123456", "10101234", "02866668888"])
def test_wellformed_numbers(tmp_path: Path, number: str) -> None:
    site = write_site(tmp_path, MINIMAL.replace('"4008001234"', f'"{number}"'))
    assert load_site(site, env={}).spec.numbers[0].number == number


def test_first_and_second_route_the_same_is_one_route(tmp_path: Path) -> None:
    # one carrier is allowed (check warns: tests/unit/test_site_settings.py)
    site = write_site(tmp_path, MINIMAL.replace("second_route: cu}", "second_route: ct}"))
    assert load_site(site, env={}).spec.numbers[0].one_route


def test_missing_secrets_name_the_fix(tmp_path: Path) -> None:
    site = write_site(tmp_path, secrets=False)
    with pytest.raises(SiteError) as info:
        load_site(site, env={})
    text = str(info.value)
    assert "no SIP password for agent 1001" in text
    assert "callcenter secrets generate" in text
    assert "CALLCENTER_SIP_PASSWORD_1001" in text
    assert "no AMI secret" in text


def test_secrets_from_the_environment(tmp_path: Path) -> None:
    site = write_site(tmp_path, secrets=False)
    env = {"CALLCENTER_AMI_SECRET": "amisecret123", "CALLCENTER_SIP_PASSWORD_1001": "pw1001xyz",
           "CALLCENTER_SIP_PASSWORD_1002": "pw1002xyz", "CALLCENTER_AGENT_PIN_1001": "4821",
           "CALLCENTER_AGENT_PIN_1002": "7390"}
    s = load_site(site, env=env)
    assert s.secrets.ami_secret == "amisecret123"
    assert s.secrets.pins == {"1001": "4821", "1002": "7390"}


def test_generated_secrets_file_is_private(tmp_path: Path) -> None:
    write_site(tmp_path)
    assert (tmp_path / "secrets.yaml").stat().st_mode & 0o077 == 0


def test_unknown_key_did_you_mean(tmp_path: Path) -> None:
    msg = one(tmp_path, MINIMAL.replace("overflow: voicemail:sales",
                                        "overflow: voicemail:sales, strategey: round_robin"))
    assert ":10:" in msg
    assert "queues.sales.strategey: unknown key 'strategey' — did you mean 'strategy'?" in msg


def test_unknown_top_level_key(tmp_path: Path) -> None:
    msg = one(tmp_path, MINIMAL + "queus: {}\n")
    assert "unknown key 'queus'" in msg and "did you mean 'queues'?" in msg


@pytest.mark.parametrize("old,new,fragment", [
    ("port: 5071}", "port: fast}", "trunks.ct.port"),
    ("skills: {sales: 5}}", "skills: [sales]}", "expected a mapping"),
    ("hours: std}", "hours: [std]}", "sites.hq.hours"),
    ("strategy", "strategy", ""),
])
def test_wrong_types(tmp_path: Path, old: str, new: str, fragment: str) -> None:
    if not fragment:
        text = MINIMAL.replace("overflow: voicemail:sales", "strategy: loudest")
        assert "'loudest' is not allowed — use 'longest_idle'" in one(tmp_path, text)
        return
    assert fragment in one(tmp_path, MINIMAL.replace(old, new))


def test_missing_required_key(tmp_path: Path) -> None:
    msg = one(tmp_path, MINIMAL.replace("first_route: ct, ", ""))
    assert "numbers[0]: missing required key 'first_route'" in msg


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    msg = one(tmp_path, MINIMAL.replace("  hq: {name: HQ,", "  hq: {name: HQ,,: ]"))
    assert msg.startswith(f"{tmp_path}/site.yaml:3:") and "YAML syntax error" in msg


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL.replace("  cu: {host", "  ct: {host"))
    assert any(":13:3: trunks.ct: key written twice (first on line 12)" in p for p in found)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (MINIMAL.replace("site: hq, skills: {sales: 5}", "site: hx, skills: {sales: 5}")
            .replace("second_route: cu}", "second_route: cx}")
            .replace("flow: main,", "flow: mian,"))
    found = problems(tmp_path, text)
    assert len(found) == 3, found
    assert [int(p.split(":")[1]) for p in found] == sorted(int(p.split(":")[1]) for p in found)


@pytest.mark.parametrize("hostile", [
    'Wang\\nexten => _X.,1,System(rm -rf /)',
    'Wang; comment',
    'Wang ${SHELL(id)}',
    'Wang $[1+1]',
    'Wang \\"quoted\\"',
    'Wang <9999>',
    'Wang [evil-context]',
])
def test_hostile_names_are_rejected(tmp_path: Path, hostile: str) -> None:
    msg = one(tmp_path, MINIMAL.replace("name: Wang,", f'name: "{hostile}",'))
    assert "agents[0].name" in msg and ("remove" in msg or "one line" in msg)


@pytest.mark.parametrize("hostile", ['0108000;1000', "010${X}", "0108\\n000", "01080001000 <1>"])
def test_hostile_caller_ids_are_rejected(tmp_path: Path, hostile: str) -> None:
    msg = one(tmp_path, MINIMAL.replace('caller_id: "01080001000"', f'caller_id: "{hostile}"'))
    assert "sites.hq.caller_id" in msg and "is not a telephone number" in msg


def test_bad_hours_and_timezone(tmp_path: Path) -> None:
    text = MINIMAL.replace('mon: "09:00-18:00"', 'mon: "18:00-09:00", tue: "9-5"').replace(
        "timezone: Asia/Shanghai", "timezone: China/Beijing")
    found = problems(tmp_path, text)
    assert any("company.timezone: unknown time zone" in p for p in found)
    assert any("hours.std.weekly.mon" in p and "ends before it starts" in p for p in found)
    assert any("hours.std.weekly.tue" in p and "HH:MM-HH:MM" in p for p in found)


def test_missing_flow_file_and_bad_entry(tmp_path: Path) -> None:
    site = write_site(tmp_path)
    (tmp_path / "main.yaml").write_text("entry: begin\nnodes:\n  start: {type: hangup}\n")
    with pytest.raises(SiteError) as info:
        load_site(site, env={})
    assert any(p.file.endswith("main.yaml") and p.line == 1 and "entry node 'begin'" in p.message
               for p in info.value.problems)
    (tmp_path / "main.yaml").unlink()
    with pytest.raises(SiteError) as info:
        load_site(site, env={})
    assert "flow file main.yaml does not exist" in str(info.value)


def test_fallback_and_prompt_references(tmp_path: Path) -> None:
    text = MINIMAL.replace("fallback: {prompt: hello, extensions: [\"8001\"]}",
                           "fallback: {prompt: helo, extensions: [\"8009\"]}")
    found = problems(tmp_path, text)
    assert any("fallback.prompt: unknown prompt 'helo'" in p and "hello" in p for p in found)
    assert any("unknown agent extension '8009'" in p for p in found)


def test_numbers_keep_leading_zero(tmp_path: Path) -> None:
    site = write_site(tmp_path, MINIMAL.replace('caller_id: "01080001000"',
                                                "caller_id: 01080001000"))
    assert load_site(site, env={}).spec.sites["hq"].caller_id == "01080001000"


def test_example_site_is_valid(tmp_path: Path) -> None:
    from tests.fix_asterisk import make_site

    site = load_site(make_site(tmp_path), env={})
    assert set(site.spec.queues) == {"sales", "course-bj", "course-cd", "tech", "complaints"}
    assert len(site.spec.sites) == 2
    kinds = {n.number: n for n in site.spec.numbers}
    assert "4008001234" in kinds and "95123" in kinds


def test_text_helper_dedent() -> None:
    assert textwrap.dedent("  a") == "a"
