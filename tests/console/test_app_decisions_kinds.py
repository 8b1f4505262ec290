"""Every kind of decision from the case screen, against the real backend (in-process).

Edit then approve, a custom override, request info, reassign, defer, raise severity,
claim and release; the rationale the policy requires; the confirmation on high and
critical cases; drafts kept through esc, a 409 and a network error; the triage flow.

The sample queue (``console_env``), most urgent first: rows 0-2 critical, 3 high, 4-7
medium, 8-11 low.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from backend.services.policies import push_policy
from console.config import ConsoleSettings
from console.decisions import build_decision, sign_decision
from console.screens.approve_dialog import ApproveDialog
from console.screens.case import CaseScreen
from console.screens.confirm_dialog import ConfirmDialog
from console.screens.custom_action_dialog import CustomActionDialog
from console.screens.defer_dialog import DeferDialog
from console.screens.edit_args_dialog import EditArgsDialog
from console.screens.override_dialog import OverrideDialog
from console.screens.question_dialog import QuestionDialog
from console.screens.queue import QueueScreen
from console.screens.rationale_dialog import RationaleDialog
from console.screens.reassign_dialog import ReassignDialog
from console.screens.severity_dialog import SeverityDialog
from store.contracts import ActionSpec
from store.signing import fingerprint, key_id
from tests.conftest import BackendEnv
from tests.console.conftest import (
    ConsoleEnv,
    loaded_queue,
    make_console_env,
    open_case,
    record_notifications,
    screen_text,
    wait_until,
)

# Every key here goes over HTTP to a real uvicorn on loopback (tests/console/conftest.py).
pytestmark = pytest.mark.usefixtures("over_loopback")

MEDIUM, LOW = 4, 8


async def _dialog(pilot: Pilot[Any], kind: type) -> Any:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, kind))
    await pilot.pause()
    return pilot.app.screen


async def _next_case(pilot: Pilot[Any], decided: int) -> CaseScreen:
    """After a decision the next case of the queue opens (triage flow)."""

    def showing_next() -> bool:
        screen = pilot.app.screen
        return isinstance(screen, CaseScreen) and screen.case_id != decided

    await wait_until(pilot, showing_next)
    screen = pilot.app.screen
    assert isinstance(screen, CaseScreen)
    await wait_until(pilot, lambda: screen.case is not None)
    return screen


def _flat(app: Any) -> str:
    """The screen's text with the dialog borders and line breaks taken out."""
    return " ".join(re.sub(r"[█▀▄│]", " ", screen_text(app)).split())


async def test_edit_then_approve_checks_the_arguments_before_signing(
    console_env: ConsoleEnv,
) -> None:
    """e opens the arguments as JSON; a parse error, a non-object, NaN, an integer JSON
    cannot carry exactly, or unchanged arguments are refused in the dialog and nothing is
    sent; valid edited arguments are confirmed, signed and run by the agent."""
    flaky = console_env.flaky()
    app = console_env.app(flaky=flaky)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot, row=MEDIUM + 1)
        case = screen.case
        assert case is not None and "amount" in case.proposed_action.args
        await pilot.press("e")
        dialog = await _dialog(pilot, EditArgsDialog)
        area = dialog.query_one(TextArea)
        assert area.has_focus
        assert '"amount":' in area.text
        original = area.text
        for text, error in [
            ("{", "not valid JSON at line 1, column 2"),
            ("[1, 2]", "must be a JSON object ({...}), not list"),
            ('{"amount": NaN}', "NaN is not JSON"),
            ('{"amount": 12345678901234567890}', "cannot be represented exactly"),
            (original, "The arguments are unchanged"),
        ]:
            area.load_text(text)
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, EditArgsDialog)
            assert error in _flat(app), text
        edited = {**case.proposed_action.args, "amount": 5.0}
        area.load_text(
            original.replace(f'"amount": {case.proposed_action.args["amount"]}', '"amount": 5.0')
        )
        await pilot.press("ctrl+s")
        await _dialog(pilot, ApproveDialog)
        assert not any(s.endswith("/decisions") for s in flaky.sent)
        shown = _flat(app)
        assert "approve, with edited arguments" in shown
        assert '"amount": 5.0' in shown
        await pilot.press("y")
        await _next_case(pilot, case.id)
    decision = console_env.case(case.id).decision
    assert decision is not None
    assert decision.action == "approve" and decision.args_edited
    assert decision.resolved_action == ActionSpec(name=case.proposed_action.name, args=edited)


