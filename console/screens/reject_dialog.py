"""Reject with a rationale. The rationale is required and is kept as a draft when closed."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding

from console.decisions import DecisionRequest
from console.screens.decision_dialog import DecisionDialog
from console.widgets.action import action_call
from console.widgets.palette import Palette
from store.contracts import CasePublic

__all__ = ["EMPTY", "RejectDialog"]

EMPTY = "A rejection needs a rationale: say why, it goes into the signed record."


class RejectDialog(DecisionDialog):
    """Dismissed with a :class:`DialogResult` (``request`` ``None``: keep the draft)."""

    KIND = "reject"
    BINDING_GROUP_TITLE = "Reject dialog"
    HINT = "enter  sign and reject    esc  close, keep draft"
    RATIONALE_PROMPT = "Why? (signed and kept in the audit log)"
    BINDINGS = [
        Binding(
            "enter",
            "submit",
            "Sign and reject",
            id="reject.submit",
            show=False,
            tooltip="Sign the rejection with your key and send it (needs a rationale)",
        ),
        Binding(
            "escape",
            "cancel",
            "Close, keep draft",
            id="reject.cancel",
            tooltip="Close without deciding; what you typed is kept for this case",
        ),
    ]

    def __init__(
        self,
        case: CasePublic,
        *,
        draft: dict[str, str] | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(case, draft=draft, error=error, rationale="required")

    def heading(self) -> str:
        return f"Reject case #{self.case.id}"

    def what(self) -> RenderableType:
        palette = Palette.of(self.app)
        return Text.assemble(
            ("Reject ", palette.muted),
            action_call(self.case.proposed_action, palette),
            ("; the agent will do nothing.", palette.muted),
        )

    def rationale_missing(self) -> str:
        return EMPTY

    def build(self, values: dict[str, str]) -> DecisionRequest:
        return DecisionRequest("reject", rationale=self.rationale(values))
