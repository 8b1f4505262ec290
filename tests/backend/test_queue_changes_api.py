"""Following the queue live: ``GET /v1/queue/changes`` long-polls for changed cases."""

from __future__ import annotations

import asyncio
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.services import changes as changes_service
from console.decisions import build_decision, sign_decision
from console.errors import InvalidRequest
from store.samples import sample_escalations
from store.signing import public_key_b64


async def test_queue_changes_follower_sees_new_and_decided_cases_in_order(backend_env) -> None:
    """A console following from "now" sees a new case arrive, then its decision, oldest
    first, each with the case's status as it is now."""
    client = backend_env.client()
    start = await client.queue_changes()
    assert start.changes == [] and not start.more

    first = backend_env.submit(sample_escalations(1)[0])
    seen = await client.queue_changes(after=start.cursor)
    assert [(c.case_id, c.kind, c.status) for c in seen.changes] == [
        (first.id, "case.created", "open")
    ]

    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    me = await client.me()
    await client.claim(first.id)
    case = await client.case(first.id)
    payload = build_decision(
        case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
    )
    await client.decide(first.id, sign_decision(payload, key))

    later = await client.queue_changes(after=seen.cursor)
    assert [(c.case_id, c.kind) for c in later.changes] == [
        (first.id, "case.claimed"),
        (first.id, "decision.recorded"),
    ]
    assert later.changes[-1].status == "decided"
    assert all(c.seq > seen.cursor for c in later.changes)
    nothing = await client.queue_changes(after=later.cursor)
    assert nothing.changes == [] and nothing.cursor == later.cursor


async def test_queue_changes_hides_cases_outside_the_readers_groups(backend_env) -> None:
    """A supervisor of one group is never told about another group's cases; their cursor
    still moves past them so they are not re-scanned."""
    _, token = backend_env.add_supervisor("mod-only", groups=["moderation"])
    client = backend_env.client(token)
    start = await client.queue_changes()
    cases = [backend_env.submit(e) for e in sample_escalations(12)]
    seen = await client.queue_changes(after=start.cursor)
    moderation = {c.id for c in cases if c.group == "moderation"}
    assert moderation, "the samples include moderation cases"
    assert {c.case_id for c in seen.changes} == moderation
    assert all(c.group == "moderation" for c in seen.changes)
    assert seen.cursor == (await backend_env.client().queue_changes()).cursor


async def test_queue_changes_pages_with_more_when_many_changed(backend_env) -> None:
    """Past the limit the answer says ``more`` and the cursor continues where it stopped."""
    client = backend_env.client()
    start = await client.queue_changes()
    ids = [backend_env.submit(e).id for e in sample_escalations(7)]
    got: list[int] = []
    cursor, more = start.cursor, True
    while more:
        page = await client.queue_changes(after=cursor, limit=3)
        assert len(page.changes) <= 3
        got += [c.case_id for c in page.changes]
        cursor, more = page.cursor, page.more
    assert got == ids


async def test_queue_changes_long_poll_wakes_when_a_case_arrives(
    backend_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A waiting follower is answered as soon as an agent submits, not at the next re-check
    (set to 30 s here, so only the wake-up can answer in time)."""
    monkeypatch.setattr(changes_service, "RECHECK_SECONDS", 30.0)
    backend_env.state.notifier.bind(asyncio.get_running_loop())
    client = backend_env.client()
    start = await client.queue_changes()
    escalation = sample_escalations(1)[0]
    committed: list[float] = []

    async def submit_soon() -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(backend_env.submit, escalation)
        committed.append(time.monotonic())

    task = asyncio.create_task(submit_soon())
    result = await client.queue_changes(after=start.cursor, wait=20)
    answered = time.monotonic()
    await task
    assert [c.kind for c in result.changes] == ["case.created"]
    assert answered - committed[0] < 5  # woken, not the 30 s re-check nor the 20 s wait


async def test_queue_changes_long_poll_times_out_empty(backend_env) -> None:
    """With nothing happening the long-poll answers after ``wait`` with the same cursor."""
    client = backend_env.client()
    start = await client.queue_changes()
    t0 = time.monotonic()
    result = await client.queue_changes(after=start.cursor, wait=1.2)
    assert 1.1 <= time.monotonic() - t0 < 5
    assert result.changes == [] and result.cursor == start.cursor


async def test_queue_changes_refuses_a_negative_cursor(backend_env) -> None:
    """A cursor that no answer could have given is a 422 naming the parameter."""
    with pytest.raises(InvalidRequest) as err:
        await backend_env.client().queue_changes(after=-1)
    assert "after" in str(err.value.detail) + str(err.value)
