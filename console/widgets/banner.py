"""A banner under the top line when something is wrong: the backend is away (with the
countdown to the next attempt), or nothing can be signed. Hidden otherwise."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from console.connection import Connection

if TYPE_CHECKING:
    from console.app import HitlApp

__all__ = ["Banner", "age_text", "bundle_text", "offline_text"]


def age_text(then: datetime, now: datetime) -> str:
    """``just now``, ``12 min ago``, ``3 h 5 min ago``, ``2 days ago`` (changes once a minute)."""
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min ago" if rest else f"{hours} h ago"
    return f"{minutes // (24 * 60)} days ago"


def offline_text(
    connection: Connection,
    now: datetime,
    *,
    snapshot_at: datetime | None = None,
    pending: int = 0,
) -> str:
    """``OFFLINE: cannot reach … · queue as of 18:02 (12 min ago) · 1 decision saved, not
    sent yet · retrying in 4 s (attempt 3) · what you typed is kept``"""
    parts = [f"OFFLINE: {connection.detail or 'the backend does not answer'}"]
    if snapshot_at is not None:
        parts.append(f"queue as of {snapshot_at:%H:%M} ({age_text(snapshot_at, now)})")
    if pending:
        parts.append(f"{pending} decision{'s' if pending != 1 else ''} saved, not sent yet")
    if connection.retry_at is not None:
        left = (connection.retry_at - now).total_seconds()
        parts.append(f"retrying in {max(0, math.ceil(left))} s")
    else:
        parts.append("retrying now")
    if connection.attempts:
        parts[-1] += f" (attempt {connection.attempts + 1})"
    parts.append("what you typed is kept")
    return " · ".join(parts)


def bundle_text(bundle: Path, snapshot_at: datetime | None, now: datetime, pending: int) -> str:
    """``BUNDLE review.hitl (pulled 18:02, 2 h ago), no backend · 3 decisions saved in it,
    `hitl push review.hitl` sends them``"""
    pulled = (
        f" (pulled {snapshot_at:%Y-%m-%d %H:%M}, {age_text(snapshot_at, now)})"
        if snapshot_at is not None
        else ""
    )
    saved = f"{pending} decision{'s' if pending != 1 else ''} saved in it"
    return f"OFFLINE BUNDLE {bundle}{pulled}, no backend · {saved}; `hitl push {bundle}` sends them"


class Banner(Static):
    DEFAULT_CSS = """
    Banner {
        display: none;
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $error-muted;
        color: $text-error;
        text-style: bold;
    }
    Banner.-shown { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._ticker: Timer | None = None
        #: What the banner says now ("" when hidden).
        self.text = ""

    @property
    def hitl(self) -> HitlApp:
        return cast("HitlApp", self.app)

    def on_mount(self) -> None:
        self.watch(self.hitl, "connection", self._changed, init=False)
        self.watch(self.hitl, "key_problem", self._changed, init=False)
        self.watch(self.hitl, "outbox_pending", self._changed, init=False)
        self._changed()

    def _changed(self, *_: object) -> None:
        app = self.hitl
        offline = not app.connection.online
        bundle = app.bundle
        # The countdown ticks only while offline (a bundle has none: its age moves slowly).
        if offline and self._ticker is None:
            self._ticker = self.set_interval(1.0 if bundle is None else 30.0, self._changed)
        elif not offline and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        lines = []
        if bundle is not None:
            lines.append(bundle_text(bundle, app.snapshot_at, app.clock(), app.outbox_pending))
        elif offline:
            lines.append(
                offline_text(
                    app.connection,
                    app.clock(),
                    snapshot_at=app.snapshot_at,
                    pending=app.outbox_pending,
                )
            )
        if app.key_problem:
            lines.append(f"{app.key_problem}; cases can be read, not decided")
        text = "\n".join(lines)
        if text != self.text:
            self.text = text
            self.update(Text(text))
        self.set_class(bool(lines), "-shown")
