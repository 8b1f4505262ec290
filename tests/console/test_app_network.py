"""When the backend goes away: a banner says so, the console retries with backoff in a
worker (the keyboard keeps working), nothing typed is lost, and all resumes on return."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from console.connection import Backoff
from console.screens.confirm_dialog import ConfirmDialog
from console.screens.queue import QueueScreen
from console.screens.reject_dialog import RejectDialog
from console.widgets.banner import Banner
from console.widgets.queue_summary import QueueSummary
from store.samples import sample_escalation
from tests.console.conftest import (
    ConsoleEnv,
    loaded_queue,
    open_case,
    screen_text,
    wait_until,
)


def _banner(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one(Banner).text)


def _flat(app) -> str:  # type: ignore[no-untyped-def]
    """The screen's text with wrapped lines joined (messages wrap at 100 columns)."""
    return " ".join(line.strip() for line in screen_text(app).splitlines())


async def test_backend_away_shows_a_banner_and_retries_with_backoff(
    console_env: ConsoleEnv,
) -> None:
    """The backend stops answering: the queue says OFFLINE in its header and a banner with
    the reason and the countdown to the next attempt; attempts space out (0.1, 0.2, 0.4 s);
    when it answers again the banner goes, the header says live and new cases show up."""
    flaky = console_env.flaky()
    app = console_env.app(flaky=flaky, backoff=Backoff(first=0.1, cap=0.4, jitter=0))
    async with app.run_test(size=(100, 30)) as pilot:
        table = await loaded_queue(pilot)
        await wait_until(pilot, lambda: "● live" in screen_text(app))
        flaky.fail = lambda request: True
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.connection.online)
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "✕ OFFLINE" in text
        assert "OFFLINE: cannot reach http://hitl.test" in _flat(app) and "retrying in" in text
        await wait_until(pilot, lambda: app.connection.attempts >= 3, within=5)
        health = [s for s in flaky.sent if s == "GET /healthz"]
        assert len(health) >= 3
        console_env.backend.submit(sample_escalation(100))
        flaky.fail = lambda request: False
        await wait_until(pilot, lambda: app.connection.online, within=5)
        await wait_until(pilot, lambda: table.row_count == 13)
        await pilot.pause()
        assert not app.screen.query_one(Banner).has_class("-shown")
        await wait_until(pilot, lambda: "● live" in screen_text(app))


async def test_backoff_doubles_up_to_a_cap_with_jitter() -> None:
    """Retries wait 1, 2, 4… seconds up to 30, each +-20%, so consoles do not retry in step."""
    backoff = Backoff()
    delays = [backoff.delay() for _ in range(8)]
    for delay, base in zip(delays, [1, 2, 4, 8, 16, 30, 30, 30], strict=True):
        assert 0.8 * base <= delay <= 1.2 * base
    backoff.reset()
    assert backoff.delay() <= 1.2


async def test_a_slow_backend_never_blocks_the_keyboard(console_env: ConsoleEnv) -> None:
    """While a reload waits on a slow backend (in a worker), j and k still move at once."""
    flaky = console_env.flaky()
    app = console_env.app(flaky=flaky)
    async with app.run_test(size=(100, 30)) as pilot:
        table = await loaded_queue(pilot)
        flaky.delay = 2.0
        await pilot.press("ctrl+r")
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await wait_until(pilot, lambda: screen.fetching)
        started = asyncio.get_running_loop().time()
        await pilot.press("j", "j", "j")
        assert table.cursor_row == 3
        assert asyncio.get_running_loop().time() - started < 1.0
        assert screen.fetching  # the reload is still waiting


async def test_a_backend_that_times_out_counts_as_away(console_env: ConsoleEnv) -> None:
    """A request that gets no answer in time is reported as such, with the same banner."""
    flaky = console_env.flaky()
    app = console_env.app(flaky=flaky, backoff=Backoff(first=5, cap=5, jitter=0))
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded_queue(pilot)
        flaky.hang = True
        flaky.fail = lambda request: True
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "did not answer in time" in _banner(app))


async def test_typed_rationale_survives_the_backend_going_away(console_env: ConsoleEnv) -> None:
    """A rejection typed while the backend is away fails to send and is kept: r reopens it
    with the text; once the backend answers, enter sends it."""
    flaky = console_env.flaky()
    app = console_env.app(flaky=flaky, backoff=Backoff(first=0.1, cap=0.2, jitter=0))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_case(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectDialog))
        flaky.fail = lambda request: True  # the backend goes away while typing
        await pilot.press(*"refund already issued by hand")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.connection.online)
        await wait_until(pilot, lambda: app.screen is screen and not screen.busy)
        assert "your rationale is kept" in _flat(app)
        assert "OFFLINE" in _flat(app)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectDialog))
        assert app.screen.query_one(Input).value == "refund already issued by hand"
        flaky.fail = lambda request: False
        await wait_until(pilot, lambda: app.connection.online, within=5)
        assert app.screen.query_one(Input).value == "refund already issued by hand"
        case_id = screen.case_id
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))  # critical
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.case_id != case_id)  # the next case opens
    decided = console_env.case(case_id)
    assert decided.decision is not None
    assert decided.decision.rationale == "refund already issued by hand"


async def test_a_case_read_before_stays_readable_while_away(console_env: ConsoleEnv) -> None:
    """A case fetched while the cursor rested on it opens even with the backend away,
    marked as the copy loaded before."""
    flaky = console_env.flaky()
    app = console_env.app(flaky=flaky, backoff=Backoff(first=5, cap=5, jitter=0))
    async with app.run_test(size=(100, 30)) as pilot:
        table = await loaded_queue(pilot)
        await pilot.press("j")
        wanted = table.current_case_id
        assert wanted is not None
        await wait_until(pilot, lambda: wanted in app.case_cache)
        flaky.fail = lambda request: True
        await pilot.press("enter")
        await wait_until(pilot, lambda: "showing the copy loaded before" in _flat(app))
        assert f"#{wanted}" in screen_text(app)
        assert "Proposed action" in screen_text(app)


async def test_queue_header_counts_cases_per_severity(console_env: ConsoleEnv) -> None:
    """The header counts the loaded cases per severity; while more pages wait, the last
    severity reached is marked + (the queue comes most severe first)."""
    app = console_env.app(page_size=5)
    async with app.run_test(size=(100, 30)) as pilot:
        table = await loaded_queue(pilot)
        summary = app.screen.query_one(QueueSummary)
        while table.row_count < 12:
            await pilot.press("G")
            await pilot.pause(0.05)
        await pilot.pause()
        counts: dict[str, int] = {}
        for item in table.items.values():
            counts[item.severity] = counts.get(item.severity, 0) + 1
        expected = [
            (s, str(counts[s])) for s in ("critical", "high", "medium", "low") if s in counts
        ]
        assert summary.counts == expected
        line = screen_text(app).splitlines()[1]
        assert f"CRIT {counts['critical']}" in line
        assert "+" not in line
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        screen.next_cursor = "more"
        summary.show(table.items.values(), more=True)
        await pilot.pause()
        assert summary.counts[-1][1].endswith("+")
