"""Ingest benchmark: ``POST /v1/escalations`` as production runs it, next to a no-op POST.

On a copy of a filled database (10k open cases by default, :mod:`fill`), with the example
policies pushed (``backend/policies/*.toml``: CEL triage, the payments policy's
``[redaction]`` fields), ``HITL_REDACT_FIELDS`` set, and bodies that carry personal data
(e-mail, phone, IBAN, card, IP, a customer's name) so the redaction replaces something
in every request; every escalation is audited (hash chain) in its transaction. The
baseline is the ``async def`` no-op ``POST /bench/noop`` of ``bench_app.py``, served by
the same uvicorn process and sent the same body.

- c=1: one keep-alive connection, the two endpoints taking turns in blocks; p50 and p99;
- c=32: ``wrk`` req/s, the no-op before and after ingest (their mean is the reference),
  and the server's CPU per request;
- where the time goes: the service timed in-process phase by phase (``submit_escalation``
  with wrappers around its steps, one thread, no HTTP), and, if ``py-spy`` is installed
  beside the interpreter, the server sampled during an extra c=32 ingest run (py-spy
  pauses the process for each sample, so that run's rate is not reported).

    .venv/bin/python tests/bench/bench_ingest.py            # 10k cases

See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (ROOT, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_api import PY, Bench, _load_note, _wait_for_quiet  # noqa: E402

NOOP = "POST /bench/noop"
INGEST = "POST /v1/escalations"
REDACT_FIELDS = "context.customer.name"
#: Personal data put into every body (the redaction must find and replace each).
PII = {
    "email": "jane.doe@example.com",
    "phone": "+44 20 7946 0958",
    "iban": "DE89 3704 0044 0532 0130 00",
    "card": "4111 1111 1111 1111",
    "ip": "203.0.113.7",
    "name": "Margarethe Quimby-Oyelaran",
}


def templates() -> list[bytes]:
    """One body per domain with personal data in summary, context and evidence; the
    idempotency key is left as @@KEY@@."""
    from store.contracts import EvidenceItem
    from store.samples import sample_escalation

    out = []
    for i in range(3):
        esc = sample_escalation(20_000 + i, seed=99)
        esc = esc.model_copy(
            update={
                "idempotency_key": "@@KEY@@",
                "summary": f"{esc.summary[:300]} (contact {PII['email']}, {PII['phone']})",
                "context": {
                    **esc.context,
                    "customer": {"name": PII["name"], "ip": PII["ip"]},
                    "customer_name": PII["name"],  # the payments policy's [redaction]
                },
                "evidence": [
                    *esc.evidence,
                    EvidenceItem(
                        title="Payout details",
                        content=f"IBAN {PII['iban']}, card {PII['card']}",
                        source="helpdesk://ticket",
                    ),
                ],
            }
        )
        out.append(esc.model_dump_json(exclude_none=True).encode())
    return out


def push_examples(db_url: str) -> list[str]:
    from backend.policies import example_policies
    from backend.services.policies import push_policy
    from store.db import make_engine

    engine = make_engine(db_url)
    try:
        pushed = []
        for path in example_policies():
            result = push_policy(
                engine, source=path.read_text(), filename=path.name, author="bench"
            )
            pushed.append(f"{result.version.policy_id} v{result.version.version}")
        return pushed
    finally:
        engine.dispose()


def percentile(ns: list[int], q: float) -> float:
    ordered = sorted(ns)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] / 1e6


def latency(bench: Bench, endpoints: dict[str, list[bytes]]) -> dict[str, dict[str, Any]]:
    """Raw c=1 timings (ns) and statuses, from bench_api's keep-alive client."""
    spec = bench.work / "latency.pickle"
    spec.write_bytes(
        pickle.dumps(
            {
                "port": bench.port,
                "warmup": bench.args.warmup,
                "block": bench.args.block,
                "endpoints": endpoints,
            }
        )
    )
    out = subprocess.run(
        bench._pinned(1, [PY, str(HERE / "bench_api.py"), "--latency-client", str(spec)]),
        capture_output=True,
        check=True,
        timeout=1800,
    )
    result: dict[str, dict[str, Any]] = json.loads(out.stdout)
    return result


