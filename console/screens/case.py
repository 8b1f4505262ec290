"""One case, everything about it, and a key per kind of decision.

a approve, e edit the arguments then approve, o override (an alternative, or c for an
action of your own), r reject, i ask the agent, t reassign, d defer, s raise the severity;
c claims the case, u releases it. Each opens its dialog (``console/screens/*_dialog.py``);
every decision then goes through one worker, :meth:`CaseScreen.decide`: claim, build
(:mod:`console.decisions`), confirm where needed (showing exactly what is signed), sign,
send. Failures are shown here and in a notification; what was typed is kept per case and
kind (``HitlApp.drafts``) so nothing is lost, and a 409 shows what changed.

The app keeps one case screen and shows each case in it (:meth:`CaseScreen.open`):
composing and styling the screen's widgets costs more than filling them, and opening a
case is the console's most frequent step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

from pydantic import ValidationError
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from console.decisions import (
    DecisionRequest,
    DigestMismatch,
    InvalidDecision,
    build_decision,
    higher_severities,
    needs_confirmation,
    needs_rationale,
    sign_decision,
    what_changed,
)
from console.errors import ApiError, BackendUnreachable, Conflict, ConsoleError, NotFound
from console.offline import KeptClaim, SavedDecision
from console.screens.approve_dialog import ApproveDialog
from console.screens.confirm_dialog import ConfirmDialog
from console.screens.custom_action_dialog import CustomActionDialog
from console.screens.decision_dialog import DialogResult, RationaleMode
from console.screens.defer_dialog import DeferDialog
from console.screens.edit_args_dialog import EditArgsDialog
from console.screens.override_dialog import CUSTOM, OverrideDialog
from console.screens.question_dialog import QuestionDialog
from console.screens.rationale_dialog import RationaleDialog
from console.screens.reassign_dialog import ReassignDialog
from console.screens.reject_dialog import RejectDialog
from console.screens.severity_dialog import SeverityDialog
from console.widgets.banner import Banner
from console.widgets.case_view import VERB, CaseHeader, CaseView, decision_line
from console.widgets.identity_bar import IdentityBar
from console.widgets.key_bar import KeyBar
from console.widgets.markers import sla_label
from store.contracts import (
    CaseAuditEvent,
    CasePublic,
    ClaimPublic,
    DecisionKind,
    DecisionPublic,
    RelatedCases,
)
from store.signing import fingerprint

if TYPE_CHECKING:
    from console.app import HitlApp

__all__ = ["CaseScreen"]

T = TypeVar("T")


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
            "e",
            "edit",
            "Edit",
            id="case.edit",
            tooltip="Edit the proposed action's arguments (JSON), then sign the approval",
        ),
        Binding(
            "o",
            "override",
            "Override",
            id="case.override",
            tooltip="Sign an override: one of the agent's alternatives (1-9) or your own (c)",
        ),
        Binding(
            "r",
            "reject",
            "Reject",
            id="case.reject",
            tooltip="Sign a rejection with a rationale (the agent does nothing)",
        ),
        Binding(
            "i",
            "ask",
            "Ask",
            id="case.ask",
            tooltip="Request info: sign a question to the agent; the case waits for the answer",
        ),
        Binding(
            "t",
            "reassign",
            "Reassign",
            id="case.reassign",
            tooltip="Reassign to a person of the case's group or to another group, with a reason",
        ),
        Binding(
            "d",
            "defer",
            "Defer",
            id="case.defer",
            tooltip="Defer: out of the queue for a while (never past its due time), with a reason",
        ),
        Binding(
            "s",
            "raise_severity",
            "Raise severity",
            show=False,
            id="case.raise",
            tooltip="Raise the severity (due sooner); you keep the claim",
        ),
        Binding(
            "c",
            "claim",
            "Claim",
            show=False,
            id="case.claim",
            tooltip="Claim the case: others cannot decide it while you hold it",
        ),
        Binding(
            "u",
            "release",
            "Release",
            show=False,
            id="case.release",
            tooltip="Release your claim, so anyone in the group can take the case at once",
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
    class ExtrasLoaded(Message):
        """The history and related cases of a case (each, or why it could not be had)."""

        case_id: int
        history: list[CaseAuditEvent] | ConsoleError
        related: RelatedCases | ConsoleError

    @dataclass
    class Decided(Message):
        decision: DecisionPublic

    @dataclass
    class DecisionFailed(Message):
        action: DecisionKind
        error: ConsoleError
        #: The drafts key of what was typed for this decision ("" if nothing).
        draft: str = ""

    @dataclass
    class NotSigned(Message):
        """The supervisor cancelled at the confirmation: nothing was signed."""

        action: DecisionKind
        claim: ClaimPublic | None

    @dataclass
    class ClaimChanged(Message):
        case_id: int
        claim: ClaimPublic | None

    @dataclass
    class ClaimFailed(Message):
        case_id: int
        release: bool
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
        #: After a 409: (what was said, the draft note, the case as it was shown).
        self._conflict: tuple[str, str, CasePublic | None] | None = None
        #: Cases this one was reached from through related cases (esc goes back).
        self._trail: list[int] = []
        #: What the history and related cases shown were fetched for.
        self._extras_key: tuple[object, ...] | None = None

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
        self._cached, self._sla, self._conflict = cached, None, None
        self._trail = []
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
            if isinstance(exc, BackendUnreachable):  # show the copy kept on this machine
                kept = await self.hitl.kept_case(case_id)
                if kept is not None:
                    self.post_message(self.Loaded(kept))
            self.post_message(self.LoadFailed(case_id, exc))
            return
        self.hitl.note_success()
        self.post_message(self.Loaded(case))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.hitl.remember_case(message.case)
        if message.case.id != self.case_id:
            return  # an answer for the case shown before
        conflict = self._conflict_note(message.case)
        if message.case != self.case:
            self._show(message.case)
        else:  # the history and related cases may still be missing or stale
            self._want_extras(message.case)
        if conflict is not None:
            self._say(conflict, error=True)
        elif message.case.decision is not None:
            self._say(f"This case was {decision_line(message.case.decision)}.")
        elif message.case.status == "info_requested":
            self._say("This case waits on the agent's answer to a question.")
        elif self._message.startswith("error: Could not load"):
            self._say("")

    def _show(self, case: CasePublic) -> None:
        self.case = case
        now, me = self.hitl.clock(), self.hitl.me.id
        self._sla = sla_label(case.due_at, case.created_at, now)
        self.query_one(CaseHeader).show(case, now=now, me_id=me)
        self.query_one(CaseView).show(case, now=now, me_id=me)
        self._want_extras(case)

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
        self._extras_key = None  # fetch the history and related cases again too
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

    # -- history and related cases ----------------------------------------------------

    def _want_extras(self, case: CasePublic) -> None:
        """Fetch the history and related cases once the case is painted, again when the
        case changed (a claim, a question, a decision) or they could not be had."""
        key = (case.id, case.status, case.content_digest, case.claim, case.decision)
        view = self.query_one(CaseView)
        if key == self._extras_key and view.history_error is None and view.related_error is None:
            return
        self._extras_key = key
        self.call_after_refresh(self.load_extras, case.id)

    @work(exclusive=True, group="case-extras")
    async def load_extras(self, case_id: int) -> None:
        client = self.hitl.client

        async def fetch(call: Awaitable[T]) -> T | ConsoleError:
            try:
                return await call
            except ConsoleError as exc:
                return exc

        history, related = await asyncio.gather(
            fetch(client.case_audit(case_id)), fetch(client.related(case_id))
        )
        for result in (history, related):  # the connection state follows every request
            if isinstance(result, ConsoleError):
                self.hitl.note_failure(result)
            else:
                self.hitl.note_success()
        self.post_message(self.ExtrasLoaded(case_id, history, related))

    @on(ExtrasLoaded)
    def _extras_loaded(self, message: ExtrasLoaded) -> None:
        view = self.query_one(CaseView)
        if isinstance(message.history, ConsoleError):
            view.show_history(message.case_id, None, str(message.history))
        else:
            view.show_history(message.case_id, message.history)
        if isinstance(message.related, ConsoleError):
            view.show_related(message.case_id, None, str(message.related))
        else:
            view.show_related(message.case_id, message.related)

    @on(CaseView.OpenRelated)
    def _open_related(self, message: CaseView.OpenRelated) -> None:
        if self.busy:
            self.notify("A decision is on its way; wait for the answer.", severity="warning")
            return
        trail = [*self._trail, self.case_id]
        self._switch_to(message.case_id, trail)
        self._say(f"Opened from #{trail[-1]} (related): esc goes back to it.")

    def _switch_to(self, case_id: int, trail: list[int]) -> None:
        self.open(case_id, cached=self.hitl.case_cache.get(case_id))
        self._trail = trail

    # -- navigation -------------------------------------------------------------------

    def action_back(self) -> None:
        if self.busy:
            self.notify("A decision is on its way; wait for the answer.", severity="warning")
            return
        if self._trail:  # back to the case the related one was opened from
            self._switch_to(self._trail[-1], self._trail[:-1])
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
        self,
        *,
        then: Callable[[], None] | None = None,
        signs_now: bool = True,
        final: bool = False,
    ) -> CasePublic | None:
        """The case, if a decision can start; else say why. ``signs_now``: the next step
        needs the signing key; while it is being unlocked, ``then`` runs once it is (the
        key press is not lost), if this case is still on screen. ``final``: approve,
        override or reject, which a case settled by its fallback still takes (post hoc)."""
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
        if case.status == "fallback" and final and case.post_hoc_decision is None:
            return case  # recorded post hoc, for review
        if case.status == "info_requested":
            self.notify("This case waits on the agent's answer to a question.", severity="warning")
            return None
        if case.status != "open":
            self.notify("This case is already decided.", severity="warning")
            return None
        return case

    def _ask(
        self,
        case: CasePublic,
        kind: str,
        make: Callable[[dict[str, str], str | None], ModalScreen[DialogResult]],
        then: Callable[[DecisionRequest], None] | None = None,
    ) -> None:
        """Open a decision dialog with the case's draft for ``kind``; keep what is typed;
        sign what it returns (or hand it to ``then``)."""
        drafts, case_id = self.hitl.drafts, case.id

        def closed(result: DialogResult | None) -> None:
            if result is None:
                return
            drafts.keep(case_id, kind, result.values)
            if result.request is not None and self.case_id == case_id:
                if then is not None:
                    then(result.request)
                else:
                    self._submit(result.request, draft=kind)

        self.app.push_screen(
            make(drafts.get(case_id, kind), drafts.error(case_id, kind)), callback=closed
        )

    def _with_rationale(self, case: CasePublic, request: DecisionRequest) -> None:
        """Sign ``request``, asking first for the rationale the policy rule requires."""
        if not needs_rationale(case, request.action) or request.rationale:
            self._submit(request, draft=request.action)
            return
        self._ask(
            case,
            request.action,
            lambda draft, error: RationaleDialog(case, request, draft=draft, error=error),
        )

    def action_approve(self) -> None:
        case = self._decidable(then=self.action_approve, final=True)
        if case is not None:
            self._with_rationale(case, DecisionRequest("approve"))

    def action_edit(self) -> None:
        case = self._decidable(signs_now=False, final=True)  # the edit can be made meanwhile
        if case is None:
            return
        mode: RationaleMode = "required" if needs_rationale(case, "approve") else "none"
        self._ask(
            case,
            EditArgsDialog.KIND,
            lambda draft, error: EditArgsDialog(case, draft=draft, error=error, rationale=mode),
        )

    def action_override(self) -> None:
        case = self._decidable(then=self.action_override, final=True)
        if case is None:
            return

        def picked(index: int | None) -> None:
            if index is None or self.case_id != case.id:
                return
            if index == CUSTOM:
                self._ask(
                    case,
                    CustomActionDialog.KIND,
                    lambda draft, error: CustomActionDialog(case, draft=draft, error=error),
                )
            else:
                self._with_rationale(case, DecisionRequest("override", alternative_index=index))

        self.app.push_screen(OverrideDialog(case), callback=picked)

    def action_reject(self) -> None:
        case = self._decidable(signs_now=False, final=True)  # the rationale can be typed meanwhile
        if case is not None:
            self._ask(
                case,
                RejectDialog.KIND,
                lambda draft, error: RejectDialog(case, draft=draft, error=error),
            )

    def action_ask(self) -> None:
        case = self._decidable(signs_now=False)
        if case is not None:
            self._ask(
                case,
                QuestionDialog.KIND,
                lambda draft, error: QuestionDialog(case, draft=draft, error=error),
            )

    def action_reassign(self) -> None:
        case = self._decidable(signs_now=False)
        if case is not None:
            me = self.hitl.me.name
            self._ask(
                case,
                ReassignDialog.KIND,
                lambda draft, error: ReassignDialog(case, me=me, draft=draft, error=error),
            )

    def action_defer(self) -> None:
        case = self._decidable(signs_now=False)
        if case is not None:
            self._ask(
                case,
                DeferDialog.KIND,
                lambda draft, error: DeferDialog(case, draft=draft, error=error),
            )

    def action_raise_severity(self) -> None:
        case = self._decidable(signs_now=False)
        if case is None:
            return
        if not higher_severities(case):
            self.notify("This case is already critical.", severity="warning")
            return
        self._ask(
            case,
            SeverityDialog.KIND,
            lambda draft, error: SeverityDialog(
                case, draft=draft, error=error, rationale="optional"
            ),
        )

    def _submit(self, request: DecisionRequest, *, draft: str) -> None:
        self.busy = True
        self._say(f"claiming, signing and sending: {request.action}…")
        self.decide(request, draft)

    @work(exclusive=True, group="decision")
    async def decide(self, request: DecisionRequest, draft: str = "") -> None:
        """The one way a decision is made: claim (or renew the claim), build, confirm where
        needed (showing exactly the payload), sign, send. ``draft``: the drafts key of what
        the supervisor typed, kept if this fails."""
        app, case = self.hitl, self.case
        assert case is not None
        try:
            # Claim (or renew your claim) first: a decision is made under its token. A case
            # its fallback settled cannot be claimed; a post-hoc decision signs its token.
            claim = await app.client.claim(case.id) if case.status == "open" else None
            try:
                payload = build_decision(
                    case,
                    claim_token=claim.token if claim is not None else case.claim_token,
                    supervisor_id=app.me.id,
                    key=app.key,
                    signed_at=app.clock(),
                    **request.details(),
                )
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
                raise InvalidDecision(f"not a valid {request.action}: {reason}") from exc
            if needs_confirmation(case, request.action):
                key = app.key.public_key()
                dialog_class = ApproveDialog if request.action == "approve" else ConfirmDialog
                dialog = dialog_class(
                    case, payload, signer=app.me.name, fingerprint=fingerprint(key)
                )
                if not await app.push_screen_wait(dialog):
                    self.post_message(self.NotSigned(request.action, claim))
                    return
            decision = await app.client.decide(case.id, sign_decision(payload, app.key))
        except ConsoleError as exc:
            app.note_failure(exc)
            self.post_message(self.DecisionFailed(request.action, exc, draft))
            return
        if not isinstance(decision, SavedDecision):  # saved offline: the backend is still away
            app.note_success()
        self.post_message(self.Decided(decision))

    @on(NotSigned)
    def _not_signed(self, message: NotSigned) -> None:
        self.busy = False
        if message.claim is None:
            self._say("Nothing signed.")
            return
        until = f"{message.claim.expires_at:%H:%M:%S} UTC"
        self._say(f"Nothing signed. You hold the claim until {until} (u releases it).")
        self.load_case()

    @on(Decided)
    def _decided(self, message: Decided) -> None:
        self.busy = False
        decision = message.decision
        self.hitl.forget_case(self.case_id)
        if decision.action == "raise_severity" and not isinstance(decision, SavedDecision):
            # The case stays open and claimed by you: keep working on it.
            self.hitl.drafts.keep(self.case_id, SeverityDialog.KIND, {})
            self._say(f"Case #{self.case_id} {decision_line(decision)}; you keep the claim.")
            self.notify(
                f"Case #{self.case_id} {decision_line(decision)}", title="Decision recorded"
            )
            self.load_case()
            return
        self.hitl.drafts.clear(self.case_id)
        self.dismiss(decision)

    @on(DecisionFailed)
    def _decision_failed(self, message: DecisionFailed) -> None:
        self.busy = False
        error = message.error
        verb = _VERB_NOW.get(message.action, message.action)
        drafts = self.hitl.drafts
        conflict = isinstance(error, Conflict | DigestMismatch)
        shown = error.title if isinstance(error, ApiError) and conflict else str(error)
        text = f"could not {verb} case #{self.case_id}: {shown}"
        kept = ""
        if message.draft:
            drafts.failed(self.case_id, message.draft, str(error))
            if drafts.get(self.case_id, message.draft):
                what = "your rationale" if message.draft == "reject" else "what you typed"
                kept = f" ({what} is kept: press {self._key_for(message.draft)})"
        self._say(text + kept, error=True)
        self.notify(
            str(error),
            title=f"Not {VERB.get(message.action, message.action)}",
            severity="error",
        )
        if conflict:
            # Show what changed: a claim, a decision made elsewhere, new content.
            self._conflict = (text, kept, self.case)
            self.load_case()

    def _key_for(self, draft: str) -> str:
        """The key that reopens the dialog of ``draft`` (after the keymap)."""
        binding_id = _DRAFT_BINDING.get(draft, "")
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.id == binding_id:
                keys = self.hitl.keys_for(binding)
                return keys + (", then c" if draft == CustomActionDialog.KIND else "")
        return "its key"

    def _conflict_note(self, case: CasePublic) -> str | None:
        """After a 409: the error, then what is different in ``case`` (the fresh copy)."""
        if self._conflict is None:
            return None
        text, kept, before = self._conflict
        self._conflict = None
        if before is None or before.id != case.id:
            return None
        changes = what_changed(before, case, me_id=self.hitl.me.id)
        return f"{text}. Now: {'; '.join(changes) or 'nothing visible changed'}{kept}"

    # -- claiming -----------------------------------------------------------------------

    def action_claim(self) -> None:
        if self._claimable() is not None:
            self._say(f"claiming case #{self.case_id}…")
            self.change_claim(self.case_id, release=False)

    def action_release(self) -> None:
        case = self._claimable()
        if case is None:
            return
        if case.claim is None or case.claim.supervisor_id != self.hitl.me.id:
            self.notify("You do not hold the claim on this case.", severity="warning")
            return
        self._say(f"releasing case #{self.case_id}…")
        self.change_claim(self.case_id, release=True)

    def _claimable(self) -> CasePublic | None:
        case = self.case
        if case is None:
            self.notify("The case is still loading.", severity="warning")
        elif self.busy:
            self.notify("A decision is on its way; wait for the answer.", severity="warning")
            return None
        return case

    @work(exclusive=True, group="claim")
    async def change_claim(self, case_id: int, release: bool) -> None:
        client = self.hitl.client
        try:
            if release:
                await client.release_claim(case_id)
                claim = None
            else:
                claim = await client.claim(case_id)
        except ConsoleError as exc:
            self.hitl.note_failure(exc)
            self.post_message(self.ClaimFailed(case_id, release, exc))
            return
        if not isinstance(claim, KeptClaim):  # a claim kept here: the backend is still away
            self.hitl.note_success()
        self.post_message(self.ClaimChanged(case_id, claim))

    @on(ClaimChanged)
    def _claim_changed(self, message: ClaimChanged) -> None:
        self.hitl.forget_case(message.case_id)
        if message.case_id != self.case_id:
            return
        claim = message.claim
        if claim is None:
            self._say(f"Released case #{self.case_id}: anyone in {self._group} can take it.")
        else:
            until = f"{claim.expires_at:%H:%M:%S} UTC"
            self._say(f"You hold case #{self.case_id} until {until} (claim token {claim.token}).")
        self.load_case()

    @property
    def _group(self) -> str:
        return self.case.group if self.case is not None else "its group"

    @on(ClaimFailed)
    def _claim_failed(self, message: ClaimFailed) -> None:
        if message.case_id != self.case_id:
            return
        verb = "release" if message.release else "claim"
        self._say(f"could not {verb} case #{self.case_id}: {message.error}", error=True)
        if isinstance(message.error, Conflict):
            self.load_case()


#: "could not … case #12"
_VERB_NOW = {"request_info": "ask the agent about", "raise_severity": "raise the severity of"}

#: Which case binding reopens the dialog of each kind of draft.
_DRAFT_BINDING = {
    "approve": "case.approve",
    "override": "case.override",
    "reject": "case.reject",
    "approve_edited": "case.edit",
    "override_custom": "case.override",
    "request_info": "case.ask",
    "reassign": "case.reassign",
    "defer": "case.defer",
    "raise_severity": "case.raise",
}
