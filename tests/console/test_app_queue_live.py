"""The queue live and filtered: cases arriving and leaving as the backend changes, the
cursor staying put, the header's counts, connection state and filters, every queue key."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import HitlApp
from console.client import HitlClient
from console.config import ConsoleSettings
from console.decisions import build_decision, sign_decision
from console.screens.queue import QueueScreen
from console.screens.queue_picker import QueuePicker
from console.widgets.identity_bar import IdentityBar
from console.widgets.queue_summary import QueueSummary
from console.widgets.queue_table import QueueTable
from store.contracts import SEVERITY_RANK
from store.samples import sample_escalation, sample_escalations
from store.signing import public_key_b64
from tests.conftest import LiveBackend
from tests.console.conftest import ConsoleEnv, loaded_queue, screen_text, wait_until


async def _live(pilot: Pilot[Any]) -> QueueSummary:
    summary = pilot.app.screen.query_one(QueueSummary)
    await wait_until(pilot, lambda: summary.state == "live")
    return summary


def _screen(app: HitlApp) -> QueueScreen:
    screen = app.screen
    assert isinstance(screen, QueueScreen)
    return screen


async def test_queue_live_shows_new_and_decided_cases_within_a_second_cursor_stays(
    live_backend: LiveBackend,
) -> None:
    """Against a real backend over HTTP: a case an agent submits appears within a second,
    one decided by someone else disappears within a second, and the supervisor's cursor
    stays on the case it was on (at the same height on screen) throughout."""
    async with HitlClient(live_backend.url, live_backend.agent_token) as agent:
        for escalation in sample_escalations(12):
            await agent.submit_escalation(escalation)
    client = HitlClient(live_backend.url, live_backend.supervisor_token)
    other = HitlClient(live_backend.url, live_backend.supervisor_token)
    key = Ed25519PrivateKey.generate()
    await other.enroll_key(public_key_b64(key.public_key()))
    me = await client.me()
    app = HitlApp(ConsoleSettings(url=live_backend.url), client=client, me=me, key=key)
    try:
        async with app.run_test(size=(80, 16)) as pilot:  # the queue scrolls
            table = await loaded_queue(pilot)
            await _live(pilot)
            table.move_cursor(row=table.row_count - 2)  # low in the queue: arrivals go above
            await pilot.pause()
            assert table.scroll_offset.y > 0
            keep = table.current_case_id
            height = table.cursor_row - int(table.scroll_offset.y)
            rows = table.row_count

            async with HitlClient(live_backend.url, live_backend.agent_token) as agent:
                sent = time.monotonic()
                new = await agent.submit_escalation(sample_escalation(22))  # self-harm: high up
            await wait_until(pilot, lambda: new.id in table.items, within=1.0)
            assert time.monotonic() - sent < 1.0
            assert table.row_count == rows + 1
            assert table.current_case_id == keep
            assert table.cursor_row - int(table.scroll_offset.y) == height
            assert list(table.items).index(new.id) < table.cursor_row

            gone = next(i for i in table.items if i not in (keep, new.id))
            await other.claim(gone)
            case = await other.case(gone)
            payload = build_decision(case, action="approve", supervisor_id=me.id, key=key)
            sent = time.monotonic()
            await other.decide(gone, sign_decision(payload, key))
            await wait_until(pilot, lambda: gone not in table.items, within=1.0)
            assert time.monotonic() - sent < 1.0
            assert table.current_case_id == keep
            assert f"#{gone}" not in screen_text(app)
    finally:
        await client.aclose()
        await other.aclose()


async def test_queue_live_header_counts_and_connection_state(console_env: ConsoleEnv) -> None:
    """The header counts the cases per severity and says ● live while following; when the
    backend stops answering it says ✕ OFFLINE; back, it is live again and the cases that
    arrived meanwhile are there (the feed resumes from where it stopped)."""
    console_env.backend.state.notifier.bind(asyncio.get_running_loop())
    flaky = console_env.flaky()
    from console.connection import Backoff

    app = console_env.app(flaky=flaky, backoff=Backoff(first=0.1, cap=0.2, jitter=0))
    async with app.run_test(size=(100, 30)) as pilot:
        table = await loaded_queue(pilot)
        summary = await _live(pilot)
        assert "● live" in screen_text(app).splitlines()[1]
        crit = sum(1 for i in table.items.values() if i.severity == "critical")
        assert f"CRIT {crit}" in screen_text(app).splitlines()[1]
        flaky.fail = lambda request: True
        await pilot.press("ctrl+r")  # the next request finds the backend away
        await wait_until(pilot, lambda: summary.state == "offline")
        await pilot.pause()
        assert "✕ OFFLINE" in screen_text(app)
        new = console_env.backend.submit(sample_escalation(200))
        flaky.fail = lambda request: False
        await wait_until(pilot, lambda: summary.state == "live", within=5)
        await wait_until(pilot, lambda: new.id in table.items, within=5)


async def test_queue_bell_rings_for_a_new_critical_case_and_b_turns_it_off(
    console_env: ConsoleEnv, tmp_path: Any, monkeypatch: Any
) -> None:
    """A new critical case rings the terminal bell once; a new non-critical one does not;
    b turns the bell off (saved as `bell = false` in the config file) and on again."""
    config = tmp_path / "config.toml"
    monkeypatch.setenv("HITL_CONFIG", str(config))
    console_env.backend.state.notifier.bind(asyncio.get_running_loop())
    app = console_env.app()
    rings: list[float] = []
    app.bell = lambda: rings.append(time.monotonic())  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        await _live(pilot)
        arrivals = [console_env.backend.submit(sample_escalation(300 + n)) for n in range(6)]
        await wait_until(pilot, lambda: all(a.id in table.items for a in arrivals))
        await pilot.pause(0.1)
        critical = [a.id for a in arrivals if table.items[a.id].severity == "critical"]
        assert critical and len(critical) < len(arrivals), "a mix of severities arrived"
        assert 1 <= len(rings) <= len(critical)

        await pilot.press("b")
        assert app.settings.bell is False
        assert "bell = false" in config.read_text()
        before = len(rings)
        more = [console_env.backend.submit(sample_escalation(310 + n)) for n in range(6)]
        await wait_until(pilot, lambda: all(a.id in table.items for a in more))
        await pilot.pause(0.1)
        assert any(table.items[a.id].severity == "critical" for a in more)
        assert len(rings) == before
        await pilot.press("b")
        assert app.settings.bell is True and "bell = true" in config.read_text()


async def test_queue_filter_keys_narrow_the_queue_and_show_in_the_header(
    console_env: ConsoleEnv,
) -> None:
    """m, t, s, d, u, o, / and esc: each narrows (or orders) the queue as the backend
    does, the header says which filters are on, and esc clears them."""
    console_env.backend.state.notifier.bind(asyncio.get_running_loop())
    _, bob = console_env.backend.add_supervisor("bob", ["payments", "moderation", "data-pipeline"])
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        await _live(pilot)
        screen = _screen(app)
        everything = dict(table.items)
        assert "all open cases in your groups" in screen_text(app)

        async def shown(predicate: Any) -> None:
            await wait_until(pilot, lambda: not screen.fetching)
            await pilot.pause()
            assert table.row_count and all(predicate(i) for i in table.items.values())

        # s: one severity at a time.
        await pilot.press("s")
        await shown(lambda i: i.severity == "critical")
        assert "filter: CRITICAL (esc clears)" in screen_text(app)
        await pilot.press("s")
        await shown(lambda i: i.severity == "high")
        await pilot.press("escape")
        await wait_until(pilot, lambda: table.row_count == len(everything))
        assert "filter:" not in screen_text(app)

        # u: unclaimed, then claimed (bob claims one; the feed brings it in).
        claimed_id = list(everything)[3]
        console_env.claim_as(bob, claimed_id)
        await wait_until(pilot, lambda: table.items[claimed_id].claimed_by == "bob")
        await pilot.press("u")
        await shown(lambda i: i.claimed_by is None)
        assert claimed_id not in table.items and "unclaimed" in screen_text(app)
        await pilot.press("u")
        await shown(lambda i: i.claimed_by is not None)
        assert list(table.items) == [claimed_id]
        await pilot.press("u")
        await wait_until(pilot, lambda: table.row_count == len(everything))

        # m: mine (suggested to alice or claimed by her).
        await pilot.press("m")
        await shown(lambda i: i.suggested_assignee == "alice" or i.claimed_by == "alice")
        assert "filter: mine" in screen_text(app)
        await pilot.press("m")

        # t: the group picker lists alice's groups.
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, QueuePicker))
        assert "moderation" in screen_text(app)
        await pilot.press("down", "down", "enter")  # All, data-pipeline, moderation
        await shown(lambda i: i.group == "moderation")
        assert "group moderation" in screen_text(app)
        await pilot.press("t", "escape")  # closing the picker changes nothing
        await shown(lambda i: i.group == "moderation")

        # d: the domain picker, with the domains seen so far.
        await pilot.press("escape", "d")
        await wait_until(pilot, lambda: isinstance(app.screen, QueuePicker))
        await pilot.press("down", "enter")  # All, data-pipeline
        await shown(lambda i: i.domain == "data-pipeline")
        assert "domain data-pipeline" in screen_text(app)
        await pilot.press("escape")

        # /: the search narrows as one types; enter returns to the queue.
        word = next(iter(everything.values())).summary.split()[0]
        await pilot.press("slash")
        search = screen.query_one("#queue-search", Input)
        assert search.has_focus
        await pilot.press(*word)
        await wait_until(pilot, lambda: screen.filters.q == word)
        await shown(lambda i: word.lower() in i.summary.lower())
        await pilot.press("enter")
        assert table.has_focus and f"/{word}" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: table.row_count == len(everything))

        # o: by SLA left, by age, back to priority.
        await pilot.press("o")
        await wait_until(pilot, lambda: not screen.fetching and screen.filters.sort == "sla")
        await pilot.pause()
        dues = [i.due_at for i in table.items.values()]
        assert dues == sorted(dues) and "least SLA time left first" in screen_text(app)
        await pilot.press("o")
        await wait_until(pilot, lambda: not screen.fetching and screen.filters.sort == "age")
        await pilot.pause()
        ages = [(i.created_at, i.id) for i in table.items.values()]
        assert ages == sorted(ages) and "oldest first" in screen_text(app)
        await pilot.press("o")
        await wait_until(pilot, lambda: not screen.fetching and screen.filters.sort == "priority")
        await pilot.pause()
        keys = [(SEVERITY_RANK[i.severity], i.due_at, i.id) for i in table.items.values()]
        assert keys == sorted(keys)


async def test_queue_live_change_leaves_a_filtered_queue_when_it_no_longer_matches(
    console_env: ConsoleEnv,
) -> None:
    """With 'unclaimed' on, a case another supervisor claims leaves the list by itself,
    and the cursor stays on the case it was on."""
    console_env.backend.state.notifier.bind(asyncio.get_running_loop())
    _, bob = console_env.backend.add_supervisor("bob", ["payments", "moderation", "data-pipeline"])
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded_queue(pilot)
        await _live(pilot)
        await pilot.press("u")
        await wait_until(pilot, lambda: _screen(app).filters.claimed is False)
        await wait_until(pilot, lambda: not _screen(app).fetching)
        await pilot.press("j", "j", "j")
        keep = table.current_case_id
        taken = list(table.items)[1]
        console_env.claim_as(bob, taken)
        await wait_until(pilot, lambda: taken not in table.items, within=2)
        assert table.current_case_id == keep


async def test_queue_availability_key_goes_away_and_back(console_env: ConsoleEnv) -> None:
    """A (shift+a) sets the supervisor away (the backend agrees, the top line says AWAY),
    and again on call."""
    app = console_env.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded_queue(pilot)
        bar = app.screen.query_one(IdentityBar)
        assert "● on call" in screen_text(app).splitlines()[0]
        await pilot.press("A")
        await wait_until(pilot, lambda: bar.me.availability == "away")
        assert console_env._get("/v1/me")["availability"] == "away"
        await pilot.pause()
        assert "◌ AWAY" in screen_text(app).splitlines()[0]
        await pilot.press("A")
        await wait_until(pilot, lambda: bar.me.availability == "on_call")
        assert console_env._get("/v1/me")["availability"] == "on_call"


async def test_queue_every_queue_binding_has_an_id_and_a_tooltip() -> None:
    """Help and the palette are generated from bindings: each queue key says what it does."""
    for cls in (QueueScreen, QueueTable, QueuePicker):
        for binding in cls.BINDINGS:
            assert getattr(binding, "id", None), binding
            assert getattr(binding, "tooltip", ""), binding
