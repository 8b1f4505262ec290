"""Who may call what: every endpoint x every kind of caller -> the status they get.

The table below is the contract the README's roles table describes. Each row is one
endpoint; each column one caller:

- ``anonymous`` (no token), ``agent`` (an agent token);
- ``viewer``, ``supervisor``: in the case's group (``payments``); ``admin``: no group at all;
- ``viewer_out``, ``supervisor_out``: the same roles in another group (``moderation``).

A status is what the caller gets; ``HIDDEN`` is a 200 whose answer leaves the case out
(the queue does not list it, the export elides its events): outside their groups a case
does not exist for a supervisor. Every request that may succeed is well-formed and
would succeed, so a 403 or 404 is the authorization speaking, not a bad body.

``test_authz_table_covers_every_route`` fails when a route is added without a row.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.decisions import build_decision, sign_decision
from store.audit import verify_export
from store.contracts import CasePublic
from store.samples import sample_escalation
from store.signing import public_key_b64

HIDDEN = "hidden"
CALLERS = (
    "anonymous",
    "agent",
    "viewer",
    "supervisor",
    "admin",
    "viewer_out",
    "supervisor_out",
)

# fmt: off
#                                      anon agent viewer  sup  admin viewer_out sup_out
TABLE: dict[str, tuple[int | str, ...]] = {
    "GET /healthz":                     (200, 200, 200,   200, 200,  200,       200),
    "GET /metrics":                     (200, 200, 200,   200, 200,  200,       200),
    "GET /v1/audit/key":                (200, 200, 200,   200, 200,  200,       200),
    "POST /v1/escalations":             (401, 201, 401,   401, 401,  401,       401),
    "GET /v1/escalations/{case_id}":    (401, 200, 401,   401, 401,  401,       401),
    "POST /v1/escalations/{case_id}/info": (401, 200, 401, 401, 401,  401,       401),
    "GET /v1/queue":                    (401, 401, 200,   200, 200,  HIDDEN,    HIDDEN),
    "GET /v1/queue/changes":            (401, 401, 200,   200, 200,  HIDDEN,    HIDDEN),
    "GET /v1/cases/{case_id}":          (401, 401, 200,   200, 200,  404,       404),
    "GET /v1/cases/{case_id}/audit":    (401, 401, 200,   200, 200,  404,       404),
    "GET /v1/cases/{case_id}/related":  (401, 401, 200,   200, 200,  404,       404),
    "POST /v1/cases/{case_id}/claim":   (401, 401, 403,   200, 200,  403,       404),
    "DELETE /v1/cases/{case_id}/claim": (401, 401, 403,  204, 204,  403,       404),
    "POST /v1/cases/{case_id}/decisions": (401, 401, 403, 201, 201,  403,       404),
    "GET /v1/me":                       (401, 401, 200,   200, 200,  200,       200),
    "POST /v1/me/keys":                 (401, 401, 403,   201, 201,  403,       201),
    "PUT /v1/me/availability":          (401, 401, 403,   200, 200,  403,       200),
    "GET /v1/groups":                   (401, 401, 200,   200, 200,  HIDDEN,    HIDDEN),
    "GET /v1/audit/export":             (401, 401, 200,   200, 200,  HIDDEN,    HIDDEN),
    "GET /v1/policies":                 (401, 401, 200,   200, 200,  200,       200),
    "GET /v1/policies/{policy_id}/versions/{version}":
                                        (401, 401, 200,   200, 200,  200,       200),
    "POST /v1/policies":                (401, 401, 403,   403, 201,  403,       403),
    "POST /v1/policies/{policy_id}/versions/{version}/activate":
                                        (401, 401, 403,   403, 200,  403,       403),
}
# fmt: on


@dataclass
class Caller:
    name: str
    token: str | None
    id: int | None = None
    key: Ed25519PrivateKey | None = None


@dataclass
class World:
    http: httpx.AsyncClient
    env: Any
    callers: dict[str, Caller]

    async def new_case(self, n: int) -> CasePublic:
        """A fresh open case in ``payments``, as alice (every group) sees it."""
        esc = sample_escalation(0).model_copy(update={"idempotency_key": f"authz-{n}"})
        status = self.env.submit(esc)
        assert status.group == "payments"
        return await self.env.client().case(status.id)

    async def call(
        self, caller: Caller, method: str, path: str, body: Any = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {caller.token}"} if caller.token else {}
        return await self.http.request(method, path, headers=headers, json=body)


@pytest.fixture
async def world(backend_env) -> World:
    env = backend_env
    callers = {
        "anonymous": Caller("anonymous", None),
        "agent": Caller("agent", env.agent_token),
    }
    for name, role, groups in (
        ("viewer", "viewer", ["payments"]),
        ("supervisor", "supervisor", ["payments"]),
        ("admin", "admin", []),
        ("viewer_out", "viewer", ["moderation"]),
        ("supervisor_out", "supervisor", ["moderation"]),
    ):
        ident, token = env.add_supervisor(f"authz-{name}", groups, role)
        callers[name] = Caller(name, token, ident)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app), base_url="http://hitl.test"
    )
    world = World(http, env, callers)
    # Those who may sign have a key enrolled (through the service: the table tests the route).
    from backend.services.keys import enroll_key
    from store.db import read_session
    from store.tables import Supervisor

    for name in ("supervisor", "admin", "supervisor_out"):
        caller = callers[name]
        caller.key = Ed25519PrivateKey.generate()
        with read_session(env.state.engine) as session:
            sup = session.get(Supervisor, caller.id)
        assert sup is not None
        enroll_key(env.state, supervisor=sup, public_key=public_key_b64(caller.key.public_key()))
    yield world
    await http.aclose()


Probe = Callable[[World, Caller, int], Awaitable[int | str]]


def _listed(page: dict[str, Any], case_id: int) -> bool:
    return any(item["id"] == case_id for item in page["items"])


async def _status(world: World, caller: Caller, method: str, path: str, body: Any = None) -> int:
    return (await world.call(caller, method, path, body)).status_code


async def probe_queue(world: World, caller: Caller, n: int) -> int | str:
    case = await world.new_case(n)
    r = await world.call(caller, "GET", "/v1/queue?limit=1000")
    if r.status_code == 200 and not _listed(r.json(), case.id):
        return HIDDEN
    return r.status_code


async def probe_changes(world: World, caller: Caller, n: int) -> int | str:
    r = await world.call(caller, "GET", "/v1/queue/changes")
    if r.status_code != 200:
        return r.status_code
    case = await world.new_case(n)
    r = await world.call(caller, "GET", f"/v1/queue/changes?after={r.json()['cursor']}")
    if r.status_code == 200 and not any(c["case_id"] == case.id for c in r.json()["changes"]):
        return HIDDEN
    return r.status_code


async def probe_export(world: World, caller: Caller, n: int) -> int | str:
    case = await world.new_case(n)
    r = await world.call(caller, "GET", "/v1/audit/export")
    if r.status_code != 200:
        return r.status_code
    lines = r.text.splitlines()
    report = verify_export(lines)  # scoped or not, what a caller gets verifies
    shown = [json.loads(json.loads(x)["body"]) for x in lines if json.loads(x)["type"] == "event"]
    if not any(e["case_id"] == case.id for e in shown):
        assert report.elided > 0
        return HIDDEN
    return 200


async def probe_decide(world: World, caller: Caller, n: int) -> int | str:
    case = await world.new_case(n)
    signer = caller.key or Ed25519PrivateKey.generate()
    # A decision is made under the signer's claim; those who cannot claim sign a made-up
    # token (their request is refused before the claim is looked at).
    claim = await world.call(caller, "POST", f"/v1/cases/{case.id}/claim")
    payload = build_decision(
        case,
        action="approve",
        supervisor_id=caller.id or 0,
        key=signer,
        signed_at=world.env.clock(),
        claim_token=claim.json()["token"] if claim.status_code == 200 else 1,
    )
    body = json.loads(sign_decision(payload, signer).model_dump_json())
    return await _status(world, caller, "POST", f"/v1/cases/{case.id}/decisions", body)


async def probe_answer(world: World, caller: Caller, n: int) -> int | str:
    """The agent answers a question the group's supervisor asked about a fresh case."""
    case = await world.new_case(n)
    asker = world.callers["supervisor"]
    assert asker.key is not None and asker.id is not None
    payload = build_decision(
        case,
        action="request_info",
        question="Which order?",
        supervisor_id=asker.id,
        key=asker.key,
        signed_at=world.env.clock(),
    )
    body = json.loads(sign_decision(payload, asker.key).model_dump_json())
    asked = await world.call(asker, "POST", f"/v1/cases/{case.id}/decisions", body)
    assert asked.status_code == 201, asked.text
    answer = {"answer": "order 1234"}
    return await _status(world, caller, "POST", f"/v1/escalations/{case.id}/info", answer)


