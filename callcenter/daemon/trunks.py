"""Each dial out through a trunk, as the dialplan's cc-dial-trunk reports it (UserEvent
CallcenterTrunk), recorded as a `trunk.attempt` event with only the characters it may hold."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["trunk_attempt"]


def trunk_attempt(recorder: Any, msg: Any) -> None:
    if msg.get("UserEvent") != "CallcenterTrunk":
        return
    purpose = ("campaign" if msg.get("Attempt") else
               "callback" if msg.get("Callback") else "outbound")
    recorder.emit("trunk.attempt", call_id=msg.get("Uniqueid") or None,
                  number=re.sub(r"\D", "", msg.get("Number", "")),
                  route=msg.get("Route", "") if msg.get("Route") in ("first", "second")
                  else "",
                  trunk=re.sub(r"[^a-z0-9_-]", "", msg.get("Trunk", "")),
                  status=re.sub(r"[^A-Z]", "", msg.get("Status", "")), purpose=purpose)
