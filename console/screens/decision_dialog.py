"""What the decision dialogs share: typed fields, inline errors, drafts kept when closed.

A :class:`DecisionDialog` collects the details of one kind of decision and turns them into
a :class:`~console.decisions.DecisionRequest` (checked before anything is signed: a
mistake is shown in the dialog, on the field to fix). It is dismissed with a
:class:`DialogResult`: what was typed (kept as the case's draft for that kind) and the
request, or ``None`` when the supervisor closed it to decide later.

Each dialog declares its own bindings (with ids, for the keymap, ``?`` and the palette).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option, OptionDoesNotExist

from console.decisions import DecisionRequest, InvalidDecision
from store.contracts import CasePublic

__all__ = ["DecisionDialog", "DialogResult", "FieldError", "PickDialog", "RationaleMode"]

#: Whether a dialog asks for a rationale, and if the backend requires one.
RationaleMode = Literal["required", "optional", "none"]


class FieldError(InvalidDecision):
    """A field's value cannot be used; ``field`` is the id of the widget to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class DialogResult:
    """What was typed, by field; and the decision to sign (``None``: keep it as a draft)."""

    values: dict[str, str]
    request: DecisionRequest | None


class DecisionDialog(ModalScreen[DialogResult]):
    """A box over the case: a line saying what this does, fields, an error line, a hint."""

    CSS_PATH = "dialogs.tcss"
    #: The drafts key for this dialog (a decision kind, or a variant of one).
    KIND: ClassVar[str] = ""
    #: The ids of the widgets (``Input`` or ``TextArea``) whose text is kept as a draft.
    FIELDS: ClassVar[tuple[str, ...]] = ()
    HINT: ClassVar[str] = "enter  sign    esc  close, keep draft"
    RATIONALE_PROMPT: ClassVar[str] = "Why? (signed and kept in the audit log)"

    def __init__(
        self,
        case: CasePublic,
        *,
        draft: dict[str, str] | None = None,
        error: str | None = None,
        rationale: RationaleMode = "none",
    ) -> None:
        super().__init__()
        self.case = case
        self.draft = draft or {}
        self.error = error
        self.rationale_mode = rationale

    # -- what a dialog fills in ---------------------------------------------------------

    def heading(self) -> str:
        raise NotImplementedError

    def what(self) -> RenderableType:
        """A line or two saying what the decision does."""
        raise NotImplementedError

    def compose_fields(self) -> Iterable[Widget]:
        return ()

    def build(self, values: dict[str, str]) -> DecisionRequest:
        """The decision from the typed ``values``; :class:`FieldError` says what to fix."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.heading()
            yield Static(self.what(), classes="what")
            yield from self.compose_fields()
            if self.rationale_mode != "none":
                required = self.rationale_mode == "required"
                need = "? (required; " if required else "? (optional; "
                field = Input(
                    self.draft.get("rationale", ""),
                    placeholder=self.RATIONALE_PROMPT.replace("? (", need, 1),
                    max_length=10_000,
                    id="rationale",
                )
                field.border_title = "rationale" + ("" if required else " (optional)")
                yield field
            error = Static(classes="error")
            if self.error:
                error.update(f"error: last attempt failed: {self.error}")
                error.add_class("-shown")
            yield error
            yield Static(self.HINT, classes="hint")

    def on_mount(self) -> None:
        # (Textual calls each class's on_mount in turn: subclasses override focus_first.)
        self.focus_first()

    def focus_first(self) -> None:
        for field in self.fields:
            widget = self._field(field)
            if widget is not None:
                widget.focus()
                return

    def _field(self, name: str) -> Input | TextArea | None:
        found = self.query(f"#{name}")
        widget = found.first() if found else None
        return widget if isinstance(widget, Input | TextArea) else None

    @property
    def fields(self) -> tuple[str, ...]:
        return (*self.FIELDS, "rationale") if self.rationale_mode != "none" else self.FIELDS

    def values(self) -> dict[str, str]:
        """What is typed in each field now."""
        typed: dict[str, str] = {}
        for name in self.fields:
            widget = self._field(name)
            if isinstance(widget, Input):
                typed[name] = widget.value
            elif isinstance(widget, TextArea):
                typed[name] = widget.text
        return typed

    def rationale(self, values: dict[str, str]) -> str:
        """The typed rationale, refused if empty where the backend requires one."""
        text = values.get("rationale", "").strip()
        if self.rationale_mode == "required" and not text:
            raise FieldError("rationale", self.rationale_missing())
        return text

    def rationale_missing(self) -> str:
        return "This decision needs a rationale: say why, it goes into the signed record."

    def show_error(self, message: str, field: str | None = None) -> None:
        error = self.query_one(".error", Static)
        error.update(f"error: {message}")
        error.add_class("-shown")
        found = self.query(f"#{field}") if field else None
        if found:
            found.first().focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter in a field: on to the next empty one, or sign if none is left."""
        event.stop()
        names = self.fields
        if event.input.id in names:
            later = names[names.index(event.input.id) + 1 :]
            for name in later:
                widget = self._field(name)
                if isinstance(widget, Input) and not widget.value.strip():
                    widget.focus()
                    return
        self.action_submit()

    def action_submit(self) -> None:
        values = self.values()
        try:
            request = self.build(values)
        except FieldError as exc:
            self.show_error(str(exc), exc.field)
            return
        except InvalidDecision as exc:
            self.show_error(str(exc))
            return
        self.dismiss(DialogResult(values, request))

    def action_cancel(self) -> None:
        self.dismiss(DialogResult(self.values(), None))


