"""/metrics, trace context and structured logs, through the in-process app."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families

from backend.app import create_app
from backend.logs import JsonFormatter, TextFormatter
from backend.metrics import QueueDepthCollector
from backend.request_log import TRACE_HEADER
from backend.settings import BackendSettings
from backend.tracecontext import parse_traceparent
from console.decisions import build_decision, sign_decision
from store.contracts import EscalationCreate
from store.samples import sample_escalations
from store.signing import public_key_b64

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def _esc(i: int = 0, **changes: object) -> EscalationCreate:
    return sample_escalations(i + 1)[i].model_copy(update={"trace_id": None, **changes})


def _http(backend_env, token: str | None = None, **kw: object) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend_env.app, **kw),  # type: ignore[arg-type]
        base_url="http://hitl.test",
        headers=headers,
    )


async def _post(
    backend_env, escalation: EscalationCreate, **headers: str | bytes
) -> httpx.Response:
    async with _http(backend_env, backend_env.agent_token) as http:
        return await http.post(
            "/v1/escalations",
            content=escalation.model_dump_json(),
            headers={"Content-Type": "application/json", **headers},
        )


async def _scrape(backend_env) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with _http(backend_env) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def _decide(backend_env, case_id: int, key: Ed25519PrivateKey, **kw: object):
    client = backend_env.client()
    me = await client.me()
    await client.claim(case_id)
    case = await client.case(case_id)
    payload = build_decision(
        case,
        supervisor_id=me.id,
        key=key,
        signed_at=backend_env.clock(),
        **kw,  # type: ignore[arg-type]
    )
    return await client.decide(case_id, sign_decision(payload, key))


class Captured(logging.Handler):
    """Formats each record as it is emitted (inside the request, like the real handler)."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_log() -> Iterator[Captured]:
    handler = Captured(JsonFormatter())
    logger = logging.getLogger("hitl")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


# -- /metrics ------------------------------------------------------------------------------


async def test_metrics_count_escalations_by_outcome_domain_and_severity(backend_env) -> None:
    """Each new case counts once under its outcome, domain and severity; replays do not."""
    statuses = []
    for i in range(6):
        response = await _post(backend_env, _esc(i))
        assert response.status_code == 201
        statuses.append((_esc(i).domain, response.json()["severity"]))
    assert (await _post(backend_env, _esc(0))).status_code == 200  # a replay
    samples = await _scrape(backend_env)
    for domain, severity in set(statuses):
        assert _value(
            samples,
            "hitl_escalations_total",
            outcome="escalate",
            domain=domain,
            severity=severity,
        ) == statuses.count((domain, severity))
    total = sum(v for (n, _), v in samples.items() if n == "hitl_escalations_total")
    assert total == 6


async def test_metrics_decisions_time_to_decision_and_sla_breaches(backend_env) -> None:
    """Decisions count per supervisor and action; time to decision lands in the histogram;
    a decision after the due time is an SLA breach."""
    key = Ed25519PrivateKey.generate()
    await backend_env.client().enroll_key(public_key_b64(key.public_key()))
    on_time = (await _post(backend_env, _esc(0))).json()
    late = (await _post(backend_env, _esc(1))).json()
    domain0, domain1 = _esc(0).domain, _esc(1).domain

    backend_env.clock.advance(90)
    await _decide(backend_env, on_time["id"], key, action="approve")
    backend_env.clock.now = backend_env.clock.now.fromisoformat(late["due_at"]) + timedelta(
        minutes=5
    )
    await _decide(backend_env, late["id"], key, action="reject", rationale="too late to act")

    s = await _scrape(backend_env)
    assert _value(s, "hitl_decisions_total", supervisor="alice", action="approve") == 1
    assert _value(s, "hitl_decisions_total", supervisor="alice", action="reject") == 1
    sev0, sev1 = on_time["severity"], late["severity"]
    labels0 = {"domain": domain0, "severity": sev0}
    assert _value(s, "hitl_time_to_decision_seconds_count", **labels0) == 1
    assert _value(s, "hitl_time_to_decision_seconds_sum", **labels0) == 90
    assert _value(s, "hitl_time_to_decision_seconds_bucket", **labels0, le="60.0") == 0
    assert _value(s, "hitl_time_to_decision_seconds_bucket", **labels0, le="120.0") == 1
    assert _value(s, "hitl_sla_breaches_total", domain=domain0, severity=sev0) == 0
    assert _value(s, "hitl_sla_breaches_total", domain=domain1, severity=sev1) == 1


