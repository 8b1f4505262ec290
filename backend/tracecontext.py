"""W3C Trace Context (``traceparent``) and what the app knows about the current request.

The request-log middleware puts a :class:`RequestContext` in a context variable for each
HTTP request; it carries the trace id (from a valid ``traceparent`` header, else a fresh
random one) and, once authentication has run, the principal. Services read it through
:func:`current_request`; log records pick the trace id up from it.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["RequestContext", "current_request", "new_trace_id", "parse_traceparent"]

# version "-" trace-id "-" parent-id "-" flags, lower-case hex (W3C Trace Context, 3.2).
# Versions after 00 may append "-" and more fields, which a 00 parser ignores.
_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-[0-9a-f]{2}"
    r"(?P<rest>-.*)?",
    re.ASCII | re.DOTALL,
)
_SAFE_ID = re.compile(r"[\w.:\-]{1,64}", re.ASCII)
_ZERO_TRACE = "0" * 32
_ZERO_PARENT = "0" * 16


def parse_traceparent(value: str | bytes) -> str | None:
    """The trace id of a valid ``traceparent`` header value, or None for an invalid one
    (which the spec says to ignore, as if the header were absent)."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    m = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if m is None:
        return None
    version, trace, parent, rest = m.group("version", "trace", "parent", "rest")
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace == _ZERO_TRACE or parent == _ZERO_PARENT:
        return None
    return trace


def new_trace_id() -> str:
    return os.urandom(16).hex()


@dataclass(slots=True)
class RequestContext:
    """Per request; mutable so that code deeper in (auth, services) can fill it in."""

    trace_id: str
    #: True when ``trace_id`` came from the request's ``traceparent`` header.
    traced: bool
    principal: str | None = None

    def adopt(self, trace_id: str) -> None:
        """Use an id the request's body names (an escalation's ``trace_id``) when no header
        gave one, if it is safe to echo in a header and a log line."""
        if not self.traced and _SAFE_ID.fullmatch(trace_id):
            self.trace_id = trace_id


_current: ContextVar[RequestContext | None] = ContextVar("hitl_request", default=None)


def current_request() -> RequestContext | None:
    return _current.get()
