"""The daemon ↔ dialplan contract (callcenter/contract.py) is the only source of the names:
the rendered dialplan and the Python code use no channel variable, CC_NEXT value or AGI
route that the contract does not name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.contract import TEMPLATE_NAMES, Next, Route, Var
from callcenter.render import render_files
from callcenter.render.nodes import node_site
from callcenter.site import Site, load_site
from tests.fix_asterisk import make_site

PACKAGE = Path(__file__).resolve().parents[2] / "callcenter"
CC_NAME = re.compile(r"\bCC_[A-Z][A-Z_]*\b")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return load_site(make_site(tmp_path_factory.mktemp("site")), env={})


@pytest.fixture(scope="module")
def dialplan(site: Site, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One server's dialplan and a node's of several (the parts only a node has)."""
    directory = tmp_path_factory.mktemp("centre")
    assert CliRunner().invoke(main, ["init", "--cluster", str(directory)]).exit_code == 0
    node = node_site(load_site(directory / "site.yaml"), "media-1")
    return "\n".join(render_files(s, tmp_path_factory.mktemp("out"))["extensions.conf"]
                     for s in (site, node))


def python_sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text(encoding="utf-8")
            for p in sorted(PACKAGE.rglob("*.py")) if p.name != "contract.py"}


def test_every_variable_in_the_dialplan_is_in_the_contract(dialplan: str) -> None:
    used = set(CC_NAME.findall(dialplan))
    assert used, "the rendered dialplan names no CC_ variable: the pattern is wrong"
    assert used - {v.value for v in Var} == set()


def test_every_variable_the_python_code_names_is_in_the_contract() -> None:
    known = {v.value for v in Var}
    unknown = {f"{name}: {n}" for name, text in python_sources().items()
               for n in CC_NAME.findall(text) if n not in known}
    assert unknown == set()


def test_every_contract_variable_is_used_somewhere(dialplan: str) -> None:
    """A name nobody uses is a stale entry (or a side that forgot to use it)."""
    code = "\n".join(python_sources().values())
    unused = {v.name for v in Var
              if v.value not in dialplan and f"Var.{v.name}" not in code
              and v.value not in code}
    assert unused == set()


def test_agi_routes_of_the_dialplan_are_the_contract_routes(dialplan: str) -> None:
    routes = set(re.findall(r"AGI\(\$\{CC_AGI\}/([a-z-]+)", dialplan))
    assert routes == {r.value for r in Route}


def test_next_values_the_dialplan_tests_are_the_contract_values(dialplan: str) -> None:
    tested = set(re.findall(r'"\$\{CC_NEXT\}" = "([a-z]*)"', dialplan))
    assert tested == {n.value for n in Next} - {Next.FALLBACK.value}  # fallback: the default
    set_in_dialplan = set(re.findall(r"Set\(CC_NEXT=([a-z]*)\)", dialplan))
    assert set_in_dialplan <= {n.value for n in Next} | {""}


def test_templates_see_the_contract_names() -> None:
    assert TEMPLATE_NAMES["var"]["NEXT"] == "CC_NEXT"
    assert TEMPLATE_NAMES["route"]["TRANSFER_QUEUE"] == "transfer-queue"
    assert set(TEMPLATE_NAMES) == {"var", "next", "route"}


def test_only_the_agents_leg_may_transfer_and_codes_reach_the_transfer_route(
        dialplan: str, site: Site) -> None:
    """Dial option t (the called party, the agent) — never T, which would let the customer
    press ## — and every queue code, bare or after *8, reaches transfer-queue/QUEUE."""
    connect = dialplan.split("[cc-connect]", 1)[1].split("\n[", 1)[0]
    [dial] = re.findall(r"Dial\(PJSIP/[^\n]*", connect)
    options = dial.rsplit(",", 1)[1]
    assert "t" in options.split("b(")[0] and "T" not in options
    assert "b(cc-agent-leg^s^1)" in options
    assert "Set(TRANSFER_CONTEXT=cc-agent-transfer)" in dialplan
    xfer = dialplan.split("[cc-agent-transfer]", 1)[1].split("\n[", 1)[0]
    for name, q in site.spec.queues.items():
        assert f"exten => *8{q.code},1,AGI(${{CC_AGI}}/transfer-queue/{name})" in xfer
        assert f"exten => {q.code},1,Goto(*8{q.code},1)" in xfer
