"""The decision migrations (nonces and fencing, decision kinds) on a database that already
holds cases and decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import select

from console.decisions import build_decision, sign_decision
from store.cases import case_content
from store.db import make_engine, read_session
from store.migrate import alembic_config, current_revision, upgrade
from store.samples import sample_escalations
from store.signing import public_key_b64
from store.tables import Agent, Case, Decision

FIRST = "0004_decision_fencing"


async def test_decision_migrations_upgrade_a_used_database(backend_env) -> None:
    """Cases and decisions recorded before the migrations keep their content digests (an
    empty question list is not part of the signed content) and get neutral values: no
    nonce, not post hoc, no rationale required, not deferred. Downgrading and upgrading
    again is clean, and new decisions are recorded afterwards."""
    url = backend_env.db_url
    first, second = (backend_env.submit(e) for e in sample_escalations(2))
    client = backend_env.client()
    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    me = await client.me()
    case = await client.case(first.id)
    payload = build_decision(
        case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
    )
    await client.decide(first.id, sign_decision(payload, key))
    backend_env.state.engine.dispose()

    script = ScriptDirectory.from_config(alembic_config(url))
    before = script.get_revision(FIRST).down_revision
    assert isinstance(before, str)
    command.downgrade(alembic_config(url), before)
    assert current_revision(url) == before
    upgrade(url)
    assert current_revision(url) == script.get_current_head()

    engine = make_engine(url)
    try:
        with read_session(engine) as session:
            for row in session.exec(select(Case)).all():
                agent = session.get(Agent, row.agent_id)
                assert agent is not None
                assert case_content(row, agent_name=agent.name).digest() == row.content_digest
                assert row.info_exchange == [] and row.deferred_until is None
                assert row.rationale_required is False
            old = session.exec(select(Decision)).one()
            assert old.nonce is None and old.claim_token is None and old.post_hoc is False
    finally:
        engine.dispose()

    case = await client.case(second.id)
    payload = build_decision(
        case,
        action="reject",
        rationale="after the upgrade",
        supervisor_id=me.id,
        key=key,
        signed_at=backend_env.clock(),
    )
    decision = await client.decide(second.id, sign_decision(payload, key))
    assert decision.action == "reject"
