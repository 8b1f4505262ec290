"""One case, everything about it, and the three decisions: approve, override, reject.

A decision claims the case if needed, is built and signed on this machine
(:mod:`console.decisions`), then sent. Failures are shown here and in a notification; a
typed rejection rationale is kept per case (``HitlApp.drafts``) so nothing is lost.

The app keeps one case screen and shows each case in it (:meth:`CaseScreen.open`):
composing and styling the screen's widgets costs more than filling them, and opening a
case is the console's most frequent step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from console.decisions import DigestMismatch, build_decision, sign_decision
from console.errors import BackendUnreachable, Conflict, ConsoleError, NotFound
from console.screens.approve_dialog import ApproveDialog
from console.screens.override_dialog import OverrideDialog
from console.screens.reject_dialog import RejectChoice, RejectDialog
from console.widgets.banner import Banner
from console.widgets.case_view import VERB, CaseHeader, CaseView, decision_line
from console.widgets.identity_bar import IdentityBar
from console.widgets.key_bar import KeyBar
from console.widgets.markers import sla_label
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
        case_id: int
        error: ConsoleError

    @dataclass
    class Decided(Message):
        decision: DecisionPublic

    @dataclass
    class DecisionFailed(Message):
        action: DecisionAction
        error: ConsoleError

    def __init__(self, case_id: int, *, cached: CasePublic | None = None) -> None:
        super().__init__()
        self.case_id = case_id
        self.case: CasePublic | None = None
        self.busy = False
        self._cached = cached
        self._sla: tuple[str, str] | None = None
        self._theme: tuple[str, bool] | None = None
        self._message = ""

    @property
    def hitl(self) -> HitlApp:
        return cast("HitlApp", self.app)

    def compose(self) -> ComposeResult:
        app = self.hitl
        yield IdentityBar(app.me, app.client.base_url, demo=app.settings.demo)
        yield Banner()
        yield CaseHeader(f"#{self.case_id} loading…", id="case-header")
        yield Static(id="case-message")
        yield CaseView(id="case-body")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(CaseView).focus()
        self.set_interval(1.0, self._tick)
        self.hitl.back_online.subscribe(self, self._back_online)
        self._start()

    def _back_online(self, _: None) -> None:
        if self.is_current or self.app.screen_stack[-2:][0] is self:
            self.load_case()

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual restyles every widget of a screen each time it is pushed, in case the theme
        # changed while it was away; for this screen, pushed for every case, only then.
        # (Textual calls each class's handler in turn; prevent_default stops the base one.)
        theme = (self.app.theme, self.app.no_color)
        if event.refresh_styles and theme == self._theme:
            event.prevent_default()
            super()._on_screen_resume(events.ScreenResume(refresh_styles=False))
        self._theme = theme

    def prepare(self, case: CasePublic) -> None:
        """Render ``case`` ahead of :meth:`open` (while another screen is shown)."""
        self.query_one(CaseView).prepare(case)

    def open(self, case_id: int, *, cached: CasePublic | None = None) -> None:
        """Show another case in this screen (before it is pushed again).

        ``cached``, a copy fetched moments ago, is shown at once while the case is fetched
        again; the fresh copy replaces it when it arrives.
        """
        self.case_id, self.case, self.busy = case_id, None, False
        self._cached, self._sla = cached, None
        self._say("")
        self.query_one(CaseView).scroll_home(animate=False)
        self._start()

    def _start(self) -> None:
        if self._cached is not None and self._cached.id == self.case_id:
            self._show(self._cached)
        else:
            self.query_one(CaseHeader).update(f"#{self.case_id} loading…", layout=False)
            self.query_one(CaseView).clear()
        self._cached = None
        self.load_case()

    # -- loading ----------------------------------------------------------------------

    @work(exclusive=True, group="case")
    async def load_case(self) -> None:
        case_id = self.case_id
        try:
            case = await self.hitl.client.case(case_id)
        except ConsoleError as exc:
            self.hitl.note_failure(exc)
            self.post_message(self.LoadFailed(case_id, exc))
            return
        self.hitl.note_success()
        self.post_message(self.Loaded(case))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.hitl.remember_case(message.case)
        if message.case.id != self.case_id:
            return  # an answer for the case shown before
        if message.case != self.case:
            self._show(message.case)
        if message.case.decision is not None:
            self._say(f"This case was {decision_line(message.case.decision)}.")
        elif self._message.startswith("error: Could not load"):
            self._say("")

    def _show(self, case: CasePublic) -> None:
        self.case = case
        now, me = self.hitl.clock(), self.hitl.me.id
        self._sla = sla_label(case.due_at, case.created_at, now)
        self.query_one(CaseHeader).show(case, now=now, me_id=me)
        self.query_one(CaseView).show(case, now=now, me_id=me)

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        if message.case_id != self.case_id:
            return
        if isinstance(message.error, NotFound):
            text = f"Case #{self.case_id} is not visible to you (or does not exist)."
        else:
            text = f"Could not load case #{self.case_id}: {message.error}"
            if self.case is not None:
                text += " (showing the copy loaded before)"
        self._say(text, error=True)
        if not isinstance(message.error, BackendUnreachable):  # the banner says that
            self.notify(text, severity="error")

    def action_reload(self) -> None:
        self.hitl.retry_now()
        self.load_case()

    def _tick(self) -> None:
        """Move the SLA countdown; repaint only when its text changes."""
        case = self.case
        if case is None or case.status != "open" or not self.is_current:
            return
        now, me = self.hitl.clock(), self.hitl.me.id
        label = sla_label(case.due_at, case.created_at, now)
        if label != self._sla:
            self._sla = label
            self.query_one(CaseHeader).show(case, now=now, me_id=me)
            self.query_one(CaseView).show_details(case, now=now, me_id=me)

    def _say(self, text: str, *, error: bool = False) -> None:
        shown = ("error: " if error and text else "") + text
        if shown == self._message:
            return
        self._message = shown
        line = self.query_one("#case-message", Static)
        line.set_class(error, "-error")
        line.set_class(bool(text), "-shown")
        line.update(shown)

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

    def _decidable(
        self, *, then: Callable[[], None] | None = None, signs_now: bool = True
    ) -> CasePublic | None:
        """The case, if a decision can start; else say why. ``signs_now``: the next step
        needs the signing key; while it is being unlocked, ``then`` runs once it is (the
        key press is not lost), if this case is still on screen."""
        app = self.hitl
        if signs_now and not app.key_ready:
            if app.key_problem:
                self.notify(app.key_problem, title="Cannot sign", severity="error")
            else:
                self.notify("Unlocking your signing key…", title="One moment")
                if then is not None:
                    case_id = self.case_id
                    app.when_key_ready(
                        lambda: then() if self.is_current and self.case_id == case_id else None
                    )
            return None
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
        case = self._decidable(then=self.action_approve)
        if case is None:
            return
        signer = f"{self.hitl.me.name}, key {key_id(self.hitl.key.public_key())}"

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._submit("approve")

        self.app.push_screen(ApproveDialog(case, signer=signer), callback=confirmed)

    def action_override(self) -> None:
        case = self._decidable(then=self.action_override)
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
        case = self._decidable(signs_now=False)  # the rationale can be written meanwhile
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
            app.note_failure(exc)
            self.post_message(self.DecisionFailed(action, exc))
            return
        app.note_success()
        self.post_message(self.Decided(decision))

    @on(Decided)
    def _decided(self, message: Decided) -> None:
        self.busy = False
        self.hitl.forget_case(self.case_id)
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
        self.notify(
            str(message.error),
            title=f"Not {VERB.get(message.action, message.action)}",
            severity="error",
        )
        if isinstance(message.error, Conflict | DigestMismatch):
            self.load_case()  # show what changed: a claim, a decision, new content
