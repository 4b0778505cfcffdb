"""Structured logging: every line carries the call it is about (or '-')."""

from __future__ import annotations

import contextvars
import json
import logging
import sys

__all__ = ["call_id", "setup_logging"]

call_id: contextvars.ContextVar[str] = contextvars.ContextVar("call_id", default="-")


class _CallFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = call_id.get()
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
               "call": getattr(record, "call_id", "-"), "logger": record.name,
               "msg": record.getMessage()}
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup_logging(level: str = "INFO", json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_CallFilter())
    handler.setFormatter(_JsonFormatter() if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)-7s call=%(call_id)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("panoramisk").setLevel(logging.WARNING)
    # the recorder reports a database outage once; the pool would repeat it every retry
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
