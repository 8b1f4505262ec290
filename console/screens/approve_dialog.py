"""Confirm an approval: shows exactly what the agent will do and who signs it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from console.widgets.action import action_call
from console.widgets.palette import Palette
from store.contracts import CasePublic

__all__ = ["ApproveDialog"]


class ApproveDialog(ModalScreen[bool]):
    """Dismissed with ``True`` to sign and approve, ``False`` to cancel."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Approve dialog"
    BINDINGS = [
        Binding(
            "y,enter",
            "confirm",
            "Sign and approve",
            id="approve.confirm",
            tooltip="Sign the approval with your key and send it",
        ),
        Binding(
            "n,escape", "cancel", "Cancel", id="approve.cancel", tooltip="Close without deciding"
        ),
    ]

    def __init__(self, case: CasePublic, *, signer: str) -> None:
        super().__init__()
        self.case = case
        self.signer = signer

    def compose(self) -> ComposeResult:
        palette = Palette.of(self.app)
        with Vertical(classes="dialog") as box:
            box.border_title = f"Approve case #{self.case.id}?"
            grid = Table.grid(padding=(0, 2))
            grid.add_column(style=palette.muted, no_wrap=True)
            grid.add_column(overflow="fold")
            grid.add_row("the agent does", action_call(self.case.proposed_action, palette))
            grid.add_row("signed by", Text(self.signer))
            grid.add_row("over digest", Text(self.case.content_digest))
            yield Static(grid, classes="what")
            yield Static("y / enter  sign and approve    n / esc  cancel", classes="hint")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
