"""Defer: the case leaves the queue for a while (never past its due time), with a reason."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input

from console.decisions import DecisionRequest, InvalidDecision, parse_minutes
from console.screens.decision_dialog import DecisionDialog, FieldError
from store.contracts import CasePublic

__all__ = ["DeferDialog"]


class DeferDialog(DecisionDialog):
    KIND = "defer"
    FIELDS = ("minutes",)
    BINDING_GROUP_TITLE = "Defer dialog"
    HINT = "enter  next field, then sign    esc  close, keep draft"
    BINDINGS = [
        Binding(
            "enter",
            "submit",
            "Sign and defer",
            id="defer.submit",
            show=False,
            tooltip="Sign the deferral with your key and send it (needs how long and why)",
        ),
        Binding(
            "escape",
            "cancel",
            "Close, keep draft",
            id="defer.cancel",
            tooltip="Close without deferring; what you typed is kept for this case",
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
        return f"Defer case #{self.case.id}"

    def what(self) -> RenderableType:
        return Text(
            f"The case leaves the queue for that long, and is back by its due time "
            f"({self.case.due_at:%H:%M} UTC) at the latest.",
            style="italic",
        )

    def compose_fields(self) -> Iterable[Widget]:
        field = Input(
            self.draft.get("minutes", ""),
            placeholder="For how long: minutes (30), or 90m, 2h, 1d",
            max_length=12,
            id="minutes",
        )
        field.border_title = "for how long"
        yield field

    def rationale_missing(self) -> str:
        return "A deferral needs a rationale: say why it can wait."

    def build(self, values: dict[str, str]) -> DecisionRequest:
        try:
            minutes = parse_minutes(values.get("minutes", ""))
        except InvalidDecision as exc:
            raise FieldError("minutes", str(exc)) from exc
        return DecisionRequest("defer", defer_minutes=minutes, rationale=self.rationale(values))
