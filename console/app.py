"""The supervisor console: a thin Textual app whose default screen is the queue.

:class:`HitlApp` is handed everything it needs (a :class:`~console.client.HitlClient`, who is
signed in, the signing key and a clock) so tests and snapshots can run it against an
in-process backend at a fixed time. :func:`run_console` builds those for real use.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode

from console.client import HitlClient
from console.config import ConsoleSettings
from console.errors import ConsoleError
from console.screens.approve_dialog import ApproveDialog
from console.screens.case import CaseScreen
from console.screens.help import HelpEntry, HelpScreen, HelpSection
from console.screens.override_dialog import OverrideDialog
from console.screens.queue import QueueScreen
from console.screens.reject_dialog import RejectDialog
from console.widgets.queue_table import QueueTable
from store.contracts import SupervisorMe, utcnow

__all__ = ["HitlApp", "run_console"]


class HitlApp(App[int]):
    """Settings, global bindings and help; the screens do the rest."""

    # Textual reads a screen's CSS_PATH when it is pushed, but not for the screen returned by
    # get_default_screen, so the app reads the queue screen's stylesheet itself.
    CSS_PATH = ["app.tcss", "screens/queue.tcss"]
    TITLE = "hitl"
    # Every key is listed by `?`; a palette would add commands the help does not show.
    ENABLE_COMMAND_PALETTE = False
    SUB_TITLE = "supervisor console"
    BINDING_GROUP_TITLE = "Everywhere"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit the console"),
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

    def __init__(
        self,
        settings: ConsoleSettings,
        *,
        client: HitlClient,
        me: SupervisorMe,
        key: Ed25519PrivateKey,
        clock: Callable[[], datetime] = utcnow,
        page_size: int = 50,
        refresh_every: float | None = 30.0,
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.client = client
        self.me = me
        self.key = key
        self.clock = clock
        self.page_size = page_size
        #: Seconds between automatic queue refreshes (``None``: only on ctrl+r).
        self.refresh_every = refresh_every
        #: Rejection rationales typed per case, kept until the decision is recorded.
        self.drafts: dict[int, str] = {}
        #: The last error of a failed rejection per case, shown when the dialog reopens.
        self.reject_errors: dict[int, str] = {}
        if keymap:
            self.set_keymap(dict(keymap))

    def get_default_screen(self) -> QueueScreen:
        return QueueScreen()

    async def action_quit(self) -> None:
        self.exit(0)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_sections()))

    # -- help, generated from the bindings ---------------------------------------------

    def help_sections(self) -> list[HelpSection]:
        """One section per place a binding lives, in the order a supervisor meets them."""
        sources: tuple[tuple[str, tuple[type[DOMNode], ...]], ...] = (
            ("Everywhere", (HitlApp,)),
            ("Queue", (QueueTable, QueueScreen)),
            ("Case", (CaseScreen,)),
            ("Approve dialog", (ApproveDialog,)),
            ("Override dialog", (OverrideDialog,)),
            ("Reject dialog", (RejectDialog,)),
            ("Help", (HelpScreen,)),
        )
        return [HelpSection(title, tuple(self._entries(classes))) for title, classes in sources]

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
                        self._keys(binding),
                        binding.description,
                        binding.tooltip,
                        (binding.id,) if binding.id else (),
                    )
                )
        for n, entry in enumerate(entries):
            for group, members in grouped.items():
                if not entry.keys and entry.description == group.description:
                    entries[n] = HelpEntry(
                        f"{self._keys(members[0])}…{self._keys(members[-1])}",
                        group.description,
                        members[0].tooltip.rstrip("0123456789 ") + " n",
                        tuple(b.id for b in members if b.id),
                    )
        return entries

    def _keys(self, binding: Binding) -> str:
        keys = self._keymap.get(binding.id, binding.key) if binding.id else binding.key
        if binding.key_display and keys == binding.key:
            return binding.key_display
        return ", ".join(
            self.get_key_display(replace(binding, key=key.strip(), key_display=None))
            for key in keys.split(",")
        )


async def _run(settings: ConsoleSettings) -> int:
    from console.auth import load_identity

    try:
        client, me, key = await load_identity(settings)
    except ConsoleError as exc:
        print(f"hitl: {exc}", file=sys.stderr)
        return 1
    async with client:
        app = HitlApp(settings, client=client, me=me, key=key)
        await app.run_async()
        return app.return_code or 0


def run_console(settings: ConsoleSettings) -> int:
    """Sign in (token and key from :func:`console.auth.load_identity`) and run the console."""
    try:
        return asyncio.run(_run(settings))
    except KeyboardInterrupt:
        return 130
