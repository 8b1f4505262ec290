"""The queue screen: what a supervisor sees first, and how they move around it."""

from __future__ import annotations

from datetime import timedelta

import httpx

from console.errors import BackendUnreachable
from console.screens.case import CaseScreen
from console.screens.queue import QueueScreen
from console.widgets.identity_bar import IdentityBar
from console.widgets.queue_table import QueueTable
from store.samples import sample_escalation
from tests.conftest import BackendEnv
from tests.console.conftest import (
    ConsoleEnv,
    loaded_queue,
    make_console_env,
    record_notifications,
    screen_text,
    wait_until,
)


def _cell(table: QueueTable, row: int, column: str) -> str:
    return table.cell_text(row, column)


async def test_queue_lists_open_cases_most_urgent_first(console_env: ConsoleEnv) -> None:
    """Every open case is listed, in the backend's order: severity, then SLA time left."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        expected = [item.id for item in console_env.queue()]
        assert list(table.items) == expected
        assert table.row_count == 12
        assert _cell(table, 0, "severity") == "CRIT"
        text = screen_text(app)
        assert "12 open cases" in text
        for header in ("sev", "SLA left", "domain", "summary", "conf", "claimed by"):
            assert header in text


async def test_queue_header_shows_who_is_signed_in_and_where(console_env: ConsoleEnv) -> None:
    """The top line names the supervisor, their role and groups, and the backend URL."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded_queue(pilot)
        top = screen_text(app).splitlines()[0]
        assert "alice (supervisor)" in top
        assert "http://hitl.test" in top
        assert "DEMO" not in top


async def test_queue_shows_demo_banner_in_demo_mode(console_env: ConsoleEnv) -> None:
    """`hitl demo` is unmistakable: a DEMO badge sits on the top line of every screen."""
    app = console_env.app(demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded_queue(pilot)
        assert screen_text(app).split()[0] == "DEMO"
        assert app.screen.query_one(IdentityBar).demo
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CaseScreen))
        assert screen_text(app).split()[0] == "DEMO"


async def test_queue_j_k_and_arrows_move_the_cursor(console_env: ConsoleEnv) -> None:
    """j and down move to the next case, k and up to the previous one."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        assert table.cursor_row == 0
        await pilot.press("j")
        assert table.cursor_row == 1
        await pilot.press("down", "down")
        assert table.cursor_row == 3
        await pilot.press("k")
        assert table.cursor_row == 2
        await pilot.press("up", "up", "up")
        assert table.cursor_row == 0
        await pilot.press("G")
        assert table.cursor_row == 11
        await pilot.press("g")
        assert table.cursor_row == 0


async def test_queue_enter_opens_the_case_and_esc_goes_back(console_env: ConsoleEnv) -> None:
    """Enter opens the highlighted case; esc returns to the queue on the same row."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        await pilot.press("j", "j")
        wanted = table.current_case_id
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CaseScreen))
        screen = app.screen
        assert isinstance(screen, CaseScreen)
        assert screen.case_id == wanted
        await wait_until(pilot, lambda: screen.case is not None)
        assert f"#{wanted}" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen))
        assert table.current_case_id == wanted


async def test_queue_loads_the_next_page_when_the_cursor_nears_the_end(
    console_env: ConsoleEnv,
) -> None:
    """Cases arrive a page at a time; moving down near the end fetches the next page."""
    app = console_env.app(page_size=5)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        # The first page already puts the cursor near its end, so a second page follows.
        await wait_until(pilot, lambda: table.row_count >= 10)
        for _ in range(10):
            await pilot.press("j")
        await wait_until(pilot, lambda: table.row_count == 12)
        assert list(table.items) == [item.id for item in console_env.queue()]
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await wait_until(pilot, lambda: not screen.fetching)
        assert screen.next_cursor is None
        assert "12 open cases · most urgent first" in screen_text(app)


