"""Help, quitting, and running without color."""

from __future__ import annotations

import pytest
from textual.binding import Binding

from console.app import HitlApp
from console.screens.approve_dialog import ApproveDialog
from console.screens.case import CaseScreen
from console.screens.confirm_dialog import ConfirmDialog
from console.screens.custom_action_dialog import CustomActionDialog
from console.screens.defer_dialog import DeferDialog
from console.screens.edit_args_dialog import EditArgsDialog
from console.screens.help import HelpScreen
from console.screens.override_dialog import OverrideDialog
from console.screens.question_dialog import QuestionDialog
from console.screens.queue import QueueScreen
from console.screens.queue_picker import QueuePicker
from console.screens.rationale_dialog import RationaleDialog
from console.screens.reassign_dialog import ReassignDialog
from console.screens.reject_dialog import RejectDialog
from console.screens.severity_dialog import SeverityDialog
from console.widgets.case_view import CaseView
from console.widgets.queue_table import QueueTable
from tests.console.conftest import ConsoleEnv, loaded_queue, open_case, screen_text, wait_until

BOUND = (
    HitlApp,
    QueueScreen,
    QueueTable,
    QueuePicker,
    CaseScreen,
    CaseView,
    ApproveDialog,
    EditArgsDialog,
    OverrideDialog,
    CustomActionDialog,
    RejectDialog,
    RationaleDialog,
    QuestionDialog,
    ReassignDialog,
    DeferDialog,
    SeverityDialog,
    ConfirmDialog,
    HelpScreen,
)


def _bindings() -> list[Binding]:
    return [b for cls in BOUND for b in cls.BINDINGS if isinstance(b, Binding)]


def test_every_binding_has_an_id_and_a_description() -> None:
    """Bindings are named (for keymaps) and described (for the help and the footer)."""
    ids = [b.id for b in _bindings()]
    assert all(ids)
    assert len(ids) == len(set(ids))
    assert all(b.description for b in _bindings())


async def test_help_lists_every_binding(console_env: ConsoleEnv) -> None:
    """? opens a help screen generated from the bindings: every one is listed."""
    app = console_env.app()
    async with app.run_test(size=(140, 60)) as pilot:
        await loaded_queue(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        listed = {i for section in help_screen.sections for e in section.entries for i in e.ids}
        assert listed == {b.id for b in _bindings()}
        body = await _help_text(pilot)
        for binding in _bindings():
            assert binding.description in body or (
                binding.group and binding.group.description in body
            )
        for title in (
            "Everywhere",
            "Queue",
            "Case",
            "Approve dialog",
            "Override dialog",
            "Reject dialog",
            "Edit and approve dialog",
            "Custom action dialog",
            "Rationale prompt",
            "Ask the agent dialog",
            "Reassign dialog",
            "Defer dialog",
            "Raise severity dialog",
            "Confirm dialog",
            "Help",
        ):
            assert title in body
        assert "j, ↓" in body and "?" in body and "1…9" in body


async def _help_text(pilot) -> str:  # type: ignore[no-untyped-def]
    from textual.containers import VerticalScroll

    scroll = pilot.app.screen.query_one(VerticalScroll)
    seen: list[str] = []
    scroll.scroll_home(animate=False)
    await pilot.pause()
    while True:
        seen.append(screen_text(pilot.app))
        if scroll.scroll_y >= scroll.max_scroll_y:
            return "\n".join(seen)
        scroll.scroll_page_down(animate=False)
        await pilot.pause()


async def test_help_follows_a_keymap(console_env: ConsoleEnv) -> None:
    """Rebinding a key by id changes what the help shows."""
    app = console_env.app()
    app.set_keymap({"case.approve": "A"})
    async with app.run_test(size=(140, 60)) as pilot:
        await loaded_queue(pilot)
        sections = {s.title: s for s in app.help_sections()}
        approve = next(e for e in sections["Case"].entries if e.ids == ("case.approve",))
        assert approve.keys == "A"


@pytest.mark.parametrize("key", ["escape", "question_mark", "q"])
async def test_help_closes_with_esc_question_mark_or_q(console_env: ConsoleEnv, key: str) -> None:
    """The help closes with esc, ? or q (q does not quit the console from the help)."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded_queue(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen))
        assert app.is_running


async def test_help_opens_from_the_case_screen(console_env: ConsoleEnv) -> None:
    """? works on every screen, not only the queue."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)


async def test_q_quits_with_exit_code_0(console_env: ConsoleEnv) -> None:
    """q leaves the console from the queue, and from a case."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_case(pilot)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_console_reads_without_color(
    console_env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With NO_COLOR the console still says what matters, in words."""
    monkeypatch.setenv("NO_COLOR", "1")
    console_env.backend.clock.advance(3600)
    app = console_env.app()
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded_queue(pilot)
        await pilot.pause(1.1)
        text = screen_text(app)
        assert "CRIT" in text and "!! BREACHED" in text
