"""Flows are compiled once, when the site loads, and the site package does not need the IVR
(issue 11: the site ↔ ivr import cycle and the flow cache keyed by id(site))."""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import subprocess
import sys
from pathlib import Path

from callcenter.ivr.simulate import simulate
from callcenter.render import voicemail_boxes
from callcenter.site import load_site
from callcenter.site.flownodes import Flow
from tests.fix_asterisk import make_site

SITE_PKG = Path(__file__).parents[2] / "callcenter" / "site"
QUEUE = "entry: q\nnodes:\n  q: {type: queue, queue: sales}\n"
VOICEMAIL = "entry: v\nnodes:\n  v: {type: voicemail, box: later}\n"
AT = dt.datetime(2026, 11, 24, 20, 0)  # a Tuesday evening (open)


def outcome(site, flow: str = "main") -> tuple[str, str]:
    out = asyncio.run(simulate(site, flow, caller="13900139000", presses=[], at=AT,
                               echo=lambda line: None))
    return out.kind, out.target


def test_site_holds_its_compiled_flows(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    (tmp_path / "flows" / "main.yaml").write_text(QUEUE, encoding="utf-8")
    site = load_site(path, env={})
    assert isinstance(site.flows["main"], Flow) and site.flows["main"].entry == "q"
    assert outcome(site) == ("queue", "sales")


def test_a_flow_file_changed_after_load_does_not_change_the_running_site(tmp_path: Path
                                                                         ) -> None:
    path = make_site(tmp_path)
    flow_file = tmp_path / "flows" / "main.yaml"
    flow_file.write_text(QUEUE, encoding="utf-8")
    site = load_site(path, env={})
    flow_file.write_text(VOICEMAIL, encoding="utf-8")  # before the first call runs it
    assert outcome(site) == ("queue", "sales")
    assert "later" not in voicemail_boxes(site)
    flow_file.write_text("not: [a flow", encoding="utf-8")  # even a broken file: no error
    assert outcome(site) == ("queue", "sales")
    flow_file.write_text(VOICEMAIL, encoding="utf-8")
    again = load_site(path, env={})  # loading the site again reads the new file
    assert outcome(again) == ("voicemail", "later")
    assert "later" in voicemail_boxes(again)


def test_no_site_module_imports_the_ivr() -> None:
    for module in sorted(SITE_PKG.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.startswith("callcenter.ivr")], module.name


def test_loading_a_site_imports_no_ivr_module(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    code = ("import sys; from callcenter.site import load_site; "
            f"load_site({str(path)!r}, env={{}}); "
            "print(sorted(m for m in sys.modules if m.startswith('callcenter.ivr')))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=SITE_PKG.parents[1], check=False, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
