"""`callcenter check` on the outbound section: every mistake is an error naming the line,
what is wrong and how to fix it; doubtful but working settings are warnings."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.errors import Problem, SiteError
from callcenter.site import load_site
from callcenter.site.advice import site_warnings
from tests.fix_asterisk import make_site

Edit = Callable[[dict[str, Any]], None]
# the webhooks' secrets (checked by the secrets file, not here)
ENV = {f"CALLCENTER_WEBHOOK_SECRET_{n}": "s3cr3t-" * 6 for n in ("CRM", "LOCAL")}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("site")
    path = make_site(directory)  # secrets generated while the file is valid
    return path, yaml.safe_load(path.read_text(encoding="utf-8"))


def write(tmp_path: Path, example: tuple[Path, dict[str, Any]], edit: Edit) -> Path:
    """The example site (with its secrets and flows) changed by `edit`, written to tmp_path."""
    src, data = example
    for item in src.parent.iterdir():
        target = tmp_path / item.name
        if item.is_dir():
            target.mkdir(exist_ok=True)
            for sub in item.iterdir():
                (target / sub.name).write_bytes(sub.read_bytes())
        elif item.name != "site.yaml":
            target.write_bytes(item.read_bytes())
    (tmp_path / "secrets.yaml").chmod(0o600)
    data = copy.deepcopy(data)
    edit(data)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False,
                                   default_flow_style=False), encoding="utf-8")
    return path


def errors(tmp_path: Path, example: tuple[Path, dict[str, Any]], edit: Edit) -> list[Problem]:
    path = write(tmp_path, example, edit)
    with pytest.raises(SiteError) as info:
        load_site(path, env=ENV)
    return info.value.problems


def one(tmp_path: Path, example: tuple[Path, dict[str, Any]], edit: Edit,
        needle: str) -> Problem:
    """The one problem of the edited site; it is located on the line holding `needle`
    ("NEEDLE#2": its second such line)."""
    found = errors(tmp_path, example, edit)
    assert len(found) == 1, [str(p) for p in found]
    lines = (tmp_path / "site.yaml").read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("outbound:")) \
        if found[0].path.startswith("outbound") else 0
    needle, _, nth = needle.partition("#")
    hits = [i + 1 for i, ln in enumerate(lines) if i >= start and needle in ln]
    assert hits[int(nth or 1) - 1] == found[0].line, (str(found[0]), hits)
    return found[0]


def warnings(tmp_path: Path, example: tuple[Path, dict[str, Any]], edit: Edit) -> list[str]:
    return [str(w) for w in site_warnings(load_site(write(tmp_path, example, edit), env=ENV))]


def ob(data: dict[str, Any]) -> dict[str, Any]:
    return data["outbound"]


def test_the_example_checks_clean_without_warnings(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "s")]).exit_code == 0
    res = runner.invoke(main, ["check", str(tmp_path / "s" / "site.yaml")])
    assert res.exit_code == 0, res.output
    assert "warning" not in res.output and "OK —" in res.output


# (edit, the text on the line the error is located at, what the message and hint say)
CASES: dict[str, tuple[Edit, str, list[str]]] = {
    "pool trunk": (lambda d: ob(d)["caller_ids"][0].update(trunk="telekom"),
                   "trunk: telekom", ["unknown trunk 'telekom'", "did you mean 'telecom'?"]),
    "pool twice": (lambda d: ob(d)["caller_ids"][1].update(number="01080001000"),
                   "number: 01080001000#2",
                   ["caller_ids[1].number", "is also caller_ids[0]", "list each number"]),
    "pool not local": (lambda d: ob(d)["caller_ids"][1].update(number="2880002000"),
                       "number: '2880002000'",
                       ["not a Chinese fixed-line number", "e.g. 02880002000"]),
    "daily cap": (lambda d: ob(d)["caller_ids"][2].update(daily_cap=-1), "daily_cap: -1",
                  ["daily cap -1 is out of range", "use 0 to 1000000 (0: no cap)"]),
    "per minute": (lambda d: ob(d)["limits"].update(per_minute=0), "per_minute: 0",
                   ["per minute 0 is out of range", "use 1 to 60"]),
    "hour below minute": (lambda d: ob(d)["limits"].update(per_minute=6), "per_hour: 5",
                          ["per_hour 5 is less than per_minute 6",
                           "per_minute ≤ per_hour ≤ per_day"]),
    "day below hour": (lambda d: ob(d)["limits"].update(per_day=4), "per_day: 4",
                       ["per_day 4 is less than per_hour 5"]),
    "quiet hours": (lambda d: ob(d)["limits"].update(quiet_hours="21-8"), "quiet_hours: 21-8",
                    ["'21-8' is not a time range", "write HH:MM-HH:MM"]),
    "empty window": (lambda d: ob(d)["campaigns"]["reminders"].update(window="10:00-10:00"),
                     "window: 10:00-10:00", ["starts where it ends, so it is empty",
                                             "00:00-24:00"]),
    "unknown variable": (lambda d: ob(d)["templates"]["survey"].update(text="{teacher}您好"),
                         "text: '{teacher}您好'",
                         ["unknown variable {teacher}", "use {course}, {minutes}, {name}, "
                          "{start_date}, {start_time}, {student}"]),
    "stray brace": (lambda d: ob(d)["templates"]["survey"].update(text="您好{student"),
                    "text: 您好{student", ["that is not part of a {variable}"]),
    "template file": (lambda d: ob(d)["templates"]["survey"].update(file="sounds/s.wav"),
                      "file: sounds/s.wav", ["recording sounds/s.wav does not exist"]),
    "person queue": (lambda d: ob(d)["templates"]["lesson"].update(person_queue="course"),
                     "person_queue: course", ["unknown queue 'course'", "did you mean"]),
    "lead minutes": (lambda d: ob(d)["templates"]["lesson"].update(lead_minutes=241),
                     "lead_minutes: 241", ["lead minutes 241 is out of range", "1 to 240"]),
    "retries": (lambda d: ob(d)["templates"]["lesson"].update(retries=6), "retries: 6",
                ["retries 6 is out of range", "use 0 to 5"]),
    "retry minutes": (lambda d: ob(d)["templates"]["lesson"].update(retry_minutes=0),
                      "retry_minutes: 0", ["retry minutes 0", "use 1 to 120"]),
    "campaign template": (lambda d: ob(d)["campaigns"]["reminders"].update(template="lessen"),
                          "template: lessen", ["unknown template 'lessen'",
                                               "did you mean 'lesson'?"]),
    "reminder needs template": (lambda d: ob(d)["campaigns"]["reminders"].pop("template"),
                                "  reminders:",
                                ["a reminder campaign needs a template"]),
    "survey needs template or flow": (
        lambda d: ob(d)["campaigns"]["satisfaction"].pop("template"), "  satisfaction:",
        ["a survey campaign needs a template", "or 'flow: NAME'"]),
    "lead needs queue": (lambda d: ob(d)["campaigns"]["signups"].pop("queue"), "  signups:",
                         ["a lead campaign needs the sales queue", "queue: sales"]),
    "lead queue": (lambda d: ob(d)["campaigns"]["signups"].update(queue="sale"),
                   "queue: sale", ["unknown queue 'sale'", "did you mean 'sales'?"]),
    "survey flow": (lambda d: ob(d)["campaigns"]["satisfaction"].update(flow="csat-x"),
                    "flow: csat-x", ["unknown flow 'csat-x'"]),
    "campaign trunk": (lambda d: ob(d)["campaigns"]["reminders"].update(trunks=["ct"]),
                       "- ct", ["campaigns.reminders.trunks[0]", "unknown trunk 'ct'"]),
    "concurrency": (lambda d: ob(d)["campaigns"]["signups"].update(concurrency=1001),
                    "concurrency: 1001", ["concurrency 1001 is out of range", "1 to 1000"]),
    "abandon ceiling": (lambda d: ob(d)["campaigns"]["signups"].update(abandon_ceiling=0.5),
                        "abandon_ceiling: 0.5", ["abandon ceiling 0.5 is out of range",
                                                 "use 0 to 0.2"]),
    "webhook scheme": (lambda d: ob(d).update(webhooks={"crm": {"url": "ftp://crm/x"}}),
                       "url: ftp://crm/x", ["is not an http(s) URL with a host"]),
    "webhook host": (lambda d: ob(d).update(webhooks={"crm": {"url": "https:///x"}}),
                     "url: https:///x", ["is not an http(s) URL with a host"]),
    "webhook password": (lambda d: ob(d).update(
        webhooks={"crm": {"url": "https://u:pw@crm.example.com/x"}}), "url: https://u:pw@",
        ["carries a user name or password", "secrets file"]),
    "webhook port": (lambda d: ob(d).update(
        webhooks={"crm": {"url": "https://crm.example.com:http/x"}}), "url: https://crm",
        ["is not a URL"]),
    "webhook timeout": (lambda d: ob(d).update(
        webhooks={"crm": {"url": "https://crm.example.com/x", "timeout_seconds": 0}}),
        "timeout_seconds: 0", ["timeout 0 is out of range", "use 1 to 60"]),
    "api port": (lambda d: ob(d)["api"].update(port=70000), "port: 70000",
                 ["port 70000 is out of range", "use 0 to 65535 (0: off)"]),
    "api port taken": (lambda d: ob(d)["api"].update(port=d["metrics"]["port"]),
                       "outbound-api-port", ["is also metrics.port"]),
    "region file": (lambda d: ob(d).update(region_overrides="regions.csv"),
                    "region_overrides: regions.csv", ["region file regions.csv does not exist"]),
    "agent site": (lambda d: ob(d).update(agent_site_caller_id=["cd"]), "- cd",
                   ["unknown site 'cd'"]),
    "ring seconds": (lambda d: ob(d)["campaigns"]["signups"].update(ring_seconds=3),
                     "ring_seconds: 3", ["ring seconds 3 is out of range", "use 5 to 300"]),
    "calls per second": (lambda d: d["trunks"]["telecom"].update(calls_per_second=0),
                         "calls_per_second: 0", ["calls per second 0 is out of range"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_mistake_is_a_located_error(tmp_path: Path, example: tuple[Path, dict[str, Any]],
                                         case: str) -> None:
    edit, needle, words = CASES[case]
    if needle == "outbound-api-port":  # the port line under api:, not the metrics one
        found = errors(tmp_path, example, edit)
        assert len(found) == 1
        lines = (tmp_path / "site.yaml").read_text(encoding="utf-8").splitlines()
        api = next(i for i, ln in enumerate(lines) if ln.strip() == "api:")
        assert found[0].line == api + 3 and lines[api + 2].strip().startswith("port:")
        text = str(found[0])
    else:
        text = str(one(tmp_path, example, edit, needle))
    for word in words:
        assert word in text, text


def test_what_is_right_passes(tmp_path: Path, example: tuple[Path, dict[str, Any]]) -> None:
    def edit(d: dict[str, Any]) -> None:
        (tmp_path / "regions.csv").write_text("199,四川,成都\n")
        (tmp_path / "lesson.wav").write_bytes(b"")
        o = ob(d)
        o["region_overrides"] = "regions.csv"
        o["templates"]["lesson"]["file"] = "lesson.wav"
        o["templates"]["notice"] = {"text": "{name}您好，还有{minutes}分钟，{start_date}"}
        o["campaigns"]["satisfaction"] = {"kind": "survey", "flow": "main"}
        o["campaigns"]["reminders"]["trunks"] = ["telecom", "unicom"]
        o["campaigns"]["night"] = {"kind": "reminder", "template": "lesson",
                                   "window": "20:00-24:00"}
        o["caller_ids"].append({"number": "13800000000", "trunk": "unicom"})
        o["webhooks"] = {"crm": {"url": "https://crm.example.com:8443/hook"},
                         "local": {"url": "http://127.0.0.1:9000/hook"}}
        o["agent_site_caller_id"] = ["cd-out"]

    assert warnings(tmp_path, example, edit) == []


def test_doubtful_settings_are_warnings(tmp_path: Path,
                                        example: tuple[Path, dict[str, Any]]) -> None:
    def edit(d: dict[str, Any]) -> None:
        o = ob(d)
        o["caller_ids"].append({"number": "4008001234", "trunk": "telecom"})
        o["campaigns"]["late"] = {"kind": "reminder", "template": "lesson",
                                  "window": "22:00-23:30"}
        o["campaigns"]["reminders"]["queue"] = "sales"
        o["webhooks"] = {"crm": {"url": "http://crm.example.com/hook"}}
        o["api"]["host"] = "0.0.0.0"

    found = warnings(tmp_path, example, edit)
    expect = ["4008001234 is a national 400 number", "would never place a call",
              "never used: a reminder campaign has no queue", "sent unencrypted",
              "the API listens on every interface"]
    assert len(found) == len(expect), found
    for needle in expect:
        assert any(needle in w for w in found), (needle, found)
    no_quiet = warnings(tmp_path, example, lambda d: ob(d)["limits"].update(quiet_hours=""))
    assert len(no_quiet) == 1 and "no quiet hours" in no_quiet[0]


def test_the_reference_names_every_key_of_the_section() -> None:
    import dataclasses

    from callcenter.site import outbound as model

    doc = (Path(__file__).parents[2] / "docs" / "outbound.md").read_text(encoding="utf-8")
    missing = [f"{cls.__name__}.{f.name}" for cls in (
        model.Outbound, model.PoolNumber, model.CalleeLimits, model.VoiceTemplate,
        model.Campaign, model.Webhook, model.ApiSettings)
        for f in dataclasses.fields(cls) if f"`{f.name}`" not in doc]
    assert missing == []
