"""Claims as leases with a fencing token, and signed decisions that cannot be replayed.

Every test runs on SQLite and on PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import select

from console.decisions import build_decision, sign_decision
from console.errors import Conflict, InvalidRequest, NotFound
from store.audit import verify_export
from store.cases import fenced_case_update
from store.contracts import Envelope
from store.db import read_session, write_session
from store.samples import sample_escalations
from store.signing import DECISION_PAYLOAD_TYPE, public_key_b64, sign_envelope
from store.tables import Case, Claim, Decision


async def _enrolled(backend_env, token: str | None = None):
    client = backend_env.client(token)
    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    return client, await client.me(), key


async def _bob(backend_env, group: str):
    _, token = backend_env.add_supervisor("bob", groups=[group])
    return await _enrolled(backend_env, token)


async def _signed(backend_env, client, me, key, case_id: int, **kw) -> Envelope:
    """Claim the case, then sign a decision under that claim (not sent yet)."""
    claim = await client.claim(case_id)
    return await _sign_under(backend_env, client, me, key, case_id, claim.token, **kw)


async def _sign_under(backend_env, client, me, key, case_id: int, token: int, **kw) -> Envelope:
    """Sign a decision now under claim ``token``, whatever the case's claim is."""
    case = await client.case(case_id)
    kw.setdefault("action", "approve")
    payload = build_decision(
        case,
        supervisor_id=me.id,
        key=key,
        signed_at=backend_env.clock(),
        claim_token=token,
        **kw,
    )
    return sign_decision(payload, key)


async def _audit_kinds(backend_env) -> list[str]:
    """The kinds of the audit events, from an export that verifies."""
    lines = [line async for line in backend_env.client().export_audit()]
    verify_export(lines)
    events = [json.loads(line) for line in lines]
    return [json.loads(e["body"])["kind"] for e in events if e["type"] == "event"]


# -- replays ------------------------------------------------------------------------


async def test_decision_replayed_envelope_is_refused(backend_env) -> None:
    """Sending the same signed decision twice records it once; the second is 409
    "Replayed decision", not mistaken for a new one."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    envelope = await _signed(backend_env, client, me, key, status.id)
    await client.decide(status.id, envelope)
    with pytest.raises(Conflict) as err:
        await client.decide(status.id, envelope)
    assert err.value.title == "Replayed decision"
    assert err.value.body["recorded"] is True  # a resend of the decision on record
    with read_session(backend_env.state.engine) as session:
        assert len(session.exec(select(Decision)).all()) == 1


async def test_decision_nonce_reused_on_another_case_is_refused(backend_env) -> None:
    """A nonce is good for one decision anywhere: a new decision id with an old nonce, even
    on another case, is refused as a replay and that case stays open."""
    first, second = (backend_env.submit(e) for e in sample_escalations(2))
    client, me, key = await _enrolled(backend_env)
    used = await _signed(backend_env, client, me, key, first.id)
    await client.decide(first.id, used)
    nonce = json.loads(base64.b64decode(used.payload))["nonce"]
    claim = await client.claim(second.id)
    case = await client.case(second.id)
    payload = build_decision(
        case,
        action="approve",
        supervisor_id=me.id,
        key=key,
        signed_at=backend_env.clock(),
        claim_token=claim.token,
    ).model_copy(update={"nonce": nonce})
    with pytest.raises(Conflict) as err:
        await client.decide(second.id, sign_decision(payload, key))
    assert err.value.title == "Replayed decision"
    assert err.value.body["recorded"] is False
    assert err.value.body["case_id"] == first.id
    assert (await client.case(second.id)).status == "open"


async def test_decision_without_nonce_is_refused(backend_env) -> None:
    """A correctly signed payload that carries no nonce is refused (422): it could be
    replayed at will."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    envelope = await _signed(backend_env, client, me, key, status.id)
    body = json.loads(base64.b64decode(envelope.payload))
    del body["nonce"]
    from store.canonical import canonical_json

    unsigned_nonce = sign_envelope(canonical_json(body), DECISION_PAYLOAD_TYPE, key)
    with pytest.raises(InvalidRequest) as err:
        await client.decide(status.id, unsigned_nonce)
    assert err.value.title == "Nonce missing"
    assert (await client.case(status.id)).status == "open"


# -- claims and fencing -------------------------------------------------------------


