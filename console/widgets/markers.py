"""Text markers for severity, SLA time left and confidence.

Each marker reads without color (``NO_COLOR``): "!! BREACHED", "soon 04:12", "CRIT".
Color is added on top from the theme :class:`~console.widgets.palette.Palette`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from rich.text import Text

from console.widgets.palette import Palette
from store.contracts import Severity

__all__ = [
    "SEVERITY_LABEL",
    "SlaState",
    "confidence_text",
    "format_left",
    "severity_text",
    "sla_label",
    "sla_state",
    "sla_text",
]

SEVERITY_LABEL: dict[str, str] = {"critical": "CRIT", "high": "HIGH", "medium": "MED", "low": "LOW"}
SlaState = Literal["breached", "soon", "ok"]

#: "soon" starts when a quarter of the SLA window is left, and at the latest one hour before.
SOON_SHARE = 0.25
SOON_CAP = timedelta(hours=1)


def severity_text(severity: Severity | str, palette: Palette) -> Text:
    return Text(SEVERITY_LABEL.get(severity, severity.upper()), style=palette.severity(severity))


def sla_state(due_at: datetime, created_at: datetime, now: datetime) -> SlaState:
    left = due_at - now
    if left <= timedelta(0):
        return "breached"
    window = max(due_at - created_at, timedelta(0))
    if left <= min(window * SOON_SHARE, SOON_CAP):
        return "soon"
    return "ok"


def format_left(left: timedelta) -> str:
    """``12:34`` under an hour, ``3h 12m`` under a day, ``2d 03h`` beyond.

    The text changes every second only in the last hour; further away, once a minute or
    once an hour, so a long queue is not repainted (nor sent over SSH) every second.
    """
    seconds = max(0, int(left.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes:02d}:{secs:02d}"


def sla_label(due_at: datetime, created_at: datetime, now: datetime) -> tuple[str, SlaState]:
    """The SLA marker's text and state: ``!! BREACHED``, ``soon 04:12`` or ``3h 12m``."""
    state = sla_state(due_at, created_at, now)
    if state == "breached":
        return "!! BREACHED", state
    left = format_left(due_at - now)
    return (f"soon {left}" if state == "soon" else left), state


def sla_text(due_at: datetime, created_at: datetime, now: datetime, palette: Palette) -> Text:
    text, state = sla_label(due_at, created_at, now)
    return Text(text, style=palette.sla(state))


def confidence_text(score: float, palette: Palette) -> Text:
    style = palette.error if score < 0.5 else palette.warning if score < 0.75 else ""
    return Text(f"{score:.2f}", style=style)