async def test_override_with_a_custom_action_needs_a_name_json_and_a_rationale(
    console_env: ConsoleEnv,
) -> None:
    """o then c: an action of the supervisor's own. Each missing part is named in the
    dialog; complete, it is signed and becomes what the agent runs."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot, row=MEDIUM + 2)
        case_id = screen.case_id
        await pilot.press("o")
        await _dialog(pilot, OverrideDialog)
        await pilot.press("c")
        dialog = await _dialog(pilot, CustomActionDialog)
        await pilot.press("ctrl+s")
        assert "Name the action the agent should run." in _flat(app)
        await pilot.press(*"hold_for_review", "tab")
        area = dialog.query_one(TextArea)
        assert area.has_focus
        area.load_text('{"hours": 24')
        await pilot.press("ctrl+s")
        assert "not valid JSON at line 1" in _flat(app)
        area.load_text('{"hours": 24}')
        await pilot.press("ctrl+s")
        assert "needs a rationale" in _flat(app)
        assert dialog.query_one("#rationale", Input).has_focus
        await pilot.press(*"context shows a pattern", "enter")
        await _next_case(pilot, case_id)  # a medium case: no confirmation
    decision = console_env.case(case_id).decision
    assert decision is not None and decision.action == "override"
    assert decision.resolved_action == ActionSpec(name="hold_for_review", args={"hours": 24})
    assert decision.rationale == "context shows a pattern"


async def test_request_info_sends_the_question_and_the_case_waits(
    console_env: ConsoleEnv,
) -> None:
    """i asks the agent a question: signed, the case waits on the answer (out of the
    queue), the next case opens; reopened, the case says it is waiting and refuses keys."""
    app = console_env.app()
    notices = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot, row=MEDIUM)
        case_id = screen.case_id
        await pilot.press("i")
        await _dialog(pilot, QuestionDialog)
        await pilot.press("enter")
        assert "Type the question" in _flat(app)
        await pilot.press(*"Which region is this account in?", "enter")
        await _next_case(pilot, case_id)
        assert case_id not in app.screen_stack[0].query_one("#queue").items  # type: ignore[attr-defined]
        app.push_screen(CaseScreen(case_id))
        await wait_until(pilot, lambda: "waits on the agent's answer" in screen_text(app))
        await pilot.press("a")
        assert notices[-1].message == "This case waits on the agent's answer to a question."
    case = console_env.case(case_id)
    assert case.status == "info_requested"
    assert case.info_exchange[-1].question == "Which region is this account in?"
    assert case.info_exchange[-1].asked_by == "alice"


def _choice(app: Any, label: str) -> str:
    """The number the reassign dialog shows in front of ``label``."""
    found = re.search(rf"(\d) {re.escape(label)} ", _flat(app) + " ")
    assert found, f"{label} is not offered: {_flat(app)}"
    return found.group(1)


async def test_reassign_to_a_person_then_to_a_group(console_env: ConsoleEnv) -> None:
    """t lists the case group's members (from GET /v1/groups) and the other groups; a
    number picks, the rationale is asked for, enter signs. A person becomes the case's
    assignee; a group takes the case."""
    console_env.backend.add_supervisor("bob", ["moderation"])
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot, row=MEDIUM)  # moderation
        first = screen.case_id
        await pilot.press("t")
        dialog = await _dialog(pilot, ReassignDialog)
        await wait_until(pilot, lambda: dialog.groups is not None)
        await pilot.pause()
        assert "on call in moderation" in _flat(app)
        assert "alice" not in _flat(app).split("Reassign case")[1].split("on call:")[0]
        await pilot.press(_choice(app, "bob"))
        rationale = dialog.query_one("#rationale", Input)
        assert rationale.has_focus  # the pick waits for the required rationale
        await pilot.press(*"bob knows this account", "enter")
        second = await _next_case(pilot, first)
        second_id = second.case_id
        assert second.case is not None and second.case.group == "payments"
        await pilot.press("t")
        dialog = await _dialog(pilot, ReassignDialog)
        await wait_until(pilot, lambda: dialog.groups is not None)
        await pilot.pause()
        await pilot.press("tab", *"a data problem, not a refund", "shift+tab")
        await pilot.press(_choice(app, "group data-pipeline"))
        await _next_case(pilot, second_id)
    person = console_env.case(first)
    assert person.suggested_assignee == "bob" and person.status == "open"
    moved = console_env.case(second_id)
    assert moved.group == "data-pipeline" and moved.status == "open"


async def test_defer_asks_how_long_and_why(console_env: ConsoleEnv) -> None:
    """d takes a duration (30, 90m, 2h, 1d) and a reason; a duration it cannot read is
    refused on its field; the deferred case leaves the queue until then."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot, row=MEDIUM + 3)
        case_id = screen.case_id
        await pilot.press("d")
        dialog = await _dialog(pilot, DeferDialog)
        await pilot.press(*"soon", "enter")
        assert dialog.query_one("#rationale", Input).has_focus  # on to the next field
        await pilot.press(*"waiting on the upstream fix", "enter")
        assert "say for how long" in _flat(app)
        minutes = dialog.query_one("#minutes", Input)
        assert minutes.has_focus
        minutes.value = ""
        await pilot.press(*"2h", "enter")
        await _next_case(pilot, case_id)
    case = console_env.case(case_id)
    assert case.deferred_until is not None
    assert case.deferred_until == min(console_env.backend.clock() + timedelta(hours=2), case.due_at)
    assert case_id not in [item.id for item in console_env.queue()]


