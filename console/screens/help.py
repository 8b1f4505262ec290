"""Every key binding, generated from the ``BINDINGS`` of the app, its screens and dialogs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.widgets.palette import Palette

__all__ = ["HelpEntry", "HelpScreen", "HelpSection"]


@dataclass(frozen=True)
class HelpEntry:
    keys: str
    description: str
    tooltip: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class HelpSection:
    title: str
    entries: tuple[HelpEntry, ...]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 60%; }
    HelpScreen > Vertical {
        width: 100;
        max-width: 100%;
        height: 100%;
        max-height: 46;
        border: thick $primary;
        border-title-style: bold;
        background: $surface;
    }
    HelpScreen VerticalScroll { height: 1fr; padding: 0 1; }
    HelpScreen .hint { color: $foreground-muted; padding: 0 1; }
    """
    BINDING_GROUP_TITLE = "Help"
    BINDINGS = [
        Binding(
            "escape,question_mark,q", "close", "Close", id="help.close", tooltip="Close the help"
        ),
    ]

    def __init__(self, sections: Sequence[HelpSection]) -> None:
        super().__init__()
        self.sections = tuple(sections)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Keys"
            with VerticalScroll():
                yield Static(self._render_sections(), id="help-keys")
            yield Static("esc, ? or q  close    ↑↓  scroll", classes="hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def _render_sections(self) -> RenderableType:
        palette = Palette.of(self.app)
        parts: list[RenderableType] = []
        for section in self.sections:
            table = Table.grid(padding=(0, 2), expand=True)
            table.add_column(width=14, no_wrap=True, style=palette.accent)
            table.add_column(width=20, no_wrap=True)
            table.add_column(ratio=1, style=palette.muted)
            for entry in section.entries:
                table.add_row(entry.keys, entry.description, entry.tooltip)
            parts.extend([Text(section.title, style="bold underline"), table, Text("")])
        return Group(*parts[:-1])

    def action_close(self) -> None:
        self.dismiss(None)
