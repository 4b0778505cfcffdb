"""Voicemail recording over a scripted AGI session: what RECORD FILE's answers mean."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter.daemon.agi_io import AgiCallIO
from tests.scripted_asterisk import ScriptedAgi


async def _record(tmp_path: Path, reply: str | None) -> tuple[str, ScriptedAgi]:
    agi = ScriptedAgi("1767600000.1", callerid="13900139000")
    if reply is not None:
        agi.replies["RECORD FILE"] = reply
    try:
        io = AgiCallIO(await agi.open(), sounds=tmp_path / "sounds",
                       voicemail=tmp_path / "voicemail", timezone="Asia/Shanghai")
        return await io.record("Course Box", 60), agi
    finally:
        agi.close()


@pytest.mark.parametrize("reply", [None, "200 result=35 (dtmf) endpos=16000",
                                   "200 result=0 (timeout) endpos=8000"])
def test_a_recorded_message_is_named_by_the_daemon_in_the_box_folder(tmp_path: Path,
                                                                     reply: str | None) -> None:
    path, agi = asyncio.run(_record(tmp_path, reply))
    assert Path(path).parent == tmp_path / "voicemail" / "coursebox"
    assert path.endswith(".wav")
    cmd = next(c for c in agi.sent if c.name == "RECORD FILE")
    assert cmd.args[0] == path.removesuffix(".wav")
    assert cmd.args[1:] == ("wav", "#", "60000", "BEEP", "s=5")


def test_a_key_during_the_beep_leaves_no_message(tmp_path: Path) -> None:
    # Asterisk answers (randomerror) and never opens the file when the beep is interrupted
    path, _ = asyncio.run(_record(tmp_path, "200 result=35 (randomerror) endpos=0"))
    assert path == ""
