"""The queue's header: open cases per severity and the connection state, then the filters
and the order.

``CRIT 3 · HIGH 12 · MED 20+                               ● live``
``filter: mine · HIGH · /refund (esc clears)          most urgent first``

The connection state is ``● live`` while the change feed follows the queue,
``◌ reconnecting`` while it re-establishes (the backend answered, the feed has not yet),
``✕ OFFLINE`` while the backend does not answer. Each reads without color.

Counts are of the cases loaded so far. The queue comes most severe first, so every
severity above the last loaded one is complete; while more pages wait, the last one is
marked ``+`` and the severities below it are not shown yet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Literal

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from console.connection import Connection
from console.queue_filters import SORT_LABEL, QueueFilters
from console.widgets.markers import SEVERITY_LABEL
from console.widgets.palette import Palette
from store.contracts import QueueItem

__all__ = ["FeedState", "QueueSummary", "severity_counts"]

ORDER = ("critical", "high", "medium", "low")
#: The change feed: following, or starting/re-establishing.
FeedState = Literal["live", "reconnecting"]


def severity_counts(items: Iterable[QueueItem], *, more: bool) -> list[tuple[str, str]]:
    """``[("critical", "3"), ("high", "12+")]``: per severity, most severe first."""
    counts: Counter[str] = Counter(item.severity for item in items)
    seen = [s for s in ORDER if counts[s]]
    out = [(s, str(counts[s])) for s in seen]
    if more and out:
        last, n = out[-1]
        out[-1] = (last, f"{n}+")
    return out


class QueueSummary(Static):
    DEFAULT_CSS = """
    QueueSummary {
        height: 2;
        padding: 0 1;
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.counts: list[tuple[str, str]] = []
        self.connection = Connection()
        self.feed: FeedState = "reconnecting"
        self.filters = QueueFilters()
        self.loaded = False
        self._shown: object = None

    @property
    def state(self) -> str:
        """``live``, ``reconnecting`` or ``offline``, as the header says it."""
        return "offline" if not self.connection.online else self.feed

    def show(
        self,
        items: Iterable[QueueItem] | None = None,
        *,
        more: bool = False,
        connection: Connection | None = None,
        feed: FeedState | None = None,
        filters: QueueFilters | None = None,
    ) -> None:
        if items is not None:
            self.counts = severity_counts(items, more=more)
            self.loaded = True
        if connection is not None:
            self.connection = connection
        if feed is not None:
            self.feed = feed
        if filters is not None:
            self.filters = filters
        shown = (tuple(self.counts), self.loaded, self.state, self.filters)
        if shown == self._shown:
            return  # nothing the header shows changed: no repaint
        self._shown = shown
        palette = Palette.of(self.app)
        left = Text(no_wrap=True, overflow="ellipsis")
        for n, (severity, count) in enumerate(self.counts):
            if n:
                left.append(" · ", style=palette.muted)
            left.append(SEVERITY_LABEL[severity], style=palette.severity(severity))
            left.append(f" {count}")
        if not self.counts:
            none = "no open cases" if not self.filters.active else "no case matches"
            left.append(none if self.loaded else "loading…", style=palette.muted)
        state = self.state
        right = (
            Text("● live", style=palette.success)
            if state == "live"
            else Text("◌ reconnecting", style=palette.warning)
            if state == "reconnecting"
            else Text("✕ OFFLINE", style=palette.error)
        )
        labels = self.filters.labels()
        below = Text(no_wrap=True, overflow="ellipsis")
        if labels:
            below.append("filter: ", style=palette.muted)
            # Spaces end a run rather than start the next (SVG renderers drop leading ones).
            below.append(" · ".join(labels) + " ", style=palette.warning)
            below.append("(esc clears)", style=palette.muted)
        else:
            below.append("all open cases in your groups", style=palette.muted)
        order = Text(SORT_LABEL[self.filters.sort], style=palette.muted)
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(no_wrap=True, justify="right")
        grid.add_row(left, right)
        grid.add_row(below, order)
        self.update(grid, layout=False)
