"""SVG snapshots of the decision dialogs at 80x24 and 140x40 (see test_snapshots.py).

After an intended change: ``pytest tests/console/test_snapshots_decisions.py
--snapshot-update``, then look at the SVGs (``rsvg-convert -w 1100 x.svg -o x.png``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from console.screens.confirm_dialog import ConfirmDialog
from console.screens.custom_action_dialog import CustomActionDialog
from console.screens.defer_dialog import DeferDialog
from console.screens.edit_args_dialog import EditArgsDialog
from console.screens.question_dialog import QuestionDialog
from console.screens.rationale_dialog import RationaleDialog
from console.screens.reassign_dialog import ReassignDialog
from console.screens.severity_dialog import SeverityDialog
from tests.console.conftest import ConsoleEnv, loaded_queue, open_case, wait_until
from tests.console.test_app_decisions_kinds import why_env  # noqa: F401 - a fixture

SIZES = {"80x24": (80, 24), "140x40": (140, 40)}
sizes = pytest.mark.parametrize("size", list(SIZES.values()), ids=list(SIZES))

Snap = Callable[..., bool]
Step = Callable[[Pilot[Any]], Awaitable[None]]
MEDIUM, LOW = 4, 8


def _dialog(row: int, *keys: str, until: type, then: Step | None = None) -> Step:
    """Open the case on ``row``, press ``keys``, wait for the dialog, then ``then``."""

    async def run(pilot: Pilot[Any]) -> None:
        await loaded_queue(pilot)
        await open_case(pilot, row=row)
        await pilot.press(*keys)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, until))
        if then is not None:
            await then(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        for area in pilot.app.screen.query(TextArea):
            area.cursor_blink = False
        await pilot.pause()

    return run


@sizes
def test_snapshot_edit_args_dialog_refuses_a_non_object(
    snap_compare: Snap, console_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """Edit then approve: the arguments as JSON, and why a list is refused."""

    async def then(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one(TextArea).load_text('[\n  "not", "an object"\n]')
        await pilot.press("ctrl+s")

    run = _dialog(MEDIUM + 1, "e", until=EditArgsDialog, then=then)
    assert snap_compare(console_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_custom_action_dialog(
    snap_compare: Snap, console_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """Override with an action of your own: name, JSON arguments, the required rationale."""

    async def then(pilot: Pilot[Any]) -> None:
        await pilot.press(*"hold_for_review", "tab")
        pilot.app.screen.query_one(TextArea).load_text('{"hours": 24}')

    run = _dialog(MEDIUM + 2, "o", "c", until=CustomActionDialog, then=then)
    assert snap_compare(console_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_question_dialog(
    snap_compare: Snap, console_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """Request info: the question to the agent."""

    async def then(pilot: Pilot[Any]) -> None:
        await pilot.press(*"Which region is this account in?")

    run = _dialog(MEDIUM, "i", until=QuestionDialog, then=then)
    assert snap_compare(console_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_reassign_dialog(
    snap_compare: Snap, console_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """Reassign: the group's members (on call, away), then the other groups."""
    console_env.backend.add_supervisor("bob", ["moderation"])

    async def then(pilot: Pilot[Any]) -> None:
        dialog = pilot.app.screen
        await wait_until(pilot, lambda: dialog.groups is not None)  # type: ignore[attr-defined]

    run = _dialog(MEDIUM, "t", until=ReassignDialog, then=then)
    assert snap_compare(console_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_defer_dialog_refuses_an_unknown_duration(
    snap_compare: Snap, console_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """Defer: how long and why; a duration it cannot read is refused on its field."""

    async def then(pilot: Pilot[Any]) -> None:
        await pilot.press(*"soon", "enter", *"waiting on the upstream fix", "enter")

    run = _dialog(MEDIUM + 3, "d", until=DeferDialog, then=then)
    assert snap_compare(console_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_severity_dialog(
    snap_compare: Snap, console_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """Raise the severity: the higher severities, numbered."""
    run = _dialog(LOW, "s", until=SeverityDialog)
    assert snap_compare(console_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_rationale_prompt(
    snap_compare: Snap,
    why_env: ConsoleEnv,  # noqa: F811 - the fixture imported above
    size: tuple[int, int],
) -> None:
    """The policy rule requires a rationale: asked for before the approval."""

    async def run(pilot: Pilot[Any]) -> None:
        table = await loaded_queue(pilot)
        row = next(n for n, i in enumerate(table.items.values()) if i.domain == "payments")
        await _dialog(row, "a", until=RationaleDialog)(pilot)

    assert snap_compare(why_env.app(), terminal_size=size, run_before=run)


@sizes
def test_snapshot_confirm_dialog_on_a_critical_case(
    snap_compare: Snap, console_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """A critical case: exactly what will be signed, and the key's id and fingerprint."""

    async def then(pilot: Pilot[Any]) -> None:
        await pilot.press(*"30", "enter", *"the owner is paged", "enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))

    run = _dialog(0, "d", until=DeferDialog, then=then)
    assert snap_compare(console_env.app(), terminal_size=size, run_before=run)


def test_snapshot_confirm_dialog_no_color(
    snap_compare: Snap, console_env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With NO_COLOR the confirmation still says the case is critical, in words."""
    monkeypatch.setenv("NO_COLOR", "1")

    async def then(pilot: Pilot[Any]) -> None:
        await pilot.press(*"not a real incident", "enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))

    from console.screens.reject_dialog import RejectDialog

    run = _dialog(0, "r", until=RejectDialog, then=then)
    assert snap_compare(console_env.app(), terminal_size=(80, 24), run_before=run)


def test_snapshot_conflict_shows_what_changed(snap_compare: Snap, console_env: ConsoleEnv) -> None:
    """A 409: the case screen names bob's claim and keeps the typed question."""
    _, bob_token = console_env.backend.add_supervisor("bob", ["moderation"])

    async def run(pilot: Pilot[Any]) -> None:
        await loaded_queue(pilot)
        screen = await open_case(pilot, row=MEDIUM)
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, QuestionDialog))
        await pilot.press(*"Was this reported before?")
        console_env.claim_as(bob_token, screen.case_id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Now:" in str(screen.query_one("#case-message").render()))
        await pilot.pause()

    assert snap_compare(console_env.app(), terminal_size=(80, 24), run_before=run)
