"""Pick one value for a queue filter (a group, a domain) from a short list.

Dismissed with the chosen value, ``""`` for "all", or ``None`` when closed unchanged.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

__all__ = ["QueuePicker"]


class QueuePicker(ModalScreen[str | None]):
    CSS_PATH = "queue_picker.tcss"
    BINDING_GROUP_TITLE = "Filter picker"
    BINDINGS = [
        Binding(
            "escape",
            "cancel",
            "Close",
            id="picker.cancel",
            tooltip="Close without changing the filter",
        ),
    ]

    def __init__(
        self, title: str, choices: list[tuple[str, str]], *, current: str | None = None
    ) -> None:
        """``choices`` are (label, value); the value ``""`` means no filter."""
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current or ""

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            options = [
                Option(f"{'●' if value == self.current else ' '} {label}", id=value or "-all")
                for label, value in self.choices
            ]
            yield OptionList(*options)
            yield Static("enter picks · esc closes", classes="hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        values = [value for _, value in self.choices]
        if self.current in values:
            options.highlighted = values.index(self.current)
        options.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        picked = event.option.id or ""
        self.dismiss("" if picked == "-all" else picked)

    def action_cancel(self) -> None:
        self.dismiss(None)
