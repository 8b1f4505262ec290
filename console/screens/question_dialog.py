"""Request info: a question to the agent. The case waits for its answer, out of the queue."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input

from console.decisions import DecisionRequest
from console.screens.decision_dialog import DecisionDialog, FieldError

__all__ = ["QuestionDialog"]

#: The longest question the backend takes (``DecisionPayload.question``).
MAX_QUESTION = 2_000


class QuestionDialog(DecisionDialog):
    KIND = "request_info"
    FIELDS = ("question",)
    BINDING_GROUP_TITLE = "Ask the agent dialog"
    HINT = "enter  sign and ask    esc  close, keep draft"
    BINDINGS = [
        Binding(
            "enter",
            "submit",
            "Sign and ask",
            id="ask.submit",
            show=False,
            tooltip="Sign the question with your key and send it to the agent",
        ),
        Binding(
            "escape",
            "cancel",
            "Close, keep draft",
            id="ask.cancel",
            tooltip="Close without asking; what you typed is kept for this case",
        ),
    ]

    def heading(self) -> str:
        return f"Ask the agent about case #{self.case.id}"

    def what(self) -> RenderableType:
        return Text(
            f"The question goes to {self.case.agent}; the case leaves the queue until it "
            "answers, then comes back with the answer.",
            style="italic",
        )

    def compose_fields(self) -> Iterable[Widget]:
        field = Input(
            self.draft.get("question", ""),
            placeholder="Your question to the agent (required)",
            max_length=MAX_QUESTION,
            id="question",
        )
        field.border_title = "question"
        yield field

    def build(self, values: dict[str, str]) -> DecisionRequest:
        question = values.get("question", "").strip()
        if not question:
            raise FieldError("question", "Type the question the agent should answer.")
        return DecisionRequest("request_info", question=question, rationale=self.rationale(values))
