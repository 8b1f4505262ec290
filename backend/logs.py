"""Backend logging: one line per record on stderr, JSON or text, carrying the trace id.

A formatter of our own rather than python-json-logger: all it needs is a dict of the
record's fields through :func:`json.dumps` (about twenty lines), and one fewer dependency
on the ingest path. Extra fields passed as ``logger.info(msg, extra={...})`` become keys;
the current request's trace id is added to every record logged while serving it.

``hitl serve --log-format json|text`` hands :func:`logging_config` to uvicorn, which
applies it in every worker process.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Literal

from backend.tracecontext import current_request

__all__ = ["JsonFormatter", "LogFormat", "TextFormatter", "logging_config"]

LogFormat = Literal["json", "text"]

#: Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
    if "trace_id" not in fields:
        ctx = current_request()
        if ctx is not None:
            fields["trace_id"] = ctx.trace_id
    return fields


_second: tuple[int, str] = (-1, "")


def _timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 UTC with milliseconds; the part up to the second is formatted once."""
    global _second
    created = record.created
    second = int(created)
    if second != _second[0]:
        _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second[1]}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra fields, "exc"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger msg key=value ...`` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name} {record.getMessage()}"
        if extra:
            line = f"{line} {extra}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def logging_config(fmt: LogFormat = "json", level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for the backend and uvicorn: stderr, ``fmt``."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hitl": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "hitl",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "hitl": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            # hitl.access logs each request, with the trace id and the principal.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
