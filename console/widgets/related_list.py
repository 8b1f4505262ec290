"""Related cases, grouped by what they share with the case shown, one line per case.

``same agent  refund-bot``
``  #14  HIGH  open      payments  Refund 42.50 EUR to cus_8f2a1c: …``

Rows can be selected (``▶`` and reverse video, so it reads without color) and opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

from console.widgets.markers import severity_text
from console.widgets.palette import Palette
from console.widgets.redacted import mark
from store.contracts import RelatedCases, RelatedGroup

__all__ = ["RelatedRows", "related_rows"]

_HEADING = {"agent": "same agent", "trace": "same trace", "placeholder": "same value"}


@dataclass(frozen=True)
class RelatedRows:
    """What the section shows: its text, the case id of each selectable row in order, and
    the line (within the text) of each row."""

    text: Text
    case_ids: tuple[int, ...]
    lines: tuple[int, ...]


def _merged(groups: list[RelatedGroup]) -> list[list[RelatedGroup]]:
    """Placeholder groups listing the same cases shown once, under all their values."""
    merged: list[list[RelatedGroup]] = []
    for group in groups:
        last = merged[-1][0] if merged else None
        if (
            last is not None
            and group.relation == last.relation == "placeholder"
            and [c.id for c in group.cases] == [c.id for c in last.cases]
            and group.more == last.more
        ):
            merged[-1].append(group)
        else:
            merged.append([group])
    return merged


def _heading(groups: list[RelatedGroup], palette: Palette) -> Text:
    first = groups[0]
    heading = _HEADING.get(first.relation, first.relation)
    if len(groups) > 1:
        heading = "same values"
    line = Text(f"{heading}  ", style=palette.muted)
    for n, group in enumerate(groups):
        if n:
            line.append(" ")
        line.append(
            group.value, style=palette.redacted if group.relation == "placeholder" else "bold"
        )
    return line


def related_rows(
    related: RelatedCases | None,
    error: str | None,
    palette: Palette,
    *,
    selected: int | None,
    width: int,
) -> RelatedRows:
    """The section's text; row ``selected`` (an index into the rows) is highlighted."""
    if error is not None:
        return RelatedRows(Text(f"Related cases not loaded: {error}", style=palette.error), (), ())
    if related is None:
        return RelatedRows(Text("loading…", style=palette.muted), (), ())
    if not related.groups:
        return RelatedRows(
            Text(
                "None in your groups: no other case shares this agent, trace or a redacted value.",
                style=palette.muted,
            ),
            (),
            (),
        )
    cases = [c for g in related.groups for c in g.cases]
    id_w = max(len(str(c.id)) for c in cases) + 1
    status_w = max(len(c.status) for c in cases)
    domain_w = max(len(c.domain) for c in cases)
    lines: list[Text] = []
    ids: list[int] = []
    rows: list[int] = []
    for groups in _merged(related.groups):
        lines.append(_heading(groups, palette))
        group = groups[0]
        for case in group.cases:
            chosen = selected is not None and len(ids) == selected

            # The selected row is plain text in reverse video: it reads without color.
            def style(s: Style | str, chosen: bool = chosen) -> Style | str:
                return "" if chosen else s

            line = Text("▶ " if chosen else "  ", no_wrap=True, overflow="ellipsis")
            line.append(f"{'#' + str(case.id):<{id_w}} ", style=style("bold"))
            sev = severity_text(case.severity, palette)
            line.append(f"{sev.plain:<4}", style=style(sev.style))
            line.append(f" {case.status:<{status_w}}  {case.domain:<{domain_w}}  ")
            if group.relation != "agent":
                line.append(f"{case.agent}  ", style=style(palette.muted))
            line.append_text(
                Text(case.summary) if chosen else mark(Text(case.summary), palette.redacted)
            )
            line.truncate(width, overflow="ellipsis", pad=chosen)
            if chosen:
                line.stylize(Style(reverse=True, bold=True))
            rows.append(len(lines))
            ids.append(case.id)
            lines.append(line)
        if group.more:
            lines.append(Text("  … and older ones", style=palette.muted))
    return RelatedRows(Text("\n").join(lines), tuple(ids), tuple(rows))