async def probe_enroll(world: World, caller: Caller, n: int) -> int | str:
    public = public_key_b64(Ed25519PrivateKey.generate().public_key())
    return await _status(world, caller, "POST", "/v1/me/keys", {"public_key": public})


async def probe_availability(world: World, caller: Caller, n: int) -> int | str:
    return await _status(world, caller, "PUT", "/v1/me/availability", {"availability": "away"})


async def probe_groups(world: World, caller: Caller, n: int) -> int | str:
    await world.new_case(n)  # payments has had a queued case: it is a group
    r = await world.call(caller, "GET", "/v1/groups")
    if r.status_code == 200 and not any(g["name"] == "payments" for g in r.json()):
        return HIDDEN
    return r.status_code


async def probe_submit(world: World, caller: Caller, n: int) -> int | str:
    esc = sample_escalation(0).model_copy(update={"idempotency_key": f"authz-submit-{n}"})
    return await _status(
        world, caller, "POST", "/v1/escalations", json.loads(esc.model_dump_json())
    )


def _policy(n: int, rule: str = "default") -> str:
    return f"""\
id = "authz-{n}"
domains = ["authz-{n}"]

[[rules]]
name = "{rule}"
description = "Everything is reviewed"
when = "true"
outcome = "escalate"
severity = "low"
"""