async def test_raise_severity_keeps_the_case_open_and_claimed(console_env: ConsoleEnv) -> None:
    """s lists the higher severities; a number signs the raise; the case stays on screen,
    now more severe, and the supervisor keeps the claim. A critical case cannot be raised."""
    app = console_env.app()
    notices = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot, row=LOW)
        case_id = screen.case_id
        await pilot.press("s")
        await _dialog(pilot, SeverityDialog)
        shown = _flat(app)
        assert "1 MED medium" in shown and "2 HIGH high" in shown and "3 CRIT critical" in shown
        await pilot.press("2")
        await wait_until(pilot, lambda: app.screen is screen and not screen.busy)
        await wait_until(pilot, lambda: screen.case is not None and screen.case.severity == "high")
        assert "raised in severity by alice" in _flat(app)
        assert "HIGH" in screen_text(app)
        assert notices[-1].title == "Decision recorded"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen))
        await open_case(pilot, row=0)  # critical
        await pilot.press("s")
        assert notices[-1].message == "This case is already critical."
    case = console_env.case(case_id)
    assert case.severity == "high" and case.status == "open"
    assert case.claim is not None and case.claim.supervisor == "alice"


async def test_claim_and_release_with_their_own_keys(console_env: ConsoleEnv) -> None:
    """c claims the case (the header says so), u releases it; u on a case you do not hold
    says so."""
    app = console_env.app()
    notices = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot, row=LOW + 1)
        case_id = screen.case_id
        await pilot.press("c")
        await wait_until(pilot, lambda: "claimed by you" in screen_text(app))
        assert f"You hold case #{case_id} until" in _flat(app)
        claim = console_env.case(case_id).claim
        assert claim is not None and claim.supervisor == "alice"
        await pilot.press("u")
        await wait_until(pilot, lambda: f"Released case #{case_id}" in _flat(app))
        await wait_until(pilot, lambda: screen.case is not None and screen.case.claim is None)
        assert console_env.case(case_id).claim is None
        await pilot.press("u")
        assert notices[-1].message == "You do not hold the claim on this case."