async def test_metrics_queue_depth_per_group_and_severity(backend_env) -> None:
    """The gauge counts open cases by group and severity, as the database has them."""
    expected: dict[tuple[str, str], int] = {}
    for i in range(9):
        body = (await _post(backend_env, _esc(i))).json()
        k = (body["group"], body["severity"])
        expected[k] = expected.get(k, 0) + 1
    s = await _scrape(backend_env)
    for (group, severity), n in expected.items():
        assert _value(s, "hitl_queue_depth", group=group, severity=severity) == n
    depth = sum(v for (n, _), v in s.items() if n == "hitl_queue_depth")
    assert depth == 9


def test_metrics_queue_depth_is_cached_and_drops_to_zero(backend_env) -> None:
    """One COUNT per ttl, however often it is scraped; a drained queue reads 0, not gone."""
    now = [0.0]
    collector = QueueDepthCollector(backend_env.state.engine, ttl=5, clock=lambda: now[0])
    backend_env.submit(_esc(0))

    def read() -> dict[tuple[str, ...], float]:
        return {tuple(s.labels.values()): s.value for m in collector.collect() for s in m.samples}

    first = read()
    assert sum(first.values()) == 1
    backend_env.submit(_esc(1))
    assert read() == first  # cached
    now[0] = 6
    assert sum(read().values()) == 2
    from sqlalchemy import update

    from store.tables import Case

    with backend_env.state.engine.begin() as conn:
        conn.execute(update(Case).values(status="decided"))
    now[0] = 12
    after = read()
    assert after and set(after.values()) == {0}


async def test_metrics_fallbacks_counter_is_exposed(backend_env) -> None:
    """The SLA sweeper's counter exists from the start and counts what it is told."""
    s = await _scrape(backend_env)
    assert not [k for k in s if k[0] == "hitl_fallbacks_total"]
    backend_env.state.metrics.fallback_fired(domain="payments", severity="high", reason="sla")
    s = await _scrape(backend_env)
    assert _value(s, "hitl_fallbacks_total", domain="payments", severity="high", reason="sla") == 1


async def test_metrics_loopback_only_without_token(backend_env) -> None:
    """Without HITL_METRICS_TOKEN, a client that is not on loopback gets 403."""
    async with _http(backend_env, client=("192.0.2.10", 40000)) as http:
        response = await http.get("/metrics")
    assert response.status_code == 403
    assert "HITL_METRICS_TOKEN" in response.json()["detail"]


async def test_metrics_token_required_when_set(tmp_path, db_url) -> None:
    """With HITL_METRICS_TOKEN, /metrics wants it as a bearer token, from anywhere."""
    token = "m" * 40
    app = create_app(
        BackendSettings(
            database_url=db_url, server_key=tmp_path / "server.pem", metrics_token=token
        )
    )
    try:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://hitl.test") as http:
            assert (await http.get("/metrics")).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert (await http.get("/metrics", headers=wrong)).status_code == 401
            ok = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and "hitl_queue_depth" in ok.text
    finally:
        app.state.hitl.engine.dispose()


