"""The queue: open cases by severity, then SLA time left, with a live countdown.

A Line API widget rather than a ``DataTable``: each row is rendered once into a
:class:`~textual.strip.Strip` and kept until something it shows changes (its case, its
SLA text, the cursor, the width or the theme). A key press repaints the two rows the
cursor left and reached; the one-second countdown repaints only rows whose SLA text
changed, and that text changes rarely for far-away deadlines (see
:func:`~console.widgets.markers.format_left`). So a keypress costs the same with 50 or
10,000 rows loaded, and the terminal (often an SSH link) receives only what changed.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.widgets.markers import SEVERITY_LABEL, SlaState, sla_label
from console.widgets.palette import Palette
from store.contracts import QueueItem

__all__ = ["COLUMNS", "QueueTable"]

SortKey = tuple[Any, ...]

#: (key, label, width); the summary column takes what is left.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("severity", "sev", 4),
    ("sla", "SLA left", 11),
    ("domain", "domain", 13),
    ("summary", "summary", 0),
    ("confidence", "conf", 4),
    ("claimed", "claimed by", 10),
)
#: Spaces on each side of a cell.
PADDING = 1
#: Ask for the next page when the cursor is this close to the last loaded row.
NEAR_END_ROWS = 5
SUMMARY_MIN = 16
#: Rendered rows kept; beyond this the cache starts again from the rows on screen.
STRIP_CACHE_MAX = 1000


@dataclass(frozen=True)
class _Cell:
    text: str
    style: Style


class QueueTable(ScrollView, can_focus=True):
    """Shows :class:`~store.contracts.QueueItem` rows; knows nothing about HTTP."""

    DEFAULT_CSS = """
    QueueTable {
        background: $surface;
        color: $foreground;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;
        overflow-x: hidden;
        &:focus {
            background-tint: $foreground 5%;
            & > .queue-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        &:dark > .queue-table--even-row { background: $surface-darken-1 40%; }
        & > .queue-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .queue-table--even-row { background: $surface-lighten-1 50%; }
        & > .queue-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "queue-table--header",
        "queue-table--even-row",
        "queue-table--cursor",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
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
            "first",
            "First",
            show=False,
            id="queue.first",
            tooltip="Go to the first (most urgent) case",
        ),
        Binding(
            "end,G",
            "last",
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

    @dataclass
    class Highlighted(Message):
        """The cursor moved to another case (``None``: the queue is empty)."""

        table: QueueTable
        case_id: int | None

    @dataclass
    class Selected(Message):
        """Enter (or a click on the highlighted row): open this case."""

        table: QueueTable
        case_id: int

    def __init__(self, *, me_name: str, now: datetime, id: str | None = None) -> None:
        super().__init__(id=id)
        self.me_name = me_name
        self.now = now
        #: The loaded cases, in queue order.
        self.items: dict[int, QueueItem] = {}
        self._order: list[int] = []
        self._index: dict[int, int] = {}
        self._cursor = 0
        #: Case id -> (what the row showed, its strip).
        self._strips: dict[int, tuple[tuple[object, ...], Strip]] = {}
        self._sla: dict[int, tuple[str, SlaState]] = {}
        self._styles_epoch = 0
        self._palette: Palette | None = None
        self._header: tuple[tuple[object, ...], Strip] | None = None

    # -- public API -------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def current_case_id(self) -> int | None:
        return self._order[self._cursor] if self._order else None

    @property
    def summary_width(self) -> int:
        return self._summary_width(self._content_width)

    def cell_text(self, row: int, column: str) -> str:
        """What a cell shows, as plain text (before cropping)."""
        return self._cells(self.items[self._order[row]])[column].text

    def move_cursor(self, *, row: int) -> None:
        """Highlight ``row`` (clamped to the loaded rows) and scroll it into view."""
        if not self._order:
            self._cursor = 0
            return
        row = max(0, min(row, len(self._order) - 1))
        old, self._cursor = self._cursor, row
        if old != row:
            self._refresh_row(old)
            self._refresh_row(row)
            self.post_message(self.Highlighted(self, self._order[row]))
        self._scroll_cursor_into_view()
        self._check_near_end()

    def show_items(self, items: Iterable[QueueItem], *, replace: bool) -> None:
        """Replace the rows (or append a page), keeping the cursor on the same case if it
        is still there. Rows whose case did not change are not repainted."""
        keep = self.current_case_id
        if replace:
            old = self.items
            self.items = {}
            for item in items:
                self.items.setdefault(item.id, item)
            for case_id, item in self.items.items():
                if old.get(case_id) != item:
                    self._strips.pop(case_id, None)
        else:
            for item in items:
                if item.id not in self.items:  # a case that moved up between pages
                    self.items[item.id] = item
        self._reindex()
        if keep is not None and keep in self._index:
            self._cursor = self._index[keep]
        else:
            self._cursor = min(self._cursor, max(0, len(self._order) - 1))
        self._scroll_cursor_into_view()
        self.refresh()
        if keep != self.current_case_id:
            self.post_message(self.Highlighted(self, self.current_case_id))
        self._check_near_end()

    def remove_case(self, case_id: int) -> None:
        self.apply_changes((), removed=(case_id,), key=None, complete=True)

    def apply_changes(
        self,
        items: Iterable[QueueItem],
        *,
        removed: Iterable[int] = (),
        key: Callable[[QueueItem], SortKey] | None,
        complete: bool,
    ) -> None:
        """Live changes: drop ``removed`` cases; put each of ``items`` in its place by
        ``key`` (or where it is, without a key). A new case past the last loaded row waits
        for its page unless the queue is ``complete`` (no more pages).

        The cursor stays on its case, at the same height on screen; if its case left, on
        the row that took its place. Only rows whose case changed are rendered anew.
        """
        keep = before = self.current_case_id
        height = self._cursor - int(self.scroll_offset.y)
        gone = {case_id for case_id in removed if case_id in self.items}
        fresh = {item.id: item for item in items}
        if not gone and all(self.items.get(i) == item for i, item in fresh.items()):
            return  # nothing the queue shows changed
        for case_id in gone | set(fresh):
            self._strips.pop(case_id, None)
        if keep in gone:
            # The case under the cursor left: the cursor goes to the next one still here.
            rest = [i for i in self._order[self._cursor :] if i not in gone]
            keep = rest[0] if rest else None
        order = [i for i in self._order if i not in gone]
        if key is None:
            for case_id, item in fresh.items():
                if case_id in self.items and case_id not in gone:
                    self.items[case_id] = item
            self.items = {i: self.items[i] for i in order}
        else:
            moved = set(fresh)
            order = [i for i in order if i not in moved]
            keys = [key(self.items[i]) for i in order]
            last = keys[-1] if keys else None
            placed = dict(zip(order, (self.items[i] for i in order), strict=True))
            for item in sorted(fresh.values(), key=key):
                k = key(item)
                if not complete and last is not None and k > last and item.id not in self.items:
                    continue  # beyond the loaded rows: it comes with its page
                n = bisect.bisect_left(keys, k)
                keys.insert(n, k)
                order.insert(n, item.id)
                placed[item.id] = item
            self.items = {i: placed[i] for i in order}
        self._reindex()
        if keep is not None and keep in self._index:
            self._cursor = self._index[keep]
        else:
            self._cursor = min(self._cursor, max(0, len(self._order) - 1))
        # Keep the cursor's row where the eye is: scroll by what moved above it.
        top = max(0, self._cursor - max(0, height))
        self.scroll_to(y=top, animate=False, force=True, immediate=True)
        self._scroll_cursor_into_view()
        self.refresh()
        if before != self.current_case_id:
            self.post_message(self.Highlighted(self, self.current_case_id))
        self._check_near_end()

    def tick(self, now: datetime) -> int:
        """Move the SLA countdown to ``now``; repaint only rows on screen whose SLA text
        changed. Returns how many rows were repainted."""
        self.now = now
        changed = 0
        first, last = self._visible_rows()
        for row in range(first, last):
            case_id = self._order[row]
            item = self.items[case_id]
            label = sla_label(item.due_at, item.created_at, now)
            if self._sla.get(case_id) != label:
                self._sla[case_id] = label
                self._refresh_cell(row, "sla")
                changed += 1
        return changed

    # -- actions ----------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self._cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self._cursor - 1)

    def action_page_down(self) -> None:
        self.move_cursor(row=self._cursor + self._page_rows)

    def action_page_up(self) -> None:
        self.move_cursor(row=self._cursor - self._page_rows)

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._order) - 1)

    def action_select_cursor(self) -> None:
        case_id = self.current_case_id
        if case_id is not None:
            self.post_message(self.Selected(self, case_id))

    async def _on_click(self, event: events.Click) -> None:
        if event.y < 1 or not self._order:
            return
        row = int(self.scroll_offset.y) + event.y - 1
        if row >= len(self._order):
            return
        if row == self._cursor:
            self.action_select_cursor()
        else:
            self.move_cursor(row=row)

    # -- geometry ---------------------------------------------------------------------

    @property
    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    @property
    def _page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _summary_width(self, width: int) -> int:
        fixed = sum(w for _, _, w in COLUMNS) + 2 * PADDING * len(COLUMNS)
        return max(SUMMARY_MIN, width - fixed)

    def _visible_rows(self) -> tuple[int, int]:
        first = int(self.scroll_offset.y)
        return first, min(len(self._order), first + self._page_rows)

    def _reindex(self) -> None:
        self._order = list(self.items)
        self._index = {case_id: n for n, case_id in enumerate(self._order)}
        self.virtual_size = Size(self._content_width, len(self._order) + 1)
        if len(self._strips) > STRIP_CACHE_MAX:
            self._strips.clear()

    def _refresh_row(self, row: int) -> None:
        y = row - int(self.scroll_offset.y) + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _refresh_cell(self, row: int, column: str) -> None:
        """Repaint one cell of ``row``: the terminal receives that cell's few bytes, not
        the whole line (the countdown changes every second in a case's last hour)."""
        y = row - int(self.scroll_offset.y) + 1
        if not 1 <= y < self.size.height:
            return
        x = PADDING
        for key, _, width in COLUMNS:
            size = width or self.summary_width
            if key == column:
                self.refresh(Region(x, y, size, 1))
                return
            x += size + 2 * PADDING

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_offset.y)
        rows = self._page_rows
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True, immediate=True)
        elif self._cursor >= top + rows:
            self.scroll_to(y=self._cursor - rows + 1, animate=False, force=True, immediate=True)

    def _check_near_end(self) -> None:
        if self._order and self._cursor >= len(self._order) - NEAR_END_ROWS:
            self.post_message(self.NearEnd(self))

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self._content_width, len(self._order) + 1)
        self._scroll_cursor_into_view()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles_epoch += 1
        self._palette = None

    # -- rendering --------------------------------------------------------------------

    @property
    def palette(self) -> Palette:
        if self._palette is None:
            self._palette = Palette.of(self.app)
        return self._palette

    def _cells(self, item: QueueItem) -> dict[str, _Cell]:
        palette = self.palette
        sla, state = self._sla.get(item.id) or sla_label(item.due_at, item.created_at, self.now)
        claimed = "you" if item.claimed_by == self.me_name else item.claimed_by or "—"
        confidence = item.confidence
        return {
            "severity": _Cell(
                SEVERITY_LABEL.get(item.severity, item.severity.upper()),
                palette.severity(item.severity),
            ),
            "sla": _Cell(sla, palette.sla(state)),
            "domain": _Cell(item.domain, Style()),
            "summary": _Cell(item.summary, Style()),
            "confidence": _Cell(
                f"{confidence:.2f}",
                palette.error
                if confidence < 0.5
                else palette.warning
                if confidence < 0.75
                else Style(),
            ),
            "claimed": _Cell(claimed, palette.muted if claimed == "—" else Style()),
        }

    def _line(self, cells: Iterable[_Cell], base: Style, width: int) -> Strip:
        summary = self._summary_width(width)
        # Padding follows each cell's text rather than leading the next one, so that merged
        # runs of text never start with spaces (SVG renderers drop those).
        gap = " " * (2 * PADDING)
        segments = [Segment(" " * PADDING, base)]
        for (_, _, w), cell in zip(COLUMNS, cells, strict=True):
            size = w or summary
            text = cell.text
            if cell_len(text) > size:
                text = set_cell_size(text, size - 1) + "…"
            else:
                text = set_cell_size(text, size)
            segments.append(Segment(text, base + cell.style if cell.style else base))
            segments.append(Segment(gap, base))
        return Strip(segments).adjust_cell_length(width, base).simplify()

    def _header_strip(self, width: int) -> Strip:
        key = (self._styles_epoch, width)
        if self._header is None or self._header[0] != key:
            style = self.get_component_rich_style("queue-table--header")
            cells = (_Cell(label, Style()) for _, label, _ in COLUMNS)
            self._header = (key, self._line(cells, style, width))
        return self._header[1]

    def _row_strip(self, row: int, width: int) -> Strip:
        case_id = self._order[row]
        item = self.items[case_id]
        sla = self._sla[case_id] = sla_label(item.due_at, item.created_at, self.now)
        cursor = row == self._cursor
        even = row % 2 == 1
        key = (self._styles_epoch, width, sla, cursor, even)
        cached = self._strips.get(case_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        base = self.rich_style
        if even:
            base = base + self.get_component_rich_style("queue-table--even-row")
        if cursor:
            base = base + self.get_component_rich_style("queue-table--cursor")
        strip = self._line(self._cells(item).values(), base, width)
        self._strips[case_id] = (key, strip)
        return strip

    def render_line(self, y: int) -> Strip:
        width = self._content_width
        if y == 0:
            return self._header_strip(width)
        row = int(self.scroll_offset.y) + y - 1
        if row >= len(self._order):
            return Strip.blank(width, self.rich_style)
        return self._row_strip(row, width)
