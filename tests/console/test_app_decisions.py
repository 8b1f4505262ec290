"""Deciding from the console: approve, override, reject; and what happens when it fails.

The other kinds, the confirmation, drafts and 409s: test_app_decisions_kinds.py."""

from __future__ import annotations

import json

import httpx
import pytest
from textual.widgets import Input

from console.screens.approve_dialog import ApproveDialog
from console.screens.case import CaseScreen
from console.screens.confirm_dialog import ConfirmDialog
from console.screens.override_dialog import OverrideDialog
from console.screens.queue import QueueScreen
from console.screens.reject_dialog import RejectDialog
from console.widgets.queue_table import QueueTable
from store.signing import key_id
from tests.console.conftest import (
    ConsoleEnv,
    loaded_queue,
    open_case,
    record_notifications,
    screen_text,
    wait_until,
)

# Every key here goes over HTTP to a real uvicorn on loopback (tests/console/conftest.py).
pytestmark = pytest.mark.usefixtures("over_loopback")


async def _back_on_queue(pilot) -> QueueTable:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, QueueScreen))
    return pilot.app.screen.query_one(QueueTable)


async def _next_case(pilot, decided: int) -> CaseScreen:  # type: ignore[no-untyped-def]
    """After a decision the next case of the queue opens (triage flow)."""

    def showing_next() -> bool:
        screen = pilot.app.screen
        return isinstance(screen, CaseScreen) and screen.case_id != decided

    await wait_until(pilot, showing_next)
    screen = pilot.app.screen
    assert isinstance(screen, CaseScreen)
    return screen


async def test_approve_signs_and_the_backend_shows_the_case_decided(
    console_env: ConsoleEnv,
) -> None:
    """a, then y: the case is claimed, signed with the supervisor's key and decided; the
    console says so, the row leaves the queue and the next case opens."""
    app = console_env.app()
    assert app.client.base_url.startswith("http://127.0.0.1:")  # real HTTP, real uvicorn
    notices = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        second = list(table.items)[1]
        screen = await open_case(pilot)
        case_id = screen.case_id
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ApproveDialog))
        text = screen_text(app)
        assert f"Approve case #{case_id}?" in text
        assert key_id(console_env.key.public_key()) in text
        await pilot.press("y")
        after = await _next_case(pilot, case_id)
        assert after.case_id == second
        assert case_id not in table.items
        assert table.row_count == 11
    decided = console_env.case(case_id)
    assert decided.status == "decided"
    assert decided.decision is not None
    assert decided.decision.action == "approve"
    assert decided.decision.supervisor == "alice"
    assert decided.decision.key_id == key_id(console_env.key.public_key())
    assert decided.decision.resolved_action == decided.proposed_action
    assert notices[-1].title == "Decision recorded"
    assert f"Case #{case_id} approved by alice" in notices[-1].message


async def test_approve_dialog_esc_cancels(console_env: ConsoleEnv) -> None:
    """Escape in the approve dialog decides nothing."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ApproveDialog))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
    assert console_env.case(screen.case_id).status == "open"


async def test_override_picks_an_alternative_by_number(console_env: ConsoleEnv) -> None:
    """o lists the numbered alternatives; pressing 2 signs an override with the second."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        case = screen.case
        assert case is not None and len(case.alternatives) >= 2
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, OverrideDialog))
        text = screen_text(app)
        for n, alt in enumerate(case.alternatives, 1):
            assert f"{n}  {alt.action.name}(" in text
        await pilot.press("2")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))  # critical
        await pilot.press("y")
        await _next_case(pilot, case.id)
    decision = console_env.case(case.id).decision
    assert decision is not None
    assert decision.action == "override"
    assert decision.alternative_index == 1
    assert decision.resolved_action == case.alternatives[1].action


async def test_override_picks_with_arrows_and_enter(console_env: ConsoleEnv) -> None:
    """Arrows move through the alternatives, enter picks the highlighted one."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        case = screen.case
        assert case is not None and len(case.alternatives) >= 2
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, OverrideDialog))
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        await _next_case(pilot, case.id)
    decision = console_env.case(case.id).decision
    assert decision is not None and decision.alternative_index == 1


async def test_override_ignores_a_number_with_no_alternative(console_env: ConsoleEnv) -> None:
    """Pressing 9 when there are fewer alternatives warns and keeps the dialog open."""
    app = console_env.app()
    notices = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, OverrideDialog))
        await pilot.press("9")
        assert isinstance(app.screen, OverrideDialog)
        assert notices[-1].message == "There is no alternative 9."
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
    assert console_env.case(screen.case_id).status == "open"


async def test_reject_refuses_an_empty_rationale(console_env: ConsoleEnv) -> None:
    """r opens the rationale dialog; enter with nothing typed is refused with a reason."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectDialog))
        await pilot.press("enter")
        assert isinstance(app.screen, RejectDialog)
        assert "A rejection needs a rationale" in screen_text(app)
        await pilot.press("space", "space", "enter")
        assert isinstance(app.screen, RejectDialog)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
    assert console_env.case(screen.case_id).status == "open"


