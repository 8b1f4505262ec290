"""Pick one of the agent's numbered alternatives (1..9, or arrows and enter), or c for an
action of your own (:class:`~console.screens.custom_action_dialog.CustomActionDialog`)."""

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

__all__ = ["CUSTOM", "OverrideDialog"]

#: What the dialog is dismissed with when the supervisor wants a custom action instead.
CUSTOM = -1

_PICK = Binding.Group("Pick by number")


class OverrideDialog(ModalScreen[int | None]):
    """Dismissed with the 0-based index of the picked alternative, :data:`CUSTOM`, or
    ``None``."""

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
            "c",
            "custom",
            "Custom action",
            id="override.custom",
            tooltip="Override with an action of your own: a name, JSON arguments, a rationale",
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
            count = len(self.case.alternatives)
            if options:
                yield OptionList(*options)
                hint = f"1-{count} or ↑↓ enter  sign this override    c  your own action    "
            else:
                yield Static("The agent offered no alternatives.", classes="what")
                hint = "c  override with an action of your own    "
            yield Static(hint + "esc  cancel", classes="hint")

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self.case.alternatives):
            self.dismiss(index)
        else:
            self.notify(f"There is no alternative {index + 1}.", severity="warning")

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_pick(event.option_index)

    def action_custom(self) -> None:
        self.dismiss(CUSTOM)

    def action_cancel(self) -> None:
        self.dismiss(None)
