"""A case's history as a compact timeline, one line per audit event.

``09:03  created        by agent refund-bot · high · payments``

Built from ``GET /v1/cases/{id}/audit`` (oldest first). Each kind the backend records has
a label and a one-line detail; an unknown kind shows as itself, so a newer backend still
reads. Times are UTC; the date is shown when it differs from the previous event's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from console.widgets.palette import Palette
from console.widgets.redacted import marked
from store.contracts import CaseAuditEvent

__all__ = ["event_line", "history_table"]

#: Decision actions as the timeline words them.
_DECIDED = {
    "approve": "approved",
    "override": "overridden",
    "reject": "rejected",
    "fallback": "fallback",
}
#: Longest detail kept on the line (questions and answers can be long).
DETAIL_MAX = 160


def _who(actor: str) -> str:
    """``supervisor:alice`` → ``alice``; ``agent:refund-bot`` → ``agent refund-bot``."""
    kind, _, name = actor.partition(":")
    if not name:
        return actor
    return f"agent {name}" if kind == "agent" else name


def _quote(text: object) -> str:
    value = " ".join(str(text).split())
    if len(value) > DETAIL_MAX:
        value = value[: DETAIL_MAX - 1] + "…"
    return f"“{value}”"


def _clock(iso: object) -> str:
    try:
        return f"{datetime.fromisoformat(str(iso)):%H:%M} UTC"
    except ValueError:
        return str(iso)


def _answer(data: dict[str, Any]) -> str:
    exchanges = (data.get("content") or {}).get("info_exchange") or []
    answer = exchanges[-1].get("answer") if exchanges else None
    return _quote(answer) if answer else ""


def event_line(event: CaseAuditEvent) -> tuple[str, str]:
    """``(label, detail)`` for one event."""
    data, who = event.data, _who(event.actor)
    kind = event.kind
    if kind == "case.created":
        content = data.get("content") or {}
        parts = [f"by {who}"]
        parts += [str(content[k]) for k in ("severity", "group") if content.get(k)]
        if data.get("suggested_assignee"):
            parts.append(f"suggested to {data['suggested_assignee']}")
        return "created", " · ".join(parts)
    if kind == "case.settled_by_policy":
        return "settled by policy", f"{data.get('outcome', '?')}: {data.get('reason', '')}".strip()
    if kind == "case.routed":
        detail = f"{data.get('from', '?')} → {data.get('to', '?')}"
        if data.get("reason"):
            detail += f": {data['reason']}"
        return "routed", detail
    if kind == "case.claimed":
        until = f" until {_clock(data['expires_at'])}" if data.get("expires_at") else ""
        return "claimed", f"by {who}{until}"
    if kind == "case.claim_renewed":
        return "claim renewed", f"by {who}"
    if kind == "case.claim_released":
        return "released", f"by {who}"
    if kind == "case.info_requested":
        return "info requested", f"by {who}: {_quote(data.get('question', ''))}"
    if kind == "case.info_answered":
        return "info answered", f"by {who}: {_answer(data)}".rstrip(": ")
    if kind == "case.reassigned":
        if data.get("to_group"):
            return "reassigned", f"by {who}: {data.get('from_group')} → {data['to_group']}"
        return "reassigned", f"by {who}: to {data.get('to_supervisor', '?')}"
    if kind == "case.severity_raised":
        return "severity raised", (
            f"by {who}: {data.get('from_severity', '?')} → {data.get('to_severity', '?')}"
        )
    if kind == "case.deferred":
        return "deferred", f"by {who} until {_clock(data.get('deferred_until', ''))}"
    if kind == "case.fallback_applied":
        action = (data.get("resolved_action") or {}).get("name", "?")
        return "fallback", f"{action} applied ({data.get('reason', 'fallback')})"
    if kind in ("decision.recorded", "decision.post_hoc"):
        action = str(data.get("action", "?"))
        label = _DECIDED.get(action, action.replace("_", " "))
        if kind == "decision.post_hoc":
            label += " (late)"
        detail = f"by {who}"
        if data.get("args_edited"):
            detail += ", arguments edited"
        return label, detail
    return kind, f"by {who}"


def history_table(
    events: list[CaseAuditEvent] | None, error: str | None, palette: Palette
) -> RenderableType:
    """The timeline; ``None`` events: still loading (or ``error`` says why not)."""
    if error is not None:
        return Text(f"History not loaded: {error}", style=palette.error)
    if events is None:
        return Text("loading…", style=palette.muted)
    if not events:
        return Text("No events recorded.", style=palette.muted)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style=palette.muted)
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    day = None
    for event in events:
        moment = event.ts
        stamp = f"{moment:%H:%M}" if moment.date() == day else f"{moment:%m-%d %H:%M}"
        day = moment.date()
        label, detail = event_line(event)
        style = palette.success if event.kind.startswith("decision.") else ""
        if event.kind == "case.fallback_applied":
            style = palette.warning
        grid.add_row(
            f"{stamp:>11}", Text(label, style=style), marked(detail, redacted=palette.redacted)
        )
    return grid
