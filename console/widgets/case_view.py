"""Everything about one case, in sections a supervisor reads top to bottom.

:class:`CaseHeader` is the fixed title (id, severity, SLA countdown, status); :class:`CaseView`
is the scrollable body. Both are handed a :class:`~store.contracts.CasePublic` and a time;
they never fetch anything.
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.widgets.action import action_block, action_call, alternative_row, scalar
from console.widgets.confidence import ConfidenceView
from console.widgets.markers import severity_text, sla_text
from console.widgets.palette import Palette
from store.contracts import CasePublic, DecisionPublic

__all__ = ["CaseHeader", "CaseView", "decision_line"]

VERB = {"approve": "approved", "override": "overridden", "reject": "rejected"}


def _hhmm(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def decision_line(decision: DecisionPublic) -> str:
    """``approved by alice at 2026-03-02 09:03 UTC``"""
    how = VERB[decision.action]
    if decision.action == "override" and decision.alternative_index is not None:
        how += f" with alternative {decision.alternative_index + 1}"
    return f"{how} by {decision.supervisor} at {_hhmm(decision.decided_at)}"


class CaseHeader(Static):
    """``#12  HIGH  payments  SLA 0:42:10  open, claimed by you`` and the summary."""

    def show(self, case: CasePublic, *, now: datetime, me_id: int) -> None:
        palette = Palette.of(self.app)
        line = Text()
        line.append(f"#{case.id}", style="bold")
        line.append("  ")
        line.append_text(severity_text(case.severity, palette))
        line.append(f"  {case.domain}  ")
        if case.status == "open":
            line.append("SLA ", style=palette.muted)
            line.append_text(sla_text(case.due_at, case.created_at, now, palette))
            line.append("  ")
        line.append(case.status.upper() if case.status == "decided" else case.status)
        if case.claim is not None:
            holder = "you" if case.claim.supervisor_id == me_id else case.claim.supervisor
            line.append(f", claimed by {holder}", style=palette.muted)
        summary = Text(case.summary, style="bold", overflow="ellipsis", no_wrap=True)
        self.update(Group(line, summary))


def _evidence(case: CasePublic, palette: Palette) -> RenderableType:
    if not case.evidence:
        return Text("No evidence attached.", style=palette.muted)
    parts: list[RenderableType] = []
    for n, item in enumerate(case.evidence, 1):
        parts.append(Text.assemble((f"{n}. ", palette.muted), (item.title, "bold")))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style=palette.muted, no_wrap=True)
        grid.add_column(overflow="fold")
        if item.content:
            grid.add_row("", Text(item.content))
        grid.add_row("source", Text(item.source))
        for ref in item.policy_refs:
            grid.add_row("policy", Text(ref, style=palette.accent))
        parts.append(Padding(grid, (0, 0, 0, 2)))
    return Group(*parts)


def _alternatives(case: CasePublic, palette: Palette) -> RenderableType:
    if not case.alternatives:
        return Text(
            "The agent offered no alternatives: override is not available.", style=palette.muted
        )
    return Group(*(alternative_row(n, alt, palette) for n, alt in enumerate(case.alternatives, 1)))


def _reasoning(case: CasePublic, palette: Palette) -> RenderableType:
    if not case.reasoning:
        return Text("No reasoning recorded.", style=palette.muted)
    parts: list[RenderableType] = []
    for n, crumb in enumerate(case.reasoning, 1):
        parts.append(Text.assemble((f"{n}. ", palette.muted), (crumb.step, "bold")))
        if crumb.detail:
            parts.append(Padding(Text(crumb.detail), (0, 0, 0, 3)))
    return Group(*parts)


def _context(case: CasePublic, palette: Palette) -> RenderableType:
    if not case.context:
        return Text("No context.", style=palette.muted)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style=palette.muted, no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in case.context.items():
        grid.add_row(key, Text(scalar(value)))
    return grid


