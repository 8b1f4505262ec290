"""Edit, then approve: the proposed action's arguments as JSON, checked before signing."""

from __future__ import annotations

import json
from collections.abc import Iterable

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import TextArea

from console.decisions import DecisionRequest, InvalidDecision, parse_args
from console.screens.decision_dialog import DecisionDialog, FieldError
from console.widgets.palette import Palette

__all__ = ["EditArgsDialog", "args_text"]


def args_text(args: dict[str, object]) -> str:
    """Arguments as the editor shows them: indented JSON, keys in their order."""
    return json.dumps(args, indent=2, ensure_ascii=False)


class EditArgsDialog(DecisionDialog):
    KIND = "approve_edited"
    FIELDS = ("args",)
    BINDING_GROUP_TITLE = "Edit and approve dialog"
    HINT = "ctrl+s  check and approve    tab  next field    esc  close, keep draft"
    BINDINGS = [
        Binding(
            "ctrl+s",
            "submit",
            "Approve edited",
            id="edit.submit",
            tooltip="Check the arguments (a JSON object), then sign the approval with them",
        ),
        Binding(
            "escape",
            "cancel",
            "Close, keep draft",
            id="edit.cancel",
            tooltip="Close without deciding; the edited arguments are kept for this case",
        ),
    ]

    def heading(self) -> str:
        return f"Edit, then approve case #{self.case.id}"

    def what(self) -> RenderableType:
        palette = Palette.of(self.app)
        return Text.assemble(
            ("The agent runs ", palette.muted),
            (self.case.proposed_action.name, "bold"),
            (" with these arguments (a JSON object):", palette.muted),
        )

    def compose_fields(self) -> Iterable[Widget]:
        text = self.draft.get("args") or args_text(self.case.proposed_action.args)
        area = TextArea(
            text, id="args", soft_wrap=True, show_line_numbers=False, tab_behavior="focus"
        )
        area.border_title = "arguments (a JSON object)"
        yield area

    def build(self, values: dict[str, str]) -> DecisionRequest:
        try:
            args = parse_args(values.get("args", ""))
        except InvalidDecision as exc:
            raise FieldError("args", str(exc)) from exc
        if args == self.case.proposed_action.args:
            raise FieldError(
                "args", "The arguments are unchanged: press esc, then a to approve as proposed."
            )
        return DecisionRequest("approve", edited_args=args, rationale=self.rationale(values))
