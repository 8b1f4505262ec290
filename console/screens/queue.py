"""The default screen: open cases, most urgent first, with a live SLA countdown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from console.connection import Connection
from console.errors import BackendUnreachable, ConsoleError
from console.offline import SavedDecision
from console.widgets.banner import Banner
from console.widgets.identity_bar import IdentityBar
from console.widgets.key_bar import KeyBar
from console.widgets.queue_summary import QueueSummary
from console.widgets.queue_table import QueueTable
from store.contracts import DecisionPublic, QueuePage

if TYPE_CHECKING:
    from console.app import HitlApp

__all__ = ["QueueScreen"]

#: The automatic refresh re-reads at most this many rows (the backend's page cap).
REFRESH_MAX = 200
#: Seconds the cursor rests on a case before it is fetched ahead of enter.
PREFETCH_AFTER = 0.1


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
        self.fetching = False
        self.error: str | None = None
        self._prefetch: Timer | None = None
        self._status = ""

    @property
    def hitl(self) -> HitlApp:
        return cast("HitlApp", self.app)

    def compose(self) -> ComposeResult:
        app = self.hitl
        yield IdentityBar(app.me, app.client.base_url, demo=app.settings.demo)
        yield QueueSummary(id="queue-summary")
        yield Banner()
        yield QueueTable(me_name=app.me.name, now=app.clock(), id="queue")
        yield Static(id="queue-status")
        yield KeyBar()

    def on_mount(self) -> None:
        app = self.hitl
        self.watch(app, "connection", self._connection_changed)
        app.back_online.subscribe(self, self._back_online)
        if app.first_page is not None:  # fetched while signing in
            page, app.first_page = app.first_page, None
            self.fetching = True
            self._page_loaded(self.PageLoaded(page, first=True))
        else:
            self.action_reload()
        self.set_interval(1.0, self._tick)
        if app.refresh_every:
            self.set_interval(app.refresh_every, self.refresh_quietly)

    @property
    def summary(self) -> QueueSummary:
        return self.query_one(QueueSummary)

    def _connection_changed(self, connection: Connection) -> None:
        self.summary.show(connection=connection)
        self._show_status()

    def _back_online(self, _: None) -> None:
        if self.error is not None:
            self.action_reload()
        else:
            self.refresh_quietly()

    @property
    def table(self) -> QueueTable:
        return self.query_one(QueueTable)

    # -- loading ----------------------------------------------------------------------

    def action_reload(self) -> None:
        self.hitl.retry_now()
        self.next_cursor = None
        self._load(None)

    def _load(self, cursor: str | None) -> None:
        self.fetching = True
        self._show_status()
        self.load_page(cursor, self.hitl.page_size)

    def refresh_quietly(self) -> None:
        """Fetch the loaded rows again (claims, new and decided cases), keeping the cursor."""
        rows = self.table.row_count
        if self.fetching or rows > REFRESH_MAX or not self.hitl.connection.online:
            return  # while offline the reconnect worker tries, and refreshes once back
        self.fetching = True
        self.load_page(None, max(self.hitl.page_size, rows))

    @work(exclusive=True, group="queue")
    async def load_page(self, cursor: str | None, limit: int) -> None:
        try:
            page = await self.hitl.client.queue(cursor=cursor, limit=limit)
        except ConsoleError as exc:
            self.hitl.note_failure(exc)
            self.post_message(self.PageFailed(exc))
            return
        self.hitl.note_success()
        self.post_message(self.PageLoaded(page, first=cursor is None))

    @on(PageLoaded)
    def _page_loaded(self, message: PageLoaded) -> None:
        shown = self.table.items
        for item in message.page.items:
            if item.id in shown and shown[item.id] != item:
                self.hitl.forget_case(item.id)  # claimed, raised...: fetch it afresh
        self.fetching = False
        self.error = None
        self.next_cursor = message.page.next_cursor
        self.table.show_items(message.page.items, replace=message.first)
        self._show_status()
        self.summary.show(self.table.items.values(), more=self.next_cursor is not None)
        self.call_after_refresh(self.hitl.warm_up)  # the queue is on screen: load the rest

    @on(PageFailed)
    def _page_failed(self, message: PageFailed) -> None:
        self.call_after_refresh(self.hitl.warm_up)
        self.fetching = False
        away = isinstance(message.error, BackendUnreachable)  # the banner says so
        if self.error is None and not away:  # say it once, not at every automatic refresh
            self.notify(str(message.error), title="Could not load the queue", severity="error")
        self.error = str(message.error)
        self._show_status()

    @on(QueueTable.Highlighted)
    def _highlighted(self, event: QueueTable.Highlighted) -> None:
        """Fetch the case under the cursor once it rests there, so enter shows it at once."""
        if self._prefetch is not None:
            self._prefetch.stop()
            self._prefetch = None
        case_id = event.case_id
        app = self.hitl
        if case_id is not None and case_id not in app.case_cache and app.connection.online:
            self._prefetch = self.set_timer(PREFETCH_AFTER, lambda: self.prefetch(case_id))

    @work(exclusive=True, group="prefetch")
    async def prefetch(self, case_id: int) -> None:
        try:
            case = await self.hitl.client.case(case_id)
        except ConsoleError as exc:
            self.hitl.note_failure(exc)
            return  # opening the case will say what is wrong
        self.hitl.note_success()
        self.hitl.prepare_case(case)

    @on(QueueTable.NearEnd)
    def _near_end(self) -> None:
        if self.next_cursor and not self.fetching and self.error is None:
            self._load(self.next_cursor)

    def _show_status(self) -> None:
        count = self.table.row_count
        if self.error and not self.hitl.connection.online:
            text = (
                f"{count} open cases as loaded before the backend went away · ctrl+r retries"
                if count
                else "The backend is away; ctrl+r retries now."
            )
        elif self.error:
            text = f"error: {self.error} (ctrl+r to retry)"
        elif self.fetching:
            text = "loading…" if not count else f"{count} open cases · loading…"
        elif not count:
            text = "No open cases in your groups. Nothing needs you right now."
        else:
            more = ", more below" if self.next_cursor else ""
            text = f"{count} open case{'s' if count != 1 else ''}{more} · most urgent first"
        if text == self._status:
            return  # no repaint for the same words
        self._status = text
        status = self.query_one("#queue-status", Static)
        status.set_class(self.error is not None, "-error")
        status.update(text)

    def _tick(self) -> None:
        self.table.tick(self.hitl.clock())

    # -- opening a case ---------------------------------------------------------------

    @on(QueueTable.Selected)
    def _open(self, event: QueueTable.Selected) -> None:
        self.hitl.open_case(event.case_id, callback=self._case_closed)

    def _case_closed(self, decision: DecisionPublic | None) -> None:
        if decision is None:
            self.refresh_quietly()
            return
        from console.widgets.case_view import decision_line

        self.table.remove_case(decision.case_id)
        self._show_status()
        self.summary.show(self.table.items.values(), more=self.next_cursor is not None)
        self.refresh_quietly()
        if isinstance(decision, SavedDecision):
            return  # saved offline, not recorded: the app says so (HitlApp._saved)
        self.notify(
            f"Case #{decision.case_id} {decision_line(decision)}; signed with key "
            f"{decision.key_id[:12]}…",
            title="Decision recorded",
        )
        if self.hitl.settings.after_decision == "next":
            self.open_next()

    def open_next(self) -> None:
        """Triage: open the case now under the cursor (the next one, the decided one gone)."""
        case_id = self.table.current_case_id
        if case_id is not None:
            self.hitl.open_case(case_id, callback=self._case_closed)
