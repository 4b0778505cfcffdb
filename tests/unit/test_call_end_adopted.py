"""Each call ends once in the store, whichever daemon saw it start: a daemon that takes a call
over mid-way (a flow resumed after a hand-over, a queued caller back after a restart or a
take-over, a call in progress at a take-over) records its end, timed from when the call
reached the centre; a daemon that stops leading leaves the ends to the next leader."""

from __future__ import annotations

from pathlib import Path

from callcenter.daemon.flowcalls import FlowCalls
from callcenter.ivr.place import Place, encode_place
from tests.fix_acdscript import AcdHarness
from tests.scripted_asterisk import settle

UID = "1767600000.7"


def flows_of(acd: AcdHarness, tmp_path: Path) -> FlowCalls:
    return FlowCalls(acd.site, tmp_path, queues=acd.service, recorder=acd.recorder,
                     wall=acd.clock)


def ends(acd: AcdHarness) -> list[tuple[str, int, str]]:
    return [(e.call_id, e.data["duration_ms"], e.data["outcome"]) for e in acd.of("call.end")]


async def test_a_queued_caller_back_after_a_restart_ends_once_timed_from_its_start(
        acd: AcdHarness, tmp_path: Path) -> None:
    flows = flows_of(acd, tmp_path)
    t0 = int(acd.clock()) - 95  # the call reached the centre 95 s ago (another daemon)
    agi = await acd.caller(UID, CC_CALL_T0=str(t0))
    await flows.spans.adopt(agi.session, outcome="queue")
    await flows.spans.adopt(agi.session, outcome="queue")  # asked again: still one call
    flows.spans.on_hangup(UID)
    flows.spans.on_hangup(UID)
    assert ends(acd) == [(UID, int((acd.clock() - t0) * 1000), "queue")]
    assert not acd.of("call.start")  # it started on the other daemon


async def test_a_start_time_the_channel_cannot_vouch_for_is_now(
        acd: AcdHarness, tmp_path: Path) -> None:
    flows = flows_of(acd, tmp_path)
    for n, value in enumerate(["", "1;System(rm)", str(int(acd.clock()) + 3600), "12"]):
        agi = await acd.caller(f"{UID}{n}", CC_CALL_T0=value)
        await flows.spans.adopt(agi.session)
        flows.spans.on_hangup(f"{UID}{n}")
    gone = await acd.caller(f"{UID}9", CC_CALL_T0=str(int(acd.clock()) - 30))
    gone.hang_up()  # hung up as it was handed over: it still ends once
    await flows.spans.adopt(gone.session)
    flows.spans.on_hangup(f"{UID}9")
    assert [d for _, d, _ in ends(acd)] == [0, 0, 0, 0, 0]


async def test_a_resumed_flow_starts_no_second_call_and_records_its_end(
        acd: AcdHarness, tmp_path: Path) -> None:
    flows = flows_of(acd, tmp_path)
    t0 = int(acd.clock()) - 12
    agi = await acd.caller(UID, CC_CALL_T0=str(t0))
    place = encode_place(Place("main", "menu", 0))
    run = acd.start(flows.run(agi.session, "main", ["4000000000", place]))
    await agi.seen("GET VARIABLE", "CC_CALL_T0")
    await settle()
    agi.hang_up()  # the caller hangs up while the resumed menu plays
    await run
    flows.spans.on_hangup(UID)
    assert not acd.of("call.start")
    [done] = flows.finished
    assert done["path"].split(",")[0] == "menu"  # resumed there, not at the welcome
    assert ends(acd) == [(UID, int((acd.clock() - t0) * 1000), done["outcome"])]


async def test_a_take_over_records_the_ends_of_calls_in_progress_and_a_deposed_leader_not(
        acd: AcdHarness, tmp_path: Path) -> None:
    new, old = flows_of(acd, tmp_path), flows_of(acd, tmp_path)
    agi = await acd.caller(UID)
    await old.run(agi.session, "main", ["4000000000"])  # hangs up at once: caller_hangup
    [start] = acd.of("call.start")
    assert start.call_id == UID
    old.spans.hand_off()  # the old leader is deposed before the caller hangs up
    new.spans.adopt_open({UID: (acd.clock() - 40, "queue")})
    new.spans.adopt_open({UID: (acd.clock() - 1, "")})  # learnt again: the first stands
    old.spans.on_hangup(UID)
    new.spans.on_hangup(UID)
    assert ends(acd) == [(UID, 40_000, "queue")]
