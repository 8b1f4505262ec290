"""Deciding with no backend: the console keeps what it showed, signs decisions into a
durable outbox ("saved", not "recorded"), and sends them in order when the backend
returns, saying per case what happened. Against a real backend process that is stopped
and started again, and (for the SLA fallback, which needs a clock to move) in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.services.admin import add_supervisor
from console.app import HitlApp
from console.client import HitlClient
from console.config import ConsoleSettings
from console.connection import Backoff
from console.decisions import build_decision, sign_decision
from console.local_store import Outbox
from console.offline import LocalFiles, OfflineClient
from console.screens.approve_dialog import ApproveDialog
from console.screens.case import CaseScreen
from console.screens.queue import QueueScreen
from console.widgets.banner import Banner
from store.contracts import CasePublic, DecisionAction
from store.db import make_engine
from store.samples import sample_escalations
from store.signing import public_key_b64
from tests.conftest import LiveBackend, restart_live_backend, stop_live_backend
from tests.console.conftest import (
    ConsoleEnv,
    Notice,
    fixed_key,
    loaded_queue,
    open_case,
    record_notifications,
    screen_text,
    wait_until,
)


def _flat(app: HitlApp) -> str:
    return " ".join(line.strip() for line in screen_text(app).splitlines())


def _banner(app: HitlApp) -> str:
    return str(app.screen.query_one(Banner).text)


async def _approve(pilot: Any, app: HitlApp, row_case: int) -> None:
    """From the queue: open ``row_case``, press a then y, and wait for the queue again."""
    screen = app.screen
    assert isinstance(screen, QueueScreen)
    table = screen.table
    table.move_cursor(row=list(table.items).index(row_case))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, CaseScreen))
    case_screen = app.screen
    assert isinstance(case_screen, CaseScreen)
    await wait_until(
        pilot, lambda: case_screen.case is not None and case_screen.case.id == row_case
    )
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(app.screen, ApproveDialog))
    await pilot.press("y")
    try:
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen), within=10)
    except AssertionError:
        raise AssertionError(screen_text(app)) from None


def _sign(case: CasePublic, key: Ed25519PrivateKey, me: int, action: DecisionAction, **kw: Any):  # type: ignore[no-untyped-def]
    return sign_decision(build_decision(case, action=action, supervisor_id=me, key=key, **kw), key)


async def test_offline_decisions_sync_in_order_with_each_conflict_shown(
    live_backend: LiveBackend, tmp_path: Path
) -> None:
    """Alice holds four cases. The backend stops: the banner says OFFLINE with the queue's
    age; she approves all four, each "saved" (in the outbox on disk before it says so); a
    case she never claimed is refused with the reason. Meanwhile, from another terminal,
    one case is decided, one changed and one's claim lapses to bob. The backend returns:
    the sync records the first, and says per case "decided elsewhere", "changed since you
    saw it" and "your claim expired; bob claimed it"; nothing is dropped."""
    url, key = live_backend.url, fixed_key()
    async with HitlClient(url, live_backend.agent_token) as agent:
        ids = [(await agent.submit_escalation(e)).id for e in sample_escalations(5)]
    async with HitlClient(url, live_backend.supervisor_token) as alice:
        await alice.enroll_key(public_key_b64(key.public_key()))
        me = await alice.me()
        for case_id in ids[:4]:
            await alice.claim(case_id)
    held, unclaimed = ids[:4], ids[4]
    local = LocalFiles(tmp_path / "cache.db", tmp_path / "outbox.db")
    client = OfflineClient(url, live_backend.supervisor_token, local=local)
    app = HitlApp(
        ConsoleSettings(url=url),
        client=client,
        me=me,
        key=key,
        refresh_every=None,
        backoff=Backoff(first=60, cap=60, jitter=0),  # reconnect when the test says (ctrl+r)
    )
    notices = record_notifications(app)
    async with app.run_test(size=(120, 36)) as pilot:
        table = await loaded_queue(pilot)
        for row in range(table.row_count):  # she reads each case once
            await open_case(pilot, row)
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen))
        await wait_until(pilot, lambda: len(local.cache_path.read_bytes()) > 0)

        stop_live_backend(live_backend)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.connection.online, within=10)
        await wait_until(pilot, lambda: "queue as of" in _banner(app))
        assert "OFFLINE" in _banner(app) and "(just now)" in _banner(app)

        for n, case_id in enumerate(held, 1):
            await _approve(pilot, app, case_id)
            saved = [x for x in notices if x.title == "Saved (not sent yet)"]
            assert len(saved) == n, notices
            assert f"Case #{case_id}: approve signed and saved" in saved[-1].message
            outbox = Outbox(local.outbox_path)  # on disk, before the console said "saved"
            assert [e.case_id for e in outbox.pending()] == held[:n]
            outbox.close()
        assert not any(x.title == "Decision recorded" for x in notices)
        assert f"{len(held)} decisions saved, not sent yet" in _banner(app)

        await open_case(pilot, list(table.items).index(unclaimed))
        await pilot.press("a")  # the claim comes first: refused, nothing to sign
        await wait_until(pilot, lambda: "not claimed by you" in _flat(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen))

        restart_live_backend(live_backend)
        async with HitlClient(url, live_backend.supervisor_token) as other_terminal:
            cases = {i: await other_terminal.case(i) for i in held[1:]}
            changed = next(i for i in held[1:] if cases[i].severity != "critical")
            decided, lapsed = (i for i in held[1:] if i != changed)
            await other_terminal.decide(decided, _sign(cases[decided], key, me.id, "approve"))
            await other_terminal.decide(
                changed, _sign(cases[changed], key, me.id, "raise_severity", severity="critical")
            )
            await other_terminal.release_claim(lapsed)
        engine = make_engine(live_backend.db_url)
        _, bob_token = add_supervisor(engine, name="bob", role="supervisor", groups=me.groups)
        engine.dispose()
        async with HitlClient(url, bob_token) as bob_client:
            await bob_client.claim(lapsed)

        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.connection.online, within=10)
        await wait_until(
            pilot, lambda: app.last_sync is not None and app.last_sync.complete, within=20
        )
    report = app.last_sync
    assert report is not None and report.complete, (notices, live_backend.log.read_text())
    outcomes = {e.case_id: (state, text) for e, state, text in report.outcomes}
    assert [e.case_id for e, _, _ in report.outcomes] == held  # in the order made
    assert outcomes[held[0]] == ("sent", "recorded")
    assert outcomes[decided][0] == "conflict" and "decided elsewhere" in outcomes[decided][1]
    assert outcomes[changed][0] == "conflict"
    assert "changed since you saw it" in outcomes[changed][1]
    assert outcomes[lapsed][0] == "conflict" and "bob claimed it" in outcomes[lapsed][1]
    shown = _by_case(notices)
    assert "now recorded" in " ".join(x.message for x in notices if x.title == "Synced")
    for case_id in (decided, changed, lapsed):
        assert shown[case_id].title == "Not recorded: conflict"
    async with HitlClient(url, live_backend.supervisor_token) as check:
        assert (await check.case(held[0])).status == "decided"
    outbox = Outbox(local.outbox_path)
    assert outbox.counts() == {"pending": 0, "sent": 1, "conflict": 3, "rejected": 0}
    outbox.close()
    await client.aclose()
    local.close()


