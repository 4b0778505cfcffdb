"""A caller's place in a flow survives a hand-over between daemons (callcenter/ivr/place.py):
kept before each node the caller hears, resumed there with its priority and what the flow
learnt; a value that does not name a node of the site is ignored."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from callcenter.ivr.engine import run_flow
from callcenter.ivr.place import MAX_PLACE_CHARS, Place, decode_place, encode_place
from callcenter.ivr.simulate import ScriptedIO
from callcenter.site import Site, load_site
from tests.fix_asterisk import make_site

pytestmark = pytest.mark.clock

TUE_EVENING = dt.datetime(2026, 11, 24, 20, 5)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return load_site(make_site(tmp_path_factory.mktemp("site")), env={})


def test_a_place_round_trips_and_travels_as_one_agi_argument(site: Site) -> None:
    place = Place("main", "menu", 5, {"contact_name": "王小明", "vip": "2"})
    text = encode_place(place)
    assert not set(text) & set(",\" '|\n")
    assert decode_place(text, site.flows) == place


@pytest.mark.parametrize("text", [
    "", "f=main&n=nosuchnode&p=0", "f=nosuchflow&n=menu&p=0", "f=main&n=menu&p=12",
    "f=main&n=menu&p=-1", "garbage", "f=main&n=menu&p=0&" + "x" * MAX_PLACE_CHARS,
    "f=main&n=menu&p=1;System(rm)",
])
def test_anything_that_is_not_a_place_of_the_site_is_ignored(site: Site, text: str) -> None:
    assert decode_place(text, site.flows) is None


def test_a_long_place_drops_what_the_flow_learnt(site: Site) -> None:
    text = encode_place(Place("main", "menu", 1, {f"k{i}": "v" * 150 for i in range(20)}))
    assert len(text) <= MAX_PLACE_CHARS
    assert decode_place(text, site.flows) == Place("main", "menu", 1, {})


def _run(site: Site, presses: list[str], **kwargs: object):
    io = ScriptedIO("13900139000", presses, TUE_EVENING, echo=lambda _: None)
    return asyncio.run(run_flow(site, "main", io, **kwargs))


def test_the_flow_keeps_its_place_and_resumes_there(site: Site) -> None:
    kept: list[Place] = []

    async def keep(place: Place) -> None:
        kept.append(place)

    whole = _run(site, ["9"], on_place=keep)  # complaints: priority 5
    assert [p.node for p in kept][:1] == ["welcome"] and "menu" in [p.node for p in kept]
    at_menu = next(p for p in kept if p.node == "menu")
    # the daemon died while the caller heard the menu: the next one starts there
    resumed = _run(site, ["9"], resume=at_menu)
    assert resumed.path[0] == "menu" and "welcome" not in resumed.path
    assert (resumed.kind, resumed.target, resumed.priority) == (whole.kind, whole.target,
                                                                whole.priority)
    learnt = _run(site, ["3"], resume=Place("main", "menu", 7, {"contact_name": "张"}))
    assert learnt.priority == 7 and learnt.variables["contact_name"] == "张"
