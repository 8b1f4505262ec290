"""Policy versions over HTTP: admins push and roll back, every supervisor role reads."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backend.policies import example_policies
from tests.conftest import BackendEnv

PAYMENTS = next(p for p in example_policies() if p.stem == "payments")


@pytest.fixture
async def admin(backend_env: BackendEnv) -> Any:
    _, token = backend_env.add_supervisor("ada", [], role="admin")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend_env.app),
        base_url="http://hitl.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


async def test_policy_http_push_stores_activates_and_audits(
    backend_env: BackendEnv, admin: httpx.AsyncClient
) -> None:
    """An admin pushes a file: 201, version 1 is active, listed for a viewer, and the
    audit log names the admin. The same content again is 200 and changes nothing."""
    body = {"source": PAYMENTS.read_text(), "filename": "payments.toml"}
    first = await admin.post("/v1/policies", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["version"]["version"] == 1
    assert first.json()["activated"] is True
    again = await admin.post("/v1/policies", json=body)
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["activated"]) == (False, False)

    _, token = backend_env.add_supervisor("vic", ["payments"], role="viewer")
    viewer = backend_env.client(token)._http
    listed = (await viewer.get("/v1/policies")).json()
    assert [(v["policy_id"], v["version"], v["active"]) for v in listed] == [("payments", 1, True)]
    shown = (await viewer.get("/v1/policies/payments/versions/1")).json()
    assert shown["source"] == PAYMENTS.read_text()
    trail = [line async for line in backend_env.client(token).export_audit() if '"policy.' in line]
    assert len(trail) == 2 and all('"actor\\":\\"admin:ada\\"' in line for line in trail)


async def test_policy_http_push_of_a_bad_file_lists_each_problem(
    admin: httpx.AsyncClient,
) -> None:
    """A file that does not check is a 422 naming each problem's line; nothing is stored."""
    source = PAYMENTS.read_text().replace('when = "true"', 'when = "amout > 1"')
    r = await admin.post("/v1/policies", json={"source": source, "filename": "payments.toml"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problems = r.json()["problems"]
    assert any("unknown field 'amout'" in p["message"] for p in problems)
    line = next(p["line"] for p in problems if "amout" in p["message"])
    assert source.splitlines()[line - 1].startswith("when = ")
    assert f"payments.toml:{line}:" in r.json()["detail"]
    assert (await admin.get("/v1/policies")).json() == []


async def test_policy_http_activate_rolls_back(admin: httpx.AsyncClient) -> None:
    """Activating an older version makes it the active one again; an unknown version is
    a 404 that names it."""
    v1 = PAYMENTS.read_text()
    v2 = v1.replace("Refund agent:", "Refund agent (v2):", 1)
    for source in (v1, v2):
        await admin.post("/v1/policies", json={"source": source})
    r = await admin.post("/v1/policies/payments/versions/1/activate")
    assert r.status_code == 200
    assert (r.json()["version"]["version"], r.json()["previous_version"]) == (1, 2)
    active = [v["version"] for v in (await admin.get("/v1/policies")).json() if v["active"]]
    assert active == [1]
    missing = await admin.post("/v1/policies/payments/versions/9/activate")
    assert missing.status_code == 404
    assert "no version 9" in missing.json()["detail"]
