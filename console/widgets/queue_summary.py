"""The queue's header line: open cases per severity, and whether the backend answers.

``CRIT 3 · HIGH 12 · MED 20+                          ● online``

Counts are of the cases loaded so far. The queue comes most severe first, so every
severity above the last loaded one is complete; while more pages wait, the last one is
marked ``+`` and the severities below it are not shown yet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from console.connection import Connection
from console.widgets.markers import SEVERITY_LABEL
from console.widgets.palette import Palette
from store.contracts import QueueItem

__all__ = ["QueueSummary", "severity_counts"]

ORDER = ("critical", "high", "medium", "low")


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
        height: 1;
        padding: 0 1;
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.counts: list[tuple[str, str]] = []
        self.connection = Connection()
        self.loaded = False
        self._shown: object = None

    def show(
        self,
        items: Iterable[QueueItem] | None = None,
        *,
        more: bool = False,
        connection: Connection | None = None,
    ) -> None:
        if items is not None:
            self.counts = severity_counts(items, more=more)
            self.loaded = True
        if connection is not None:
            self.connection = connection
        shown = (tuple(self.counts), self.loaded, self.connection.online)
        if shown == self._shown:
            return  # nothing the line shows changed: no repaint
        self._shown = shown
        palette = Palette.of(self.app)
        left = Text(no_wrap=True, overflow="ellipsis")
        for n, (severity, count) in enumerate(self.counts):
            if n:
                left.append(" · ", style=palette.muted)
            left.append(SEVERITY_LABEL[severity], style=palette.severity(severity))
            left.append(f" {count}")
        if not self.counts:
            left.append("no open cases" if self.loaded else "loading…", style=palette.muted)
        right = (
            Text("● online", style=palette.success)
            if self.connection.online
            else Text("✕ OFFLINE", style=palette.error)
        )
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(no_wrap=True, justify="right")
        grid.add_row(left, right)
        self.update(grid, layout=False)