def _stored_policy(world: World, n: int, versions: int = 1) -> None:
    from backend.services.policies import push_policy

    for v in range(versions):
        push_policy(
            world.env.state.engine, source=_policy(n, f"rule-{v}"), filename="p.toml", author="t"
        )


async def probe_policy_push(world: World, caller: Caller, n: int) -> int | str:
    return await _status(
        world, caller, "POST", "/v1/policies", {"source": _policy(100 + n), "filename": "p.toml"}
    )


async def probe_policy_show(world: World, caller: Caller, n: int) -> int | str:
    _stored_policy(world, 200 + n)
    return await _status(world, caller, "GET", f"/v1/policies/authz-{200 + n}/versions/1")


async def probe_policy_activate(world: World, caller: Caller, n: int) -> int | str:
    _stored_policy(world, 300 + n, versions=2)  # v2 active; activating v1 is a rollback
    path = f"/v1/policies/authz-{300 + n}/versions/1/activate"
    return await _status(world, caller, "POST", path)


def on_case(method: str, suffix: str = "") -> Probe:
    async def probe(world: World, caller: Caller, n: int) -> int | str:
        case = await world.new_case(n)
        return await _status(world, caller, method, f"/v1/cases/{case.id}{suffix}")

    return probe


def plain(method: str, path: str) -> Probe:
    async def probe(world: World, caller: Caller, n: int) -> int | str:
        return await _status(world, caller, method, path)

    return probe


async def probe_escalation(world: World, caller: Caller, n: int) -> int | str:
    case = await world.new_case(n)
    return await _status(world, caller, "GET", f"/v1/escalations/{case.id}")