def outcomes(bench: Bench) -> dict[str, float]:
    """hitl_escalations_total by outcome, from the server's /metrics."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{bench.port}/metrics", timeout=10).text
    mix: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "hitl_escalations_total":
                mix[s.labels["outcome"]] += s.value
    return dict(mix)


# -- where ingest time goes -----------------------------------------------------------------


def _frame(*names: str, where: str = "") -> re.Pattern[str]:
    """A py-spy frame ``[Class.]name (path:line)`` for one of ``names`` in ``where``."""
    return re.compile(rf"^(?:\w+\.)*(?:{'|'.join(names)}) \((?:.*/)?{where}")


#: The leaf frame of a thread queued for the write lock (store.db.write_session).
LOCK_WAIT = re.compile(r"^write_session \((?:.*/)?store/db\.py:\d+\)$")
#: Leaf frames of threads with nothing to do: a threadpool worker waiting for work, the
#: event loop waiting for sockets.
IDLE = re.compile(r"^(?:Condition\.wait|Condition\._acquire_restore) \(|^Runner\.run \(")
#: py-spy categories, innermost first: a sample counts for the first category found walking
#: its stack from the leaf up.
SPY_CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("canonical JSON, digests", _frame("canonical_json", "json_digest", "sha256_hex")),
    ("audit append", _frame("append_event", where="store/audit.py")),
    ("redaction", _frame("redact_escalation", "_redacted")),
    ("policy triage (CEL)", _frame("evaluate", where="backend/services/policy_triage.py")),
    ("idempotency lookup", _frame("case_by_idempotency_key")),
    ("commit", _frame("commit", where="sqlalchemy/orm/session.py")),
    ("transaction begin, connection", _frame("write_session", where="store/db.py")),
    ("case row (ORM insert, flush)", _frame("_create_case")),
    ("response (status)", _frame("_status", where="backend/services/escalations.py")),
    ("rest of submit_escalation", _frame("submit_escalation")),
    ("metrics, event log", _frame("case_created", where="backend/events.py")),
]
OUTSIDE = "HTTP, validation, serialization, threadpool"


def spy_summary(raw: Path) -> tuple[int, int, int, list[tuple[str, float]]]:
    """From py-spy ``--format raw`` stacks: all samples, those of threads queued for the
    write lock, those of idle threads (neither is CPU), and the share of each category
    among the others."""
    counts: Counter[str] = Counter()
    total = waiting = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit() or ";" not in stack:
            continue
        frames = [f.strip() for f in stack.split(";")]
        total += int(n)
        if LOCK_WAIT.match(frames[-1]):
            waiting += int(n)
            continue
        if IDLE.match(frames[-1]):
            idle += int(n)
            continue
        for frame in reversed(frames):
            hit = next((name for name, rx in SPY_CATEGORIES if rx.search(frame)), None)
            if hit:
                counts[hit] += int(n)
                break
        else:
            counts[OUTSIDE] += int(n)
    working = total - waiting - idle
    order = [name for name, _ in SPY_CATEGORIES] + [OUTSIDE]
    return total, waiting, idle, [(k, counts[k] / working if working else 0.0) for k in order]


def in_process(
    db: Path, info: Any, n: int, warmup: int
) -> tuple[float, float, list[tuple[str, int, float]]]:
    """Time ``submit_escalation`` and its steps in this process (one thread, no HTTP).

    Returns the mean and median ms per escalation and (step, depth, mean ms) rows; a
    step's time includes the steps indented under it."""
    from fill import BENCH_DIR
    from sqlmodel import Session as SqlSession

    import backend.services.escalations as esc_mod
    from backend.app import create_app
    from backend.settings import BackendSettings
    from store import audit as audit_mod
    from store.contracts import EscalationCreate
    from store.db import read_session
    from store.tables import Agent

    os.environ["HITL_REDACT_FIELDS"] = REDACT_FIELDS
    app = create_app(
        BackendSettings(database_url=f"sqlite:///{db}", server_key=BENCH_DIR / "server-ed25519.pem")
    )
    state = app.state.hitl
    with read_session(state.engine) as session:
        agent = session.get(Agent, info.agent_id)
    assert agent is not None
    bodies = templates()
    timers: dict[str, float] = defaultdict(float)
    perf = time.perf_counter

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = perf()
            try:
                return fn(*args, **kwargs)
            finally:
                timers[name] += perf() - t0

        return wrapper

    real_ws = esc_mod.write_session

    @contextmanager
    def write_session(engine: Any) -> Iterator[Any]:
        t0 = perf()
        try:
            with real_ws(engine) as session:
                yield session
        finally:
            timers["write transaction"] += perf() - t0

    patches: list[tuple[Any, str, Any]] = [
        (esc_mod, "_redacted", timed("redaction", esc_mod._redacted)),
        (state.triage, "evaluate", timed("policy triage (CEL)", state.triage.evaluate)),
        (esc_mod, "json_digest", timed("digests", esc_mod.json_digest)),
        (esc_mod, "write_session", write_session),
        (
            esc_mod,
            "case_by_idempotency_key",
            timed("idempotency lookup", esc_mod.case_by_idempotency_key),
        ),
        (esc_mod, "_create_case", timed("case row, content, audit", esc_mod._create_case)),
        (audit_mod, "append_event", timed("audit append", audit_mod.append_event)),
        (SqlSession, "commit", timed("commit", SqlSession.commit)),
        (esc_mod, "_status", timed("response (status)", esc_mod._status)),
    ]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        each: list[float] = []
        for i in range(warmup + n):
            body = bodies[i % 3].replace(b"@@KEY@@", f"inproc-{i}".encode())
            escalation = EscalationCreate.model_validate_json(body)
            if i == warmup:
                timers.clear()
                for obj, name, new in patches:
                    setattr(obj, name, new)
            t0 = perf()
            esc_mod.submit_escalation(state, agent=agent, escalation=escalation)
            if i >= warmup:
                each.append(perf() - t0)
    finally:
        for obj, name, old in saved:
            if obj is state.triage:
                del obj.__dict__[name]
            else:
                setattr(obj, name, old)
        state.engine.dispose()
    rows = [
        ("redaction", 1),
        ("policy triage (CEL)", 1),
        ("digests", 1),
        ("write transaction", 1),
        ("idempotency lookup", 2),
        ("case row, content, audit", 2),
        ("audit append", 3),
        ("commit", 2),
        ("response (status)", 2),
    ]
    mean, median = statistics.mean(each) * 1e3, statistics.median(each) * 1e3
    return mean, median, [(name, depth, timers[name] / n * 1e3) for name, depth in rows]


