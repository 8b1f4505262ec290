"""The supervisor console: a thin Textual app whose default screen is the queue.

:class:`HitlApp` is handed everything it needs (a :class:`~console.client.HitlClient`, who is
signed in, the signing key or the task unlocking it, and a clock) so tests and snapshots can
run it against an in-process backend at a fixed time. :func:`run_console` builds those for
real use.

The app also owns what every screen shares: the connection state (workers report each
request's fate; while the backend is away a worker retries with exponential backoff and the
screens show a banner), the signing key's state, the case cache, the theme and the keymap.
"""

from __future__ import annotations

import asyncio
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from inspect import isawaitable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.reactive import reactive
from textual.signal import Signal
from textual.theme import Theme

from console.client import HitlClient
from console.commands_palette import HitlCommands
from console.config import ConsoleSettings, save_setting
from console.connection import Backoff, Connection
from console.drafts import Drafts
from console.errors import BackendUnreachable, ConsoleError, KeyStoreError
from console.offline import OfflineClient, OfflineStart, SavedDecision
from console.screens.help import HelpEntry, HelpScreen, HelpSection
from console.screens.queue import QueueScreen
from console.sync import SyncReport
from console.widgets.queue_table import QueueTable
from store.contracts import CasePublic, DecisionPublic, QueuePage, SupervisorMe, utcnow

if TYPE_CHECKING:
    # Imported where first needed (or by the warm-up after the first screen): the case
    # screen brings the signing code and cryptography, which the queue does not need.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from console.screens.case import CaseScreen

__all__ = ["HitlApp", "run_console"]

#: Cases kept after they were fetched (shown at once when opened, then fetched again).
CASE_CACHE_SIZE = 32
#: Where each binding lives, in the order a supervisor meets them (help and palette).
BindingSources = tuple[tuple[str, tuple[type[DOMNode], ...]], ...]