async def test_decision_without_claim_goes_through_if_nobody_claimed_since(backend_env) -> None:
    """Deciding without claiming is allowed while the case's fencing token is still the one
    signed (nobody claimed it since it was shown); a payload without any token is 422, and
    one naming a token the case does not have is 409 "Stale claim token"."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    case = await client.case(status.id)
    assert case.claim is None and case.claim_token == 0
    shown = build_decision(
        case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
    )
    assert shown.claim_token == 0  # the case's token as shown
    missing = shown.model_copy(update={"claim_token": None})
    with pytest.raises(InvalidRequest) as err:
        await client.decide(status.id, sign_decision(missing, key))
    assert err.value.title == "Claim token missing"
    guessed = shown.model_copy(update={"claim_token": 1})
    with pytest.raises(Conflict) as conflict:
        await client.decide(status.id, sign_decision(guessed, key))
    assert conflict.value.title == "Stale claim token"
    assert (await client.case(status.id)).status == "open"
    decision = await client.decide(status.id, sign_decision(shown, key))
    assert decision.action == "approve"


async def test_decision_signed_unclaimed_is_refused_once_someone_claims(backend_env) -> None:
    """A decision signed without a claim loses to a claim made after it was signed: 409
    naming the holder while the claim is active, "Stale claim token" once it is released."""
    status = backend_env.submit(sample_escalations(1)[0])
    alice, me, key = await _enrolled(backend_env)
    case = await alice.case(status.id)
    unclaimed = sign_decision(
        build_decision(
            case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
        ),
        key,
    )
    bob, _, _ = await _bob(backend_env, status.group)
    await bob.claim(status.id)
    with pytest.raises(Conflict) as held:
        await alice.decide(status.id, unclaimed)
    assert held.value.body["claimed_by"] == "bob"
    await bob.release_claim(status.id)
    with pytest.raises(Conflict) as stale:
        await alice.decide(status.id, unclaimed)
    assert stale.value.title == "Stale claim token"
    assert "bob" in stale.value.detail
    assert (await alice.case(status.id)).status == "open"


async def test_lapsed_lease_then_someone_else_claims_cannot_overwrite(backend_env) -> None:
    """Alice claims, goes quiet past the lease; Bob claims the case. Alice's decision, signed
    under her old claim, is refused with 409 naming Bob; the case stays open under Bob's
    claim, and Bob can still decide it."""
    status = backend_env.submit(sample_escalations(1)[0])
    alice, alice_me, alice_key = await _enrolled(backend_env)
    old = await alice.claim(status.id)
    backend_env.clock.advance(11 * 60)  # the 10-minute lease lapses
    bob, bob_me, bob_key = await _bob(backend_env, status.group)
    bob_claim = await bob.claim(status.id)
    assert bob_claim.token == old.token + 1
    late = await _sign_under(backend_env, alice, alice_me, alice_key, status.id, old.token)
    with pytest.raises(Conflict) as err:
        await alice.decide(status.id, late)
    assert err.value.title == "Claimed by someone else"
    assert err.value.body["claimed_by"] == "bob"
    assert "bob" in err.value.detail
    case = await bob.case(status.id)
    assert case.status == "open"
    assert case.claim is not None and case.claim.supervisor == "bob"
    assert case.claim.token == bob_claim.token
    payload = build_decision(
        case,
        action="reject",
        rationale="duplicate refund",
        supervisor_id=bob_me.id,
        key=bob_key,
        signed_at=backend_env.clock(),
    )
    assert payload.claim_token == bob_claim.token  # taken from Bob's claim on the case
    decision = await bob.decide(status.id, sign_decision(payload, bob_key))
    assert decision.supervisor == "bob"
    with read_session(backend_env.state.engine) as session:
        rows = session.exec(select(Decision)).all()
    assert [(r.supervisor_id, r.claim_token) for r in rows] == [(bob_me.id, bob_claim.token)]


async def test_lapsed_lease_decision_stands_until_a_new_claim(backend_env) -> None:
    """A decision signed under a lease that lapsed still goes through if nobody claimed the
    case since; once it is claimed again (by anyone, even its signer) the old signature is
    "Stale claim token" and a decision under the new claim goes through."""
    first, second = (backend_env.submit(e) for e in sample_escalations(2))
    client, me, key = await _enrolled(backend_env)
    old = await client.claim(first.id)
    backend_env.clock.advance(10 * 60 + 1)
    late = await _sign_under(backend_env, client, me, key, first.id, old.token)
    assert (await client.decide(first.id, late)).action == "approve"

    old = await client.claim(second.id)
    backend_env.clock.advance(10 * 60 + 1)
    late = await _sign_under(backend_env, client, me, key, second.id, old.token)
    fresh = await _signed(backend_env, client, me, key, second.id)
    with pytest.raises(Conflict) as stale:
        await client.decide(second.id, late)
    assert stale.value.title == "Stale claim token"
    await client.decide(second.id, fresh)
    assert (await client.case(second.id)).status == "decided"


async def test_claim_renewal_keeps_the_token(backend_env) -> None:
    """Claiming again while you hold the case extends the lease under the same token, so a
    decision signed under it stays valid past the first lease's end."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    first = await client.claim(status.id)
    backend_env.clock.advance(9 * 60)
    signed = await _sign_under(backend_env, client, me, key, status.id, first.token)
    renewed = await client.claim(status.id)
    assert renewed.token == first.token
    assert renewed.expires_at == backend_env.clock() + timedelta(minutes=10)
    backend_env.clock.advance(2 * 60)  # past the first lease, inside the renewed one
    decision = await client.decide(status.id, signed)
    assert decision.action == "approve"