def _by_case(notices: list[Notice]) -> dict[int, Notice]:
    out: dict[int, Notice] = {}
    for notice in notices:
        if notice.message.startswith("Case #") and "saved offline" in notice.message:
            out[int(notice.message.split()[1].lstrip("#"))] = notice
    return out


async def test_offline_decision_after_the_sla_fallback_is_recorded_post_hoc(
    console_env: ConsoleEnv, tmp_path: Path
) -> None:
    """A case decided offline whose SLA fallback fires before the backend returns: the
    sync says the fallback stands and the decision is flagged for review."""
    flaky = console_env.flaky()
    local = LocalFiles(tmp_path / "cache.db", tmp_path / "outbox.db")
    app = console_env.app(flaky=flaky, local=local, backoff=Backoff(first=60, cap=60, jitter=0))
    notices = record_notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        table = await loaded_queue(pilot)
        case_id = table.current_case_id
        assert case_id is not None
        console_env.claim_as(console_env.backend.supervisor_token, case_id)
        await open_case(pilot, 0)  # loaded with her claim
        flaky.fail = lambda request: True
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ApproveDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: any(x.title.startswith("Saved") for x in notices))
        case = console_env.case(case_id)
        console_env.backend.clock.now = case.due_at
        console_env.backend.clock.advance(1)
        from backend.services.fallbacks import sweep_once

        assert case_id in sweep_once(console_env.backend.state)
        flaky.fail = lambda request: False
        app.retry_now()
        await wait_until(pilot, lambda: app.last_sync is not None)
    assert app.last_sync is not None
    [(_, state, text)] = app.last_sync.outcomes
    assert state == "sent" and "SLA fallback had fired" in text
    notice = _by_case(notices)[case_id]
    assert notice.title == "Recorded post hoc" and "flagged for review" in notice.message
    after = console_env.case(case_id)
    assert after.status == "fallback" and after.post_hoc_decision is not None
    local.close()


async def test_bundle_is_reviewed_with_no_backend_and_pushed_later(
    console_env: ConsoleEnv, tmp_path: Path
) -> None:
    """`hitl console --bundle FILE` opens the pulled cases with no backend at all: the
    banner names the bundle and when it was pulled; an approval is signed into the bundle
    ("saved", the banner counts it) and `hitl push` records it later."""
    from console.bundle import pull_bundle, push_bundle
    from console.signin import sign_in

    bundle = tmp_path / "review.hitl"
    await pull_bundle(console_env.backend.client(), bundle, group=None, limit=50)
    settings = ConsoleSettings(url="http://nowhere.invalid", token="unused")
    identity = await sign_in(settings, bundle=bundle)
    identity.key.close()  # the test signs with its own key
    assert identity.offline is not None and identity.offline.bundle == bundle
    app = HitlApp(
        settings,
        client=identity.client,
        me=identity.me,
        key=console_env.key,
        clock=console_env.backend.clock,
        first_page=identity.page,
        offline=identity.offline,
        refresh_every=None,
    )
    notices = record_notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded_queue(pilot)
        assert f"OFFLINE BUNDLE {bundle}" in " ".join(_banner(app).split())
        screen = await open_case(pilot, 0)
        case_id = screen.case_id
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ApproveDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen))
        await wait_until(pilot, lambda: "1 decision saved in it" in _banner(app))
        assert any("hitl push" in x.message for x in notices if x.title.startswith("Saved"))
        assert not any(x.title == "Decision recorded" for x in notices)
        assert app.connection.attempts == 0  # no backend was ever tried
    await identity.client.aclose()
    identity.client.local.close()
    report = await push_bundle(console_env.backend.client(), bundle)
    assert [(e.case_id, state) for e, state, _ in report.outcomes] == [(case_id, "sent")]
    assert console_env.case(case_id).status == "decided"
