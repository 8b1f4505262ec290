"""API benchmark: hitl's hot routes next to no-op FastAPI routes, in one uvicorn process.

For each size N (open cases, filled by :mod:`fill`), on a copy of the filled database:

- latency at concurrency 1 (p50, p95): a keep-alive raw-socket client in its own process,
  pinned to the other core, warm-up first;
- throughput at concurrency 32 (req/s): ``wrk``, with Lua scripts for the POST bodies.

Endpoints: ``GET``/``POST /bench/noop`` (``async def`` no-ops, the baselines),
``GET /v1/queue`` (first page, and a cursor 90% of the way down the queue),
``POST /v1/escalations`` (new idempotency key each time) and
``POST /v1/cases/{id}/decisions`` (an Ed25519-signed DSSE envelope per open case).

    .venv/bin/python tests/bench/bench_api.py --sizes 10000 100000 1000000

See tests/bench/README.md for what the figures mean.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

PY = sys.executable

NAMES = (
    "GET /bench/noop",
    "POST /bench/noop",
    "GET /v1/queue (first page)",
    "GET /v1/queue (deep cursor)",
    "POST /v1/escalations",
    "POST /v1/cases/{id}/decisions",
)
#: Targets from the issue.
QUEUE_P50_MAX_RATIO = 2.0
WRITE_RPS_MIN_RATIO = 0.40


# -- the concurrency-1 client (runs in its own process) -----------------------------------


def _read_response(sock: socket.socket, buf: bytearray) -> int:
    """Read one HTTP/1.1 response with a Content-Length; return its status."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    head = bytes(buf[:end]).decode("latin-1")
    status = int(head[9:12])
    match = re.search(r"(?im)^content-length:\s*(\d+)", head)
    if match is None:
        raise ValueError(f"response without Content-Length:\n{head}")
    total = end + 4 + int(match.group(1))
    while len(buf) < total:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    del buf[:total]
    return status


def latency_client(spec_path: str) -> None:
    """Send pre-built requests one at a time on one keep-alive connection; print timings.

    The endpoints take turns in blocks of ``block`` requests, so that they all see the
    same machine (a noisy neighbour slows them together and the ratios hold), while each
    block runs after its own kind: a cheap endpoint is not timed while the server is still
    paying for the previous heavy request (garbage collection, pool returns).
    """
    spec = pickle.loads(Path(spec_path).read_bytes())
    sock = socket.create_connection(("127.0.0.1", spec["port"]))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    names = list(spec["endpoints"])
    lists = [spec["endpoints"][name] for name in names]
    timings: list[list[int]] = [[] for _ in names]
    statuses: list[dict[int, int]] = [{} for _ in names]
    perf = time.perf_counter_ns
    total, block = min(len(reqs) for reqs in lists), spec["block"]
    for lo in range(0, total, block):
        for e, reqs in enumerate(lists):
            for i in range(lo, min(lo + block, total)):
                t0 = perf()
                sock.sendall(reqs[i])
                status = _read_response(sock, buf)
                t1 = perf()
                statuses[e][status] = statuses[e].get(status, 0) + 1
                if i >= spec["warmup"]:
                    timings[e].append(t1 - t0)
    sock.close()
    out = {name: {"ns": timings[e], "statuses": statuses[e]} for e, name in enumerate(names)}
    json.dump(out, sys.stdout)


# -- driving the server ---------------------------------------------------------------------


@dataclass
class Result:
    name: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    rps: float | None = None
    rps_runs: list[float] = field(default_factory=list)
    cpu_us: float | None = None  # server CPU per request during the c=32 runs
    cpu_runs: list[float] = field(default_factory=list)
    c1_statuses: dict[str, int] = field(default_factory=dict)
    c32_errors: int = 0
    c32_seconds: float = 0.0
    note: str = ""


