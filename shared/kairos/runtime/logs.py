"""Structured JSON logs that carry the function, event id and correlation id.

The ids live in context variables set by the runtime around each event, so every log
line written while handling an event names it without the handler passing them around.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

function_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("function_name", default=None)
event_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("event_id", default=None)
correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context ids, extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, var in (("function", function_name), ("event_id", event_id), ("correlation_id", correlation_id)):
            value = var.get()
            if value:
                out[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(level: str | None = None, *, service: str | None = None) -> None:
    """Send every log record to stderr as JSON (idempotent)."""
    if service:
        function_name.set(service)
    root = logging.getLogger()
    root.setLevel((level or os.environ.get("LOG_LEVEL") or "INFO").upper())
    for handler in list(root.handlers):
        if getattr(handler, "_kairos", False):
            return
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._kairos = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    for noisy in ("kafka", "hypercorn.access", "httpx", "httpcore", "psycopg.pool", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
