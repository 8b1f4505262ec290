"""How an :class:`~store.contracts.ActionSpec` is shown: one call-like line, or a table."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.style import Style
from rich.table import Table
from rich.text import Text

from console.widgets.palette import Palette
from console.widgets.redacted import REDACTED_STYLE, marked
from store.contracts import ActionSpec, Alternative

__all__ = ["action_block", "action_call", "alternative_row", "scalar"]


def scalar(value: Any) -> str:
    """A value as a supervisor reads it: strings bare, everything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:g}"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def action_call(action: ActionSpec, palette: Palette | None = None) -> Text:
    """``refund_payment(payment_id=pay_1, amount=12.5)``"""
    text = Text(action.name, style="bold")
    text.append("(")
    for i, (key, value) in enumerate(action.args.items()):
        if i:
            text.append(", ")
        text.append(f"{key}=", style=palette.muted if palette else "")
        text.append_text(
            marked(scalar(value), redacted=palette.redacted if palette else REDACTED_STYLE)
        )
    text.append(")")
    return text


def action_block(action: ActionSpec, palette: Palette) -> RenderableType:
    """The action name, then its arguments one per line, nested values pretty-printed."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style=palette.muted, no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in action.args.items():
        if isinstance(value, dict | list):
            shown = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
        else:
            shown = scalar(value)
        grid.add_row(key, marked(shown, redacted=palette.redacted))
    name = Text(action.name, style=palette.accent + Style(bold=True))
    if not action.args:
        return Group(name, Text("  (no arguments)", style=palette.muted))
    return Group(name, Padding(grid, (0, 0, 0, 2)))


def alternative_row(number: int, alternative: Alternative, palette: Palette) -> RenderableType:
    """``1  partial_refund(...)`` with its rationale below, wrapped lines kept indented."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style=palette.accent + Style(bold=True))
    grid.add_column(overflow="fold")
    body: list[RenderableType] = [action_call(alternative.action, palette)]
    if alternative.rationale:
        body.append(marked(alternative.rationale, "italic", redacted=palette.redacted))
    grid.add_row(str(number), Group(*body))
    return grid
