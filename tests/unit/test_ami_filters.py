"""AMI event filters: Asterisk writes exactly the events some handler of the daemon is
registered for (a handler added without its filter line would never be called)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import callcenter
from callcenter.render import render_site
from callcenter.site import load_site
from tests.fix_asterisk import make_site

_INCLUDE = re.compile(r"^eventfilter\(action\(include\),name\((\w+)\)\) =\s*$", re.M)
_REGISTERED = re.compile(r"""\.on_event\(\s*["'](\w+)["']""")


@pytest.fixture(scope="module")
def manager_conf(tmp_path_factory: pytest.TempPathFactory) -> str:
    site = load_site(make_site(tmp_path_factory.mktemp("site")), env={})
    out = tmp_path_factory.mktemp("render")
    render_site(site, out)
    return (out / "manager.conf").read_text(encoding="utf-8")


def registered_events() -> set[str]:
    """Every event name a module of the daemon registers a handler for on the AMI client."""
    root = Path(callcenter.__file__).parent
    return {name for path in root.rglob("*.py")
            for name in _REGISTERED.findall(path.read_text(encoding="utf-8"))}


def test_every_registered_event_and_no_other_is_let_through(manager_conf: str) -> None:
    included = set(_INCLUDE.findall(manager_conf))
    assert "Hangup" in registered_events()  # the scan finds the handlers
    assert included == registered_events()


def _excludes(manager_conf: str, event: str) -> list[str]:
    return [line for line in manager_conf.splitlines()
            if line.startswith(f"eventfilter(action(exclude),name({event}),")]


def test_no_dialplan_event_is_read(manager_conf: str) -> None:
    """Newexten and VarSet (the dialplan class) are most of a call's events and move nothing
    the daemon decides on: the AMI user does not read the class at all."""
    read = next(ln for ln in manager_conf.splitlines() if ln.startswith("read = "))
    assert set(read.split(" = ", 1)[1].split(",")) == {"system", "call", "user"}
    included = set(_INCLUDE.findall(manager_conf))
    assert not included & {"Newexten", "VarSet", "NewCallerid"}


def test_device_states_let_through_are_phones_coming_back(manager_conf: str) -> None:
    """Phones.on_device_state acts only on PJSIP/EXT becoming NOT_INUSE."""
    device, state = _excludes(manager_conf, "DeviceStateChange")
    assert device.endswith("header(Device),method(starts_with)) = Custom:")
    pattern = re.compile(state.split(" = ", 1)[1])
    assert "header(State),method(regex))" in state
    assert not pattern.search("NOT_INUSE")
    for other in ("INUSE", "RINGING", "BUSY", "UNAVAILABLE", "ONHOLD"):
        assert pattern.search(other)
