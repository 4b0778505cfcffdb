"""Flow checking: every class of mistake, located to file:line:column."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest
import yaml

from callcenter.errors import SiteError
from callcenter.ivr.graph import to_dot, to_mermaid, to_svg
from callcenter.ivr.prompts import build_prompts
from callcenter.site import load_site
from tests.fix_asterisk import make_site

GOOD = """\
entry: start
nodes:
  start: {type: play, prompts: [welcome], next: menu}
  menu:
    type: menu
    prompt: main_menu
    options: {"1": q}
    on_timeout: q
  q: {type: queue, queue: sales}
"""


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def problems(tmp_path: Path, flow: str) -> list[str]:
    site = make_site(tmp_path)
    (tmp_path / "flows" / "main.yaml").write_text(flow)
    with pytest.raises(SiteError) as info:
        load_site(site, env={})
    return [str(p) for p in info.value.problems]


def test_good_flow_loads(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    (tmp_path / "flows" / "main.yaml").write_text(GOOD)
    assert set(load_site(site, env={}).flows["main"].nodes) == {"start", "menu", "q"}


@pytest.mark.parametrize("old,new,expect", [
    ("next: menu}", "next: mneu}", "main.yaml:3:43: nodes.start.next: 'mneu' is not a node"),
    ("on_timeout: q", "retries: 1", "nodes.menu: the menu has no timeout path"),
    ("prompts: [welcome]", "prompts: [welcom]", "nodes.start.prompts[0]: unknown prompt 'welcom'"),
    ("queue: sales}", "queue: salse}", "nodes.q.queue: unknown queue 'salse'"),
    ("type: menu", "type: manu", "unknown node type 'manu' — did you mean 'menu'?"),
    ('{"1": q}', '{"12": q}', "option '12' is not one keypad key"),
    ("on_timeout: q", "on_timeout: q\n    retry: 3", "unknown key 'retry' — did you mean"),
])
def test_flow_mistakes(tmp_path: Path, old: str, new: str, expect: str) -> None:
    found = problems(tmp_path, GOOD.replace(old, new))
    assert any(expect in p for p in found), found


def test_unreachable_node(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "  lost: {type: hangup}\n")
    assert any(":10:3: nodes.lost: node 'lost' can never be reached" in p for p in found)


def test_loop_without_input(tmp_path: Path) -> None:
    flow = GOOD.replace("next: menu}", "next: again}") + (
        "  again: {type: set, vars: {x: '1'}, next: start}\n")
    found = problems(tmp_path, flow)
    assert any("loop without waiting for input: again → start → again" in p for p in found)


def test_variable_used_before_set(tmp_path: Path) -> None:
    flow = GOOD.replace("next: menu}", "next: say}") + (
        "  say: {type: say, kind: digits, value: '${student}', next: menu}\n")
    found = problems(tmp_path, flow)
    assert any("nodes.say.value: variable 'student' may be used before it is set" in p
               for p in found)


def test_unknown_site_flow_and_extension(tmp_path: Path) -> None:
    flow = GOOD.replace("q: {type: queue, queue: sales}", """q:
    type: branch
    cases:
      - if: {open: shanghai}
        next: t
    else: g
  t: {type: transfer, to: "8999"}
  g: {type: goto, flow: nowhere}""")
    found = problems(tmp_path, flow)
    assert any("unknown site 'shanghai'" in p for p in found)
    assert any("8999 is not an agent extension" in p for p in found)
    assert any("unknown flow 'nowhere'" in p for p in found)


def test_bad_pattern(tmp_path: Path) -> None:
    flow = GOOD.replace("q: {type: queue, queue: sales}", """q:
    type: input
    prompt: main_menu
    var: x
    pattern: "[0-9"
    next: z
    on_fail: z
  z: {type: hangup}""")
    assert any("bad pattern" in p for p in problems(tmp_path, flow))


def test_graph_formats(tmp_path: Path) -> None:
    site = load_site(make_site(tmp_path), env={})
    flow = site.flows["main"]
    dot = to_dot(flow)
    assert '"menu" -> "sales" [label="1"]' in dot
    assert '"open" -> "menu" [label="open=cd-out"]' in dot
    mermaid = to_mermaid(flow)
    assert mermaid.startswith("flowchart TD") and 'n_menu -->|"9"| n_complaints' in mermaid
    svg = to_svg(flow)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "complaints" in svg


def test_prompts_build_8khz_mono_and_recording_wins(tmp_path: Path) -> None:
    path = make_site(tmp_path / "s")
    rec = tmp_path / "s" / "hello.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "2", str(rec), "synth", "0.5", "sine",
                    "440"], check=True)
    edit(path, lambda d: d["prompts"]["welcome"].update(file="hello.wav"))
    site = load_site(path, env={})
    out = tmp_path / "conf"
    result = build_prompts(site, out)
    assert set(result.values()) == {"built"}
    for name in site.spec.prompts:
        with wave.open(str(out / "sounds" / f"{name}.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    with wave.open(str(out / "sounds" / "welcome.wav")) as w:
        assert abs(w.getnframes() / 8000 - 0.5) < 0.05  # the 0.5 s recording, not speech
    assert set(build_prompts(site, out).values()) == {"unchanged"}


def test_missing_recording_without_text_is_a_check_error(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    edit(path, lambda d: d["prompts"].update(welcome={"file": "missing.wav"}))
    with pytest.raises(SiteError, match=r"recording missing\.wav does not exist"):
        load_site(path, env={})