async def test_reject_with_a_rationale_records_it(console_env: ConsoleEnv) -> None:
    """Typed text (including q and ?, which are keys elsewhere) becomes the signed rationale."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        case_id = screen.case_id
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectDialog))
        await pilot.press(*"quota? no")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await _next_case(pilot, case_id)
    decision = console_env.case(case_id).decision
    assert decision is not None
    assert decision.action == "reject"
    assert decision.rationale == "quota? no"
    assert decision.resolved_action is None


async def test_reject_closed_with_esc_keeps_the_draft(console_env: ConsoleEnv) -> None:
    """Closing the reject dialog keeps what was typed for that case."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_case(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectDialog))
        await pilot.press(*"half a thought")
        await pilot.press("escape", "escape")
        table = await _back_on_queue(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CaseScreen))
        await wait_until(pilot, lambda: app.screen.case is not None)  # type: ignore[attr-defined]
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectDialog))
        assert app.screen.query_one(Input).value == "half a thought"
        assert table.row_count == 12


async def test_reject_failure_shows_the_error_and_keeps_the_rationale(
    console_env: ConsoleEnv,
) -> None:
    """When the backend cannot be reached, the error is shown, the case stays open, and
    reopening the dialog shows the typed rationale and the error; a retry then works."""
    flaky = console_env.flaky()
    app = console_env.app(flaky=flaky)
    notices = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        case_id = screen.case_id
        flaky.fail = lambda request: request.url.path.endswith("/decisions")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectDialog))
        await pilot.press(*"duplicate of an earlier case")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))  # critical
        await pilot.press("y")
        await wait_until(pilot, lambda: not screen.busy and app.screen is screen)
        await wait_until(pilot, lambda: "could not reject" in screen_text(app))
        assert notices[-1].title == "Not rejected"
        assert notices[-1].severity == "error"
        assert "cannot reach" in notices[-1].message
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectDialog))
        assert app.screen.query_one(Input).value == "duplicate of an earlier case"
        assert "last attempt failed: cannot reach" in screen_text(app)
        flaky.fail = lambda request: False
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await _next_case(pilot, case_id)
        assert not app.drafts
    decision = console_env.case(case_id).decision
    assert decision is not None and decision.rationale == "duplicate of an earlier case"


async def test_decision_on_a_case_claimed_by_someone_else_is_refused(
    console_env: ConsoleEnv,
) -> None:
    """If bob holds the claim, approving fails with a conflict shown on screen; the case
    reloads showing bob's claim."""
    _, bob_token = console_env.backend.add_supervisor(
        "bob", ["payments", "moderation", "data-pipeline"]
    )
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        console_env.claim_as(bob_token, screen.case_id)
        await pilot.press("a", "y")
        await wait_until(pilot, lambda: "could not approve" in screen_text(app))
        assert "bob" in screen_text(app)
        await wait_until(pilot, lambda: screen.case is not None and screen.case.claim is not None)
        assert "claimed by bob" in screen_text(app)
    assert console_env.case(screen.case_id).status == "open"


async def test_tampered_case_is_refused_before_signing(console_env: ConsoleEnv) -> None:
    """If what arrives does not hash to its digest, nothing is signed or sent."""
    inner = httpx.ASGITransport(app=console_env.backend.app)

    class Tamper(httpx.AsyncBaseTransport):
        sent: list[str] = []

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self.sent.append(f"{request.method} {request.url.path}")
            response = await inner.handle_async_request(request)
            path = request.url.path
            if request.method == "GET" and path.startswith("/v1/cases/") and path[10:].isdigit():
                body = json.loads(await response.aread())
                body["summary"] = "Nothing to see here"
                return httpx.Response(200, json=body)
            return response

    tamper = Tamper()
    app = console_env.app(flaky=tamper)  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        await pilot.press("a", "y")
        await wait_until(pilot, lambda: "does not match its digest" in screen_text(app))
    assert not any(s.endswith("/decisions") for s in tamper.sent)
    assert console_env.case(screen.case_id).status == "open"


async def test_decided_case_cannot_be_decided_again(console_env: ConsoleEnv) -> None:
    """A case decided elsewhere shows its decision; a, o and r only warn."""
    app = console_env.app()
    notices = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        first = table.current_case_id
        assert first is not None
        screen = await open_case(pilot)
        await pilot.press("a", "y")
        await _next_case(pilot, first)
        await pilot.press("escape")
        await _back_on_queue(pilot)
        app.push_screen(CaseScreen(first))
        await wait_until(pilot, lambda: isinstance(app.screen, CaseScreen))
        again = app.screen
        assert isinstance(again, CaseScreen)
        await wait_until(pilot, lambda: again.case is not None)
        # The decision line is painted after the case arrives: wait for it, don't race it.
        await wait_until(pilot, lambda: "approved by alice" in screen_text(app))
        for key in "aeoritds":
            await pilot.press(key)
            assert app.screen is again
            assert notices[-1].message == "This case is already decided."
        assert screen is not again