async def test_claim_release_frees_the_case_at_once(backend_env) -> None:
    """DELETE on the claim gives the case up before the lease ends: the queue shows nobody
    on it, Bob can claim it (with a new fencing token), and the release is audited."""
    status = backend_env.submit(sample_escalations(1)[0])
    alice, me, key = await _enrolled(backend_env)
    signed = await _signed(backend_env, alice, me, key, status.id)
    held = (await alice.case(status.id)).claim
    assert held is not None
    await alice.release_claim(status.id)
    assert (await alice.case(status.id)).claim is None
    assert (await alice.queue()).items[0].claimed_by is None
    bob, _, _ = await _bob(backend_env, status.group)
    taken = await bob.claim(status.id)
    assert taken.token == held.token + 1
    with pytest.raises(Conflict) as err:
        await alice.decide(status.id, signed)  # signed under the released claim
    assert err.value.body["claimed_by"] == "bob"
    assert "case.claim_released" in await _audit_kinds(backend_env)
    with read_session(backend_env.state.engine) as session:
        claims = session.exec(select(Claim).order_by(Claim.id)).all()  # type: ignore[arg-type]
    assert claims[0].released_at == backend_env.clock()
    assert claims[-1].released_at is None


async def test_claim_release_by_another_supervisor_conflicts(backend_env) -> None:
    """Only the holder can release a claim: Bob's release of Alice's claim is 409 naming
    her, and she still holds it. Releasing a case nobody holds is a harmless no-op."""
    status = backend_env.submit(sample_escalations(1)[0])
    alice = backend_env.client()
    await alice.claim(status.id)
    bob, _, _ = await _bob(backend_env, status.group)
    with pytest.raises(Conflict) as err:
        await bob.release_claim(status.id)
    assert err.value.body["claimed_by"] == "alice"
    held = (await alice.case(status.id)).claim
    assert held is not None and held.supervisor == "alice"
    await alice.release_claim(status.id)
    await alice.release_claim(status.id)  # nothing held: no error, nothing audited
    assert (await _audit_kinds(backend_env)).count("case.claim_released") == 1


async def test_claim_release_outside_groups_is_not_found(backend_env) -> None:
    """A supervisor outside the case's group gets 404 for its claim, as for the case."""
    status = backend_env.submit(sample_escalations(1)[0])
    _, token = backend_env.add_supervisor("eve", groups=["elsewhere"])
    with pytest.raises(NotFound):
        await backend_env.client(token).release_claim(status.id)


async def test_decision_releases_the_claim(backend_env) -> None:
    """Once decided the case shows no claim and the claim's record is closed."""
    status = backend_env.submit(sample_escalations(1)[0])
    client, me, key = await _enrolled(backend_env)
    await client.decide(status.id, await _signed(backend_env, client, me, key, status.id))
    assert (await client.case(status.id)).claim is None
    with read_session(backend_env.state.engine) as session:
        claim = session.exec(select(Claim)).one()
        decision = session.exec(select(Decision)).one()
    assert claim.released_at == backend_env.clock()
    assert decision.claim_token == claim.token and decision.nonce


def test_fenced_update_writes_nothing_under_a_stale_token(backend_env) -> None:
    """The conditional write itself refuses a stale claim token, another status, or a case
    someone else holds (the database checks them, not an earlier read); an expired claim
    of someone else's is no obstacle."""
    status = backend_env.submit(sample_escalations(1)[0])
    engine, now = backend_env.state.engine, backend_env.clock()
    other, _ = backend_env.add_supervisor("bob", groups=[status.group])
    with write_session(engine) as session:
        case = session.get(Case, status.id)
        assert case is not None
        case.claimed_by_id, case.claim_token = other, 3
        case.claim_expires_at = now + timedelta(minutes=5)
        session.add(case)

    def attempt(**changes: object) -> bool:
        args: dict[str, object] = {
            "status": "open",
            "claim_token": 3,
            "holder_id": other,
            "now": now,
        }
        args.update(changes)
        with write_session(engine) as session:
            row = session.get(Case, status.id)
            assert row is not None
            return fenced_case_update(
                session=session,
                case=row,
                values={"status": "decided", "updated_at": now},
                **args,  # type: ignore[arg-type]
            )

    assert not attempt(claim_token=2)
    assert not attempt(status="info_requested")
    assert not attempt(holder_id=backend_env.supervisor_id)  # bob holds it
    with read_session(engine) as session:
        assert session.get(Case, status.id).status == "open"  # type: ignore[union-attr]
    assert attempt(holder_id=backend_env.supervisor_id, now=now + timedelta(minutes=5))
    with read_session(engine) as session:
        assert session.get(Case, status.id).status == "decided"  # type: ignore[union-attr]
