"""Reject with a rationale. The rationale is required and is kept as a draft when closed."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.widgets.action import action_call
from console.widgets.palette import Palette
from store.contracts import CasePublic

__all__ = ["RejectChoice", "RejectDialog"]

EMPTY = "A rejection needs a rationale: say why, it goes into the signed record."


@dataclass(frozen=True)
class RejectChoice:
    """What was typed, and whether to sign and send it (``False``: keep it as a draft)."""

    rationale: str
    submit: bool


class RejectDialog(ModalScreen[RejectChoice]):
    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Reject dialog"
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

    def __init__(self, case: CasePublic, *, draft: str = "", error: str | None = None) -> None:
        super().__init__()
        self.case = case
        self.draft = draft
        self.error = error

    def compose(self) -> ComposeResult:
        palette = Palette.of(self.app)
        with Vertical(classes="dialog") as box:
            box.border_title = f"Reject case #{self.case.id}"
            yield Static(
                Text.assemble(
                    ("Reject ", palette.muted),
                    action_call(self.case.proposed_action, palette),
                    ("; the agent will do nothing.", palette.muted),
                ),
                classes="what",
            )
            yield Input(
                self.draft,
                placeholder="Why? (required; signed and kept in the audit log)",
                max_length=10_000,
                id="rationale",
            )
            error = Static(classes="error")
            if self.error:
                error.update(f"error: last attempt failed: {self.error}")
                error.add_class("-shown")
            yield error
            yield Static("enter  sign and reject    esc  close, keep draft", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @property
    def rationale(self) -> str:
        return self.query_one(Input).value

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        if not self.rationale.strip():
            error = self.query_one(".error", Static)
            error.update(f"error: {EMPTY}")
            error.add_class("-shown")
            self.query_one(Input).focus()
            return
        self.dismiss(RejectChoice(self.rationale.strip(), submit=True))

    def action_cancel(self) -> None:
        self.dismiss(RejectChoice(self.rationale, submit=False))
