"""Override with a custom action: a name and arguments of the supervisor's own, and why."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError
from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, TextArea

from console.decisions import DecisionRequest, InvalidDecision, parse_args
from console.screens.decision_dialog import DecisionDialog, FieldError
from console.widgets.palette import Palette
from store.contracts import ActionSpec, CasePublic

__all__ = ["CustomActionDialog"]


class CustomActionDialog(DecisionDialog):
    KIND = "override_custom"
    FIELDS = ("name", "args")
    BINDING_GROUP_TITLE = "Custom action dialog"
    HINT = "ctrl+s  check and override    tab  next field    esc  close, keep draft"
    BINDINGS = [
        Binding(
            "ctrl+s",
            "submit",
            "Override with it",
            id="custom.submit",
            tooltip="Check the action (a name, arguments as a JSON object, a rationale), "
            "then sign the override",
        ),
        Binding(
            "escape",
            "cancel",
            "Close, keep draft",
            id="custom.cancel",
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
        return f"Override case #{self.case.id} with an action of your own"

    def what(self) -> RenderableType:
        palette = Palette.of(self.app)
        return Text.assemble(
            ("Instead of ", palette.muted),
            (self.case.proposed_action.name, "bold"),
            (", the agent runs this action (a name, then its arguments as JSON):", palette.muted),
        )

    def compose_fields(self) -> Iterable[Widget]:
        name = Input(
            self.draft.get("name", ""),
            placeholder="Action name, e.g. hold_payment (required)",
            max_length=200,
            id="name",
        )
        name.border_title = "action"
        yield name
        area = TextArea(
            self.draft.get("args", "{}"),
            id="args",
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
        )
        area.border_title = "arguments (a JSON object)"
        yield area

    def rationale_missing(self) -> str:
        return "An override with your own action needs a rationale: say why."

    def build(self, values: dict[str, str]) -> DecisionRequest:
        name = values.get("name", "").strip()
        if not name:
            raise FieldError("name", "Name the action the agent should run.")
        try:
            args = parse_args(values.get("args", ""))
        except InvalidDecision as exc:
            raise FieldError("args", str(exc)) from exc
        try:
            action = ActionSpec(name=name, args=args)
        except ValidationError as exc:
            raise FieldError("name", f"action: {exc.errors()[0]['msg']}") from exc
        return DecisionRequest("override", custom_action=action, rationale=self.rationale(values))
