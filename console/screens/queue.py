"""The default screen: open cases, most urgent first, with a live SLA countdown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from console.errors import ConsoleError
from console.screens.case import CaseScreen
from console.widgets.case_view import decision_line
from console.widgets.identity_bar import IdentityBar
from console.widgets.queue_table import QueueTable
from store.contracts import DecisionPublic, QueuePage

if TYPE_CHECKING:
    from console.app import HitlApp

__all__ = ["QueueScreen"]

#: The automatic refresh re-reads at most this many rows (the backend's page cap).
REFRESH_MAX = 200


class QueueScreen(Screen[None]):
    CSS_PATH = "queue.tcss"
    BINDING_GROUP_TITLE = "Queue"
    BINDINGS = [
        Binding(
            "ctrl+r,f5",
            "reload",
            "Reload",
            id="queue.reload",
            tooltip="Reload the queue from the first page",
        ),
    ]

    @dataclass
    class PageLoaded(Message):
        page: QueuePage
        first: bool

    @dataclass
    class PageFailed(Message):
        error: ConsoleError

    def __init__(self) -> None:
        super().__init__()
        self.next_cursor: str | None = None
        self.loading = False
        self.error: str | None = None

    @property
    def hitl(self) -> HitlApp:
        return cast("HitlApp", self.app)

    def compose(self) -> ComposeResult:
        app = self.hitl
        yield IdentityBar(app.me, app.client.base_url, demo=app.settings.demo)
        yield QueueTable(me_name=app.me.name, now=app.clock(), id="queue")
        yield Static(id="queue-status")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()
        self.set_interval(1.0, self._tick)
        if self.hitl.refresh_every:
            self.set_interval(self.hitl.refresh_every, self.refresh_quietly)

    @property
    def table(self) -> QueueTable:
        return self.query_one(QueueTable)

    # -- loading ----------------------------------------------------------------------

    def action_reload(self) -> None:
        self.next_cursor = None
        self._load(None)

    def _load(self, cursor: str | None) -> None:
        self.loading = True
        self._show_status()
        self.load_page(cursor, self.hitl.page_size)

    def refresh_quietly(self) -> None:
        """Fetch the loaded rows again (claims, new and decided cases), keeping the cursor."""
        rows = self.table.row_count
        if self.loading or rows > REFRESH_MAX:
            return
        self.loading = True
        self.load_page(None, max(self.hitl.page_size, rows))

    @work(exclusive=True, group="queue")
    async def load_page(self, cursor: str | None, limit: int) -> None:
        try:
            page = await self.hitl.client.queue(cursor=cursor, limit=limit)
        except ConsoleError as exc:
            self.post_message(self.PageFailed(exc))
            return
        self.post_message(self.PageLoaded(page, first=cursor is None))

    @on(PageLoaded)
    def _page_loaded(self, message: PageLoaded) -> None:
        self.loading = False
        self.error = None
        self.next_cursor = message.page.next_cursor
        self.table.show_items(message.page.items, replace=message.first)
        self._show_status()

    @on(PageFailed)
    def _page_failed(self, message: PageFailed) -> None:
        self.loading = False
        if self.error is None:  # say it once, not at every automatic refresh
            self.notify(str(message.error), title="Could not load the queue", severity="error")
        self.error = str(message.error)
        self._show_status()

    @on(QueueTable.NearEnd)
    def _near_end(self) -> None:
        if self.next_cursor and not self.loading and self.error is None:
            self._load(self.next_cursor)

    def _show_status(self) -> None:
        count = self.table.row_count
        if self.error:
            text = f"error: {self.error} (ctrl+r to retry)"
        elif self.loading:
            text = "loading…" if not count else f"{count} open cases · loading…"
        elif not count:
            text = "No open cases in your groups. Nothing needs you right now."
        else:
            more = ", more below" if self.next_cursor else ""
            text = f"{count} open case{'s' if count != 1 else ''}{more} · most urgent first"
        status = self.query_one("#queue-status", Static)
        status.set_class(self.error is not None, "-error")
        status.update(text)

    def _tick(self) -> None:
        self.table.tick(self.hitl.clock())

    # -- opening a case ---------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is None:
            return
        self.app.push_screen(CaseScreen(int(event.row_key.value)), callback=self._case_closed)

    def _case_closed(self, decision: DecisionPublic | None) -> None:
        if decision is None:
            self.refresh_quietly()
            return
        self.table.remove_case(decision.case_id)
        self._show_status()
        self.refresh_quietly()
        self.notify(
            f"Case #{decision.case_id} {decision_line(decision)}; signed with key "
            f"{decision.key_id[:12]}…",
            title="Decision recorded",
        )
