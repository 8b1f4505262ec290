"""The SLA countdown: live, readable without color, and cheap on the wire.

The queue repaints a row only when its text changes, and the text of a far-away deadline
changes once a minute (under a day) or once an hour: a terminal over SSH receives nothing
while nothing visible changes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.widgets.markers import format_left, sla_label
from tests.conftest import T0
from tests.console.conftest import ConsoleEnv, loaded_queue, render_frames, screen_text


@pytest.mark.parametrize(
    ("left", "shown"),
    [
        (timedelta(minutes=4, seconds=12), "04:12"),
        (timedelta(minutes=59, seconds=59), "59:59"),
        (timedelta(hours=3, minutes=12, seconds=45), "3h 12m"),
        (timedelta(days=2, hours=3, minutes=59), "2d 03h"),
        (timedelta(seconds=-5), "00:00"),
    ],
)
def test_sla_countdown_shows_seconds_only_in_the_last_hour(left: timedelta, shown: str) -> None:
    """Seconds in the last hour, then minutes, then hours: far deadlines change rarely."""
    assert format_left(left) == shown


def test_sla_marker_reads_without_color() -> None:
    """Breached and soon are words, not just colors."""
    created = T0
    due = T0 + timedelta(minutes=15)
    assert sla_label(due, created, T0 + timedelta(minutes=16)) == ("!! BREACHED", "breached")
    assert sla_label(due, created, T0 + timedelta(minutes=12)) == ("soon 03:00", "soon")
    assert sla_label(due, created, T0) == ("15:00", "ok")


async def test_queue_countdown_sends_nothing_while_no_text_changes(
    console_env: ConsoleEnv,
) -> None:
    """Two hours on, every visible deadline is breached or shows minutes: seconds passing
    write nothing at all to the terminal; when a minute turns over, only the rows whose
    text changed are repainted."""
    clock = console_env.backend.clock
    clock.now = T0 + timedelta(hours=2, seconds=5)
    app = console_env.app(refresh_every=None)
    frames = render_frames(app)
    async with app.run_test(size=(100, 24), headless=False) as pilot:
        table = await loaded_queue(pilot)
        await pilot.pause(0.3)
        assert "!! BREACHED" in screen_text(app) and "h " in screen_text(app)
        start = len(frames.writes)
        for _ in range(3):
            clock.advance(1)
            assert table.tick(clock()) == 0
            await pilot.pause(0.05)
        assert frames.since(start) == 0

        # Deadlines fall on :00 and :30 (cases came in 30 s apart): at :31 the rows due
        # at half past show one minute less, and only those are repainted.
        items = list(table.items.values())
        before = [table.cell_text(row, "sla") for row in range(len(items))]
        clock.now = T0 + timedelta(hours=2, seconds=31)
        repainted = table.tick(clock())
        await pilot.pause(0.05)
        after = [table.cell_text(row, "sla") for row in range(len(items))]
        changed = sum(a != b for a, b in zip(before, after, strict=True))
        assert 0 < repainted == changed < len(items)
        assert 0 < frames.since(start) < 200 * changed


async def test_queue_countdown_in_seconds_sends_only_the_sla_cells(
    console_env: ConsoleEnv,
) -> None:
    """In a case's last hour its countdown changes every second: each second the terminal
    receives only the changed SLA cells (a few dozen bytes each), not whole rows."""
    clock = console_env.backend.clock
    app = console_env.app(refresh_every=None)
    frames = render_frames(app)
    async with app.run_test(size=(100, 24), headless=False) as pilot:
        table = await loaded_queue(pilot)
        await pilot.pause(0.3)
        start = len(frames.writes)
        clock.advance(1)
        changed = table.tick(clock())
        await pilot.pause(0.1)
        assert changed > 0  # the critical cases count down in seconds
        sent = frames.since(start)
        # A whole row is ~200 bytes here (its text and styles); a cell, ~65.
        assert 0 < sent < changed * 100, (sent, changed)
