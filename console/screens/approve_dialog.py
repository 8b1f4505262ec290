"""Confirm an approval: shows exactly what the agent will do, what is signed and by whom."""

from __future__ import annotations

from textual.binding import Binding

from console.screens.confirm_dialog import ConfirmDialog

__all__ = ["ApproveDialog"]


class ApproveDialog(ConfirmDialog):
    """Dismissed with ``True`` to sign and approve, ``False`` to cancel."""

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
    HINT = "y / enter  sign and approve    n / esc  cancel"

    def heading(self) -> str:
        return f"Approve case #{self.case.id}?"