# -- trace context -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "trace"),
    [
        (TRACEPARENT, TRACE),
        (f"00-{TRACE}-00f067aa0ba902b7-00", TRACE),
        (f"01-{TRACE}-00f067aa0ba902b7-01-future-field", TRACE),  # later versions may add
        (f"00-{TRACE}-00f067aa0ba902b7-01-extra", None),  # version 00 may not
        (f"ff-{TRACE}-00f067aa0ba902b7-01", None),  # version ff is invalid
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),  # all-zero trace id
        (f"00-{TRACE}-{'0' * 16}-01", None),  # all-zero parent id
        (f"00-{TRACE.upper()}-00f067aa0ba902b7-01", None),  # upper case
        (f"00-{TRACE[:-1]}-00f067aa0ba902b7-01", None),  # short trace id
        (f"00-{TRACE}-00f067aa0ba902b7", None),  # no flags
        ("garbage", None),
        ("", None),
    ],
)
def test_traceparent_parsing(header: str, trace: str | None) -> None:
    assert parse_traceparent(header) == trace
    assert parse_traceparent(header.encode()) == trace


async def test_traceparent_trace_id_lands_on_case_and_in_log(backend_env, json_log) -> None:
    """A traceparent header's trace id is stored on the case (the body has none), echoed
    in X-Trace-Id, and carried by the request's log lines with the principal."""
    response = await _post(backend_env, _esc(0), traceparent=TRACEPARENT)
    assert response.status_code == 201
    assert response.headers[TRACE_HEADER] == TRACE
    case = await backend_env.client().case(response.json()["id"])
    assert case.trace_id == TRACE

    lines = [json.loads(line) for line in json_log.lines]
    access = [x for x in lines if x["logger"] == "hitl.access" and x["method"] == "POST"]
    assert len(access) == 1
    line = access[0]
    assert line["trace_id"] == TRACE
    assert line["path"] == "/v1/escalations" and line["status"] == 201
    assert line["principal"] == "agent:refund-bot"
    assert isinstance(line["duration_ms"], float)
    created = [x for x in lines if x.get("event") == "case.created"]
    assert created and created[0]["trace_id"] == TRACE
    assert created[0]["case_id"] == case.id


async def test_traceparent_body_trace_id_wins(backend_env) -> None:
    """An escalation that carries its own trace_id keeps it; the header does not override."""
    response = await _post(backend_env, _esc(0, trace_id="abc123"), traceparent=TRACEPARENT)
    case = await backend_env.client().case(response.json()["id"])
    assert case.trace_id == "abc123"


async def test_body_trace_id_is_echoed_only_if_header_safe(backend_env) -> None:
    """The body's own trace id is echoed and logged when it is a plain token; one with
    control characters is stored as sent but never put in a header (no 500, no injection)."""
    plain = await _post(backend_env, _esc(0, trace_id="run-42.step:7"))
    assert plain.status_code == 201 and plain.headers[TRACE_HEADER] == "run-42.step:7"
    nasty = await _post(backend_env, _esc(1, trace_id="x\r\nSet-Cookie: a=b"))
    assert nasty.status_code == 201
    assert "set-cookie" not in nasty.headers
    assert len(nasty.headers[TRACE_HEADER]) == 32
    case = await backend_env.client().case(nasty.json()["id"])
    assert case.trace_id == "x\r\nSet-Cookie: a=b"


async def test_traceparent_does_not_break_idempotent_replay(backend_env) -> None:
    """A retry under another trace is still a replay of the same body (200, same case)."""
    first = await _post(backend_env, _esc(0), traceparent=TRACEPARENT)
    other = f"00-{'1' * 32}-00f067aa0ba902b7-01"
    again = await _post(backend_env, _esc(0), traceparent=other)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"00-{'0' * 32}-00f067aa0ba902b7-01",
        f"00-{TRACE}-{'0' * 16}-01",
        "00-xyz-00f067aa0ba902b7-01",
        b"\xff\xfe",
    ],
)
async def test_traceparent_malformed_is_ignored(backend_env, json_log, header: str | bytes) -> None:
    """A malformed traceparent is ignored, not a 500: the case has no trace id and the
    request gets a fresh one of its own."""
    response = await _post(backend_env, _esc(0), traceparent=header)
    assert response.status_code == 201
    own = response.headers[TRACE_HEADER]
    assert parse_traceparent(f"00-{own}-00f067aa0ba902b7-01") == own
    case = await backend_env.client().case(response.json()["id"])
    assert case.trace_id is None
    access = [json.loads(x) for x in json_log.lines if '"hitl.access"' in x]
    assert [x["trace_id"] for x in access if x["method"] == "POST"] == [own]


