"""Text markers for severity, SLA time left and confidence.

Each marker reads without color (``NO_COLOR``): "!! BREACHED", "soon 04:12", "CRIT".
Color is added on top from the theme :class:`~console.widgets.palette.Palette`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from rich.style import Style
from rich.text import Text

from console.widgets.palette import Palette
from store.contracts import Severity

__all__ = [
    "SEVERITY_LABEL",
    "SlaState",
    "confidence_text",
    "format_left",
    "severity_text",
    "sla_state",
    "sla_text",
]

SEVERITY_LABEL: dict[str, str] = {"critical": "CRIT", "high": "HIGH", "medium": "MED", "low": "LOW"}
SlaState = Literal["breached", "soon", "ok"]

#: "soon" starts when a quarter of the SLA window is left, and at the latest one hour before.
SOON_SHARE = 0.25
SOON_CAP = timedelta(hours=1)


def severity_text(severity: Severity | str, palette: Palette) -> Text:
    label = SEVERITY_LABEL.get(severity, severity.upper())
    style = {
        "critical": palette.error + Style(reverse=True),
        "high": palette.error,
        "medium": palette.warning,
        "low": palette.muted,
    }.get(severity, palette.muted)
    return Text(label, style=style)


def sla_state(due_at: datetime, created_at: datetime, now: datetime) -> SlaState:
    left = due_at - now
    if left <= timedelta(0):
        return "breached"
    window = max(due_at - created_at, timedelta(0))
    if left <= min(window * SOON_SHARE, SOON_CAP):
        return "soon"
    return "ok"


def format_left(left: timedelta) -> str:
    """``12:34`` under an hour, ``3:12:45`` under a day, ``2d 03h`` beyond."""
    seconds = max(0, int(left.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def sla_text(due_at: datetime, created_at: datetime, now: datetime, palette: Palette) -> Text:
    state = sla_state(due_at, created_at, now)
    if state == "breached":
        return Text("!! BREACHED", style=palette.error)
    left = format_left(due_at - now)
    if state == "soon":
        return Text(f"soon {left}", style=palette.warning)
    return Text(left)


def confidence_text(score: float, palette: Palette) -> Text:
    style = palette.error if score < 0.5 else palette.warning if score < 0.75 else ""
    return Text(f"{score:.2f}", style=style)
