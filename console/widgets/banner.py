"""A banner under the top line when something is wrong: the backend is away (with the
countdown to the next attempt), or nothing can be signed. Hidden otherwise."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from console.connection import Connection

if TYPE_CHECKING:
    from console.app import HitlApp

__all__ = ["Banner", "offline_text"]


def offline_text(connection: Connection, now: datetime) -> str:
    """``OFFLINE: cannot reach … · retrying in 4 s (attempt 3) · ctrl+r retries now``"""
    parts = [f"OFFLINE: {connection.detail or 'the backend does not answer'}"]
    if connection.retry_at is not None:
        left = (connection.retry_at - now).total_seconds()
        parts.append(f"retrying in {max(0, math.ceil(left))} s")
    else:
        parts.append("retrying now")
    if connection.attempts:
        parts[-1] += f" (attempt {connection.attempts + 1})"
    parts.append("what you typed is kept")
    return " · ".join(parts)


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
        self._changed()

    def _changed(self, *_: object) -> None:
        app = self.hitl
        offline = not app.connection.online
        if offline and self._ticker is None:  # the countdown, only while offline
            self._ticker = self.set_interval(1.0, self._changed)
        elif not offline and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        lines = []
        if offline:
            lines.append(offline_text(app.connection, app.clock()))
        if app.key_problem:
            lines.append(f"{app.key_problem}; cases can be read, not decided")
        text = "\n".join(lines)
        if text != self.text:
            self.text = text
            self.update(Text(text))
        self.set_class(bool(lines), "-shown")
