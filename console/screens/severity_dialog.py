"""Raise the severity: the case becomes more urgent (due sooner) and you keep its claim."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding

from console.decisions import DecisionRequest, higher_severities
from console.screens.decision_dialog import PickDialog
from console.widgets.markers import severity_text
from console.widgets.palette import Palette
from store.contracts import Severity

__all__ = ["SeverityDialog"]

_PICK = Binding.Group("Pick by number")


class SeverityDialog(PickDialog):
    KIND = "raise_severity"
    BINDING_GROUP_TITLE = "Raise severity dialog"
    HINT = "1-3 or ↑↓ enter  sign the raise    tab  rationale    esc  close, keep draft"
    BINDINGS = [
        *(
            Binding(
                str(n),
                f"pick({n - 1})",
                f"Pick {n}",
                show=False,
                group=_PICK,
                id=f"severity.pick-{n}",
                tooltip=f"Sign a raise to the severity numbered {n}",
            )
            for n in range(1, 4)
        ),
        Binding(
            "escape",
            "cancel",
            "Close, keep draft",
            id="severity.cancel",
            tooltip="Close without raising; what you typed is kept for this case",
        ),
    ]

    def heading(self) -> str:
        return f"Raise the severity of case #{self.case.id}"

    def what(self) -> RenderableType:
        palette = Palette.of(self.app)
        return Text.assemble(
            ("Now ", palette.muted),
            severity_text(self.case.severity, palette),
            (
                ". A raise makes it due no later than that severity's SLA from now; "
                "you keep your claim.",
                palette.muted,
            ),
        )

    def options(self) -> list[tuple[str, RenderableType]]:
        palette = Palette.of(self.app)
        return [
            (s, Text.assemble(severity_text(s, palette), f"  {s}"))
            for s in higher_severities(self.case)
        ]

    def build_pick(self, picked: str, rationale: str) -> DecisionRequest:
        severity: Severity = next(s for s in higher_severities(self.case) if s == picked)
        return DecisionRequest("raise_severity", severity=severity, rationale=rationale)