# -- the run --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description="hitl ingest benchmark (tests/bench/README.md)")
    parser.add_argument("--size", type=int, default=10_000, help="open cases already there")
    parser.add_argument("--requests", type=int, default=2000, help="c=1 requests per endpoint")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0, help="wrk seconds per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile-requests", type=int, default=1000, help="in-process timing")
    parser.add_argument(
        "--quiet-below",
        type=float,
        metavar="LOAD",
        help="first wait (up to --quiet-wait s) for the 1-min load average to drop below LOAD",
    )
    parser.add_argument("--quiet-wait", type=float, default=600)
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--no-spy", dest="spy", action="store_false", help="skip py-spy")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (sudo apt-get install -y wrk)", file=sys.stderr)
        return 2
    spy = Path(PY).with_name("py-spy")
    spy_dir = tempfile.mkdtemp(prefix="hitl-spy-") if args.spy and spy.exists() else None
    args.profile = spy_dir
    os.chdir(ROOT)
    from fill import BENCH_DIR, fill

    info = fill(args.size, log=lambda m: print(m, flush=True))
    db = BENCH_DIR / f"ingest-{args.size}.db"
    profile_db = BENCH_DIR / f"ingest-{args.size}-inproc.db"
    for target in (db, profile_db):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(info.path, db)
    pushed = push_examples(f"sqlite:///{db}")
    shutil.copyfile(db, profile_db)
    print(f"  {args.size:,} open cases; pushed {', '.join(pushed)}", flush=True)

    bodies = templates()
    os.environ["HITL_REDACT_FIELDS"] = REDACT_FIELDS
    bench = Bench(args)
    n = args.warmup + args.requests
    noop_body = bodies[0].replace(b"@@KEY@@", b"noop")
    req = bench.request_bytes
    endpoints = {
        NOOP: [req("POST", "/bench/noop", None, noop_body)] * n,
        INGEST: [
            req(
                "POST",
                "/v1/escalations",
                info.agent_token,
                bodies[i % 3].replace(b"@@KEY@@", f"ingest-c1-{i}".encode()),
            )
            for i in range(n)
        ],
    }
    for i, body in enumerate(bodies):
        (bench.work / f"escalation-{i}.json").write_bytes(body)
    (bench.work / "noop.json").write_bytes(noop_body)
    if args.quiet_below:
        _wait_for_quiet(args.quiet_below, args.quiet_wait)
    load_before = _load_note()
    bench.start_server(db)
    try:
        c1 = latency(bench, endpoints)
        post = ["tests/bench/wrk_post.lua", str(bench.work / "noop.json")]
        files = [str(bench.work / f"escalation-{i}.json") for i in range(3)]
        noop_runs = [bench.wrk("/bench/noop", None, post)]
        ingest = bench.wrk(
            "/v1/escalations", info.agent_token, ["tests/bench/wrk_ingest.lua", *files, "c32"]
        )
        noop_runs.append(bench.wrk("/bench/noop", None, post))
        mix = outcomes(bench)
        if spy_dir:
            # py-spy pauses the server for every sample: its run is not one of the measured.
            bench.wrk(
                "/v1/escalations",
                info.agent_token,
                ["tests/bench/wrk_ingest.lua", *files, "spy"],
                profile="ingest",
            )
    finally:
        bench.stop_server()
        shutil.rmtree(bench.work, ignore_errors=True)
    load_after = _load_note()
    print("  timing the service in-process", flush=True)
    inproc_ms, inproc_median, steps = in_process(profile_db, info, args.profile_requests, 100)
    for target in (db, profile_db):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)

    # -- report
    noop_rps = statistics.mean(r[0] for r in noop_runs)
    noop_cpu = [r[4] for r in noop_runs if r[4] is not None]
    ratio = ingest[0] / noop_rps
    print()
    print(
        f"Ingest at {args.size:,} open cases, example policies pushed, redaction and audit on "
        f"({load_before}; after: {load_after.removeprefix('load average ')})"
    )
    print(
        f"c=1: {args.requests} requests each after {args.warmup} warm-up, taking turns in "
        f"blocks of {args.block}; c={args.connections}: wrk -t{args.threads} "
        f"{args.duration:g} s"
    )
    print()
    head = ("endpoint", "p50 ms", "p99 ms", "req/s c=32", "CPU µs/req")
    print(f"| {head[0]:<22} | {head[1]:>7} | {head[2]:>7} | {head[3]:>10} | {head[4]:>10} |")
    print(f"|{'-' * 24}|{'-' * 9}|{'-' * 9}|{'-' * 12}|{'-' * 12}|")
    for name in (NOOP, INGEST):
        ns = c1[name]["ns"]
        if name == NOOP:
            rps, cpu = noop_rps, (statistics.mean(noop_cpu) if noop_cpu else math.nan)
        else:
            rps, cpu = ingest[0], ingest[4] if ingest[4] is not None else math.nan
        print(
            f"| {name:<22} | {statistics.median(ns) / 1e6:>7.3f} | {percentile(ns, 0.99):>7.3f} "
            f"| {rps:>10,.0f} | {cpu:>10,.0f} |"
        )
    print()
    print(
        f"ingest / no-op POST req/s at c={args.connections}: {ratio:.1%} "
        f"(no-op runs {' and '.join(f'{r[0]:,.0f}' for r in noop_runs)} req/s; target >= 40%)"
    )
    p50_ratio = statistics.median(c1[INGEST]["ns"]) / statistics.median(c1[NOOP]["ns"])
    print(f"ingest / no-op POST p50 at c=1: {p50_ratio:.1f}x")
    odd = {k: v for k, v in c1[INGEST]["statuses"].items() if k not in ("200", "201")}
    errors = ingest[1]
    if odd or errors:
        print(f"  non-2xx: c=1 {odd or 0}, c=32 {errors}")
    print(
        "outcomes of the ingested escalations (hitl_escalations_total): "
        + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(mix.items()))
    )
    print()
    print(
        f"In-process, one thread, no HTTP: submit_escalation {inproc_ms:.2f} ms per "
        f"escalation (mean of {args.profile_requests}; median {inproc_median:.2f} ms); "
        "a step includes those under it:"
    )
    for name, depth, ms in steps:
        print(f"  {'  ' * (depth - 1)}{name:<{34 - 2 * depth}} {ms:6.3f} ms  {ms / inproc_ms:5.1%}")
    http_ms = statistics.median(c1[INGEST]["ns"]) / 1e6 - inproc_median
    if http_ms > 0:
        print(
            "  HTTP, FastAPI validation and serialization, threadpool hop (c=1 p50 minus the "
            f"in-process median): ~{http_ms:.2f} ms"
        )
    else:
        print(
            "  (the in-process run was slower than the server's c=1 p50: the machine got "
            "busier; compare shares, not milliseconds)"
        )
    if spy_dir:
        raw = Path(spy_dir) / "ingest.txt"
        if raw.exists():
            shutil.copyfile(raw, BENCH_DIR / "ingest-py-spy.txt")
            total, waiting, idle, shares = spy_summary(raw)
            print()
            print(
                f"py-spy of the server during an extra c={args.connections} ingest run (py-spy "
                f"pauses the server to sample: not a measured run): {total:,} samples, "
                f"{waiting / total:.0%} threads queued for the write lock (one writer at a "
                f"time), {idle / total:.0%} idle threads. The {total - waiting - idle:,} "
                "working samples, by the innermost step they were in:"
            )
            for name, share in shares:
                print(f"  {name:<44} {share:5.1%}")
            print(f"  raw stacks: {BENCH_DIR / 'ingest-py-spy.txt'}")
        shutil.rmtree(spy_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