@dataclass
class Run:
    size: int
    fill_seconds: float
    fill_cached: bool
    db_bytes: int
    load: str
    results: list[Result] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        with socket.socket() as sock:  # a free loopback port, for the request bytes
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.pin = args.pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset")
        self.work = Path(tempfile.mkdtemp(prefix="hitl-bench-"))

    def _pinned(self, cpu: int, cmd: list[str]) -> list[str]:
        return ["taskset", "-c", str(cpu), *cmd] if self.pin else cmd

    def request_bytes(
        self, method: str, path: str, token: str | None, body: bytes | None = None
    ) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")

    # The server.

    def start_server(self, db: Path) -> None:
        from fill import BENCH_DIR

        env = {
            **os.environ,
            "HITL_DATABASE_URL": f"sqlite:///{db}",
            "HITL_SERVER_KEY": str(BENCH_DIR / "server-ed25519.pem"),
            # One agent ingests as fast as it can: measure ingest, not the rate limit.
            "HITL_INGEST_RATE": "0",
            "HITL_INGEST_BURST": "0",
            # The filled cases arrived over 30 days and most are past due: a sweeper would
            # spend the run applying their fallbacks (and empty the queue being measured).
            "HITL_SLA_SWEEP_SECONDS": "0",
        }
        cmd = [PY, "-m", "uvicorn", "--app-dir", str(HERE), "bench_app:create_bench_app"]
        cmd += ["--factory", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        cmd += ["--log-level", "warning", "--no-access-log"]
        self.server_log = (self.work / "server.log").open("wb")
        self.server = subprocess.Popen(
            self._pinned(0, cmd),
            env=env,
            cwd=ROOT,
            stdout=self.server_log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(self.request_bytes("GET", "/healthz", None))
                    if _read_response(sock, bytearray()) == 200:
                        return
            except OSError:
                pass
            if self.server.poll() is not None or time.monotonic() > deadline:
                self.stop_server()
                raise RuntimeError(
                    f"server did not start: {(self.work / 'server.log').read_text()}"
                )
            time.sleep(0.1)

    def stop_server(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.server_log.close()

    # Measurements.

    def latency(self, endpoints: dict[str, list[bytes]]) -> dict[str, Result]:
        """p50 and p95 at concurrency 1 for every endpoint, measured interleaved."""
        spec = self.work / "latency.pickle"
        spec.write_bytes(
            pickle.dumps(
                {
                    "port": self.port,
                    "warmup": self.args.warmup,
                    "block": self.args.block,
                    "endpoints": endpoints,
                }
            )
        )
        out = subprocess.run(
            self._pinned(1, [PY, __file__, "--latency-client", str(spec)]),
            capture_output=True,
            check=True,
            timeout=1800,
        )
        results = {}
        for name, data in json.loads(out.stdout).items():
            ns = sorted(data["ns"])
            p50 = statistics.median(ns) / 1e6
            p95 = ns[min(len(ns) - 1, math.ceil(0.95 * len(ns)) - 1)] / 1e6
            results[name] = Result(name, p50, p95, c1_statuses=data["statuses"])
            odd = set(data["statuses"]) - {"200", "201"}
            print(
                f"  c=1   {name:<32} p50 {p50:7.3f} ms  p95 {p95:7.3f} ms"
                + (f"  statuses {data['statuses']}" if odd else ""),
                flush=True,
            )
        return results

    def wrk(
        self,
        path: str,
        token: str | None,
        script: list[str] | None = None,
        seconds: float | None = None,
        profile: str | None = None,
    ) -> tuple[float, int, float, str, float | None]:
        """req/s at concurrency 32, non-2xx/3xx count, seconds run, extra script output,
        and the server's CPU time per request (µs, from /proc; None elsewhere)."""
        seconds = seconds or self.args.duration
        cmd = ["wrk", "-t", str(self.args.threads), "-c", str(self.args.connections)]
        seconds = max(1, round(seconds))  # wrk takes whole seconds
        cmd += ["-d", f"{seconds}s", "--timeout", "10s"]
        if token:
            cmd += ["-H", f"Authorization: Bearer {token}"]
        if script:
            cmd += ["-s", script[0]]
        cmd.append(f"http://127.0.0.1:{self.port}{path}")
        if script and len(script) > 1:
            cmd += ["--", *script[1:]]
        spy = self._py_spy(profile, seconds)
        cpu0 = self._server_cpu()
        proc = subprocess.run(
            self._pinned(1, cmd), capture_output=True, text=True, timeout=seconds + 60
        )
        cpu1 = self._server_cpu()
        if proc.returncode != 0:
            raise RuntimeError(f"wrk failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
        out = proc.stdout
        if spy is not None:
            spy.wait(timeout=60)
        rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))  # type: ignore[union-attr]
        errors = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
        sock_errors = re.search(r"Socket errors:.*", out)
        extra = " ".join(re.findall(r"^BENCH (.*)$", out, re.M))
        if sock_errors:
            extra += f" {sock_errors.group(0)}"
        done = re.search(r"(\d+) requests in", out)
        cpu_us = None
        if cpu0 is not None and cpu1 is not None and done and int(done.group(1)):
            cpu_us = (cpu1 - cpu0) * 1e6 / int(done.group(1))
        return rps, int(errors.group(1)) if errors else 0, seconds, extra.strip(), cpu_us

    def _server_cpu(self) -> float | None:
        """Seconds of CPU the server process has used (user + system), Linux only."""
        try:
            fields = Path(f"/proc/{self.server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _py_spy(self, name: str | None, seconds: float) -> subprocess.Popen[bytes] | None:
        if not (self.args.profile and name):
            return None
        spy = Path(PY).with_name("py-spy")
        out = Path(self.args.profile) / f"{name}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [str(spy), "record", "-p", str(self.server.pid), "-o", str(out), "-f", "raw"]
        cmd += ["-d", str(max(1, int(seconds) - 1)), "-r", "200", "--threads"]
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def throughput(
        self,
        result: Result,
        path: str,
        token: str | None,
        script: list[str] | None = None,
        seconds: float | None = None,
        profile: str | None = None,
    ) -> float:
        """req/s at concurrency 32 into ``result`` (summed over repeats, see ``rps_runs``)."""
        rps, errors, ran, extra, cpu_us = self.wrk(path, token, script, seconds, profile)
        result.rps_runs.append(rps)
        result.rps = statistics.mean(result.rps_runs)
        if cpu_us is not None:
            result.cpu_runs.append(cpu_us)
            result.cpu_us = statistics.mean(result.cpu_runs)
        result.c32_errors += errors
        result.c32_seconds = ran
        result.note = " ".join(x for x in (result.note, extra) if x)
        print(
            f"  c={self.args.connections:<3} {result.name:<32} {rps:9,.0f} req/s"
            + (f"  {cpu_us:7,.0f} µs CPU/req" if cpu_us is not None else "")
            + (f"  [{errors} errors]" if errors else "")
            + (f"  {extra}" if extra else ""),
            flush=True,
        )
        return rps


# -- data for the requests ------------------------------------------------------------------


def _escalation_templates() -> list[bytes]:
    """Three realistic bodies (one per domain) with the idempotency key left as @@KEY@@."""
    from store.samples import sample_escalation

    out = []
    for i in range(3):
        esc = sample_escalation(10_000 + i, seed=99).model_copy(
            update={"idempotency_key": "@@KEY@@"}
        )
        out.append(esc.model_dump_json(exclude_none=True).encode())
    return out


def _deep_cursor(db_url: str, size: int, depth: float = 0.9) -> str:
    """The queue cursor ``depth`` of the way down the open cases (all groups)."""
    from sqlmodel import col, select

    from store.cases import QueueCursor
    from store.db import make_engine, read_session
    from store.tables import Case

    engine = make_engine(db_url)
    try:
        with read_session(engine) as session:
            rank, due, case_id = session.exec(
                select(Case.severity_rank, Case.due_at, Case.id)
                .where(Case.status == "open")
                .order_by(col(Case.severity_rank), col(Case.due_at), col(Case.id))
                .offset(int(size * depth))
                .limit(1)
            ).one()
    finally:
        engine.dispose()
    assert case_id is not None
    return QueueCursor(rank, due, case_id).encode()


def _query_plans(db_url: str, info: Any, cursor: str) -> list[str]:
    """EXPLAIN QUERY PLAN for the statements a queue page runs (first page, deep cursor)."""
    from sqlalchemy import event
    from sqlmodel import Session, select

    from store.cases import QueueCursor, queue_page
    from store.db import make_engine, read_session
    from store.tables import Supervisor

    engine = make_engine(db_url)
    statements: list[tuple[str, Any]] = []
    capturing = False

    def capture(_conn: Any, _cur: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        if capturing:
            statements.append((sql, params))

    lines = []
    try:
        with Session(engine) as session:
            sup = session.exec(select(Supervisor).where(Supervisor.id == info.supervisor_id)).one()
        event.listen(engine, "before_cursor_execute", capture)
        for label, after in (("first page", None), ("deep cursor", QueueCursor.decode(cursor))):
            statements.clear()
            capturing = True
            with read_session(engine) as session:
                queue_page(
                    session=session,
                    limit=50,
                    now=datetime.now(UTC),
                    after=after,
                    groups=list(sup.groups),
                )
            capturing = False
            with engine.connect() as conn:
                for sql, params in statements:
                    if not sql.lstrip().upper().startswith("SELECT"):
                        continue
                    for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all():
                        detail = row[-1]
                        bad = "SCAN" in detail or "TEMP B-TREE" in detail
                        lines.append(
                            f"{label}: {detail}" + ("   <-- not index-only" if bad else "")
                        )
    finally:
        engine.dispose()
    return lines


def _envelope_chunk(args: tuple[str, Any, list[int], int]) -> list[tuple[int, bytes]]:
    """Sign a decision for each case, as the console does (build_decision + sign_decision)."""
    from fill import AGENT
    from sqlmodel import col, select

    from console.decisions import build_decision, sign_decision
    from store.cases import case_content
    from store.contracts import CasePublic
    from store.db import make_engine, read_session
    from store.tables import Case

    db_url, info, ids, seed = args
    key = info.private_key()
    rng = random.Random(seed)
    engine = make_engine(db_url)
    out = []
    try:
        with read_session(engine) as session:
            for lo in range(0, len(ids), 500):
                batch = ids[lo : lo + 500]
                for case in session.exec(select(Case).where(col(Case.id).in_(batch))):
                    public = CasePublic(
                        **case_content(case, agent_name=AGENT).model_dump(),
                        status="open",
                        content_digest=case.content_digest,
                    )
                    roll = rng.random()
                    kw: dict[str, Any]
                    if roll < 0.7:
                        kw = {"action": "approve"}
                    elif roll < 0.9:
                        kw = {"action": "override", "alternative_index": 0}
                    else:
                        kw = {"action": "reject", "rationale": "Not enough evidence to act."}
                    payload = build_decision(
                        public,
                        supervisor_id=info.supervisor_id,
                        key=key,
                        claim_token=case.claim_token,
                        **kw,
                    )
                    assert case.id is not None
                    out.append((case.id, sign_decision(payload, key).model_dump_json().encode()))
                session.expunge_all()
    finally:
        engine.dispose()
    return out


def _envelopes(db_url: str, info: Any, ids: list[int]) -> list[tuple[int, bytes]]:
    import multiprocessing

    parts = [ids[i::2] for i in range(2)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        chunks = list(
            pool.map(_envelope_chunk, [(db_url, info, p, i) for i, p in enumerate(parts)])
        )
    out = [e for chunk in chunks for e in chunk]
    random.Random(7).shuffle(out)
    return out


def _write_decision_files(prefix: Path, envelopes: list[tuple[int, bytes]], threads: int) -> None:
    for t in range(threads):
        with open(f"{prefix}-{t}.txt", "wb") as fh:
            for case_id, body in envelopes[t::threads]:
                fh.write(f"/v1/cases/{case_id}/decisions\t".encode() + body + b"\n")


# -- one size -------------------------------------------------------------------------------


def _wait_for_quiet(below: float, patience: float) -> None:
    """Wait (up to ``patience`` s) for the 1-minute load average to drop below ``below``:
    on a shared machine other jobs move the absolute figures a lot."""
    deadline = time.monotonic() + patience
    while os.getloadavg()[0] >= below and time.monotonic() < deadline:
        time.sleep(5)


def _load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def run_size(bench: Bench, size: int) -> Run:
    from fill import BENCH_DIR, cache_path, fill

    args = bench.args
    cached = cache_path(size).exists() and cache_path(size).with_suffix(".json").exists()
    info = fill(size, log=lambda m: print(m, flush=True))
    db = BENCH_DIR / f"run-{size}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    shutil.copyfile(info.path, db)
    print(f"  copied the filled database in {time.perf_counter() - t0:.1f} s", flush=True)
    db_url = f"sqlite:///{db}"
    run = Run(size, info.fill_seconds, cached, info.db_bytes, _load_note())

    cursor = _deep_cursor(db_url, size)
    run.plans = _query_plans(db_url, info, cursor)
    for line in run.plans:
        print(f"  plan  {line}")

    # Which cases get decided: a spread over the whole table, none of the first page.
    rng = random.Random(size)
    budget = min(int(size * 0.9), args.warmup + args.requests + args.max_decisions)
    pool_ids = rng.sample(range(info.first_case_id, info.first_case_id + size), budget)

    templates = _escalation_templates()
    for i, body in enumerate(templates):
        (bench.work / f"escalation-{i}.json").write_bytes(body)
    noop_body = templates[0].replace(b"@@KEY@@", b"noop")
    (bench.work / "noop.json").write_bytes(noop_body)

    print(f"  signing {budget:,} decisions (console.decisions)", flush=True)
    t0 = time.perf_counter()
    envelopes = _envelopes(db_url, info, pool_ids)
    print(f"  signed in {time.perf_counter() - t0:.1f} s", flush=True)

    n = args.warmup + args.requests
    sup, agent = info.supervisor_token, info.agent_token
    q_first = "/v1/queue"
    q_deep = f"/v1/queue?cursor={cursor}"
    req = bench.request_bytes
    noop_post, queue_first, queue_deep, ingest, decisions = NAMES[1:]
    c1_requests = {
        NAMES[0]: [req("GET", "/bench/noop", None)] * n,
        noop_post: [req("POST", "/bench/noop", None, noop_body)] * n,
        queue_first: [req("GET", q_first, sup)] * n,
        queue_deep: [req("GET", q_deep, sup)] * n,
        ingest: [
            req(
                "POST",
                "/v1/escalations",
                agent,
                templates[i % 3].replace(b"@@KEY@@", f"bench-c1-{size}-{i}".encode()),
            )
            for i in range(n)
        ],
        decisions: [
            req("POST", f"/v1/cases/{case_id}/decisions", sup, body)
            for case_id, body in envelopes[:n]
        ],
    }
    rest = envelopes[n:]

    def p(name: str) -> str | None:
        return f"{size}-{name}" if args.profile else None

    if args.quiet_below:
        _wait_for_quiet(args.quiet_below, args.quiet_wait)
    run.load = _load_note() + " before the run"
    bench.start_server(db)
    try:
        results = bench.latency(c1_requests)
        run.results = [results[name] for name in NAMES]
        by = results
        post = ["tests/bench/wrk_post.lua", str(bench.work / "noop.json")]
        files = [str(bench.work / f"escalation-{i}.json") for i in range(3)]
        # The baselines run first and last; their mean is the reference.
        bench.throughput(by[NAMES[0]], "/bench/noop", None)
        bench.throughput(by[noop_post], "/bench/noop", None, post)
        bench.throughput(by[queue_first], q_first, sup, profile=p("queue-first"))
        bench.throughput(by[queue_deep], q_deep, sup, profile=p("queue-deep"))
        ingest_script = ["tests/bench/wrk_ingest.lua", *files, f"bench-c32-{size}"]
        bench.throughput(by[ingest], "/v1/escalations", agent, ingest_script, profile=p("ingest"))
        # wrk cannot end early, so size the run to the envelopes: a short probe gives the rate.
        probe, rest = rest[: len(rest) // 4], rest[len(rest) // 4 :]
        prefix = bench.work / "decisions"
        _write_decision_files(prefix, probe, args.threads)
        probe_rps = bench.wrk("/", sup, ["tests/bench/wrk_decisions.lua", str(prefix)], 2.0)[0]
        seconds = max(2.0, min(args.duration, len(rest) / (probe_rps * 1.3)))
        _write_decision_files(prefix, rest, args.threads)
        bench.throughput(
            by[decisions],
            "/",
            sup,
            ["tests/bench/wrk_decisions.lua", str(prefix)],
            seconds=seconds,
            profile=p("decisions"),
        )
        bench.throughput(by[NAMES[0]], "/bench/noop", None)
        bench.throughput(by[noop_post], "/bench/noop", None, post)
    finally:
        bench.stop_server()
        shutil.copyfile(bench.work / "server.log", BENCH_DIR / f"server-{size}.log")
        run.load += ", " + _load_note().removeprefix("load average ") + " after"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return run


# -- the report -----------------------------------------------------------------------------


def verdicts(run: Run) -> Iterator[tuple[Result, str, str]]:
    """Each result with its ratio to the baseline and PASS/MISS against the target."""
    by = {r.name: r for r in run.results}
    get_p50 = by["GET /bench/noop"].p50_ms or math.nan
    post_rps = by["POST /bench/noop"].rps or math.nan
    for r in run.results:
        if r.name.startswith("GET /v1/queue"):
            ratio = (r.p50_ms or math.nan) / get_p50
            ok = ratio <= QUEUE_P50_MAX_RATIO
            yield (
                r,
                f"{ratio:.2f}x GET p50",
                f"<= {QUEUE_P50_MAX_RATIO:g}x  {'PASS' if ok else 'MISS'}",
            )
        elif r.name.startswith("POST /v1/"):
            ratio = (r.rps or math.nan) / post_rps
            ok = ratio >= WRITE_RPS_MIN_RATIO
            yield (
                r,
                f"{ratio:.0%} POST req/s",
                f">= {WRITE_RPS_MIN_RATIO:.0%}  {'PASS' if ok else 'MISS'}",
            )
        else:
            yield r, "baseline", ""


def report(run: Run, args: argparse.Namespace) -> str:
    lines = [
        f"{run.size:,} open cases: fill {run.fill_seconds:.0f} s"
        + (" (cached)" if run.fill_cached else "")
        + f", database {run.db_bytes / 2**20:,.0f} MiB; {run.load}",
        f"c=1: {args.requests} requests per endpoint after {args.warmup} warm-up, "
        f"endpoints taking turns in blocks of {args.block} on one keep-alive connection; "
        f"c={args.connections}: wrk -t{args.threads}, {args.duration:g} s per endpoint",
        "",
        f"| {'endpoint':<30} | {'p50 ms':>7} | {'p95 ms':>7} | {'req/s c=32':>10} "
        f"| {'CPU µs/req':>10} | {'ratio':<17} | {'target':<12} |",
        f"|{'-' * 32}|{'-' * 9}|{'-' * 9}|{'-' * 12}|{'-' * 12}|{'-' * 19}|{'-' * 14}|",
    ]
    for r, ratio, target in verdicts(run):
        cpu = f"{r.cpu_us:>10,.0f}" if r.cpu_us is not None else f"{'n/a':>10}"
        lines.append(
            f"| {r.name:<30} | {r.p50_ms:>7.3f} | {r.p95_ms:>7.3f} | {r.rps:>10,.0f} "
            f"| {cpu} | {ratio:<17} | {target:<12} |"
        )
    notes = (
        [f"{r.name}: {r.c32_errors} non-2xx at c=32" for r in run.results if r.c32_errors]
        + [f"{r.name}: {r.note}" for r in run.results if r.note]
        + [
            f"{r.name}: c={args.connections} "
            + " and ".join(f"{x:,.0f}" for x in r.rps_runs)
            + " req/s (first and last run), mean used"
            for r in run.results
            if len(r.rps_runs) > 1
        ]
        + [
            f"{r.name}: c=32 ran {r.c32_seconds:.1f} s (as many envelopes as were signed)"
            for r in run.results
            if r.name.startswith("POST /v1/cases") and r.c32_seconds < args.duration
        ]
    )
    lines += [f"  note: {n}" for n in notes]
    bad = [p for p in run.plans if "not index-only" in p]
    lines.append(
        "  query plans: " + ("index-only (no SCAN, no temp B-tree)" if not bad else "; ".join(bad))
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="hitl API benchmark (see tests/bench/README.md)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--requests", type=int, default=2000, help="c=1 requests per endpoint")
    parser.add_argument("--warmup", type=int, default=200, help="c=1 warm-up requests")
    parser.add_argument(
        "--block", type=int, default=50, help="c=1 requests per endpoint before the next takes over"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="wrk seconds per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--max-decisions", type=int, default=15_000, help="envelopes to sign for c=32"
    )
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not use taskset")
    parser.add_argument(
        "--quiet-below",
        type=float,
        metavar="LOAD",
        help="before each size, wait for the 1-min load average to drop below LOAD",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=600, help="give up waiting after this many seconds"
    )
    parser.add_argument("--profile", metavar="DIR", help="py-spy the server during c=32 runs")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--latency-client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.latency_client:
        latency_client(args.latency_client)
        return 0
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed; it drives the concurrency-32 runs.\n"
            "Install it with: sudo apt-get update && sudo apt-get install -y wrk "
            "(Debian/Ubuntu), or brew install wrk (macOS).",
            file=sys.stderr,
        )
        return 2
    os.chdir(ROOT)
    bench = Bench(args)
    runs = []
    try:
        for size in args.sizes:
            print(f"== {size:,} open cases", flush=True)
            runs.append(run_size(bench, size))
    finally:
        shutil.rmtree(bench.work, ignore_errors=True)
    print()
    for run in runs:
        print(report(run, args))
        print()
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in runs], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
