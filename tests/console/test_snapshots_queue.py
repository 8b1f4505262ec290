"""SVG snapshots of the queue's header with filters on, and of the filter picker, at 80x24
and 140x40, and in NO_COLOR (the connection state and filters read as words)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from console.screens.queue import QueueScreen
from console.screens.queue_picker import QueuePicker
from console.widgets.queue_summary import QueueSummary
from tests.console.conftest import ConsoleEnv, loaded_queue, wait_until

SIZES = {"80x24": (80, 24), "140x40": (140, 40)}
sizes = pytest.mark.parametrize("size", list(SIZES.values()), ids=list(SIZES))
Snap = Callable[..., bool]


async def settled(pilot: Pilot[Any]) -> QueueScreen:
    """The queue loaded, the change feed live, no request in flight."""
    await loaded_queue(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    summary = screen.query_one(QueueSummary)
    await wait_until(pilot, lambda: summary.state == "live" and not screen.fetching)
    await pilot.pause()
    await wait_until(pilot, lambda: not screen.fetching)
    return screen


async def _filtered(pilot: Pilot[Any]) -> None:
    """Unclaimed, searching "refund", ordered by SLA time left."""
    screen = await settled(pilot)
    await pilot.press("u", "o", "slash", *"refund", "enter")
    await wait_until(pilot, lambda: screen.filters.q == "refund" and screen.filters.sort == "sla")
    await wait_until(pilot, lambda: not screen.fetching)
    for field in screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def _picker(pilot: Pilot[Any]) -> None:
    await settled(pilot)
    await pilot.press("t")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, QueuePicker))
    await pilot.pause()


@sizes
def test_snapshot_queue_filtered(
    snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """The header: counts, ● live, the filters in force and the order; the rows match."""
    assert snap_compare(demo_env.app(), terminal_size=size, run_before=_filtered)


def test_snapshot_queue_filtered_no_color(
    snap_compare: Snap, demo_env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_COLOR: the connection state, filters, SLA markers and severities read as text."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(demo_env.app(), terminal_size=(80, 24), run_before=_filtered)


@sizes
def test_snapshot_queue_group_picker(
    snap_compare: Snap, demo_env: ConsoleEnv, size: tuple[int, int]
) -> None:
    """t: the group picker over the queue, the current choice marked."""
    assert snap_compare(demo_env.app(), terminal_size=size, run_before=_picker)
