"""The audit export: what the backend hands out verifies offline, and says who decided."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.decisions import build_decision, sign_decision
from store.audit import verify_export
from store.samples import sample_escalations
from store.signing import public_key_b64


async def test_audit_export_verifies_with_every_decision(backend_env) -> None:
    """After ingest, claims and decisions, the export verifies and counts the decisions."""
    client = backend_env.client()
    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    me = await client.me()
    ids = [backend_env.submit(e).id for e in sample_escalations(5)]
    for case_id in ids[:3]:
        await client.claim(case_id)
        case = await client.case(case_id)
        payload = build_decision(
            case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
        )
        await client.decide(case_id, sign_decision(payload, key))
    lines = [line async for line in client.export_audit()]
    info = (await client._http.get("/v1/audit/key")).json()
    report = verify_export(lines, trusted_checkpoint_key=info["keyid"])
    assert report.decisions == 3
    assert report.kinds["case.created"] == 5
    assert report.kinds["case.claimed"] == 3
    assert json.loads(lines[-1])["type"] == "checkpoint"


async def test_audit_export_needs_a_supervisor(backend_env) -> None:
    """Agents cannot download the audit log."""
    response = await backend_env.client(backend_env.agent_token)._http.get("/v1/audit/export")
    assert response.status_code == 401


async def test_openapi_schema_lists_every_route(backend_env) -> None:
    """The OpenAPI schema documents every endpoint with its problem responses."""
    schema = (await backend_env.client()._http.get("/openapi.json")).json()
    paths = set(schema["paths"])
    assert {
        "/v1/escalations",
        "/v1/escalations/{case_id}",
        "/v1/queue",
        "/v1/cases/{case_id}",
        "/v1/cases/{case_id}/claim",
        "/v1/cases/{case_id}/decisions",
        "/v1/me",
        "/v1/me/keys",
        "/v1/audit/export",
        "/v1/audit/key",
        "/healthz",
    } <= paths
    decide = schema["paths"]["/v1/cases/{case_id}/decisions"]["post"]
    assert {"201", "409", "422"} <= set(decide["responses"])


async def _decided_case(backend_env, client, key, idem: str) -> int:
    """A payments case claimed and approved by alice."""
    from store.samples import sample_escalation

    me = await client.me()
    status = backend_env.submit(sample_escalation(0).model_copy(update={"idempotency_key": idem}))
    await client.claim(status.id)
    case = await client.case(status.id)
    payload = build_decision(
        case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
    )
    await client.decide(status.id, sign_decision(payload, key))
    return status.id


async def test_audit_export_outside_groups_is_elided_yet_verifies(backend_env) -> None:
    """A supervisor of another group downloads the log: the payments case's events are
    elided (nothing of its content in the file), the chain and every shown decision
    still verify against the pinned backend key, and the report says how many were elided."""
    alice = backend_env.client()
    key = Ed25519PrivateKey.generate()
    await alice.enroll_key(public_key_b64(key.public_key()))
    case_id = await _decided_case(backend_env, alice, key, "elide-1")
    summary = (await alice.case(case_id)).summary
    _, token = backend_env.add_supervisor("mo", ["moderation"])
    lines = [line async for line in backend_env.client(token).export_audit()]
    info = (await alice._http.get("/v1/audit/key")).json()
    report = verify_export(lines, trusted_checkpoint_key=info["keyid"])
    full = verify_export([line async for line in alice.export_audit()])
    assert summary not in "\n".join(lines)
    assert report.elided_kinds["case.created"] == 1
    assert report.elided_kinds["decision.recorded"] == 1
    assert report.decisions == 0
    # The signers' keys stay visible (decisions of one's own groups need them); other
    # principals' creation does not.
    assert report.kinds["supervisor.key_enrolled"] == 1
    assert "supervisor.created" not in report.kinds
    assert (report.events, report.head) == (full.events, full.head)  # the same chain


async def test_audit_export_admin_gets_every_event(backend_env) -> None:
    """An admin's export elides nothing: every kind, every case, every decision."""
    alice = backend_env.client()
    key = Ed25519PrivateKey.generate()
    await alice.enroll_key(public_key_b64(key.public_key()))
    await _decided_case(backend_env, alice, key, "admin-1")
    _, token = backend_env.add_supervisor("root", [], role="admin")
    lines = [line async for line in backend_env.client(token).export_audit()]
    report = verify_export(lines)
    assert report.elided == 0
    assert report.decisions == 1
    assert report.kinds["supervisor.created"] == 2
    assert report.kinds["agent.created"] == 1
    assert all(json.loads(line)["type"] != "elided" for line in lines)


async def test_audit_verify_cli_says_how_many_events_were_elided(backend_env, tmp_path) -> None:
    """`hitl audit verify` on a scoped export prints OK and the number elided."""
    from typer.testing import CliRunner

    from console.cli import app

    backend_env.submit(sample_escalations(1)[0])
    _, token = backend_env.add_supervisor("mo", ["moderation"], role="viewer")
    path = tmp_path / "scoped.jsonl"
    path.write_text(
        "".join([line + "\n" async for line in backend_env.client(token).export_audit()])
    )
    result = CliRunner().invoke(app, ["audit", "verify", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.stdout
    assert "OK" in result.stdout
    assert "elided: outside your groups" in result.stdout


async def test_case_audit_trail_shows_who_did_what(backend_env) -> None:
    """GET /v1/cases/{id}/audit lists the case's events in order (created, claimed,
    decided), each with the hash the exported chain carries."""
    alice = backend_env.client()
    key = Ed25519PrivateKey.generate()
    await alice.enroll_key(public_key_b64(key.public_key()))
    case_id = await _decided_case(backend_env, alice, key, "trail-1")
    response = await alice._http.get(f"/v1/cases/{case_id}/audit")
    assert response.status_code == 200
    trail = response.json()
    assert [e["kind"] for e in trail] == ["case.created", "case.claimed", "decision.recorded"]
    assert [e["actor"] for e in trail] == [
        "agent:refund-bot",
        "supervisor:alice",
        "supervisor:alice",
    ]
    assert all(e["case_id"] == case_id for e in trail)
    exported = {
        json.loads(line)["seq"]: json.loads(line)["hash"]
        async for line in alice.export_audit()
        if json.loads(line)["type"] == "event"
    }
    assert all(exported[e["seq"]] == e["hash"] for e in trail)
