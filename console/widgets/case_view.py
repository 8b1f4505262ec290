"""Everything about one case, in sections a supervisor reads top to bottom.

:class:`CaseHeader` is the fixed title (id, severity, SLA countdown, status); :class:`CaseView`
is the scrollable body. Both are handed a :class:`~store.contracts.CasePublic` and a time;
they never fetch anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from console.widgets.action import action_block, action_call, alternative_row, scalar
from console.widgets.case_history import history_table
from console.widgets.confidence import confidence_bars
from console.widgets.markers import severity_text, sla_text
from console.widgets.palette import Palette
from console.widgets.redacted import marked
from console.widgets.related_list import RelatedRows, related_rows
from store.contracts import CaseAuditEvent, CasePublic, DecisionPublic, RelatedCases

__all__ = ["CaseHeader", "CaseView", "decision_line"]

#: Sections the breadcrumbs key folds to one line.
BREADCRUMBS = ("reasoning", "context")

#: How each kind of signed decision reads after the fact ("… by alice at …").
VERB: dict[str, str] = {
    "approve": "approved",
    "override": "overridden",
    "reject": "rejected",
    "request_info": "sent back with a question",
    "reassign": "reassigned",
    "raise_severity": "raised in severity",
    "defer": "deferred",
    "fallback": "settled by its fallback action",
}


def _hhmm(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def decision_line(decision: DecisionPublic) -> str:
    """``approved by alice at 2026-03-02 09:03 UTC``"""
    how = VERB.get(decision.action, decision.action)
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
        summary = marked(case.summary, "bold", redacted=palette.redacted)
        summary.no_wrap, summary.overflow = True, "ellipsis"
        self.update(Group(line, summary), layout=False)  # always two lines


def _evidence(case: CasePublic, palette: Palette) -> RenderableType:
    if not case.evidence:
        return Text("No evidence attached.", style=palette.muted)
    parts: list[RenderableType] = []
    for n, item in enumerate(case.evidence, 1):
        title = Text(f"{n}. ", style=palette.muted)
        title.append_text(marked(item.title, "bold", redacted=palette.redacted))
        parts.append(title)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style=palette.muted, no_wrap=True)
        grid.add_column(overflow="fold")
        if item.content:
            grid.add_row("", marked(item.content, redacted=palette.redacted))
        grid.add_row("source", marked(item.source, redacted=palette.redacted))
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
        step = Text(f"{n}. ", style=palette.muted)
        step.append_text(marked(crumb.step, "bold", redacted=palette.redacted))
        parts.append(step)
        if crumb.detail:
            parts.append(Padding(marked(crumb.detail, redacted=palette.redacted), (0, 0, 0, 3)))
    return Group(*parts)


def _context(case: CasePublic, palette: Palette) -> RenderableType:
    if not case.context:
        return Text("No context.", style=palette.muted)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style=palette.muted, no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in case.context.items():
        grid.add_row(key, marked(scalar(value), redacted=palette.redacted))
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
            grid.add_row("rationale", marked(case.decision.rationale, redacted=palette.redacted))
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
    policy = Text(f"{case.policy.id} v{case.policy.version}")
    policy.append(f"  {case.policy.hash[:19]}…", style=palette.muted)
    grid.add_row("policy", policy)
    rule = Text(case.policy.rule, style="bold")
    if case.reason:
        rule.append(f": {case.reason}")
    grid.add_row("rule", rule)
    if case.trace_id:
        grid.add_row("trace", Text(case.trace_id))
    grid.add_row("digest", Text(case.content_digest))
    return grid


class CaseView(ScrollView, can_focus=True):
    """The scrollable body of the case screen: one bordered section after another.

    A Line API widget: each section is rendered once per case and width into strips, so
    Textual lays out one widget of known height instead of measuring (rendering) every
    section to size it, scrolling repaints from the strips, and the countdown re-renders
    only the section holding it. The sections below the screen are rendered right after
    the first frame.

    The history and the related cases arrive later (the screen fetches them once the case
    is painted: :meth:`show_history`, :meth:`show_related`). Related cases can be selected
    (``l`` jumps there and selects the first) and opened with ``enter``, which posts
    :class:`OpenRelated`.
    """

    BINDING_GROUP_TITLE = "Case"
    BINDINGS = [
        Binding(
            "b",
            "toggle_breadcrumbs",
            "Breadcrumbs",
            show=False,
            id="case.breadcrumbs",
            tooltip="Fold or unfold the reasoning and context sections",
        ),
        Binding(
            "h",
            "jump('history')",
            "History",
            show=False,
            id="case.history",
            tooltip="Jump to the case's history (created, claimed, questions, decisions)",
        ),
        Binding(
            "l",
            "jump('related')",
            "Related",
            show=False,
            id="case.related",
            tooltip="Jump to related cases (same agent, trace or redacted value) and select one",
        ),
        Binding(
            "enter",
            "open_related",
            "Open related",
            id="case.open-related",
            tooltip="Open the selected related case (esc comes back to this one)",
        ),
        Binding(
            "j,down",
            "related_move(1)",
            "Next related",
            show=False,
            id="case.related-down",
            tooltip="While a related case is selected: select the next one",
        ),
        Binding(
            "k,up",
            "related_move(-1)",
            "Previous related",
            show=False,
            id="case.related-up",
            tooltip="While a related case is selected: select the previous one",
        ),
        Binding(
            "escape",
            "leave_related",
            "Leave related",
            show=False,
            id="case.related-leave",
            tooltip="While a related case is selected: stop selecting (j/k scroll again)",
        ),
    ]

    @dataclass
    class OpenRelated(Message):
        """The supervisor chose to open a related case."""

        case_id: int

    DEFAULT_CSS = """
    CaseView {
        background: $surface;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;
        overflow-x: hidden;
    }
    """

    SECTIONS = (
        ("proposed", "Proposed action"),
        ("confidence", "Confidence"),
        ("alternatives", "Alternatives"),
        ("evidence", "Evidence"),
        ("reasoning", "Reasoning"),
        ("context", "Context"),
        ("details", "Case"),
        ("history", "History"),
        ("related", "Related cases"),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.case: CasePublic | None = None
        self._now: datetime | None = None
        self._me_id = 0
        #: Section name -> its rendered lines, in SECTIONS order; missing: not rendered yet.
        self._sections: dict[str, list[Strip]] = {}
        self._lines: list[Strip] = []
        self._width = 0
        self._pending = False
        self._epoch = 0
        #: Sections rendered ahead for a case about to be opened: (case, key, sections).
        self._prepared: tuple[CasePublic, tuple[object, ...], dict[str, list[Strip]]] | None = None
        #: Whether the reasoning and context sections are unfolded (kept across cases).
        self.breadcrumbs_open = True
        #: The history and related cases of ``case_id``; ``None``: not loaded yet.
        self._extras_of = 0
        self.history: list[CaseAuditEvent] | None = None
        self.history_error: str | None = None
        self.related: RelatedCases | None = None
        self.related_error: str | None = None
        self._related_rows = RelatedRows(Text(), (), ())
        #: The selected related row (an index into its rows), or ``None``.
        self.related_cursor: int | None = None

    # -- public API -------------------------------------------------------------------

    def show(self, case: CasePublic, *, now: datetime, me_id: int) -> None:
        self.case, self._now, self._me_id = case, now, me_id
        if case.id != self._extras_of:  # another case: its history and related are to come
            self._extras_of = case.id
            self.history = self.related = None
            self.history_error = self.related_error = None
            self.related_cursor = None
        self._sections.clear()
        prepared = self._prepared
        if prepared is not None and prepared[0] == case and prepared[1] == self._key():
            self._sections.update(prepared[2])
        self._prepared = None
        self._render_sections(self.scrollable_content_region.height or 24)

    def clear(self) -> None:
        """Show nothing (until :meth:`show`)."""
        self.case = None
        self._extras_of = 0
        self.related_cursor = None
        self._sections.clear()
        self._lines = []
        self.virtual_size = Size(self._width, 0)
        self.refresh()

    def prepare(self, case: CasePublic) -> None:
        """Render the first screenful of ``case`` now (while the supervisor reads the queue),
        so that opening it does not have to."""
        width = self.scrollable_content_region.width
        if width <= 0 or case == self.case:
            return
        sections: dict[str, list[Strip]] = {}
        lines = 0
        enough = self.scrollable_content_region.height
        for name, title in self.SECTIONS:
            if name == "details" or lines >= enough:  # details show the time: render at once
                break
            sections[name] = self._render_section(name, title, case, width)
            lines += len(sections[name])
        self._prepared = (case, self._key(), sections)

    def show_details(self, case: CasePublic, *, now: datetime, me_id: int) -> None:
        """Refresh the parts that move with time (the SLA)."""
        self.case, self._now, self._me_id = case, now, me_id
        if "details" in self._sections:
            del self._sections["details"]
            self._render_sections(None)

    def show_history(
        self, case_id: int, events: list[CaseAuditEvent] | None, error: str | None = None
    ) -> None:
        """The history of ``case_id`` arrived (or could not be fetched: ``error``)."""
        if case_id != self._extras_of:
            return
        if error is not None and self.history is not None:
            return  # keep the one shown
        self.history, self.history_error = events, error
        self._invalidate("history")

    def show_related(
        self, case_id: int, related: RelatedCases | None, error: str | None = None
    ) -> None:
        """The related cases of ``case_id`` arrived (or could not be fetched: ``error``)."""
        if case_id != self._extras_of:
            return
        if error is not None and self.related is not None:
            return
        self.related, self.related_error = related, error
        if self.related_cursor is not None:
            count = sum(len(g.cases) for g in related.groups) if related else 0
            self.related_cursor = min(self.related_cursor, count - 1) if count else None
        self._invalidate("related")

    @property
    def extras_loaded(self) -> bool:
        """Whether the history and related cases of the case shown have arrived (or failed)."""
        return (self.history is not None or self.history_error is not None) and (
            self.related is not None or self.related_error is not None
        )

    @property
    def selected_related(self) -> int | None:
        """The id of the selected related case, if one is selected."""
        if self.related_cursor is None or self.related_cursor >= len(self._related_rows.case_ids):
            return None
        return self._related_rows.case_ids[self.related_cursor]

    def _invalidate(self, *names: str) -> None:
        if "related" in names:
            self.refresh_bindings()  # "enter Open related" comes and goes with a selection
        for name in names:
            self._sections.pop(name, None)
        if self.case is not None:
            self._render_sections(None)

    def section_line(self, name: str) -> int:
        """The first line of section ``name`` in the body (every section rendered)."""
        self._render_sections(None)
        line = 0
        for section, _ in self.SECTIONS:
            if section == name:
                break
            line += len(self._sections.get(section, []))
        return line

    # -- keys -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("related_move", "leave_related"):
            return self.related_cursor is not None
        if action == "open_related":
            return self.selected_related is not None
        return True

    def action_toggle_breadcrumbs(self) -> None:
        self.breadcrumbs_open = not self.breadcrumbs_open
        self._prepared = None
        self._invalidate(*BREADCRUMBS)

    def action_jump(self, name: str) -> None:
        if self.case is None:
            return
        if name == "related":
            self.related_cursor = 0 if self._related_rows.case_ids or self.related is None else None
            self._invalidate("related")
        self.scroll_to(y=self.section_line(name), animate=False)

    def action_related_move(self, delta: int) -> None:
        count = len(self._related_rows.case_ids)
        if self.related_cursor is None or not count:
            return
        self.related_cursor = max(0, min(count - 1, self.related_cursor + delta))
        self._invalidate("related")
        # Keep the selected row on screen.
        row = self.section_line("related") + 1 + self._related_rows.lines[self.related_cursor]
        height = self.scrollable_content_region.height
        if row < self.scroll_y:
            self.scroll_to(y=row, animate=False)
        elif row >= self.scroll_y + height:
            self.scroll_to(y=row - height + 1, animate=False)

    def action_leave_related(self) -> None:
        self.related_cursor = None
        self._invalidate("related")

    def action_open_related(self) -> None:
        case_id = self.selected_related
        if case_id is not None:
            self.post_message(self.OpenRelated(case_id))

    def on_click(self, event: events.Click) -> None:
        """A click on a related case's row selects and opens it."""
        if self.case is None or not self._related_rows.case_ids:
            return
        line = int(self.scroll_y) + event.y - self.section_line("related") - 1
        if line in self._related_rows.lines:
            self.related_cursor = self._related_rows.lines.index(line)
            self._invalidate("related")
            self.action_open_related()

    @property
    def text(self) -> str:
        """Everything the body shows, as plain text (all sections)."""
        self._render_sections(None)
        return "\n".join(strip.text for strip in self._lines)

    # -- rendering --------------------------------------------------------------------

    def _body(self, name: str, case: CasePublic, palette: Palette, width: int) -> RenderableType:
        if name == "proposed":
            return _proposed(case, palette)
        if name == "confidence":
            return confidence_bars(case.confidence, width, palette)
        if name == "alternatives":
            return _alternatives(case, palette)
        if name == "evidence":
            return _evidence(case, palette)
        if name == "reasoning":
            return _reasoning(case, palette)
        if name == "context":
            return _context(case, palette)
        if name == "history":
            return history_table(self.history, self.history_error, palette)
        if name == "related":
            self._related_rows = related_rows(
                self.related,
                self.related_error,
                palette,
                selected=self.related_cursor,
                width=width,
            )
            return self._related_rows.text
        assert self._now is not None
        return _details(case, palette, now=self._now, me_id=self._me_id)

    def _title(self, name: str, title: str, case: CasePublic) -> str:
        if name == "alternatives" and case.alternatives:
            return f"{title} ({len(case.alternatives)})"
        if name in BREADCRUMBS:
            return f"▾ {title} · {self._keys('case.breadcrumbs')} folds"
        if name == "history":
            count = f" ({len(self.history)})" if self.history else ""
            return f"{title}{count} · {self._keys('case.history')}"
        if name == "related":
            rows = len({c.id for g in self.related.groups for c in g.cases}) if self.related else 0
            if not rows:
                return f"{title} · {self._keys('case.related')}"
            if self.related_cursor is None:
                return f"{title} ({rows}) · {self._keys('case.related')} selects"
            return f"{title} ({rows}) · {self._keys('case.open-related')} opens, esc leaves"
        return title

    def _keys(self, binding_id: str) -> str:
        """The key that runs the binding ``binding_id`` now (after the keymap)."""
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        keys_for = getattr(self.app, "keys_for", None)
        return str(keys_for(binding)) if keys_for is not None else binding.key

    def _folded(self, name: str, title: str, case: CasePublic) -> str:
        """The one line a folded breadcrumbs section shows."""
        count = (
            f"{len(case.reasoning)} steps" if name == "reasoning" else f"{len(case.context)} fields"
        )
        return f"▸ {title}: {count} · {self._keys('case.breadcrumbs')} unfolds"

    def _render_sections(self, enough: int | None) -> None:
        """Render missing sections top to bottom; with ``enough``, stop once that many lines
        are ready and render the rest after the next frame."""
        case = self.case
        width = self.scrollable_content_region.width
        if case is None or width <= 0:
            return
        if width != self._width:
            self._sections.clear()
            self._width = width
        lines = 0
        for name, title in self.SECTIONS:
            if name not in self._sections:
                if enough is not None and lines >= enough:
                    if not self._pending:
                        self._pending = True
                        self.call_after_refresh(self._render_rest)
                    break
                self._sections[name] = self._render_section(name, title, case, width)
            lines += len(self._sections[name])
        self._lines = [line for name, _ in self.SECTIONS for line in self._sections.get(name, [])]
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    def _key(self) -> tuple[object, ...]:
        """What rendered sections depend on besides the case."""
        return (
            self.scrollable_content_region.width,
            self._epoch,
            self.has_focus,
            self.breadcrumbs_open,
        )

    def _render_section(self, name: str, title: str, case: CasePublic, width: int) -> list[Strip]:
        palette = Palette.of(self.app)
        console = self.app.console
        options = console.options.update(width=width, max_width=width, height=None)
        border = palette.border_focus if self.has_focus else palette.border
        if name in BREADCRUMBS and not self.breadcrumbs_open:
            rule = Rule(
                Text(self._folded(name, title, case), style=palette.title),
                align="left",
                style=border,
                characters="─",
            )
            lines = console.render_lines(rule, options, style=self.rich_style)
            return [Strip(line, width) for line in lines]
        panel = Panel(
            self._body(name, case, palette, width - 4),
            title=Text(self._title(name, title, case), style=palette.title),
            title_align="left",
            box=box.ROUNDED,
            border_style=border,
            padding=(0, 1),
            expand=True,
        )
        lines = console.render_lines(panel, options, style=self.rich_style)
        return [Strip(line, width) for line in lines]

    def _render_rest(self) -> None:
        self._pending = False
        self._render_sections(None)

    def render_line(self, y: int) -> Strip:
        n = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        if n < len(self._lines):
            return self._lines[n]
        return Strip.blank(width, self.rich_style)

    def on_resize(self, event: events.Resize) -> None:
        if self.scrollable_content_region.width != self._width:
            self._render_sections(self.scrollable_content_region.height)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._epoch += 1
        if self.case is not None:  # theme or focus: borders and colors change
            self._sections.clear()
            self._render_sections(self.scrollable_content_region.height)
