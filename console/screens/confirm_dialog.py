"""Confirm a decision: exactly what will be signed, and with which key.

Shown by the decide worker once the decision is built (after the claim, so the claim
token is the one signed): every approval, and every decision on a high or critical case.
"""

from __future__ import annotations

import json

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.decisions import CONFIRM_SEVERITIES
from console.widgets.action import action_call
from console.widgets.markers import severity_text
from console.widgets.palette import Palette
from store.contracts import ActionSpec, CasePublic, DecisionPayload

__all__ = ["ConfirmDialog", "resolved_action", "signed_rows"]


def resolved_action(case: CasePublic, payload: DecisionPayload) -> ActionSpec | None:
    """What the agent will do if this decision is recorded (``None``: nothing, or not yet)."""
    if payload.action == "approve":
        if payload.edited_args is not None:
            return ActionSpec(name=case.proposed_action.name, args=payload.edited_args)
        return case.proposed_action
    if payload.action == "override":
        if payload.custom_action is not None:
            return payload.custom_action
        if payload.alternative_index is not None:
            return case.alternatives[payload.alternative_index].action
    return None


def signed_rows(
    case: CasePublic, payload: DecisionPayload, palette: Palette
) -> list[tuple[str, RenderableType]]:
    """The payload's fields that matter, as ``(label, value)`` rows."""
    rows: list[tuple[str, RenderableType]] = []
    kind: str = payload.action
    if payload.edited_args is not None:
        kind += ", with edited arguments"
    elif payload.custom_action is not None:
        kind += ", with your own action"
    elif payload.alternative_index is not None:
        kind += f", with alternative {payload.alternative_index + 1}"
    rows.append(("decision", Text(kind, style="bold")))
    action = resolved_action(case, payload)
    if action is not None:
        rows.append(("the agent does", action_call(action, palette)))
        if action.args:
            args = json.dumps(action.args, ensure_ascii=False, sort_keys=True)
            rows.append(("args", Text(args)))
    elif payload.action == "reject":
        rows.append(("the agent does", Text("nothing: the proposal is rejected")))
    if payload.question is not None:
        rows.append(("question", Text(payload.question)))
    if payload.to_supervisor is not None:
        rows.append(("to", Text(f"{payload.to_supervisor} (in {case.group})")))
    if payload.to_group is not None:
        rows.append(("to", Text(f"group {payload.to_group}")))
    if payload.severity is not None:
        rows.append(
            (
                "severity",
                Text.assemble(
                    severity_text(case.severity, palette),
                    " → ",
                    severity_text(payload.severity, palette),
                ),
            )
        )
    if payload.defer_minutes is not None:
        rows.append(("for", Text(f"{payload.defer_minutes} min")))
    rows.append(
        (
            "rationale",
            Text(payload.rationale or "(none)", style="" if payload.rationale else palette.muted),
        )
    )
    rows.append(("case", Text(f"#{payload.case_id}, content digest {payload.content_digest}")))
    rows.append(("claim token", Text(str(payload.claim_token))))
    return rows


class ConfirmDialog(ModalScreen[bool]):
    """Dismissed with ``True`` to sign and send, ``False`` to cancel (nothing is signed)."""

    CSS_PATH = "dialogs.tcss"
    BINDING_GROUP_TITLE = "Confirm dialog"
    BINDINGS = [
        Binding(
            "y,enter",
            "confirm",
            "Sign and send",
            id="confirm.sign",
            tooltip="Sign exactly this with your key and send it",
        ),
        Binding("n,escape", "cancel", "Cancel", id="confirm.cancel", tooltip="Sign nothing"),
    ]
    HINT = "y / enter  sign and send    n / esc  cancel (nothing is signed)"

    def __init__(
        self, case: CasePublic, payload: DecisionPayload, *, signer: str, fingerprint: str
    ) -> None:
        super().__init__()
        self.case = case
        self.payload = payload
        self.signer = signer
        self.fingerprint = fingerprint

    def heading(self) -> str:
        return f"Sign this {self.payload.action} of case #{self.case.id}?"

    def compose(self) -> ComposeResult:
        palette = Palette.of(self.app)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style=palette.muted, no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in signed_rows(self.case, self.payload, palette):
            grid.add_row(label, value)
        grid.add_row("signed by", Text(self.signer))
        grid.add_row("key", Text(f"{self.payload.key_id}  {self.fingerprint}"))
        parts: list[RenderableType] = []
        if self.case.severity in CONFIRM_SEVERITIES:
            parts.append(
                Text.assemble(
                    severity_text(self.case.severity, palette),
                    (" case: check what you sign.", "bold"),
                )
            )
        parts.append(grid)
        with Vertical(classes="dialog") as box:
            box.border_title = self.heading()
            with VerticalScroll(classes="signed"):
                yield Static(Group(*parts), classes="what")
            yield Static(self.HINT, classes="hint")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
