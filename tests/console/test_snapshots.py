"""SVG snapshots of every screen at 80x24 and 140x40 (pytest-textual-snapshot).

The backend and the console share a frozen clock and the key is fixed, so the pictures are
byte-for-byte stable. After an intended change: ``pytest tests/console/test_snapshots.py
--snapshot-update``, then look at the SVGs (``rsvg-convert -w 1100 x.svg -o x.png``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from console.config import ConsoleSettings
from console.connection import Backoff
from console.screens.approve_dialog import ApproveDialog
from console.screens.help import HelpScreen
from console.screens.override_dialog import OverrideDialog
from console.screens.reject_dialog import RejectDialog
from tests.console.conftest import ConsoleEnv, loaded_queue, open_case, wait_until

SIZES = {"80x24": (80, 24), "140x40": (140, 40)}
sizes = pytest.mark.parametrize("size", list(SIZES.values()), ids=list(SIZES))

Snap = Callable[..., bool]
Step = Callable[[Pilot[Any]], Awaitable[None]]


async def _queue(pilot: Pilot[Any]) -> None:
    from tests.console.test_snapshots_queue import settled

    await settled(pilot)  # the header says ● live once the change feed follows


def _payments_row(pilot: Pilot[Any]) -> int:
    """The first refund in the queue: it has an amount, risk flags and every section."""
    table = pilot.app.screen.query_one("#queue")
    items = list(table.items.values())  # type: ignore[attr-defined]
    return next(n for n, item in enumerate(items) if item.domain == "payments")


async def _case(pilot: Pilot[Any]) -> None:
    await loaded_queue(pilot)
    await open_case(pilot, row=_payments_row(pilot))


def _then(first: Step, *keys: str, until: type | None = None) -> Step:
    async def run(pilot: Pilot[Any]) -> None:
        await first(pilot)
        await pilot.press(*keys)
        if until is not None:
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, until))
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    return run


@sizes
def test_snapshot_queue(snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]) -> None:
    """The queue: severity, SLA countdown (breached, soon), domain, summary, confidence."""
    assert snap_compare(demo_env.app(), terminal_size=size, run_before=_queue)


def test_snapshot_queue_demo_no_color(
    snap_compare: Snap, demo_env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hitl demo` with NO_COLOR: the DEMO badge and the SLA markers read in monochrome."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(demo_env.app(demo=True), terminal_size=(80, 24), run_before=_queue)


@sizes
def test_snapshot_case(snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]) -> None:
    """A refund case: proposed action, risk, fallback, confidence bars."""
    assert snap_compare(demo_env.app(), terminal_size=size, run_before=_case)


@sizes
def test_snapshot_case_scrolled(
    snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """Further down the same case: alternatives, evidence, reasoning, context, details."""
    run = _then(_case, *["pagedown"] * (1 if size[1] > 30 else 2))
    assert snap_compare(demo_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_help(snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]) -> None:
    """The help screen, generated from the bindings."""
    run = _then(_queue, "question_mark", until=HelpScreen)
    assert snap_compare(demo_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_approve_dialog(
    snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """Approving shows what the agent will do, the signer's key id and the digest."""
    run = _then(_case, "a", until=ApproveDialog)
    assert snap_compare(demo_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_override_dialog(
    snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """Overriding lists the numbered alternatives with their rationale."""
    run = _then(_case, "o", until=OverrideDialog)
    assert snap_compare(demo_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_reject_dialog_refuses_empty(
    snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """Rejecting with no rationale is refused in the dialog."""
    run = _then(_case, "r", until=RejectDialog)
    run = _then(run, "enter")
    assert snap_compare(demo_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_command_palette(
    snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """ctrl+p on a case: every action of the screen by name, with its keys."""

    async def run(pilot: Pilot[Any]) -> None:
        await _case(pilot)
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause(0.5)

    assert snap_compare(demo_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_queue_offline(
    snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """The backend is away: OFFLINE in the header, a banner with the reason and the retry."""
    flaky = demo_env.flaky()

    async def run(pilot: Pilot[Any]) -> None:
        await _queue(pilot)
        flaky.fail = lambda request: True
        await pilot.press("ctrl+r")
        app = pilot.app
        # The immediate retry (ctrl+r) failed and the next one is scheduled.
        await wait_until(pilot, lambda: app.connection.retry_at is not None)  # type: ignore[attr-defined]
        await pilot.pause(0.2)

    app = demo_env.app(flaky=flaky, backoff=Backoff(first=60, cap=60, jitter=0))
    assert snap_compare(app, terminal_size=size, run_before=run)


def test_snapshot_queue_theme_from_config(snap_compare: Snap, demo_env: ConsoleEnv) -> None:
    """The theme named in the config (here nord) colors the whole console."""
    app = demo_env.app(settings=ConsoleSettings(url="http://hitl.test", theme="nord"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_queue)


def test_snapshot_case_no_color(
    snap_compare: Snap, demo_env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case with NO_COLOR: severity, countdown and confidence still read in words and bars."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(demo_env.app(), terminal_size=(80, 24), run_before=_case)
