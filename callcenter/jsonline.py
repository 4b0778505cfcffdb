"""One JSON line: the text the event spool and the agent journal write for each record."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["to_json"]

# what json.dumps(default=str, ensure_ascii=False) gave, at a third of its cost (one line
# per event and per agent change): datetimes and dataclasses still go through `str`, keys
# need not be strings, and a NaN becomes null (which PostgreSQL's jsonb takes) instead of
# NaN (which it refuses)
_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
            | orjson.OPT_NON_STR_KEYS)


def to_json(value: Any) -> str:
    """Compact JSON text of `value` on one line, non-ASCII kept as it is."""
    return orjson.dumps(value, default=str, option=_OPTIONS).decode()
