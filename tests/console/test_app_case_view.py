"""The case view's history timeline, related cases, folding breadcrumbs and redacted values,
against the real backend (in-process, real SQLite)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.segment import Segment
from textual.pilot import Pilot

from console.decisions import build_decision, sign_decision
from console.screens.case import CaseScreen
from console.screens.queue import QueueScreen
from console.widgets.case_view import CaseView
from store.contracts import Breadcrumb, EscalationCreate, EvidenceItem, InfoAnswer
from store.samples import sample_escalation
from tests.console.conftest import ConsoleEnv, screen_text, wait_until

EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"
IBAN = "GB82 WEST 1234 5698 7654 32"
#: Everything raw an agent sent that must never reach the screen.
RAW = (EMAIL, "jane.doe", PHONE, "7946 0958", CARD, "4111", IBAN, "GB82")


def _with_pii(n: int, *, trace: str) -> EscalationCreate:
    """A refund whose agent put personal data everywhere it could."""
    base = sample_escalation(0)
    return base.model_copy(
        update={
            "idempotency_key": f"pii-{n}",
            "trace_id": trace,
            "summary": f"Refund for {EMAIL}, who called from {PHONE}",
            "context": {**base.context, "email": EMAIL, "card": CARD, "iban": IBAN},
            "reasoning": [
                Breadcrumb(step="Read the ticket", detail=f"Customer {EMAIL} asks for a refund"),
                *base.reasoning,
            ],
            "evidence": [
                EvidenceItem(
                    title="Ticket",
                    content=f"From {EMAIL}, phone {PHONE}, paid with {CARD}",
                    source="helpdesk://tickets/1",
                ),
                *base.evidence,
            ],
        }
    )


async def _ask_and_answer(env: ConsoleEnv, case_id: int) -> None:
    """alice claims the case and asks the agent a question; the agent answers (with PII)."""
    client = env.backend.client()
    claim = await client.claim(case_id)
    case = await client.case(case_id)
    payload = build_decision(
        case,
        action="request_info",
        question="Which order is this about?",
        supervisor_id=env.me.id,
        key=env.key,
        claim_token=claim.token,
        signed_at=env.backend.clock(),
    )
    await client.decide(case_id, sign_decision(payload, env.key))
    agent = env.backend.client(env.backend.agent_token)
    await agent.answer_info(case_id, InfoAnswer(answer=f"Order ord_1, ring {PHONE}"))


async def _open(pilot: Pilot[Any], case_id: int) -> tuple[CaseScreen, CaseView]:
    app = pilot.app
    app.open_case(case_id, callback=lambda _: None)  # type: ignore[attr-defined]
    await wait_until(pilot, lambda: isinstance(app.screen, CaseScreen))
    screen = app.screen
    assert isinstance(screen, CaseScreen)
    await wait_until(pilot, lambda: bool(screen.query(CaseView)))
    view = screen.query_one(CaseView)
    await wait_until(
        pilot, lambda: screen.case is not None and screen.case.id == case_id and view.extras_loaded
    )
    await pilot.pause()
    return screen, view


def _placeholder_styles(view: CaseView) -> set[bool]:
    """Whether each rendered placeholder glyph is italic (set apart from the text)."""
    seen: set[bool] = set()
    for strip in view._lines:
        for segment in strip:
            if isinstance(segment, Segment) and "⟦" in segment.text:
                seen.add(bool(segment.style and segment.style.italic))
    return seen


async def test_case_view_history_related_breadcrumbs_and_no_pii(console_env: ConsoleEnv) -> None:
    """A supervisor opens a case whose agent sent personal data: it shows only typed
    placeholders, set apart; the history lists the claim, the question and the answer;
    related cases (same trace, same e-mail) are listed, open with enter and esc comes
    back; b folds and unfolds the breadcrumbs; h and l jump to history and related."""
    backend = console_env.backend
    case_id = backend.submit(_with_pii(1, trace="trace-pii")).id
    backend.clock.advance(60)
    same_trace = backend.submit(
        sample_escalation(1).model_copy(update={"idempotency_key": "tr-1", "trace_id": "trace-pii"})
    )
    backend.clock.advance(60)
    same_mail = backend.submit(_with_pii(2, trace="trace-other")).id
    await _ask_and_answer(console_env, case_id)

    app = console_env.app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen, view = await _open(pilot, case_id)
        text = view.text + screen_text(app)
        for raw in RAW:
            assert raw not in text, raw
        assert "⟦email:" in text and "⟦phone:" in text and "⟦card:" in text
        assert _placeholder_styles(view) == {True}

        # History: created, claimed, the question and the agent's answer.
        history = text[text.index("History") :]
        assert "created" in history and "by agent refund-bot" in history
        assert "claimed" in history and "by alice" in history
        assert "info requested" in history and "Which order is this about?" in history
        assert "info answered" in history and "⟦phone:" in history
        await pilot.press("h")
        assert view.scroll_y == min(view.section_line("history"), view.max_scroll_y)
        assert "info requested" in screen_text(app)

        # Related: the same trace, the same e-mail (as its placeholder), the same agent.
        related = text[text.index("Related cases") :]
        assert "same trace  trace-pii" in related and f"#{same_trace.id}" in related
        assert "same values  ⟦card:" in related and f"#{same_mail}" in related  # card, e-mail…
        assert "same agent  refund-bot" in related
        await pilot.press("l")
        assert view.related_cursor == 0
        first = view.selected_related
        assert first is not None and f"▶ #{first}" in screen_text(app)
        await pilot.press("j")
        assert view.related_cursor == 1 and view.selected_related != first
        await pilot.press("k", "enter")
        await wait_until(pilot, lambda: screen.case is not None and screen.case.id == first)
        await wait_until(pilot, lambda: view.extras_loaded)
        assert f"Opened from #{case_id}" in screen_text(app)
        await pilot.press("escape")  # back to the case it was opened from
        await wait_until(pilot, lambda: screen.case is not None and screen.case.id == case_id)

        # Breadcrumbs fold to one line each and unfold, and stay so for the next case.
        view.scroll_home(animate=False)
        step = screen.case.reasoning[1].step
        assert step in view.text
        await pilot.press("b")
        folded = view.text
        assert step not in folded
        assert f"▸ Reasoning: {len(screen.case.reasoning)} steps" in folded
        assert "▸ Context:" in folded
        await pilot.press("b")
        assert step in view.text

        # A fallback shows in the history once the case is fetched again.
        backend.clock.now = screen.case.due_at + timedelta(minutes=1)
        from backend.services.fallbacks import sweep_once

        sweep_once(backend.state)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "fallback" in view.text[view.text.index("History") :])
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen))


async def test_case_view_history_and_related_wait_for_the_case(console_env: ConsoleEnv) -> None:
    """Opening a case paints it first: the history and related cases arrive afterwards,
    and a backend that cannot give them leaves the case readable with a note."""
    flaky = console_env.flaky()
    flaky.fail = lambda request: request.url.path.endswith(("/audit", "/related"))
    app = console_env.app(flaky=flaky)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        case_id = console_env.queue()[0].id
        screen, view = await _open(pilot, case_id)
        sent = [s for s in flaky.sent if f"/v1/cases/{case_id}" in s]
        assert sent[0] == f"GET /v1/cases/{case_id}"  # the case itself first
        assert "History not loaded" in view.text and "Related cases not loaded" in view.text
        assert screen.case is not None and screen.case.summary[:30] in screen_text(app)
