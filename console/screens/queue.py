"""The default screen: open cases, most urgent first, with a live SLA countdown.

The queue follows the backend live: a worker long-polls ``GET /v1/queue/changes`` from a
cursor (an audit sequence number); each answer names the cases that changed, which are
removed (decided, fallen back...) or re-read with ``GET /v1/queue?ids=...`` under the
current filters and put in their place, the cursor staying on its case. Long-poll rather
than server-sent events: the cursor survives a dropped connection, a restart or a proxy
that cuts streams, so the console resumes exactly where it stopped with one plain GET
(see the README). The automatic refresh every 30 s remains as a fallback.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from console.connection import Backoff, Connection
from console.errors import BackendUnreachable, ConsoleError
from console.offline import SavedDecision
from console.queue_filters import SORT_LABEL, QueueFilters
from console.widgets.banner import Banner
from console.widgets.identity_bar import IdentityBar
from console.widgets.key_bar import KeyBar
from console.widgets.queue_summary import FeedState, QueueSummary
from console.widgets.queue_table import QueueTable
from store.contracts import DecisionPublic, QueueChange, QueueItem, QueuePage

if TYPE_CHECKING:
    from console.app import HitlApp

__all__ = ["QueueScreen"]

#: The automatic refresh re-reads at most this many rows (the backend's page cap).
REFRESH_MAX = 200
#: Seconds the cursor rests on a case before it is fetched ahead of enter.
PREFETCH_AFTER = 0.1
#: Seconds each change-feed request waits for a change before answering empty.
LONG_POLL = 25.0
#: Cases re-read per request after the feed named them (the backend's ``ids`` cap).
REREAD_MAX = 200
#: Seconds typing in the search field rests before the queue is asked again.
SEARCH_DEBOUNCE = 0.3


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
        Binding(
            "slash",
            "search",
            "Search",
            key_display="/",
            id="queue.search",
            tooltip="Search the summaries (typing narrows the queue; enter returns to it)",
        ),
        Binding(
            "m",
            "toggle_mine",
            "Mine",
            show=False,
            id="queue.mine",
            tooltip="Only cases claimed by you or suggested to you (again: all)",
        ),
        Binding(
            "t",
            "pick_group",
            "Group",
            show=False,
            id="queue.group",
            tooltip="Only one of your groups (team): pick it from a list",
        ),
        Binding(
            "s",
            "next_severity",
            "Severity",
            show=False,
            id="queue.severity",
            tooltip="Only one severity: CRIT, HIGH, MED, LOW, then all again",
        ),
        Binding(
            "d",
            "pick_domain",
            "Domain",
            show=False,
            id="queue.domain",
            tooltip="Only one domain: pick it from the domains seen in the queue",
        ),
        Binding(
            "u",
            "next_claimed",
            "Claimed",
            show=False,
            id="queue.claimed",
            tooltip="Only unclaimed cases, then only claimed ones, then both",
        ),
        Binding(
            "o",
            "next_sort",
            "Order",
            show=False,
            id="queue.sort",
            tooltip="Order by priority (severity, then SLA left), SLA time left, or age",
        ),
        Binding(
            "escape",
            "clear_filters",
            "Clear filters",
            show=False,
            id="queue.clear",
            key_display="esc",
            tooltip="Clear every filter and the search (the order stays)",
        ),
        Binding(
            "b",
            "toggle_bell",
            "Bell",
            show=False,
            id="queue.bell",
            tooltip="Ring the bell on a new critical case, or not (saved in the config)",
        ),
        Binding(
            "A",
            "toggle_availability",
            "On call/away",
            show=False,
            id="queue.availability",
            tooltip="Go away (no new cases are routed to you) or back on call",
        ),
    ]

    @dataclass
    class PageLoaded(Message):
        page: QueuePage
        first: bool
        filters: QueueFilters

    @dataclass
    class PageFailed(Message):
        error: ConsoleError

    @dataclass
    class FeedChanged(Message):
        """The change feed's state, or the changes it brought."""

        state: FeedState
        changes: list[QueueChange]
        #: The feed (re)started from "now": what happened before may be missed.
        restarted: bool = False

    @dataclass
    class Reread(Message):
        """The cases the feed named, as the queue shows them now (absent: gone)."""

        ids: list[int]
        items: list[QueueItem]
        filters: QueueFilters
        created: set[int]

    def __init__(self) -> None:
        super().__init__()
        self.next_cursor: str | None = None
        self.fetching = False
        self.error: str | None = None
        self.filters = QueueFilters()
        #: Domains seen in the queue this session (the domain picker lists them).
        self.domains: set[str] = set()
        self._prefetch: Timer | None = None
        self._search_timer: Timer | None = None
        self._status = ""
        self._pending: dict[int, bool] = {}  # case id -> whether it was just created
        self._rereading = False
        self._rung: set[int] = set()

    @property
    def hitl(self) -> HitlApp:
        return cast("HitlApp", self.app)

    def compose(self) -> ComposeResult:
        app = self.hitl
        yield IdentityBar(app.me, app.client.base_url, demo=app.settings.demo)
        yield QueueSummary(id="queue-summary")
        yield Banner()
        yield QueueTable(me_name=app.me.name, now=app.clock(), id="queue")
        yield Input(placeholder="search summaries · enter: back to the queue", id="queue-search")
        yield Static(id="queue-status")
        yield KeyBar()

    def on_mount(self) -> None:
        app = self.hitl
        self.watch(app, "connection", self._connection_changed)
        app.back_online.subscribe(self, self._back_online)
        if app.first_page is not None:  # fetched while signing in
            page, app.first_page = app.first_page, None
            self.fetching = True
            self._page_loaded(self.PageLoaded(page, first=True, filters=self.filters))
        else:
            self.action_reload()
        self.set_interval(1.0, self._tick)
        if app.refresh_every:
            self.set_interval(app.refresh_every, self.refresh_quietly)
        self.call_after_refresh(self.follow)  # once the queue is painted

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
        self.load_page(cursor, self.hitl.page_size, self.filters)

    def refresh_quietly(self) -> None:
        """Fetch the loaded rows again (claims, new and decided cases), keeping the cursor."""
        rows = self.table.row_count
        if self.fetching or rows > REFRESH_MAX or not self.hitl.connection.online:
            return  # while offline the reconnect worker tries, and refreshes once back
        self.fetching = True
        self.load_page(None, max(self.hitl.page_size, rows), self.filters)

    @work(exclusive=True, group="queue")
    async def load_page(self, cursor: str | None, limit: int, filters: QueueFilters) -> None:
        try:
            page = await self.hitl.client.queue(cursor=cursor, limit=limit, **filters.params())
        except ConsoleError as exc:
            self.hitl.note_failure(exc)
            self.post_message(self.PageFailed(exc))
            return
        self.hitl.note_success()
        self.post_message(self.PageLoaded(page, first=cursor is None, filters=filters))

    @on(PageLoaded)
    def _page_loaded(self, message: PageLoaded) -> None:
        if message.filters != self.filters:
            return  # asked before the filters changed; the new answer is on its way
        shown = self.table.items
        for item in message.page.items:
            if item.id in shown and shown[item.id] != item:
                self.hitl.forget_case(item.id)  # claimed, raised...: fetch it afresh
            self.domains.add(item.domain)
        self.fetching = False
        self.error = None
        self.next_cursor = message.page.next_cursor
        self.table.show_items(message.page.items, replace=message.first)
        self._show_status()
        self._show_summary()
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

    def _show_summary(self) -> None:
        self.summary.show(
            self.table.items.values(), more=self.next_cursor is not None, filters=self.filters
        )

    # -- following the queue live -----------------------------------------------------

    @work(exclusive=True, group="feed")
    async def follow(self) -> None:
        """Long-poll the change feed for as long as the screen lives.

        The cursor is kept across failures: after the backend comes back the feed resumes
        where it stopped, so no change is missed."""
        app = self.hitl
        # The first screen came without httpx (console.client); load it in a thread, not
        # on the event loop, before the first long-poll.
        await asyncio.to_thread(app.client.warm_up)
        backoff = Backoff(first=0.5, cap=15.0)
        cursor: int | None = None
        while True:
            if not app.connection.online:  # the app's reconnect worker is on it
                await asyncio.sleep(0.2)
                continue
            try:
                answer = await app.client.queue_changes(
                    after=cursor, wait=0 if cursor is None else LONG_POLL
                )
            except ConsoleError as exc:
                app.note_failure(exc)
                self.post_message(self.FeedChanged("reconnecting", []))
                if app.connection.online:
                    await asyncio.sleep(backoff.delay())
                continue
            backoff.reset()
            app.note_success()
            restarted = cursor is None
            cursor = answer.cursor
            self.post_message(self.FeedChanged("live", answer.changes, restarted=restarted))

    @on(FeedChanged)
    def _feed_changed(self, message: FeedChanged) -> None:
        self.summary.show(feed=message.state)
        if message.restarted and self.table.row_count:
            # Changes between the first page and the feed's start: read the rows again.
            self.refresh_quietly()
        if not message.changes:
            return
        gone: list[int] = []
        for change in message.changes:
            self.hitl.forget_case(change.case_id)  # opened next, it is fetched afresh
            if change.status != "open":
                gone.append(change.case_id)
                self._pending.pop(change.case_id, None)
            else:
                created = change.kind == "case.created"
                self._pending[change.case_id] = self._pending.get(change.case_id, False) or created
        if gone:
            self.table.apply_changes((), removed=gone, key=None, complete=True)
            self._after_change()
        self._reread_pending()

    def _reread_pending(self) -> None:
        if self._rereading or not self._pending:
            return
        batch = list(self._pending)[:REREAD_MAX]
        created = {case_id for case_id in batch if self._pending[case_id]}
        for case_id in batch:
            del self._pending[case_id]
        self._rereading = True
        self.reread(batch, created, self.filters)

    @work(group="reread")
    async def reread(self, ids: list[int], created: set[int], filters: QueueFilters) -> None:
        try:
            page = await self.hitl.client.queue(ids=ids, limit=len(ids), **filters.params())
        except ConsoleError as exc:
            self.hitl.note_failure(exc)
            self._rereading = False
            self.refresh_quietly()  # the 30 s refresh would catch up; try at once
            return
        self.post_message(self.Reread(ids, page.items, filters, created))

    @on(Reread)
    def _reread(self, message: Reread) -> None:
        self._rereading = False
        if message.filters == self.filters:
            found = {item.id for item in message.items}
            removed = [case_id for case_id in message.ids if case_id not in found]
            for item in message.items:
                self.domains.add(item.domain)
            self.table.apply_changes(
                message.items,
                removed=removed,
                key=self.filters.sort_key,
                complete=self.next_cursor is None,
            )
            self._after_change()
            self._ring_for(message.items, message.created)
        self._reread_pending()

    def _after_change(self) -> None:
        self._show_status()
        self._show_summary()

    def _ring_for(self, items: list[QueueItem], created: set[int]) -> None:
        """The terminal bell for a new critical case (once per case), if wanted."""
        new = [i.id for i in items if i.id in created and i.severity == "critical"]
        fresh = [case_id for case_id in new if case_id not in self._rung]
        self._rung.update(fresh)
        if fresh and self.hitl.settings.bell:
            self.app.bell()

    # -- the cursor -------------------------------------------------------------------

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
        elif not count and self.filters.active:
            text = "No open case matches these filters; esc clears them."
        elif not count:
            text = "No open cases in your groups. Nothing needs you right now."
        else:
            more = ", more below" if self.next_cursor else ""
            matching = " matching" if self.filters.active else ""
            text = (
                f"{count}{matching} open case{'s' if count != 1 else ''}{more} · "
                f"{SORT_LABEL[self.filters.sort]}"
            )
        if text == self._status:
            return  # no repaint for the same words
        self._status = text
        status = self.query_one("#queue-status", Static)
        status.set_class(self.error is not None, "-error")
        status.update(text)

    def _tick(self) -> None:
        self.table.tick(self.hitl.clock())

    # -- filters and order ------------------------------------------------------------

    def set_filters(self, filters: QueueFilters) -> None:
        """Show the queue as ``filters`` narrow it (asked of the backend, from page one)."""
        if filters == self.filters:
            return
        self.filters = filters
        self._pending.clear()
        self.summary.show(filters=filters)
        self.next_cursor = None
        self._load(None)

    def action_toggle_mine(self) -> None:
        self.set_filters(self.filters.with_(mine=not self.filters.mine))

    def action_next_severity(self) -> None:
        self.set_filters(self.filters.next_severity())

    def action_next_claimed(self) -> None:
        self.set_filters(self.filters.next_claimed())

    def action_next_sort(self) -> None:
        self.set_filters(self.filters.next_sort())

    def action_clear_filters(self) -> None:
        """esc: in the search field, drop the search; on the queue, every filter."""
        search = self.query_one("#queue-search", Input)
        searching = search.has_focus
        if self._search_timer is not None:
            self._search_timer.stop()
        search.value = ""
        search.display = False
        self.table.focus()
        self.set_filters(self.filters.with_(q="") if searching else self.filters.cleared())

    def action_pick_group(self) -> None:
        me = self.hitl.me
        if me.groups:
            self._pick_group(list(me.groups))
        else:
            self.load_groups()  # an admin sees every group

    @work(exclusive=True, group="groups")
    async def load_groups(self) -> None:
        try:
            groups = await self.hitl.client.groups()
        except ConsoleError as exc:
            self.hitl.note_failure(exc)
            self.notify(str(exc), title="Could not list the groups", severity="error")
            return
        self._pick_group(sorted(g.name for g in groups))

    def _pick_group(self, groups: list[str]) -> None:
        from console.screens.queue_picker import QueuePicker

        choices = [("All my groups", ""), *((g, g) for g in groups)]
        self.app.push_screen(
            QueuePicker("Group", choices, current=self.filters.group),
            callback=lambda picked: self._picked("group", picked),
        )

    def action_pick_domain(self) -> None:
        from console.screens.queue_picker import QueuePicker

        domains = sorted(self.domains | ({self.filters.domain} if self.filters.domain else set()))
        choices = [("All domains", ""), *((d, d) for d in domains)]
        self.app.push_screen(
            QueuePicker("Domain", choices, current=self.filters.domain),
            callback=lambda picked: self._picked("domain", picked),
        )

    def _picked(self, field: str, picked: str | None) -> None:
        if picked is not None:
            self.set_filters(self.filters.with_(**{field: picked or None}))

    # -- search -----------------------------------------------------------------------

    def action_search(self) -> None:
        search = self.query_one("#queue-search", Input)
        search.display = True
        search.focus()

    @on(Input.Changed, "#queue-search")
    def _search_typed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        text = event.value.strip()
        self._search_timer = self.set_timer(
            SEARCH_DEBOUNCE, lambda: self.set_filters(self.filters.with_(q=text))
        )

    @on(Input.Submitted, "#queue-search")
    def _search_done(self, event: Input.Submitted) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self.set_filters(self.filters.with_(q=event.value.strip()))
        if not event.value.strip():
            event.input.display = False
        self.table.focus()

    # -- bell and availability --------------------------------------------------------

    def action_toggle_bell(self) -> None:
        from console.config import save_setting

        app = self.hitl
        bell = not app.settings.bell
        app.settings = app.settings.model_copy(update={"bell": bell})
        state = "on: a new critical case rings it" if bell else "off"
        try:
            save_setting("bell", bell)
        except (OSError, ValueError) as exc:
            self.notify(f"Bell {state}; not saved: {exc}", title="Bell", severity="warning")
            return
        self.notify(f"Bell {state}", title="Bell")

    def action_toggle_availability(self) -> None:
        me = self.hitl.me
        self.set_availability("away" if me.availability == "on_call" else "on_call")

    @work(exclusive=True, group="availability")
    async def set_availability(self, availability: str) -> None:
        app = self.hitl
        try:
            me = await app.client.set_availability(availability)  # type: ignore[arg-type]
        except ConsoleError as exc:
            app.note_failure(exc)
            self.notify(str(exc), title="Availability not changed", severity="error")
            return
        app.note_success()
        app.me = me
        screens = list(self.app.screen_stack)
        if self.app.is_screen_installed("case"):
            screens.append(self.app.get_screen("case"))
        for screen in screens:
            for bar in screen.query(IdentityBar):
                bar.show(me)
        said = "on call" if me.availability == "on_call" else "away: new cases go to others"
        self.notify(f"You are {said}", title="Availability")

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
        self._after_change()
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
