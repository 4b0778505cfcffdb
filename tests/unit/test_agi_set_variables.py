"""Several channel variables in one round trip: EXEC MSet for plain values, SET VARIABLE for
anything MSet's parser would read (tests/integration/test_agi_mset_live.py: real Asterisk)."""

from __future__ import annotations

import asyncio

from tests.scripted_asterisk import ScriptedAgi


def test_plain_values_go_in_one_mset_and_others_alone() -> None:
    asyncio.run(_test_plain_values_go_in_one_mset_and_others_alone())


async def _test_plain_values_go_in_one_mset_and_others_alone() -> None:
    agi = ScriptedAgi("1.1")
    session = await agi.open()
    pairs = [("CC_QUEUE", "sales"), ("CC_LABEL", "VIP 张 sales"), ("CC_EMPTY", ""),
             ("CC_ODD", "a,b"), ("CC_QUOTE", 'say "hi"'), ("CC_DOLLAR", "${SHELL(id)}"),
             ("CC_EDGE", " padded "), ("CC_NEXT", "queue")]
    await session.set_variables(pairs)
    assert [c.name for c in agi.sent] == ["SET VARIABLE"] * 5 + ["EXEC"]
    assert agi.sent[-1].args == ("MSet", "CC_QUEUE=sales,CC_LABEL=VIP 张 sales,CC_NEXT=queue")
    assert {k: agi.variables[k] for k, _ in pairs} == dict(pairs)
    agi.close()


def test_one_plain_value_is_one_set_variable() -> None:
    asyncio.run(_test_one_plain_value_is_one_set_variable())


async def _test_one_plain_value_is_one_set_variable() -> None:
    agi = ScriptedAgi("1.2")
    session = await agi.open()
    await session.set_variables([("CC_NEXT", "connect")])
    assert agi.sent == [("SET VARIABLE", ("CC_NEXT", "connect"))]
    agi.close()


def test_without_mset_each_is_set_alone() -> None:
    asyncio.run(_test_without_mset_each_is_set_alone())


async def _test_without_mset_each_is_set_alone() -> None:
    agi = ScriptedAgi("1.3")
    agi.replies["EXEC"] = "200 result=-2"  # Asterisk has no such application
    session = await agi.open()
    await session.set_variables([("CC_A", "1"), ("CC_B", "2")])
    assert [c.name for c in agi.sent] == ["EXEC", "SET VARIABLE", "SET VARIABLE"]
    assert (agi.variables["CC_A"], agi.variables["CC_B"]) == ("1", "2")
    agi.close()
