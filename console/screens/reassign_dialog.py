"""Reassign: to a person of the case's group, or to another group; with a rationale.

The choices come from ``GET /v1/groups`` (your groups, with who is on call and away),
fetched in a worker when the dialog opens.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import RenderableType
from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.widgets.option_list import Option

from console.decisions import DecisionRequest
from console.errors import ConsoleError
from console.screens.decision_dialog import FieldError, PickDialog
from console.widgets.palette import Palette
from store.contracts import CasePublic, GroupPublic

__all__ = ["ReassignDialog", "reassign_choices"]

_PICK = Binding.Group("Pick by number")


def reassign_choices(
    case: CasePublic, groups: list[GroupPublic], *, me: str
) -> list[tuple[str, str, str]]:
    """``(id, name, note)``: the case's group's members (on call first; not you), then the
    other groups (with who is on call there)."""
    choices: list[tuple[str, str, str]] = []
    own = next((g for g in groups if g.name == case.group), None)
    if own is not None:
        for name in own.on_call:
            if name != me:
                choices.append((f"person:{name}", name, f"on call in {own.name}"))
        for name in own.away:
            if name != me:
                choices.append((f"person:{name}", name, f"away, in {own.name}"))
    for group in groups:
        if group.name == case.group:
            continue
        on_call = ", ".join(group.on_call) if group.on_call else "nobody"
        choices.append((f"group:{group.name}", f"group {group.name}", f"on call: {on_call}"))
    return choices


class ReassignDialog(PickDialog):
    KIND = "reassign"
    BINDING_GROUP_TITLE = "Reassign dialog"
    HINT = "1-9 or ↑↓ enter  pick    tab  rationale    esc  close, keep draft"
    BINDINGS = [
        *(
            Binding(
                str(n),
                f"pick({n - 1})",
                f"Pick {n}",
                show=False,
                group=_PICK,
                id=f"reassign.pick-{n}",
                tooltip=f"Reassign to the person or group numbered {n}",
            )
            for n in range(1, 10)
        ),
        Binding(
            "escape",
            "cancel",
            "Close, keep draft",
            id="reassign.cancel",
            tooltip="Close without reassigning; what you typed is kept for this case",
        ),
    ]

    @dataclass
    class Loaded(Message):
        groups: list[GroupPublic]

    @dataclass
    class LoadFailed(Message):
        error: ConsoleError

    def __init__(
        self,
        case: CasePublic,
        *,
        me: str,
        draft: dict[str, str] | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(case, draft=draft, error=error, rationale="required")
        self.me = me
        self.groups: list[GroupPublic] | None = None

    def heading(self) -> str:
        return f"Reassign case #{self.case.id}"

    def what(self) -> RenderableType:
        palette = Palette.of(self.app)
        return Text.assemble(
            ("In group ", palette.muted),
            (self.case.group, "bold"),
            (
                ". A person of the group becomes its assignee; another group takes the case"
                " (its on-call member least loaded is suggested).",
                palette.muted,
            ),
        )

    def options(self) -> list[tuple[str, RenderableType]]:
        palette = Palette.of(self.app)
        if self.groups is None:
            return []
        return [
            (ident, Text.assemble((name, "bold"), "  ", (note, palette.muted)))
            for ident, name, note in reassign_choices(self.case, self.groups, me=self.me)
        ]

    def _options(self) -> list[Option]:
        if self.groups is None:
            return [Option(Text("loading the groups…", style="italic"), disabled=True)]
        return super()._options()

    def on_mount(self) -> None:
        self.load_groups()

    @work(exclusive=True, group="groups")
    async def load_groups(self) -> None:
        app = self.app
        try:
            groups = await app.client.groups()  # type: ignore[attr-defined]
        except ConsoleError as exc:
            self.post_message(self.LoadFailed(exc))
            return
        self.post_message(self.Loaded(groups))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.groups = message.groups
        self.show_options()
        if not self.options():
            self.show_error("Nobody else to reassign to: no other member or group you can see.")

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        self.groups = []
        self.show_options()
        self.show_error(f"could not list the groups: {message.error}")

    def build_pick(self, picked: str, rationale: str) -> DecisionRequest:
        kind, _, name = picked.partition(":")
        if not name:
            raise FieldError("pick", "Pick a person or a group.")
        if kind == "group":
            return DecisionRequest("reassign", to_group=name, rationale=rationale)
        return DecisionRequest("reassign", to_supervisor=name, rationale=rationale)
