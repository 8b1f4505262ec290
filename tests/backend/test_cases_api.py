"""Supervisors reading the queue, claiming and deciding cases with signed decisions."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.decisions import build_decision, sign_decision
from console.errors import Conflict, InvalidRequest, NotFound
from store.contracts import SEVERITY_RANK
from store.samples import sample_escalations
from store.signing import public_key_b64


async def _enrolled(backend_env, token: str | None = None):
    client = backend_env.client(token)
    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    me = await client.me()
    return client, me, key


async def _claimed(client, case_id: int):
    """Claim the case and return it as shown to its holder (claim and token included)."""
    await client.claim(case_id)
    return await client.case(case_id)


async def _decide(backend_env, client, me, key, case_id: int, **kw):
    case = await _claimed(client, case_id)
    payload = build_decision(
        case, supervisor_id=me.id, key=key, signed_at=backend_env.clock(), **kw
    )
    return await client.decide(case_id, sign_decision(payload, key))


async def test_queue_orders_by_severity_then_time_left(backend_env) -> None:
    """The most severe case comes first; within a severity, the one due soonest."""
    for esc in sample_escalations(30):
        backend_env.submit(esc)
        backend_env.clock.advance(7)
    page = await backend_env.client().queue(limit=100)
    keys = [(SEVERITY_RANK[i.severity], i.due_at, i.id) for i in page.items]
    assert len(keys) == 30
    assert keys == sorted(keys)
    assert page.next_cursor is None


async def test_queue_cursor_walks_every_case_once(backend_env) -> None:
    """Paging with the cursor visits each open case exactly once, in order."""
    for esc in sample_escalations(23):
        backend_env.submit(esc)
    client = backend_env.client()
    seen, cursor = [], None
    while True:
        page = await client.queue(limit=5, cursor=cursor)
        seen.extend(i.id for i in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    full = await client.queue(limit=100)
    assert seen == [i.id for i in full.items]
    assert len(set(seen)) == 23


async def test_queue_filters_by_severity_domain_group(backend_env) -> None:
    """Filters narrow the queue to what was asked for."""
    for esc in sample_escalations(30):
        backend_env.submit(esc)
    client = backend_env.client()
    for item in (await client.queue(domain="moderation", limit=100)).items:
        assert item.domain == "moderation"
    sev = (await client.queue(limit=1)).items[0].severity
    only = (await client.queue(severity=sev, limit=100)).items
    assert only and all(i.severity == sev for i in only)
    assert all(i.group == "payments" for i in (await client.queue(group="payments")).items)


async def test_queue_bad_cursor_is_a_clear_400(backend_env) -> None:
    """A cursor the server did not issue is refused with what to do instead."""
    with pytest.raises(InvalidRequest) as err:
        await backend_env.client().queue(cursor="not-a-cursor")
    assert "first page" in err.value.detail


async def test_case_outside_groups_is_not_found(backend_env) -> None:
    """A supervisor outside a case's group gets 404 for it and never sees it queued."""
    status = backend_env.submit(sample_escalations(1)[0])
    _, token = backend_env.add_supervisor("bob", groups=["no-such-group"])
    bob = backend_env.client(token)
    with pytest.raises(NotFound):
        await bob.case(status.id)
    with pytest.raises(NotFound):
        await bob.claim(status.id)
    assert (await bob.queue()).items == []


async def test_claim_by_another_supervisor_conflicts_with_holder(backend_env) -> None:
    """A second supervisor cannot claim a case someone holds; the 409 names who."""
    status = backend_env.submit(sample_escalations(1)[0])
    await backend_env.client().claim(status.id)
    _, token = backend_env.add_supervisor("bob", groups=[status.group])
    with pytest.raises(Conflict) as err:
        await backend_env.client(token).claim(status.id)
    assert err.value.body["claimed_by"] == "alice"
    item = (await backend_env.client().queue()).items[0]
    assert item.claimed_by == "alice"