PROBES: dict[str, Probe] = {
    "GET /healthz": plain("GET", "/healthz"),
    "GET /metrics": plain("GET", "/metrics"),
    "GET /v1/audit/key": plain("GET", "/v1/audit/key"),
    "POST /v1/escalations": probe_submit,
    "GET /v1/escalations/{case_id}": probe_escalation,
    "POST /v1/escalations/{case_id}/info": probe_answer,
    "GET /v1/queue": probe_queue,
    "GET /v1/queue/changes": probe_changes,
    "GET /v1/cases/{case_id}": on_case("GET"),
    "GET /v1/cases/{case_id}/audit": on_case("GET", "/audit"),
    "GET /v1/cases/{case_id}/related": on_case("GET", "/related"),
    "POST /v1/cases/{case_id}/claim": on_case("POST", "/claim"),
    "DELETE /v1/cases/{case_id}/claim": on_case("DELETE", "/claim"),
    "POST /v1/cases/{case_id}/decisions": probe_decide,
    "GET /v1/me": plain("GET", "/v1/me"),
    "POST /v1/me/keys": probe_enroll,
    "PUT /v1/me/availability": probe_availability,
    "GET /v1/groups": probe_groups,
    "GET /v1/audit/export": probe_export,
    "GET /v1/policies": plain("GET", "/v1/policies"),
    "GET /v1/policies/{policy_id}/versions/{version}": probe_policy_show,
    "POST /v1/policies": probe_policy_push,
    "POST /v1/policies/{policy_id}/versions/{version}/activate": probe_policy_activate,
}


@pytest.mark.parametrize("endpoint", sorted(TABLE))
async def test_authz_every_caller_gets_the_status_the_table_says(
    world: World, endpoint: str
) -> None:
    """Each kind of caller gets exactly the table's answer from the endpoint: 401 without
    the right kind of token, 403 for a role that may not act, 404 (or a case left out)
    outside the caller's groups."""
    got = {}
    for i, name in enumerate(CALLERS):
        got[name] = await PROBES[endpoint](world, world.callers[name], i)
    expected = dict(zip(CALLERS, TABLE[endpoint], strict=True))
    assert got == expected


def test_authz_table_covers_every_route(backend_env) -> None:
    """A new endpoint cannot ship without saying who may call it: every route the app
    serves has a row (and a probe) here."""
    served = {
        f"{method.upper()} {path}"
        for path, methods in backend_env.app.openapi()["paths"].items()
        for method in methods
    }
    assert served == set(TABLE) == set(PROBES)


async def test_authz_forbidden_role_says_what_it_needs(world: World) -> None:
    """A viewer who tries to claim is told which role that needs and how to get it."""
    case = await world.new_case(99)
    r = await world.call(world.callers["viewer"], "POST", f"/v1/cases/{case.id}/claim")
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["required_role"] == "supervisor"
    assert problem["role"] == "viewer"
    assert "cannot claim, decide or enroll keys" in problem["detail"]


async def test_authz_admin_sees_every_group_in_the_queue(world: World) -> None:
    """An admin belongs to no group yet sees every group's cases."""
    for i, domain_index in enumerate((0, 1, 2)):
        esc = sample_escalation(domain_index).model_copy(update={"idempotency_key": f"adm-{i}"})
        world.env.submit(esc)
    r = await world.call(world.callers["admin"], "GET", "/v1/queue?limit=100")
    assert {item["group"] for item in r.json()["items"]} == {
        "payments",
        "moderation",
        "data-pipeline",
    }


async def test_authz_denials_are_counted_in_metrics(world: World) -> None:
    """/metrics counts refused requests by principal kind and reason: a missing or
    invalid token (401) and a role below the route's (403); allowed requests add nothing."""
    from prometheus_client.parser import text_string_to_metric_families

    async def denied() -> dict[tuple[str, str], float]:
        text = (await world.http.get("/metrics")).text
        return {
            (s.labels["principal"], s.labels["reason"]): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "hitl_access_denied_total"
        }

    case = await world.new_case(500)
    nobody, viewer = world.callers["anonymous"], world.callers["viewer"]
    await world.call(nobody, "GET", "/v1/queue")
    await world.call(nobody, "POST", "/v1/escalations", {})
    await world.call(Caller("forger", "hitl_sup_guessed"), "GET", "/v1/queue")
    await world.call(Caller("forger", "hitl_sup_guessed-2"), "GET", "/v1/me")
    await world.call(viewer, "POST", f"/v1/cases/{case.id}/claim")
    await world.call(viewer, "GET", f"/v1/cases/{case.id}")  # allowed: not counted
    assert await denied() == {
        ("supervisor", "missing_token"): 1,
        ("agent", "missing_token"): 1,
        ("supervisor", "invalid_token"): 2,
        ("supervisor", "role"): 1,
    }