class PickDialog(DecisionDialog):
    """A numbered list to pick from (1..9, or arrows and enter), then the rationale.

    Picking signs at once unless a required rationale is still empty: then the rationale
    field takes the focus, and enter there signs the pick.
    """

    HINT = "1-9 or ↑↓ enter  pick    tab  rationale    esc  close, keep draft"

    def __init__(
        self,
        case: CasePublic,
        *,
        draft: dict[str, str] | None = None,
        error: str | None = None,
        rationale: RationaleMode = "none",
    ) -> None:
        super().__init__(case, draft=draft, error=error, rationale=rationale)
        self.picked: str | None = self.draft.get("pick")

    def options(self) -> list[tuple[str, RenderableType]]:
        """``(id, how it reads)`` per choice, in order."""
        raise NotImplementedError

    def build_pick(self, picked: str, rationale: str) -> DecisionRequest:
        raise NotImplementedError

    def compose_fields(self) -> Iterable[Widget]:
        yield OptionList(*self._options(), id="pick")

    def _options(self) -> list[Option]:
        rows = []
        for n, (ident, label) in enumerate(self.options(), 1):
            number = Text(f"{n}  " if n <= 9 else "   ", style="bold")
            grid = Table.grid()
            grid.add_column(no_wrap=True)
            grid.add_column(overflow="fold")
            grid.add_row(number, label)
            rows.append(Option(grid, id=ident))
        return rows

    def show_options(self) -> None:
        """Fill (or refill) the list, keeping the picked option highlighted."""
        listing = self.query_one("#pick", OptionList)
        listing.clear_options()
        listing.add_options(self._options())
        self._highlight_picked()

    def _highlight_picked(self) -> None:
        listing = self.query_one("#pick", OptionList)
        if self.picked is not None:
            try:
                listing.highlighted = listing.get_option_index(self.picked)
            except OptionDoesNotExist:
                self.picked = None

    def focus_first(self) -> None:
        self._highlight_picked()
        self.query_one("#pick", OptionList).focus()

    def values(self) -> dict[str, str]:
        typed = super().values()
        if self.picked is not None:
            typed["pick"] = self.picked
        return typed

    def action_pick(self, index: int) -> None:
        listing = self.query_one("#pick", OptionList)
        if not 0 <= index < listing.option_count:
            self.notify(f"There is no choice {index + 1}.", severity="warning")
            return
        listing.highlighted = index
        self.picked = listing.get_option_at_index(index).id
        rationale = self._field("rationale")
        if (
            self.rationale_mode == "required"
            and isinstance(rationale, Input)
            and not rationale.value.strip()
        ):
            rationale.focus()
            return
        self.action_submit()

    @on(OptionList.OptionSelected, "#pick")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_pick(event.option_index)

    def build(self, values: dict[str, str]) -> DecisionRequest:
        if self.picked is None:
            listing = self.query_one("#pick", OptionList)
            if listing.highlighted is None or not listing.option_count:
                raise FieldError("pick", "Pick one of the choices first (1-9, or ↑↓ and enter).")
            self.picked = listing.get_option_at_index(listing.highlighted).id
        assert self.picked is not None
        return self.build_pick(self.picked, self.rationale(values))
