"""Pick one of the agent's numbered alternatives: 1..9, or arrows and enter."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console.widgets.action import alternative_row
from console.widgets.palette import Palette
from store.contracts import CasePublic

__all__ = ["OverrideDialog"]

_PICK = Binding.Group("Pick by number")


class OverrideDialog(ModalScreen[int | None]):
    """Dismissed with the 0-based index of the picked alternative, or ``None``."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Override dialog"
    BINDINGS = [
        *(
            Binding(
                str(n),
                f"pick({n - 1})",
                f"Pick {n}",
                show=False,
                group=_PICK,
                id=f"override.pick-{n}",
                tooltip=f"Sign an override with alternative {n}",
            )
            for n in range(1, 10)
        ),
        Binding(
            "escape", "cancel", "Cancel", id="override.cancel", tooltip="Close without deciding"
        ),
    ]

    def __init__(self, case: CasePublic) -> None:
        super().__init__()
        self.case = case

    def compose(self) -> ComposeResult:
        palette = Palette.of(self.app)
        with Vertical(classes="dialog") as box:
            box.border_title = f"Override case #{self.case.id} with…"
            options = []
            for n, alt in enumerate(self.case.alternatives, 1):
                options.append(Option(alternative_row(n, alt, palette), id=str(n - 1)))
            yield OptionList(*options)
            yield Static(
                f"1-{len(self.case.alternatives)} or ↑↓ enter  sign this override    esc  cancel",
                classes="hint",
            )

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self.case.alternatives):
            self.dismiss(index)
        else:
            self.notify(f"There is no alternative {index + 1}.", severity="warning")

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_pick(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)
