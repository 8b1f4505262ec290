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
