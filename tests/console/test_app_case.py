"""The case screen: everything a supervisor needs to decide, readable at 80x24."""

from __future__ import annotations

from console.screens.case import CaseScreen
from console.widgets.case_view import CaseView
from tests.console.conftest import ConsoleEnv, open_case, screen_text, wait_until


async def _full_text(pilot, screen: CaseScreen) -> str:  # type: ignore[no-untyped-def]
    """Scroll the case body top to bottom and collect every line shown."""
    body = screen.query_one(CaseView)
    seen: list[str] = []
    body.scroll_home(animate=False)
    await pilot.pause()
    while True:
        seen.extend(screen_text(pilot.app).splitlines())
        if body.scroll_y >= body.max_scroll_y:
            break
        await pilot.press("pagedown")
        await pilot.pause()
    return "\n".join(seen)


async def test_case_shows_action_evidence_alternatives_and_confidence(
    console_env: ConsoleEnv,
) -> None:
    """All of the case is on screen once scrolled: action and args, context, reasoning,
    evidence with sources and policy refs, numbered alternatives, confidence bars, status."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        case = screen.case
        assert case is not None
        text = await _full_text(pilot, screen)
        for title in (
            "Proposed action",
            "Confidence",
            "Alternatives",
            "Evidence",
            "Reasoning",
            "Context",
            "Case",
        ):
            assert title in text, title
        assert case.proposed_action.name in text
        for key in case.proposed_action.args:
            assert key in text
        for item in case.evidence:
            assert item.title in text
            assert item.source[:40] in text
        assert any(ref[:30] in text for item in case.evidence for ref in item.policy_refs)
        for n, alt in enumerate(case.alternatives, 1):
            assert f"{n}  {alt.action.name}(" in text
        for crumb in case.reasoning:
            assert crumb.step in text
        for factor in case.confidence.factors:
            assert factor.name[:20] in text
        assert f"{case.confidence.reported:.2f}" in text
        assert "reported" in text and "calibrated" in text and "interval" in text
        assert "█" in text and "░" in text
        assert case.content_digest[:40] in text  # folded onto two lines at 80 columns
        assert "unclaimed: deciding claims it first" in text


async def test_case_j_k_scroll_the_body(console_env: ConsoleEnv) -> None:
    """j and k scroll a long case at 80x24."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        body = screen.query_one(CaseView)
        assert body.max_scroll_y > 0
        await pilot.press("j", "j", "j")
        await wait_until(pilot, lambda: body.scroll_y > 0)
        await pilot.press("k", "k", "k")
        await wait_until(pilot, lambda: body.scroll_y == 0)


async def test_case_header_counts_down_the_sla(console_env: ConsoleEnv) -> None:
    """The case title shows severity, domain and a live SLA countdown."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_case(pilot)
        case = screen.case
        assert case is not None
        header = screen_text(app).splitlines()[1]
        assert f"#{case.id}" in header and "CRIT" in header and case.domain in header
        assert "SLA" in header
        console_env.backend.clock.now = case.due_at
        await wait_until(pilot, lambda: "!! BREACHED" in screen_text(app).splitlines()[1])


async def test_case_not_visible_says_so(console_env: ConsoleEnv) -> None:
    """Opening a case that does not exist (or is in another group) shows an error line."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = CaseScreen(999_999)
        app.push_screen(screen)
        await wait_until(pilot, lambda: "not visible to you" in screen_text(app))
        await pilot.press("a")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, CaseScreen))


async def test_case_settled_by_its_fallback_reads_as_such(console_env: ConsoleEnv) -> None:
    """A case the SLA sweeper settled (a system `fallback` decision) opens and says so."""
    from datetime import timedelta

    from backend.services.fallbacks import sweep_once

    app = console_env.app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_case(pilot)
        case = screen.case
        assert case is not None
        console_env.backend.clock.now = case.due_at + timedelta(minutes=1)
        sweep_once(console_env.backend.state)
        await pilot.press("ctrl+r")
        await wait_until(
            pilot, lambda: screen.case is not None and screen.case.decision is not None
        )
        await pilot.pause()
        assert "settled by its fallback action" in " ".join(screen_text(app).split())
