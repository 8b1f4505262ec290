"""One case, everything about it, and the three decisions: approve, override, reject.

A decision claims the case if needed, is built and signed on this machine
(:mod:`console.decisions`), then sent. Failures are shown here and in a notification; a
typed rejection rationale is kept per case (``HitlApp.drafts``) so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.decisions import DigestMismatch, build_decision, sign_decision
from console.errors import Conflict, ConsoleError, NotFound
from console.screens.approve_dialog import ApproveDialog
from console.screens.override_dialog import OverrideDialog
from console.screens.reject_dialog import RejectChoice, RejectDialog
from console.widgets.case_view import VERB, CaseHeader, CaseView, decision_line
from console.widgets.identity_bar import IdentityBar
from store.contracts import CasePublic, DecisionAction, DecisionPublic
from store.signing import key_id

if TYPE_CHECKING:
    from console.app import HitlApp

__all__ = ["CaseScreen"]


class CaseScreen(Screen[DecisionPublic | None]):
    """Dismissed with the recorded decision, or ``None`` when the supervisor goes back."""

    CSS_PATH = "case.tcss"
    BINDING_GROUP_TITLE = "Case"
    BINDINGS = [
        Binding(
            "a",
            "approve",
            "Approve",
            id="case.approve",
            tooltip="Sign and approve the proposed action",
        ),
        Binding(
            "o",
            "override",
            "Override",
            id="case.override",
            tooltip="Sign an override: pick one of the agent's alternatives",
        ),
        Binding(
            "r",
            "reject",
            "Reject",
            id="case.reject",
            tooltip="Sign a rejection with a rationale (the agent does nothing)",
        ),
        Binding("escape", "back", "Back", id="case.back", tooltip="Back to the queue"),
        Binding(
            "j",
            "scroll_body(1)",
            "Scroll down",
            show=False,
            id="case.down",
            tooltip="Scroll the case down (also down arrow, page down)",
        ),
        Binding(
            "k",
            "scroll_body(-1)",
            "Scroll up",
            show=False,
            id="case.up",
            tooltip="Scroll the case up (also up arrow, page up)",
        ),
        Binding(
            "ctrl+r,f5",
            "reload",
            "Reload",
            show=False,
            id="case.reload",
            tooltip="Fetch the case again",
        ),
    ]

    @dataclass
    class Loaded(Message):
        case: CasePublic

    @dataclass
    class LoadFailed(Message):
        error: ConsoleError

    @dataclass
    class Decided(Message):
        decision: DecisionPublic

    @dataclass
    class DecisionFailed(Message):
        action: DecisionAction
        error: ConsoleError

    def __init__(self, case_id: int) -> None:
        super().__init__()
        self.case_id = case_id
        self.case: CasePublic | None = None
        self.busy = False

    @property
    def hitl(self) -> HitlApp:
        return cast("HitlApp", self.app)

    def compose(self) -> ComposeResult:
        app = self.hitl
        yield IdentityBar(app.me, app.client.base_url, demo=app.settings.demo)
        yield CaseHeader(f"#{self.case_id} loading…", id="case-header")
        yield Static(id="case-message")
        yield CaseView(id="case-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(CaseView).focus()
        self.load_case()
        self.set_interval(1.0, self._tick)

    # -- loading ----------------------------------------------------------------------

    @work(exclusive=True, group="case")
    async def load_case(self) -> None:
        try:
            case = await self.hitl.client.case(self.case_id)
        except ConsoleError as exc:
            self.post_message(self.LoadFailed(exc))
            return
        self.post_message(self.Loaded(case))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.case = message.case
        now, me = self.hitl.clock(), self.hitl.me.id
        self.query_one(CaseHeader).show(message.case, now=now, me_id=me)
        self.query_one(CaseView).show(message.case, now=now, me_id=me)
        if message.case.decision is not None:
            self._say(f"This case was {decision_line(message.case.decision)}.")

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        if isinstance(message.error, NotFound):
            text = f"Case #{self.case_id} is not visible to you (or does not exist)."
        else:
            text = f"Could not load case #{self.case_id}: {message.error}"
        self._say(text, error=True)
        self.notify(text, severity="error")

    def action_reload(self) -> None:
        self.load_case()

    def _tick(self) -> None:
        if self.case is not None and self.case.status == "open":
            now, me = self.hitl.clock(), self.hitl.me.id
            self.query_one(CaseHeader).show(self.case, now=now, me_id=me)
            self.query_one(CaseView).show_details(self.case, now=now, me_id=me)

    def _say(self, text: str, *, error: bool = False) -> None:
        line = self.query_one("#case-message", Static)
        line.set_class(error, "-error")
        line.set_class(bool(text), "-shown")
        line.update(("error: " if error else "") + text)

    # -- navigation -------------------------------------------------------------------

    def action_back(self) -> None:
        if self.busy:
            self.notify("A decision is on its way; wait for the answer.", severity="warning")
            return
        self.dismiss(None)

    def action_scroll_body(self, direction: int) -> None:
        body = self.query_one(CaseView)
        if direction > 0:
            body.scroll_down()
        else:
            body.scroll_up()

    # -- deciding ---------------------------------------------------------------------

    def _decidable(self) -> CasePublic | None:
        case = self.case
        if case is None:
            self.notify("The case is still loading.", severity="warning")
            return None
        if self.busy:
            self.notify("A decision is on its way; wait for the answer.", severity="warning")
            return None
        if case.status != "open":
            self.notify("This case is already decided.", severity="warning")
            return None
        return case

    def action_approve(self) -> None:
        case = self._decidable()
        if case is None:
            return
        signer = f"{self.hitl.me.name}, key {key_id(self.hitl.key.public_key())}"

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._submit("approve")

        self.app.push_screen(ApproveDialog(case, signer=signer), callback=confirmed)

    def action_override(self) -> None:
        case = self._decidable()
        if case is None:
            return
        if not case.alternatives:
            self.notify("The agent offered no alternatives to pick.", severity="warning")
            return

        def picked(index: int | None) -> None:
            if index is not None:
                self._submit("override", alternative_index=index)

        self.app.push_screen(OverrideDialog(case), callback=picked)

    def action_reject(self) -> None:
        case = self._decidable()
        if case is None:
            return
        drafts = self.hitl.drafts

        def closed(choice: RejectChoice | None) -> None:
            if choice is None:
                return
            drafts[case.id] = choice.rationale
            if choice.submit:
                self._submit("reject", rationale=choice.rationale)

        dialog = RejectDialog(
            case, draft=drafts.get(case.id, ""), error=self.hitl.reject_errors.get(case.id)
        )
        self.app.push_screen(dialog, callback=closed)

    def _submit(
        self, action: DecisionAction, *, alternative_index: int | None = None, rationale: str = ""
    ) -> None:
        self.busy = True
        self._say(f"claiming, signing and sending: {action}…")
        self.decide(action, alternative_index, rationale)

    @work(exclusive=True, group="decision")
    async def decide(
        self, action: DecisionAction, alternative_index: int | None, rationale: str
    ) -> None:
        app, case = self.hitl, self.case
        assert case is not None
        try:
            # Claim (or renew your claim) first: a decision is made under its token.
            claim = await app.client.claim(case.id)
            payload = build_decision(
                case,
                claim_token=claim.token,
                action=action,
                supervisor_id=app.me.id,
                key=app.key,
                alternative_index=alternative_index,
                rationale=rationale,
                signed_at=app.clock(),
            )
            decision = await app.client.decide(case.id, sign_decision(payload, app.key))
        except ConsoleError as exc:
            self.post_message(self.DecisionFailed(action, exc))
            return
        self.post_message(self.Decided(decision))

    @on(Decided)
    def _decided(self, message: Decided) -> None:
        self.busy = False
        self.hitl.drafts.pop(self.case_id, None)
        self.hitl.reject_errors.pop(self.case_id, None)
        self.dismiss(message.decision)

    @on(DecisionFailed)
    def _decision_failed(self, message: DecisionFailed) -> None:
        self.busy = False
        text = f"could not {message.action} case #{self.case_id}: {message.error}"
        if message.action == "reject":
            self.hitl.reject_errors[self.case_id] = str(message.error)
            text += " (your rationale is kept: press r)"
        self._say(text, error=True)
        self.notify(str(message.error), title=f"Not {VERB[message.action]}", severity="error")
        if isinstance(message.error, Conflict | DigestMismatch):
            self.load_case()  # show what changed: a claim, a decision, new content
