"""The rationale prompt: for an approval or an override the case's policy rule requires
one for (``CasePublic.rationale_required``)."""

from __future__ import annotations

from dataclasses import replace

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding

from console.decisions import DecisionRequest
from console.screens.decision_dialog import DecisionDialog
from console.widgets.action import action_call
from console.widgets.palette import Palette
from store.contracts import ActionSpec, CasePublic

__all__ = ["RationaleDialog"]


class RationaleDialog(DecisionDialog):
    """Adds the rationale to ``request`` (an approve or an override)."""

    BINDING_GROUP_TITLE = "Rationale prompt"
    HINT = "enter  on to sign    esc  close, keep draft"
    BINDINGS = [
        Binding(
            "enter",
            "submit",
            "Continue",
            id="rationale.submit",
            show=False,
            tooltip="Go on to sign, with this rationale (required by the case's policy rule)",
        ),
        Binding(
            "escape",
            "cancel",
            "Close, keep draft",
            id="rationale.cancel",
            tooltip="Close without deciding; what you typed is kept for this case",
        ),
    ]

    def __init__(
        self,
        case: CasePublic,
        request: DecisionRequest,
        *,
        draft: dict[str, str] | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(case, draft=draft, error=error, rationale="required")
        self.request = request

    def heading(self) -> str:
        return f"Why {self.request.action} case #{self.case.id}?"

    def what(self) -> RenderableType:
        palette = Palette.of(self.app)
        action: ActionSpec = self.case.proposed_action
        if self.request.alternative_index is not None:
            action = self.case.alternatives[self.request.alternative_index].action
        rule = self.case.policy.rule
        return Text.assemble(
            (f"{self.request.action.capitalize()} ", palette.muted),
            action_call(action, palette),
            (f"\nThe policy rule {rule} requires a rationale for every decision.", palette.muted),
        )

    def rationale_missing(self) -> str:
        return f"The policy rule {self.case.policy.rule} requires a rationale: say why."

    def build(self, values: dict[str, str]) -> DecisionRequest:
        return replace(self.request, rationale=self.rationale(values))