async def test_queue_sla_column_counts_down_every_second(console_env: ConsoleEnv) -> None:
    """The SLA column is a live countdown: it follows the clock without a reload."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        last = table.row_count - 1
        before = _cell(table, last, "sla")
        console_env.backend.clock.advance(61)
        await wait_until(pilot, lambda: _cell(table, last, "sla") != before)
        assert _cell(table, last, "sla") != before


async def test_queue_marks_breached_and_soon_in_words(console_env: ConsoleEnv) -> None:
    """SLA state reads without color: "!! BREACHED" when overdue, "soon" near the deadline."""
    app = console_env.app()
    async with app.run_test(size=(100, 24)) as pilot:
        table = await loaded_queue(pilot)
        items = list(table.items.values())
        critical = [i for i in items if i.severity == "critical"]
        # Two minutes before the last critical case is due, the first ones are overdue.
        console_env.backend.clock.now = max(i.due_at for i in critical) - timedelta(minutes=2)
        last = len(critical) - 1
        await wait_until(pilot, lambda: _cell(table, last, "sla").startswith("soon "))
        slas = [_cell(table, row, "sla") for row in range(len(critical))]
        assert slas[0] == "!! BREACHED"
        assert "!! BREACHED" in screen_text(app)


async def test_queue_reload_picks_up_new_cases(console_env: ConsoleEnv) -> None:
    """ctrl+r fetches the queue again from the first page."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        assert table.row_count == 12
        console_env.backend.submit(sample_escalation(100))
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: table.row_count == 13)


async def test_queue_says_so_when_the_backend_is_unreachable(console_env: ConsoleEnv) -> None:
    """A dead backend shows the OFFLINE banner with the reason and a status line saying
    ctrl+r retries, not a crash (and no toast repeating the banner)."""
    flaky = console_env.flaky()
    flaky.fail = lambda request: True
    app = console_env.app(flaky=flaky)
    notices = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await wait_until(pilot, lambda: screen.error is not None)
        await pilot.pause()
        text = " ".join(line.strip() for line in screen_text(app).splitlines())
        assert "OFFLINE: cannot reach http://hitl.test" in text
        assert "The backend is away; ctrl+r retries now." in text
        assert [n.title for n in notices if n.severity == "error"] == []
        flaky.fail = lambda request: False
        await pilot.press("ctrl+r")
        await loaded_queue(pilot)
        assert screen.error is None


async def test_queue_says_when_nothing_is_waiting(backend_env: BackendEnv) -> None:
    """An empty queue says so plainly."""
    env = make_console_env(backend_env, 0)
    app = env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await wait_until(pilot, lambda: not screen.fetching)
        assert "No open cases in your groups" in screen_text(app)


def test_unreachable_is_a_console_error() -> None:
    """Widgets only ever see console errors (httpx stays inside the client)."""
    assert issubclass(BackendUnreachable, Exception)
    assert not issubclass(BackendUnreachable, httpx.HTTPError)


async def test_queue_summary_column_takes_the_spare_width(console_env: ConsoleEnv) -> None:
    """On a wide terminal the summary gets the room; at 80 columns it still has some."""
    for width, expected in ((80, 25), (140, 85)):
        app = console_env.app()
        async with app.run_test(size=(width, 24)) as pilot:
            table = await loaded_queue(pilot)
            await wait_until(pilot, lambda: table.summary_width == expected)  # noqa: B023


async def test_queue_refreshes_itself(console_env: ConsoleEnv) -> None:
    """New cases and other supervisors' claims show up without a key press."""
    _, bob = console_env.backend.add_supervisor("bob", ["payments", "moderation", "data-pipeline"])
    app = console_env.app(refresh_every=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        await pilot.press("j")
        keep = table.current_case_id
        assert keep is not None
        console_env.backend.submit(sample_escalation(100))
        console_env.claim_as(bob, keep)
        await wait_until(pilot, lambda: table.row_count == 13)
        await wait_until(pilot, lambda: table.items[keep].claimed_by == "bob")
        assert table.current_case_id == keep
        assert "bob" in screen_text(app)