async def test_claim_expires_after_lease(backend_env) -> None:
    """After the lease runs out another supervisor can claim; the fencing token grows."""
    status = backend_env.submit(sample_escalations(1)[0])
    first = await backend_env.client().claim(status.id)
    backend_env.clock.advance(11 * 60)
    _, token = backend_env.add_supervisor("bob", groups=[status.group])
    second = await backend_env.client(token).claim(status.id)
    assert second.supervisor == "bob"
    assert second.token == first.token + 1


async def test_decision_approve_resolves_to_proposed_action(backend_env) -> None:
    """Approving records the signed decision; the agent is told to run its proposal."""
    esc = sample_escalations(1)[0]
    status = backend_env.submit(esc)
    client, me, key = await _enrolled(backend_env)
    decision = await _decide(backend_env, client, me, key, status.id, action="approve")
    assert decision.resolved_action == esc.proposed_action
    case = await client.case(status.id)
    assert case.status == "decided"
    assert case.decision is not None and case.decision.decision_id == decision.decision_id
    agent_view = await backend_env.client(backend_env.agent_token).escalation(status.id)
    assert agent_view.decision is not None and agent_view.decision.decided_by == "alice"
    assert (await client.queue()).items == []


async def test_decision_override_picks_alternative(backend_env) -> None:
    """An override resolves to the chosen alternative's action."""
    esc = next(e for e in sample_escalations(10) if len(e.alternatives) >= 2)
    status = backend_env.submit(esc)
    client, me, key = await _enrolled(backend_env)
    decision = await _decide(
        backend_env, client, me, key, status.id, action="override", alternative_index=1
    )
    assert decision.resolved_action == esc.alternatives[1].action


async def test_decision_override_out_of_range_is_refused(backend_env) -> None:
    """Picking an alternative the case does not have is a 422 that says how many there are."""
    esc = sample_escalations(1)[0]
    status = backend_env.submit(esc)
    client, me, key = await _enrolled(backend_env)
    with pytest.raises(InvalidRequest) as err:
        await _decide(
            backend_env, client, me, key, status.id, action="override", alternative_index=8
        )
    assert f"{len(esc.alternatives)} alternatives" in err.value.detail
    assert (await client.case(status.id)).status == "open"


async def test_second_decision_conflicts(backend_env) -> None:
    """Once decided, a case cannot be decided again: 409 says by whom."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    await _decide(backend_env, client, me, key, status.id, action="approve")
    with pytest.raises(Conflict) as err:
        await _decide(backend_env, client, me, key, status.id, action="reject", rationale="no")
    assert "alice" in err.value.detail


async def test_stale_digest_conflicts(backend_env) -> None:
    """A decision signed over content the case no longer has is refused (409)."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    case = await _claimed(client, status.id)
    payload = build_decision(
        case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
    )
    stale = payload.model_copy(update={"content_digest": "sha256:" + "0" * 64})
    with pytest.raises(Conflict) as err:
        await client.decide(status.id, sign_decision(stale, key))
    assert "changed since" in err.value.detail


async def test_tampered_signature_is_refused_before_any_write(backend_env) -> None:
    """A payload edited after signing fails verification; the case stays open."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    case = await _claimed(client, status.id)
    payload = build_decision(
        case,
        action="reject",
        rationale="fraud",
        supervisor_id=me.id,
        key=key,
        signed_at=backend_env.clock(),
    )
    envelope = sign_decision(payload, key)
    body = json.loads(base64.b64decode(envelope.payload))
    body["action"] = "approve"
    body["rationale"] = ""
    forged = envelope.model_copy(
        update={"payload": base64.b64encode(json.dumps(body).encode()).decode()}
    )
    with pytest.raises(InvalidRequest) as err:
        await client.decide(status.id, forged)
    assert "signature" in err.value.title.lower()
    assert (await client.case(status.id)).status == "open"


async def test_unenrolled_key_is_refused(backend_env) -> None:
    """A signature by a key the supervisor never enrolled is refused with what to do."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, _ = await _enrolled(backend_env)
    stranger = Ed25519PrivateKey.generate()
    case = await _claimed(client, status.id)
    payload = build_decision(
        case, action="approve", supervisor_id=me.id, key=stranger, signed_at=backend_env.clock()
    )
    with pytest.raises(InvalidRequest) as err:
        await client.decide(status.id, sign_decision(payload, stranger))
    assert "hitl enroll" in err.value.detail