class HitlApp(App[int]):
    """Settings, global bindings and help; the screens do the rest."""

    # Textual reads a screen's CSS_PATH when it is pushed, but not for the screen returned by
    # get_default_screen, so the app reads the queue screen's stylesheet itself.
    CSS_PATH = ["app.tcss", "screens/queue.tcss"]
    TITLE = "hitl"
    SUB_TITLE = "supervisor console"
    # The palette lists every binding (console.commands_palette), as `?` does.
    COMMANDS = {HitlCommands}
    BINDING_GROUP_TITLE = "Everywhere"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit the console"),
        Binding(
            "ctrl+p",
            "command_palette",
            "Commands",
            id="app.commands",
            priority=True,
            tooltip="Search and run any command of this screen by name",
        ),
        Binding(
            "ctrl+t",
            "change_theme",
            "Theme",
            show=False,
            id="app.theme",
            tooltip="Pick a color theme (saved in the config file)",
        ),
        Binding(
            "question_mark",
            "help",
            "Help",
            id="app.help",
            key_display="?",
            tooltip="Show every key binding",
        ),
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            show=False,
            priority=True,
            id="app.force-quit",
            tooltip="Quit, even from inside a text field",
        ),
    ]

    #: Whether the backend answers (see :meth:`note_failure`, :meth:`note_success`).
    connection: reactive[Connection] = reactive(Connection(), always_update=True)
    #: Why nothing can be signed (no key, locked, not enrolled), or ``None``.
    key_problem: reactive[str | None] = reactive(None)
    #: Decisions saved in the outbox and not sent yet.
    outbox_pending: reactive[int] = reactive(0)

    def __init__(
        self,
        settings: ConsoleSettings,
        *,
        client: HitlClient,
        me: SupervisorMe,
        key: Ed25519PrivateKey | Awaitable[Ed25519PrivateKey],
        clock: Callable[[], datetime] = utcnow,
        page_size: int = 50,
        refresh_every: float | None = 30.0,
        keymap: Mapping[str, str] | None = None,
        first_page: QueuePage | None = None,
        backoff: Backoff | None = None,
        offline: OfflineStart | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.client = client
        #: The offline-aware client (cache, outbox, sync), when the console runs with one.
        self.offline_client = client if isinstance(client, OfflineClient) else None
        if self.offline_client is not None:
            self.offline_client.clock = clock
            self.offline_client.remember_me(me)
        #: Started with no backend: from the kept copy, or reviewing a bundle.
        self.offline_start = offline
        #: What the last sync did to each decision saved offline.
        self.last_sync: SyncReport | None = None
        self.me = me
        self._key: Ed25519PrivateKey | None = None
        self._unlocking: Awaitable[Ed25519PrivateKey] | None = None
        if isawaitable(key):
            self._unlocking = key
        else:
            self._key = key
        self.clock = clock
        #: The queue's first page, when it was fetched while signing in.
        self.first_page = first_page
        self.backoff = backoff or Backoff()
        #: Published when the backend answers again after being away.
        self.back_online = Signal[None](self, "back-online")
        self.page_size = page_size
        #: Seconds between automatic queue refreshes (``None``: only on ctrl+r).
        self.refresh_every = refresh_every
        #: What was typed in decision dialogs, per case and kind, kept until a decision on
        #: the case is recorded (with the last failure, shown when the dialog reopens).
        self.drafts = Drafts()
        #: Cases fetched lately (the one under the cursor is fetched ahead), newest last.
        self.case_cache: OrderedDict[int, CasePublic] = OrderedDict()
        self._case_screen: CaseScreen | None = None
        self._warmed = False
        self._key_waiters: list[Callable[[], None]] = []
        self._keymap_given = {**settings.keymap, **(keymap or {})}
        if self._keymap_given:
            self.set_keymap(self._keymap_given)
        if settings.theme in self.available_themes:
            self.theme = settings.theme

    def get_default_screen(self) -> QueueScreen:
        return QueueScreen()

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._start_offline()

    def warm_up(self) -> None:
        """Once the queue is on screen: unlock the signing key, check the settings, and load
        what the next steps need (the HTTP stack, the case screen, the signing code) in a
        thread."""
        if self._warmed:
            return
        self._warmed = True
        if self._unlocking is not None:
            self._unlock(self._unlocking)
            self._unlocking = None
        self._check_settings()
        self._warm_up()

    @work(thread=True, group="warm-up")
    def _warm_up(self) -> None:
        self.client.warm_up()
        self.binding_sources()  # imports the case screen and the dialogs

    def _check_settings(self) -> None:
        if self.settings.theme not in self.available_themes:
            self.notify(
                f"Unknown theme {self.settings.theme!r}; ctrl+t lists the themes.",
                title="Config",
                severity="warning",
            )
        known = {b.id for _, classes in self.binding_sources() for c in classes for b in _of(c)}
        unknown = sorted(set(self._keymap_given) - known)
        if unknown:
            self.notify(
                f"No binding has the id {', '.join(unknown)}; `?` lists the ids.",
                title="Keymap",
                severity="warning",
            )

    # -- the signing key ---------------------------------------------------------------

    @property
    def key(self) -> Ed25519PrivateKey:
        """The signing key; :class:`~console.errors.KeyStoreError` if it is not available."""
        if self._key is None:
            raise KeyStoreError(self.key_problem or "your signing key is still being unlocked")
        return self._key

    @property
    def key_ready(self) -> bool:
        return self._key is not None

    @work(group="key")
    async def _unlock(self, unlocking: Awaitable[Ed25519PrivateKey]) -> None:
        try:
            self._key = await unlocking
        except ConsoleError as exc:
            self.key_problem = f"cannot sign: {exc}"
            self.notify(str(exc), title="No signing key", severity="error", timeout=15)
        waiting, self._key_waiters = self._key_waiters, []
        if self._key is not None:
            for callback in waiting:
                callback()

    def when_key_ready(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the signing key is unlocked (a decision key pressed early)."""
        if self._key is not None:
            callback()
        else:
            self._key_waiters = [callback]  # only the last key press waits

    # -- the connection ----------------------------------------------------------------

    def note_failure(self, error: ConsoleError) -> None:
        """A request failed; if nothing answered, go offline and start retrying."""
        if self.bundle is not None:
            return  # no backend to come back
        if isinstance(error, BackendUnreachable) and self.connection.online:
            self.connection = Connection("offline", str(error))
            self.backoff.reset()
            self.reconnect()

    def note_success(self) -> None:
        """A request got an answer: the backend is there."""
        if not self.connection.online:
            self._back_online()

    def retry_now(self) -> None:
        """Try the backend at once (ctrl+r while offline), then keep backing off."""
        if not self.connection.online and self.bundle is None:
            self.reconnect(immediately=True)

    @work(exclusive=True, group="reconnect")
    async def reconnect(self, immediately: bool = False) -> None:
        while not self.connection.online:
            if not immediately:
                delay = self.backoff.delay()
                retry_at = self.clock() + timedelta(seconds=delay)
                self.connection = replace(self.connection, retry_at=retry_at)
                await asyncio.sleep(delay)
            immediately = False
            self.connection = replace(
                self.connection, attempts=self.connection.attempts + 1, retry_at=None
            )
            try:
                await self.client.health()
            except ConsoleError as exc:
                self.connection = replace(self.connection, detail=str(exc))
                continue
            self._back_online()

    def _back_online(self) -> None:
        self.workers.cancel_group(self, "reconnect")
        self.connection = Connection()
        self.back_online.publish(None)

    # -- offline: the kept copy, the outbox and the sync -------------------------------

    @property
    def bundle(self) -> Path | None:
        """The bundle under review (``hitl console --bundle``), if any: no backend at all."""
        return self.offline_start.bundle if self.offline_start is not None else None

    @property
    def snapshot_at(self) -> datetime | None:
        """When the queue on screen was fetched (shown with its age while offline)."""
        return self.offline_client.queue_taken_at if self.offline_client else None

    def _start_offline(self) -> None:
        if self.offline_start is not None:
            self.connection = Connection("offline", self.offline_start.reason)
            if self.bundle is None:
                self.backoff.reset()
                self.reconnect()
        if self.offline_client is not None:
            self.back_online.subscribe(self, lambda _: self.sync_outbox())
            self.sync_outbox()

    async def kept_case(self, case_id: int) -> CasePublic | None:
        """The copy of ``case_id`` kept on this machine (to show while the backend is away)."""
        if self.offline_client is None:
            return None
        kept = await self.offline_client.kept_case(case_id)
        return kept[0] if kept is not None else None

    def _saved(self, decision: SavedDecision) -> None:
        """A decision went to the outbox (durably: it is on disk before this is said)."""
        self.outbox_pending += 1
        client = self.offline_client
        if client is not None and not client.reachable and self.connection.online:
            # The send failed without an answer: go offline, retry, and sync on return.
            self.note_failure(BackendUnreachable(f"cannot reach {client.base_url}"))
        where = (
            f"in the bundle; `hitl push {self.bundle}` sends it"
            if self.bundle is not None
            else "on this machine; it is sent when the backend answers"
        )
        self.notify(
            f"Case #{decision.case_id}: {decision.action} signed and saved {where}.",
            title="Saved (not sent yet)",
            timeout=8,
        )

    @work(exclusive=True, group="sync")
    async def sync_outbox(self) -> None:
        """Send the decisions saved offline, in order, and say what happened to each."""
        client = self.offline_client
        if client is None:
            return
        try:
            self.outbox_pending = await client.pending()
            if not self.outbox_pending or client.bundle or not self.connection.online:
                return
            report = await client.sync()
        except ConsoleError as exc:  # the outbox file cannot be read
            self.notify(str(exc), title="Outbox", severity="error", timeout=30)
            return
        self.last_sync = report
        self.outbox_pending = await client.pending()
        self._report_sync(report)
        if report.unreachable is not None:
            self.note_failure(BackendUnreachable(report.unreachable))
        for screen in self.screen_stack:
            if isinstance(screen, QueueScreen):
                screen.refresh_quietly()

    def _report_sync(self, report: SyncReport) -> None:
        """One notification per decision not recorded as made (each stays in the outbox
        with the backend's answer; `hitl doctor` counts them), one for the rest."""
        plain = 0
        for entry, state, text in report.outcomes:
            what = f"Case #{entry.case_id} ({entry.action}, saved offline)"
            if state == "sent" and text == "recorded":
                plain += 1
            elif state == "sent":
                self.notify(
                    f"{what}: {text}", title="Recorded post hoc", severity="warning", timeout=30
                )
            elif state == "conflict":
                self.notify(
                    f"{what}: {text}",
                    title="Not recorded: conflict",
                    severity="warning",
                    timeout=30,
                )
            else:
                self.notify(
                    f"{what}: {text}", title="Not recorded: refused", severity="error", timeout=30
                )
        if plain:
            self.notify(
                f"{plain} decision{'s' if plain != 1 else ''} saved offline "
                f"{'are' if plain != 1 else 'is'} now recorded.",
                title="Synced",
                timeout=20,
            )
        if report.remaining:
            self.notify(
                f"{report.remaining} saved decision(s) still wait: {report.unreachable}",
                title="Sync paused",
                severity="warning",
            )

    # -- theme -------------------------------------------------------------------------

    def _theme_changed(self, theme: Theme) -> None:
        if theme.name == self.settings.theme:
            return
        self.settings = self.settings.model_copy(update={"theme": theme.name})
        try:
            path = save_setting("theme", theme.name)
        except (OSError, ValueError) as exc:
            self.notify(f"Theme not saved: {exc}", title="Config", severity="warning")
            return
        self.notify(f"{theme.name}, saved in {path}", title="Theme")

    def action_change_theme(self) -> None:
        self.search_themes()

    def open_case(self, case_id: int, *, callback: Callable[[DecisionPublic | None], None]) -> None:
        """Show ``case_id`` on the case screen; ``callback`` gets the decision (or ``None``).

        There is one case screen, kept installed and refilled for each case.
        """
        from console.screens.case import CaseScreen

        def closed(decision: DecisionPublic | None) -> None:
            if isinstance(decision, SavedDecision):
                self._saved(decision)
            callback(decision)

        cached = self.case_cache.get(case_id)
        screen = self._case_screen
        if screen is None:
            screen = self._case_screen = CaseScreen(case_id, cached=cached)
            self.install_screen(screen, name="case")
        else:
            screen.open(case_id, cached=cached)
        self.push_screen(screen, callback=closed)

    def remember_case(self, case: CasePublic) -> None:
        self.case_cache[case.id] = case
        self.case_cache.move_to_end(case.id)
        while len(self.case_cache) > CASE_CACHE_SIZE:
            self.case_cache.popitem(last=False)

    def prepare_case(self, case: CasePublic) -> None:
        """A case the supervisor is likely to open next: keep it, and render it ahead."""
        self.remember_case(case)
        screen = self._case_screen
        if screen is not None and screen.is_mounted:
            from contextlib import suppress

            from textual.css.query import NoMatches

            with suppress(NoMatches):  # the console is closing: its widgets are going
                screen.prepare(case)

    def forget_case(self, case_id: int) -> None:
        self.case_cache.pop(case_id, None)

    async def action_quit(self) -> None:
        self.exit(0)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_sections()))

    # -- help, generated from the bindings ---------------------------------------------

    def binding_sources(self) -> BindingSources:
        """Where each binding lives, in the order a supervisor meets them."""
        from console.screens.approve_dialog import ApproveDialog
        from console.screens.case import CaseScreen
        from console.screens.confirm_dialog import ConfirmDialog
        from console.screens.custom_action_dialog import CustomActionDialog
        from console.screens.defer_dialog import DeferDialog
        from console.screens.edit_args_dialog import EditArgsDialog
        from console.screens.override_dialog import OverrideDialog
        from console.screens.question_dialog import QuestionDialog
        from console.screens.queue_picker import QueuePicker
        from console.screens.rationale_dialog import RationaleDialog
        from console.screens.reassign_dialog import ReassignDialog
        from console.screens.reject_dialog import RejectDialog
        from console.screens.severity_dialog import SeverityDialog
        from console.widgets.case_view import CaseView

        return (
            ("Everywhere", (HitlApp,)),
            ("Queue", (QueueTable, QueueScreen)),
            ("Filter picker", (QueuePicker,)),
            ("Case", (CaseScreen, CaseView)),
            ("Approve dialog", (ApproveDialog,)),
            ("Edit and approve dialog", (EditArgsDialog,)),
            ("Override dialog", (OverrideDialog,)),
            ("Custom action dialog", (CustomActionDialog,)),
            ("Reject dialog", (RejectDialog,)),
            ("Rationale prompt", (RationaleDialog,)),
            ("Ask the agent dialog", (QuestionDialog,)),
            ("Reassign dialog", (ReassignDialog,)),
            ("Defer dialog", (DeferDialog,)),
            ("Raise severity dialog", (SeverityDialog,)),
            ("Confirm dialog", (ConfirmDialog,)),
            ("Help", (HelpScreen,)),
        )

    def help_sections(self) -> list[HelpSection]:
        """One section per place a binding lives, in the order a supervisor meets them."""
        return [
            HelpSection(title, tuple(self._entries(classes)))
            for title, classes in self.binding_sources()
        ]

    def _entries(self, classes: tuple[type[DOMNode], ...]) -> list[HelpEntry]:
        entries: list[HelpEntry] = []
        grouped: dict[Binding.Group, list[Binding]] = {}
        for cls in classes:
            for binding in cls.BINDINGS:
                if not isinstance(binding, Binding):
                    continue
                if binding.group is not None:
                    if binding.group not in grouped:
                        grouped[binding.group] = []
                        entries.append(HelpEntry("", binding.group.description, "", ()))
                    grouped[binding.group].append(binding)
                    continue
                entries.append(
                    HelpEntry(
                        self.keys_for(binding),
                        binding.description,
                        binding.tooltip,
                        (binding.id,) if binding.id else (),
                    )
                )
        for n, entry in enumerate(entries):
            for group, members in grouped.items():
                if not entry.keys and entry.description == group.description:
                    entries[n] = HelpEntry(
                        f"{self.keys_for(members[0])}…{self.keys_for(members[-1])}",
                        group.description,
                        members[0].tooltip.rstrip("0123456789 ") + " n",
                        tuple(b.id for b in members if b.id),
                    )
        return entries

    def keys_for(self, binding: Binding) -> str:
        """The keys that trigger ``binding`` now (after the keymap), as the help shows them."""
        keys = self._keymap.get(binding.id, binding.key) if binding.id else binding.key
        if binding.key_display and keys == binding.key:
            return binding.key_display
        return ", ".join(
            self.get_key_display(replace(binding, key=key.strip(), key_display=None))
            for key in keys.split(",")
        )


def _of(cls: type[DOMNode]) -> list[Binding]:
    return [b for b in cls.BINDINGS if isinstance(b, Binding)]


async def _run(settings: ConsoleSettings, bundle: Path | None = None) -> int:
    from console.signin import sign_in

    try:
        identity = await sign_in(settings, bundle=bundle)
    except ConsoleError as exc:
        print(f"hitl: {exc}", file=sys.stderr)
        return 1
    async with identity.client:
        app = HitlApp(
            settings,
            client=identity.client,
            me=identity.me,
            key=identity.key,
            first_page=identity.page,
            offline=identity.offline,
        )
        try:
            await app.run_async()
        finally:
            identity.key.close()  # if the console ended before unlocking it
            await asyncio.to_thread(identity.client.local.close)
        return app.return_code or 0


def run_console(settings: ConsoleSettings, *, bundle: Path | None = None) -> int:
    """Sign in (:func:`console.signin.sign_in`) and run the console; with ``bundle``,
    review that bundle with no backend."""
    try:
        return asyncio.run(_run(settings, bundle))
    except KeyboardInterrupt:
        return 130
