"""The queue: open cases by severity, then SLA time left, with a live countdown."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable

from console.widgets.markers import confidence_text, severity_text, sla_text
from console.widgets.palette import Palette
from store.contracts import QueueItem

__all__ = ["QueueTable"]

#: (key, label, width); the summary column takes what is left.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("severity", "sev", 4),
    ("sla", "SLA left", 11),
    ("domain", "domain", 13),
    ("summary", "summary", 0),
    ("confidence", "conf", 4),
    ("claimed", "claimed by", 10),
)
#: Ask for the next page when the cursor is this close to the last loaded row.
NEAR_END_ROWS = 5
SUMMARY_MIN = 16


class QueueTable(DataTable[Text]):
    """Shows :class:`~store.contracts.QueueItem` rows; knows nothing about HTTP."""

    BINDINGS = [
        Binding(
            "j,down",
            "cursor_down",
            "Next",
            show=False,
            id="queue.down",
            tooltip="Move to the next case",
        ),
        Binding(
            "k,up",
            "cursor_up",
            "Previous",
            show=False,
            id="queue.up",
            tooltip="Move to the previous case",
        ),
        Binding(
            "enter", "select_cursor", "Open", id="queue.open", tooltip="Open the highlighted case"
        ),
        Binding(
            "pagedown",
            "page_down",
            "Page down",
            show=False,
            id="queue.page-down",
            tooltip="Move one page down (loads more cases near the end)",
        ),
        Binding(
            "pageup",
            "page_up",
            "Page up",
            show=False,
            id="queue.page-up",
            tooltip="Move one page up",
        ),
        Binding(
            "home,g",
            "scroll_top",
            "First",
            show=False,
            id="queue.first",
            tooltip="Go to the first (most urgent) case",
        ),
        Binding(
            "end,G",
            "scroll_bottom",
            "Last",
            show=False,
            id="queue.last",
            tooltip="Go to the last loaded case",
        ),
    ]

    @dataclass
    class NearEnd(Message):
        """The cursor is within a few rows of the last loaded case."""

        table: QueueTable

    def __init__(self, *, me_name: str, now: datetime, id: str | None = None) -> None:
        super().__init__(
            id=id, cursor_type="row", zebra_stripes=True, cursor_foreground_priority="renderable"
        )
        self.me_name = me_name
        self.now = now
        self.items: dict[int, QueueItem] = {}
        self._summary_width = 0

    # -- public API -------------------------------------------------------------------

    @property
    def current_case_id(self) -> int | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    def show_items(self, items: Iterable[QueueItem], *, replace: bool) -> None:
        """Replace the rows (keeping the cursor on the same case if it is still there)."""
        keep = self.current_case_id
        if replace:
            self.items = {}
            self.clear()
        for item in items:
            if item.id in self.items:  # a case that moved up between pages
                continue
            self.items[item.id] = item
            self._add(item)
        if replace and keep is not None and keep in self.items:
            self.move_cursor(row=self.get_row_index(str(keep)))
        self._check_near_end()

    def remove_case(self, case_id: int) -> None:
        if case_id in self.items:
            del self.items[case_id]
            self.remove_row(str(case_id))

    def tick(self, now: datetime) -> None:
        """Move the SLA countdown to ``now``."""
        self.now = now
        palette = Palette.of(self.app)
        for item in self.items.values():
            self.update_cell(
                str(item.id), "sla", sla_text(item.due_at, item.created_at, now, palette)
            )

    # -- rendering --------------------------------------------------------------------

    def on_mount(self) -> None:
        self._build_columns(self._fit_summary())
        self.call_after_refresh(self._refit)

    def on_resize(self, event: Resize) -> None:
        self._refit()

    def _refit(self) -> None:
        """Give the summary column whatever width the other columns leave."""
        width = self._fit_summary()
        if width != self._summary_width:
            self._rebuild(width)

    def _fit_summary(self) -> int:
        fixed = sum(w for _, _, w in COLUMNS) + 2 * self.cell_padding * len(COLUMNS)
        scrollbar = self.styles.scrollbar_size_vertical
        return max(SUMMARY_MIN, self.size.width - fixed - scrollbar)

    def _build_columns(self, summary_width: int) -> None:
        self._summary_width = summary_width
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width or summary_width)

    def _rebuild(self, summary_width: int) -> None:
        keep = self.cursor_row
        self.clear(columns=True)
        self._build_columns(summary_width)
        for item in self.items.values():
            self._add(item)
        if self.row_count:
            self.move_cursor(row=min(keep, self.row_count - 1))

    def _add(self, item: QueueItem) -> None:
        palette = Palette.of(self.app)
        claimed = "you" if item.claimed_by == self.me_name else item.claimed_by or "—"
        self.add_row(
            severity_text(item.severity, palette),
            sla_text(item.due_at, item.created_at, self.now, palette),
            Text(item.domain),
            Text(item.summary, no_wrap=True, overflow="ellipsis"),
            confidence_text(item.confidence, palette),
            Text(
                claimed,
                no_wrap=True,
                overflow="ellipsis",
                style="" if claimed != "—" else palette.muted,
            ),
            key=str(item.id),
        )

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._check_near_end()

    def _check_near_end(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - NEAR_END_ROWS:
            self.post_message(self.NearEnd(self))