async def test_decision_for_another_supervisor_is_forbidden(backend_env) -> None:
    """Bob cannot submit a decision signed as Alice, even with Alice's valid signature."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    case = await _claimed(client, status.id)
    envelope = sign_decision(
        build_decision(
            case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
        ),
        key,
    )
    _, token = backend_env.add_supervisor("bob", groups=[status.group])
    from console.errors import AuthError

    with pytest.raises(AuthError):
        await backend_env.client(token).decide(status.id, envelope)


async def test_decision_signed_offline_hours_ago_is_accepted_if_nothing_changed(
    backend_env,
) -> None:
    """A decision signed offline and synced hours later counts, when the case, its claim
    token and the nonce are as they were signed."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    case = await _claimed(client, status.id)
    payload = build_decision(
        case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
    )
    backend_env.clock.advance(5 * 3600)  # the lease lapsed meanwhile; nobody claimed
    decision = await client.decide(status.id, sign_decision(payload, key))
    assert decision.action == "approve"


async def test_stale_signature_time_is_refused(backend_env) -> None:
    """A decision signed longer ago than a signature stays valid is refused as stale,
    saying how old it is and what to do."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    case = await _claimed(client, status.id)
    payload = build_decision(
        case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
    )
    backend_env.clock.advance(4 * 24 * 3600)
    with pytest.raises(InvalidRequest) as err:
        await client.decide(status.id, sign_decision(payload, key))
    assert err.value.title == "Stale signature"
    assert "96 h old" in err.value.detail and "sign again" in err.value.detail


async def test_signature_from_the_future_is_refused(backend_env) -> None:
    """A signature dated well ahead of the server's clock is refused: check the clock."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    case = await _claimed(client, status.id)
    payload = build_decision(
        case,
        action="approve",
        supervisor_id=me.id,
        key=key,
        signed_at=backend_env.clock() + timedelta(hours=1),
    )
    with pytest.raises(InvalidRequest) as err:
        await client.decide(status.id, sign_decision(payload, key))
    assert "ahead of server time" in err.value.detail and "clock" in err.value.detail


async def test_envelope_without_signature_is_422(backend_env) -> None:
    """An envelope with no signatures is refused by validation, naming the field."""
    status = backend_env.submit(sample_escalations(1)[0])
    response = await backend_env.client()._http.post(
        f"/v1/cases/{status.id}/decisions",
        json={"payloadType": "x", "payload": "", "signatures": []},
    )
    assert response.status_code == 422
    assert "signatures" in response.json()["detail"]


async def test_enroll_key_is_idempotent_and_pinned(backend_env) -> None:
    """Enrolling the same key twice is harmless; /v1/me lists it with its fingerprint."""
    client = backend_env.client()
    key = Ed25519PrivateKey.generate()
    first = await client.enroll_key(public_key_b64(key.public_key()))
    again = await client.enroll_key(public_key_b64(key.public_key()))
    assert first == again
    me = await client.me()
    assert [k.fingerprint for k in me.keys] == [first.fingerprint]
    assert first.fingerprint.startswith("SHA256:")


async def test_enroll_garbage_key_says_what_is_wrong(backend_env) -> None:
    """A public key of the wrong length is refused with its length."""
    with pytest.raises(InvalidRequest) as err:
        await backend_env.client().enroll_key(base64.b64encode(b"short").decode())
    assert "32 bytes" in err.value.detail


async def test_queue_severity_filter_pages_through_its_cases(backend_env) -> None:
    """Paging a single-severity view visits each of its cases once, soonest due first."""
    for esc in sample_escalations(40):
        backend_env.submit(esc)
        backend_env.clock.advance(3)
    client = backend_env.client()
    sev = (await client.queue(limit=1)).items[0].severity
    seen, cursor = [], None
    while True:
        page = await client.queue(limit=3, cursor=cursor, severity=sev)
        seen.extend(page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert [i.id for i in seen] == [i.id for i in (await client.queue(severity=sev)).items]
    assert [i.due_at for i in seen] == sorted(i.due_at for i in seen)
