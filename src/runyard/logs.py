"""Log setup for the server: plain text or one JSON object a line, both with the request id.

The request id lives in a context variable set by the request-id middleware
(``api/observe.py``), so every line logged while a request is handled carries it, whichever
module logs it and whether it runs on the event loop or in a worker thread (anyio copies the
context into the thread).

Nothing here may leak a secret: a password in a URI (``postgresql://user:secret@host``) is
masked in every line, message and traceback alike.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from typing import Any

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "runyard_request_id", default=None
)

# The access log puts these on its records (``extra=``); the JSON lines carry them as fields.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "client")

_URI_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^/\s:@]*:)[^@\s/]+@")


def mask_secrets(text: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://user:***@host``."""
    if "@" not in text:
        return text
    return _URI_PASSWORD.sub(r"\g<head>***@", text)


def _iso_time(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, pid, request_id, access fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_secrets(record.getMessage()),
            "pid": record.process,  # which worker of a pool
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid is not None:
            line["request_id"] = rid
        for field in ACCESS_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """``time logger [request id] message``, secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(name)s%(rid)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None) or request_id.get()
        record.rid = f" [{rid}]" if rid else ""
        return mask_secrets(super().format(record))


def configure(level: str, fmt: str) -> None:
    """Send every logger (uvicorn's too) to stderr in ``fmt`` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