async def test_high_severity_confirmation_shows_what_is_signed(console_env: ConsoleEnv) -> None:
    """On a critical case every decision is confirmed: the kind, its details, the
    rationale, the case digest, the claim token and the key id and fingerprint. n signs
    nothing (the typed text stays); y signs exactly that."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        case = screen.case
        assert case is not None and case.severity == "critical"
        await pilot.press("d")
        await _dialog(pilot, DeferDialog)
        await pilot.press(*"30", "enter", *"the owner is paged", "enter")
        await _dialog(pilot, ConfirmDialog)
        shown = _flat(app)
        public = console_env.key.public_key()
        for part in (
            f"Sign this defer of case #{case.id}?",
            "CRIT case: check what you sign.",
            "decision defer",
            "for 30 min",
            "rationale the owner is paged",
            case.content_digest[:40],
            "claim token 1",
            "signed by alice",
            key_id(public),
            fingerprint(public),
        ):
            assert part in shown, part
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen and not screen.busy)
        assert "Nothing signed. You hold the claim until" in _flat(app)
        assert console_env.case(case.id).deferred_until is None
        await pilot.press("d")
        dialog = await _dialog(pilot, DeferDialog)
        assert dialog.query_one("#minutes", Input).value == "30"
        assert dialog.query_one("#rationale", Input).value == "the owner is paged"
        await pilot.press("enter")
        await _dialog(pilot, ConfirmDialog)
        await pilot.press("y")
        await _next_case(pilot, case.id)
    assert console_env.case(case.id).deferred_until is not None


async def test_conflict_shows_what_changed_and_keeps_the_typed_text(
    console_env: ConsoleEnv,
) -> None:
    """bob claims the case while alice types a question: sending it is refused (409); the
    screen names bob's claim, and i reopens the question as typed, with the reason. Then the
    case changes elsewhere (alice raises it from another terminal): the next attempt is
    refused and the screen says which fields changed."""
    _, bob_token = console_env.backend.add_supervisor("bob", ["moderation"])
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot, row=MEDIUM)
        case_id = screen.case_id
        await pilot.press("i")
        await _dialog(pilot, QuestionDialog)
        await pilot.press(*"Was this reported before?")
        console_env.claim_as(bob_token, case_id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Now: claimed by bob until" in _flat(app))
        shown = _flat(app)
        assert f"could not ask the agent about case #{case_id}: Claimed by someone else" in shown
        assert "what you typed is kept: press i" in shown
        await pilot.press("i")
        dialog = await _dialog(pilot, QuestionDialog)
        assert dialog.query_one(Input).value == "Was this reported before?"
        assert "last attempt failed: Claimed by someone else" in _flat(app)
        await pilot.press("escape")

        # bob lets go; the case is raised elsewhere while alice still shows the old copy.
        console_env.http.delete(
            f"/v1/cases/{case_id}/claim", headers={"Authorization": f"Bearer {bob_token}"}
        ).raise_for_status()
        other = console_env.backend.client()
        shown_case = screen.case
        assert shown_case is not None
        claim = await other.claim(case_id)
        fresh = await other.case(case_id)
        raise_it = build_decision(
            fresh,
            action="raise_severity",
            severity="high",
            claim_token=claim.token,
            supervisor_id=console_env.me.id,
            key=console_env.key,
            signed_at=console_env.backend.clock(),
        )
        await other.decide(case_id, sign_decision(raise_it, console_env.key))
        await pilot.press("i")
        await _dialog(pilot, QuestionDialog)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Now:" in _flat(app) and "Case changed" in _flat(app))
        assert "changed: severity medium → high, due at" in _flat(app)
        await pilot.press("i")
        dialog = await _dialog(pilot, QuestionDialog)
        assert dialog.query_one(Input).value == "Was this reported before?"
        await pilot.press("enter")  # the fresh copy is signed now
        await _dialog(pilot, ConfirmDialog)  # high now: confirmed
        await pilot.press("y")
        await _next_case(pilot, case_id)
    assert console_env.case(case_id).status == "info_requested"


async def test_network_error_keeps_the_edited_arguments(console_env: ConsoleEnv) -> None:
    """The backend goes away as an edited approval is sent: the banner says so, the case
    says what failed, and e reopens the editor with the edit and the error."""
    flaky = console_env.flaky()
    app = console_env.app(flaky=flaky)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_case(pilot, row=LOW)
        await pilot.press("e")
        dialog = await _dialog(pilot, EditArgsDialog)
        area = dialog.query_one(TextArea)
        edited = area.text.replace('"currency"', '"note": "by hand",\n  "currency"')
        area.load_text(edited)
        flaky.fail = lambda request: True
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "could not approve" in _flat(app))
        assert "OFFLINE" in screen_text(app) or "away" in _flat(app)
        assert "what you typed is kept: press e" in _flat(app)
        await pilot.press("e")
        dialog = await _dialog(pilot, EditArgsDialog)
        assert dialog.query_one(TextArea).text == edited
        assert "last attempt failed: cannot reach" in _flat(app)


async def test_every_dialog_closed_with_esc_keeps_its_draft(console_env: ConsoleEnv) -> None:
    """esc in each decision dialog signs nothing and keeps what was typed for that case
    and kind; opening it again shows it."""
    app = console_env.app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_case(pilot, row=MEDIUM)
        steps: list[tuple[tuple[str, ...], type, str, str]] = [
            (("i",), QuestionDialog, "question", "where from?"),
            (("d",), DeferDialog, "minutes", "45"),
            (("t",), ReassignDialog, "rationale", "needs a moderator"),
            (("s",), SeverityDialog, "rationale", "spreading fast"),
            (("o", "c"), CustomActionDialog, "name", "escalate_to_legal"),
        ]
        for keys, kind, field, text in steps:
            for _ in range(2):
                await pilot.press(*keys)
                dialog = await _dialog(pilot, kind)
                widget = dialog.query_one(f"#{field}", Input)
                if not widget.value:
                    widget.focus()
                    await pilot.press(*text)
                assert widget.value == text
                await pilot.press("escape")
                await wait_until(pilot, lambda: app.screen is screen)
        await pilot.press("e")
        dialog = await _dialog(pilot, EditArgsDialog)
        dialog.query_one(TextArea).load_text('{"a": 1}')
        await pilot.press("escape")
        await pilot.press("e")
        dialog = await _dialog(pilot, EditArgsDialog)
        assert dialog.query_one(TextArea).text == '{"a": 1}'
        await pilot.press("escape")
        await pilot.press("o")
        await _dialog(pilot, OverrideDialog)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        assert len(app.drafts) == 6
    case = console_env.case(screen.case_id)
    assert case.status == "open" and case.claim is None


async def test_after_decision_setting_can_go_back_to_the_queue(console_env: ConsoleEnv) -> None:
    """With after_decision = "queue" a decision returns to the queue instead of opening
    the next case."""
    settings = ConsoleSettings(url="http://hitl.test", after_decision="queue")
    app = console_env.app(settings=settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_case(pilot, row=LOW)
        await pilot.press("r", *"not needed", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen))
        table = await loaded_queue(pilot)
        assert table.row_count == 11


POLICY = """
id = "pay-why"
domains = ["payments"]
[[rules]]
name = "always-explain"
description = "Every decision says why"
when = "true"
outcome = "escalate"
severity = "medium"
require_rationale = true
"""


@pytest.fixture
def why_env(backend_env: BackendEnv) -> Iterator[ConsoleEnv]:
    """The sample cases, with a policy that requires a rationale on every payments case."""
    push_policy(backend_env.state.engine, source=POLICY, filename="why.toml", author="test")
    backend_env.state.triage.refresh(force=True)
    env = make_console_env(backend_env, 12)
    yield env
    env.http.close()


async def test_rationale_required_by_the_policy_is_asked_before_signing(
    why_env: ConsoleEnv,
) -> None:
    """On a case whose policy rule requires a rationale, a and o ask for it first (and
    refuse an empty one, naming the rule); the approval shows it before signing."""
    app = why_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        rows = [n for n, item in enumerate(table.items.values()) if item.domain == "payments"]
        screen = await open_case(pilot, row=rows[0])
        first = screen.case
        assert first is not None and first.rationale_required
        await pilot.press("a")
        await _dialog(pilot, RationaleDialog)
        await pilot.press("enter")
        assert "The policy rule always-explain requires a rationale" in _flat(app)
        await pilot.press(*"order history checks out", "escape")  # kept as a draft
        await wait_until(pilot, lambda: app.screen is screen)
        await pilot.press("a")
        dialog = await _dialog(pilot, RationaleDialog)
        assert dialog.query_one(Input).value == "order history checks out"
        await pilot.press("enter")
        await _dialog(pilot, ApproveDialog)
        assert "rationale order history checks out" in _flat(app)
        await pilot.press("y")
        await _next_case(pilot, first.id)
        table.move_cursor(row=rows[1] - 1)
        await pilot.press("escape")
        screen = await open_case(pilot, row=rows[1] - 1)
        second = screen.case
        assert second is not None and second.rationale_required
        await pilot.press("o", "1")
        await _dialog(pilot, RationaleDialog)
        await pilot.press(*"a partial refund is enough", "enter")
        await _next_case(pilot, second.id)  # medium: no confirmation
    approved = why_env.case(first.id).decision
    assert approved is not None and approved.rationale == "order history checks out"
    overridden = why_env.case(second.id).decision
    assert overridden is not None and overridden.alternative_index == 0
    assert overridden.rationale == "a partial refund is enough"


async def test_a_case_settled_by_its_fallback_takes_a_post_hoc_decision(
    console_env: ConsoleEnv,
) -> None:
    """After the SLA fallback settled a case, r still records a rejection (post hoc, for
    review: the case stays settled by its fallback); the step kinds only warn."""
    from backend.services.fallbacks import sweep_once

    app = console_env.app()
    notices = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot, row=LOW)
        case = screen.case
        assert case is not None
        console_env.backend.clock.now = case.due_at + timedelta(minutes=1)
        sweep_once(console_env.backend.state)
        await pilot.press("ctrl+r")
        await wait_until(
            pilot, lambda: screen.case is not None and screen.case.status == "fallback"
        )
        await pilot.press("d")
        assert notices[-1].message == "This case is already decided."
        await pilot.press("r", *"the fallback was too lenient", "enter")
        await _next_case(pilot, case.id)
    settled = console_env.case(case.id)
    assert settled.status == "fallback" and settled.flagged_for_review
    assert settled.post_hoc_decision is not None
    assert settled.post_hoc_decision.rationale == "the fallback was too lenient"


async def test_a_case_decided_elsewhere_says_by_whom_and_keeps_the_rationale(
    console_env: ConsoleEnv,
) -> None:
    """The case is approved from another terminal while a rejection is typed here: the
    409 names the decision made elsewhere, and the typed rationale stays with the case."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot, row=LOW + 2)
        case_id = screen.case_id
        await pilot.press("r", *"looks like a duplicate")
        other = console_env.backend.client()
        claim = await other.claim(case_id)
        approve = build_decision(
            await other.case(case_id),
            action="approve",
            claim_token=claim.token,
            supervisor_id=console_env.me.id,
            key=console_env.key,
            signed_at=console_env.backend.clock(),
        )
        await other.decide(case_id, sign_decision(approve, console_env.key))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "decided elsewhere: approve by alice" in _flat(app))
        assert "Already decided" in _flat(app)
        assert "status open → decided" in _flat(app)
        assert app.drafts.get(case_id, "reject") == {"rationale": "looks like a duplicate"}
