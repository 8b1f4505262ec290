"""The command palette, themes and keymaps: every action by name, and the keys you like."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Input

from console.commands_palette import binding_commands
from console.config import ConsoleSettings, save_setting
from console.screens.approve_dialog import ApproveDialog
from console.screens.help import HelpScreen
from console.widgets.key_bar import KeyBar
from tests.console.conftest import (
    ConsoleEnv,
    loaded_queue,
    open_case,
    record_notifications,
    screen_text,
    wait_until,
)


def _settings(path: Path, monkeypatch: pytest.MonkeyPatch) -> ConsoleSettings:
    monkeypatch.setenv("HITL_CONFIG", str(path))
    return ConsoleSettings(url="http://hitl.test")


async def _palette_text(pilot, query: str) -> str:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*query)
    await pilot.pause(0.3)
    return screen_text(pilot.app)


async def test_palette_lists_every_binding_of_the_screen(console_env: ConsoleEnv) -> None:
    """ctrl+p on a case lists each of its actions and the app's, by name, with their keys."""
    app = console_env.app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_case(pilot)
        commands = binding_commands(app, screen)
        titles = {c.title for c in commands}
        assert {"Case: Approve", "Case: Override", "Case: Reject", "Case: Back"} <= titles
        assert {"Everywhere: Quit", "Everywhere: Help", "Everywhere: Theme"} <= titles
        assert not any(t.startswith("Queue:") for t in titles)  # not on this screen
        text = await _palette_text(pilot, "")
        for title in ("Case: Approve", "Case: Reject"):
            assert title in text
        await pilot.press(*"help")  # further down the list; typing finds it
        await pilot.pause(0.3)
        assert "Everywhere: Help" in screen_text(app)


async def test_palette_runs_the_action_like_its_key(console_env: ConsoleEnv) -> None:
    """Choosing "Case: Approve" in the palette opens the approval, as a does."""
    app = console_env.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_case(pilot)
        text = await _palette_text(pilot, "approve")
        assert "Case: Approve" in text
        assert "Sign and approve the proposed action" in text
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ApproveDialog))


async def test_palette_on_the_queue_moves_the_cursor(console_env: ConsoleEnv) -> None:
    """Queue actions run on the queue table: "Queue: Last" goes to the last case."""
    app = console_env.app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded_queue(pilot)
        await _palette_text(pilot, "queue last")
        await pilot.press("enter")
        await wait_until(pilot, lambda: table.cursor_row == table.row_count - 1)


async def test_theme_picked_in_the_console_is_saved_in_the_config(
    console_env: ConsoleEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ctrl+t lists the themes; the one picked applies at once and is written to the
    config file (other settings kept), so the next start uses it."""
    path = tmp_path / "config.toml"
    path.write_text('url = "http://hitl.test"\n\n[keymap]\n"case.approve" = "a"\n')
    app = console_env.app(settings=_settings(path, monkeypatch))
    notices = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded_queue(pilot)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"nord")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.theme == "nord")
        await wait_until(pilot, lambda: any(n.title == "Theme" for n in notices))
    saved = tomllib.loads(path.read_text())
    assert saved == {"url": "http://hitl.test", "theme": "nord", "keymap": {"case.approve": "a"}}
    again = console_env.app(settings=_settings(path, monkeypatch))
    assert again.theme == "nord"


async def test_unknown_theme_and_keymap_ids_are_reported(
    console_env: ConsoleEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped theme or binding id in the config is named in a warning, not ignored."""
    path = tmp_path / "config.toml"
    path.write_text('theme = "no-such-theme"\n[keymap]\n"case.aprove" = "A"\n')
    app = console_env.app(settings=_settings(path, monkeypatch))
    notices = record_notifications(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded_queue(pilot)
        await wait_until(pilot, lambda: len(notices) >= 2)
    text = " ".join(n.message for n in notices)
    assert "no-such-theme" in text and "case.aprove" in text
    assert app.theme == "textual-dark"


async def test_keymap_in_the_config_rebinds_keys(
    console_env: ConsoleEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[keymap]` in the config file rebinds by id (like posting's); help shows the new keys."""
    path = tmp_path / "config.toml"
    path.write_text('[keymap]\n"queue.down" = "n"\n"queue.up" = "p"\n')
    app = console_env.app(settings=_settings(path, monkeypatch))
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded_queue(pilot)
        await pilot.press("n", "n")
        assert table.cursor_row == 2
        await pilot.press("j")  # no longer bound
        assert table.cursor_row == 2
        await pilot.press("p")
        assert table.cursor_row == 1
        queue = {s.title: s for s in app.help_sections()}["Queue"]
        assert next(e for e in queue.entries if e.ids == ("queue.down",)).keys == "n"


def test_save_setting_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    """Saving a setting edits its line (or adds it before any table) and nothing else."""
    path = tmp_path / "config.toml"
    path.write_text('# mine\nurl = "https://hitl.example"\ntheme = "nord"\n[keymap]\nx = "y"\n')
    save_setting("theme", "gruvbox", path)
    assert path.read_text() == (
        '# mine\nurl = "https://hitl.example"\ntheme = "gruvbox"\n[keymap]\nx = "y"\n'
    )
    fresh = tmp_path / "new" / "config.toml"
    save_setting("theme", "nord", fresh)
    assert fresh.read_text() == 'theme = "nord"\n'
    assert oct(fresh.stat().st_mode & 0o777) == "0o600"


def test_settings_come_from_arguments_then_environment_then_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config file sets defaults, HITL_* variables override it, arguments override both."""
    path = tmp_path / "config.toml"
    path.write_text('url = "http://file"\ntheme = "nord"\nkeyring_timeout = 9\n')
    monkeypatch.setenv("HITL_CONFIG", str(path))
    monkeypatch.setenv("HITL_THEME", "gruvbox")
    monkeypatch.setenv("HITL_KEYMAP", '{"case.approve": "A"}')
    settings = ConsoleSettings(url="http://argument")
    assert settings.url == "http://argument"
    assert settings.theme == "gruvbox"
    assert settings.keyring_timeout == 9
    assert settings.keymap == {"case.approve": "A"}


async def test_key_bar_keys_can_be_clicked(console_env: ConsoleEnv) -> None:
    """The mouse is optional but works: clicking "? Help" in the bottom line opens the help."""
    app = console_env.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded_queue(pilot)
        bar = app.screen.query_one(KeyBar)
        await wait_until(pilot, lambda: bool(bar.entries))
        offset = str(bar.render()).index("? Help")
        await pilot.click(KeyBar, offset=(offset + 1, 0))
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_queue_rows_can_be_clicked(console_env: ConsoleEnv) -> None:
    """Clicking a row highlights it; clicking the highlighted row opens its case."""
    from console.screens.case import CaseScreen
    from console.widgets.queue_table import QueueTable

    app = console_env.app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded_queue(pilot)
        await pilot.click(QueueTable, offset=(10, 4))  # the header is line 0
        assert table.cursor_row == 3
        wanted = table.current_case_id
        await pilot.click(QueueTable, offset=(10, 4))
        await wait_until(pilot, lambda: isinstance(app.screen, CaseScreen))
        assert app.screen.case_id == wanted  # type: ignore[attr-defined]


async def test_reject_dialog_keeps_focus_for_typing(console_env: ConsoleEnv) -> None:
    """ctrl+p works from a text field too, and closing the palette keeps what was typed."""
    app = console_env.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_case(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: bool(app.screen.query(Input)))
        await pilot.press(*"half typed")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press("escape")
        await wait_until(pilot, lambda: bool(app.screen.query(Input)))
        assert app.screen.query_one(Input).value == "half typed"