async def test_request_log_names_status_and_principal_on_errors(backend_env, caplog) -> None:
    """A refused request is logged too: 401 with no principal, 404 with the supervisor."""
    caplog.set_level(logging.INFO, logger="hitl.access")
    async with _http(backend_env, "hitl_agent_wrong") as http:
        await http.post("/v1/escalations", json={})
    async with _http(backend_env, backend_env.supervisor_token) as http:
        await http.get("/v1/cases/999")
    records = [r for r in caplog.records if r.name == "hitl.access"]
    assert [(r.status, r.principal) for r in records] == [  # type: ignore[attr-defined]
        (401, None),
        (404, "supervisor:alice"),
    ]


async def test_request_log_says_499_not_500_for_a_long_poll_cancelled_before_its_answer(
    backend_env, caplog
) -> None:
    """A console that quits (or a server that stops) while its queue long-poll waits is
    logged as 499 at INFO, not as a 500 error an operator would chase."""
    caplog.set_level(logging.INFO, logger="hitl.access")
    async with _http(backend_env, backend_env.supervisor_token) as http:
        cursor = (await http.get("/v1/queue/changes")).json()["cursor"]
        caplog.clear()
        poll = asyncio.create_task(
            http.get("/v1/queue/changes", params={"after": cursor, "wait": 30})
        )
        await asyncio.sleep(0.3)  # waiting inside the endpoint
        poll.cancel()
        with pytest.raises(asyncio.CancelledError):
            await poll
    records = [r for r in caplog.records if r.name == "hitl.access"]
    assert [(r.status, r.levelno) for r in records] == [(499, logging.INFO)]  # type: ignore[attr-defined]


def test_log_formatters_carry_extra_fields_and_exceptions() -> None:
    """JSON: one object per line with the extra fields; text: key=value after the message."""
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.makeLogRecord(
            {
                "name": "hitl.events",
                "levelno": logging.INFO,
                "levelname": "INFO",
                "msg": "case %d created",
                "args": (7,),
                "case_id": 7,
                "trace_id": TRACE,
                "exc_info": sys.exc_info(),
            }
        )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "case 7 created" and entry["level"] == "info"
    assert entry["case_id"] == 7 and entry["trace_id"] == TRACE
    assert "ValueError: boom" in entry["exc"] and entry["ts"].endswith("Z")
    text = TextFormatter().format(record)
    assert "hitl.events case 7 created case_id=7" in text and "ValueError: boom" in text


def test_serve_logs_json_lines_with_trace_id(tmp_path) -> None:
    """`hitl serve --log-format json`: every stderr line is one JSON object, uvicorn's
    included, and each request has a line with its trace id."""
    import os
    import subprocess
    import sys
    import time

    from store.migrate import upgrade
    from tests.conftest import free_port

    url = f"sqlite:///{tmp_path / 'live.db'}"
    upgrade(url)
    port = free_port()
    log = tmp_path / "serve.log"
    args = ["--port", str(port), "--server-key", str(tmp_path / "server.pem")]
    args += ["--database-url", url, "--log-format", "json", "--log-level", "info"]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HITL_LOG_FORMAT": "text"},  # the option wins
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/healthz", headers={"traceparent": TRACEPARENT}
                )
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert response.status_code == 200 and response.headers[TRACE_HEADER] == TRACE
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert any(x["logger"].startswith("uvicorn") for x in lines)
    access = [x for x in lines if x["logger"] == "hitl.access" and x["path"] == "/healthz"]
    assert access and access[-1]["trace_id"] == TRACE and access[-1]["status"] == 200
