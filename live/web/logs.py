"""Structured logs (``LIVE_LOG_FORMAT=json``): one JSON object per line, for log shippers.

Each line has ``time`` (ISO 8601, UTC, ms), ``level``, ``logger``, ``message``, then the
record's extra fields as they are (the refusal log's ``who``, ``what``, ``code``, ``ip``), and
``exc`` with the traceback of a logged exception. uvicorn's own loggers (errors and the access
log) and every ``live.*`` logger write through it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of the message
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in STANDARD:
                plain = isinstance(value, str | int | float | bool) or value is None
                out[key] = value if plain else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def log_config(json_lines: bool) -> dict[str, Any] | None:
    """uvicorn's ``log_config``: None (its default, plain text) or the JSON one."""
    if not json_lines:
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "live.web.logs.JsonFormatter"}},
        "handlers": {
            "default": {**handler, "stream": "ext://sys.stderr"},
            "access": {**handler, "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "INFO"},
    }