def _proposed(case: CasePublic, palette: Palette) -> RenderableType:
    parts: list[RenderableType] = [action_block(case.proposed_action, palette)]
    if case.amount is not None or case.risk_flags:
        risk = Text()
        if case.amount is not None:
            risk.append("amount ", style=palette.muted)
            risk.append(scalar(case.amount), style="bold")
            risk.append("  ")
        if case.risk_flags:
            risk.append("risk ", style=palette.muted)
            risk.append(" · ".join(f"⚑ {flag}" for flag in case.risk_flags), style=palette.warning)
        parts.append(risk)
    fallback = Text("if nobody decides in time: ", style=palette.muted)
    fallback.append_text(action_call(case.fallback_action, palette))
    parts.append(fallback)
    return Group(*parts)


def _details(case: CasePublic, palette: Palette, *, now: datetime, me_id: int) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style=palette.muted, no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("status", Text(case.status))
    if case.decision is not None:
        grid.add_row("decision", Text(decision_line(case.decision), style="bold"))
        if case.decision.rationale:
            grid.add_row("rationale", Text(case.decision.rationale))
        resolved = case.decision.resolved_action
        grid.add_row(
            "agent does",
            action_call(resolved, palette) if resolved else Text("nothing (rejected)"),
        )
        grid.add_row("signed by key", Text(case.decision.key_id))
    if case.claim is not None:
        holder = "you" if case.claim.supervisor_id == me_id else case.claim.supervisor
        grid.add_row("claim", Text(f"{holder} until {_hhmm(case.claim.expires_at)}"))
    elif case.status == "open":
        grid.add_row("claim", Text("unclaimed: deciding claims it first"))
    if case.status == "open":
        sla = sla_text(case.due_at, case.created_at, now, palette)
        sla.append(f"  (due {_hhmm(case.due_at)})", style=palette.muted)
        grid.add_row("SLA left", sla)
    grid.add_row("created", Text(_hhmm(case.created_at)))
    grid.add_row("agent", Text(case.agent))
    grid.add_row("group", Text(case.group))
    seed = f", seed {case.model.seed}" if case.model.seed is not None else ""
    grid.add_row("model", Text(f"{case.model.name} {case.model.version}{seed}"))
    grid.add_row(
        "policy", Text(f"{case.policy.id} v{case.policy.version}, rule {case.policy.rule}")
    )
    if case.trace_id:
        grid.add_row("trace", Text(case.trace_id))
    grid.add_row("digest", Text(case.content_digest))
    return grid


class CaseView(VerticalScroll):
    """The scrollable body of the case screen."""

    DEFAULT_CSS = """
    CaseView > .section {
        height: auto;
        border: round $panel-lighten-2;
        border-title-color: $text-accent;
        border-title-style: bold;
        padding: 0 1;
    }
    CaseView:focus > .section { border: round $primary 60%; }
    """

    SECTIONS = (
        ("proposed", "Proposed action"),
        ("confidence", "Confidence"),
        ("alternatives", "Alternatives"),
        ("evidence", "Evidence"),
        ("reasoning", "Reasoning"),
        ("context", "Context"),
        ("details", "Case"),
    )

    def compose(self) -> ComposeResult:
        for name, title in self.SECTIONS:
            widget: Static | ConfidenceView = (
                ConfidenceView(id=name, classes="section")
                if name == "confidence"
                else Static(id=name, classes="section")
            )
            widget.border_title = title
            yield widget

    def show(self, case: CasePublic, *, now: datetime, me_id: int) -> None:
        palette = Palette.of(self.app)
        self.query_one("#proposed", Static).update(_proposed(case, palette))
        self.query_one("#confidence", ConfidenceView).confidence = case.confidence
        alternatives = self.query_one("#alternatives", Static)
        alternatives.update(_alternatives(case, palette))
        alternatives.border_title = (
            f"Alternatives ({len(case.alternatives)})" if case.alternatives else "Alternatives"
        )
        self.query_one("#evidence", Static).update(_evidence(case, palette))
        self.query_one("#reasoning", Static).update(_reasoning(case, palette))
        self.query_one("#context", Static).update(_context(case, palette))
        self.show_details(case, now=now, me_id=me_id)

    def show_details(self, case: CasePublic, *, now: datetime, me_id: int) -> None:
        """Refresh the parts that move with time (the SLA)."""
        palette = Palette.of(self.app)
        self.query_one("#details", Static).update(_details(case, palette, now=now, me_id=me_id))
