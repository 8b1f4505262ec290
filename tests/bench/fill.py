"""Fill a hitl SQLite database with N open cases, fast, for the API benchmark.

The rows are what ``POST /v1/escalations`` stores, because the service itself makes
them: a pool of realistic escalations from :mod:`store.samples` is submitted through
``submit_escalation`` (the app's own triage, digests and audit event) into a scratch
database, and those rows are the templates. Every one of the N rows is a template with
its own id, idempotency key, trace id, timestamps, request digest and content digest,
plus its ``case.created`` audit event, chained, so the whole log verifies.

Speed comes from doing the expensive parts once per template, not once per row:

- the RFC 8785 canonical JSON of a template's content (and of its request and its audit
  event) is computed once with sentinel values; per row the sentinels are replaced by the
  row's values, which gives byte for byte what ``canonical_json`` returns for that row
  (canonical JSON of a nested value does not depend on where it sits). Each template's
  splices are first checked against the digests and event bytes the service wrote for
  it, and ``_self_check`` recomputes sampled rows of the result the service's way;
- rows go in with SQLAlchemy Core ``executemany`` in one transaction per 20k rows,
  against a mirror of the tables with plain column types (values are the scratch rows'
  stored text), with the secondary indexes dropped during the load and recreated from
  their own ``CREATE INDEX`` statements afterwards; a forked worker builds the next
  chunk of rows while this process chains and inserts the current one.

Filled databases are cached under ``.bench/`` keyed by size, Alembic revision and
:data:`FILL_VERSION`; the benchmark copies the cached file before each run, so the cache
stays pristine. Run alone: ``.venv/bin/python tests/bench/fill.py --size 10000``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
    update,
)
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.app import create_app  # noqa: E402
from backend.services.admin import add_agent, add_supervisor  # noqa: E402
from backend.services.escalations import submit_escalation  # noqa: E402
from backend.services.keys import enroll_key  # noqa: E402
from backend.services.triage import BuiltinTriage  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402
from backend.state import AppState  # noqa: E402
from store import audit  # noqa: E402
from store.canonical import canonical_json, json_digest, parse_json, sha256_hex  # noqa: E402
from store.cases import case_content  # noqa: E402
from store.contracts import EscalationCreate  # noqa: E402
from store.db import make_engine, read_session  # noqa: E402
from store.migrate import alembic_config, upgrade  # noqa: E402
from store.samples import DOMAINS, sample_escalation  # noqa: E402
from store.signing import public_key_b64  # noqa: E402
from store.tables import Agent, AuditEvent, AuditHead, Case  # noqa: E402

__all__ = ["BENCH_DIR", "FILL_VERSION", "FillInfo", "fill"]

BENCH_DIR = ROOT / ".bench"
#: Bump when the rows this module writes change, so cached files are rebuilt.
FILL_VERSION = 2
#: Distinct sample escalations per database; rows cycle through them.
TEMPLATES = 1000
#: The backlog's cases arrived over this span, ending at fill time.
BACKLOG = timedelta(days=30)
CHUNK = 20_000
AGENT = "bench-agent"
SUPERVISOR = "bench-supervisor"
SEED = 11

# Sentinels: values that cannot occur in the sample data, replaced per row.
_ID = 987654321012345
_SEQ = 876543210987654
_TRACE = "T" * 32
_KEY = "@@IDEMPOTENCY_KEY@@"
_CREATED = datetime(2099, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_DUE = datetime(2098, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_PREV = "@@PREV@@"
_CONTENT = "@@CONTENT@@"
_DIGEST = "@@CONTENT_DIGEST@@"


@dataclass
class FillInfo:
    """What the benchmark needs to know about a filled database (stored beside it as JSON)."""

    size: int
    path: str
    revision: str
    fill_version: int
    fill_seconds: float
    db_bytes: int
    agent_id: int
    agent_token: str
    supervisor_id: int
    supervisor_token: str
    signing_key: str  # hex of the raw Ed25519 private key enrolled for the supervisor
    key_id: str
    first_case_id: int
    audit_events: int
    samples: list[int]  # row n is sample_escalation(samples[n % len(samples)], SEED)

    def private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self.signing_key))


def schema_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


@functools.cache
def schema_key() -> str:
    """Alembic head plus a hash of the schema it builds, so that a migration edited in
    place (same revision id) still gets a new cache entry.

    The hash is over PRAGMA descriptions (columns, indexes, foreign keys), sorted: the DDL
    text itself is not stable (batch migrations order constraints by hash seed).
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schema.db"
        upgrade(f"sqlite:///{path}")
        conn = sqlite3.connect(path)
        try:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            shape = []
            for table in tables:
                indexes = []
                for _seq, name, unique, *_ in conn.execute(f"PRAGMA index_list('{table}')"):
                    cols = [r[2] for r in conn.execute(f"PRAGMA index_info('{name}')")]
                    indexes.append((name if not name.startswith("sqlite_") else "", unique, cols))
                shape.append(
                    (
                        table,
                        list(conn.execute(f"PRAGMA table_info('{table}')")),
                        sorted(indexes, key=repr),
                        sorted(
                            (r[2:] for r in conn.execute(f"PRAGMA foreign_key_list('{table}')")),
                            key=repr,
                        ),
                    )
                )
        finally:
            conn.close()
    digest = hashlib.sha256(repr(shape).encode()).hexdigest()[:8]
    return f"rev{schema_revision()}-{digest}"


def cache_path(size: int) -> Path:
    return BENCH_DIR / f"hitl-{size}-{schema_key()}-v{FILL_VERSION}.db"


def _prune(size: int, keep: Path) -> None:
    """Drop cached fills of this size for other schemas or fill versions (1M is ~8 GB)."""
    for old in BENCH_DIR.glob(f"hitl-{size}-*"):
        if old.stem != keep.stem:
            old.unlink(missing_ok=True)


def _iso(ts: datetime) -> str:
    """Datetimes as pydantic's JSON mode and the audit log write them."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _j(text: str) -> bytes:
    """A JSON string (the values spliced here need no escaping; asserted)."""
    out = json.dumps(text)
    assert out == f'"{text}"', text
    return out.encode()


class _Splice:
    """Canonical JSON bytes with sentinels, split so a row's bytes are one ``join``."""

    def __init__(self, data: bytes, sentinels: list[bytes]) -> None:
        self.order: list[int] = []
        self.parts: list[bytes] = []
        rest = data
        while True:
            found = [(rest.find(s), k) for k, s in enumerate(sentinels) if s in rest]
            if not found:
                self.parts.append(rest)
                break
            pos, k = min(found)
            self.parts.append(rest[:pos])
            self.order.append(k)
            rest = rest[pos + len(sentinels[k]) :]
        if sorted(self.order) != list(range(len(sentinels))):
            raise AssertionError(f"each sentinel must occur exactly once, got {self.order}")

    def __call__(self, values: list[bytes]) -> bytes:
        out = [self.parts[0]]
        for k, part in zip(self.order, self.parts[1:], strict=True):
            out.append(values[k])
            out.append(part)
        return b"".join(out)


@dataclass
class _Template:
    sample: int  # the store.samples index
    domain: str
    sla: timedelta
    row: dict[str, Any]  # the case row the service stored, as stored (text, numbers)
    kind: str  # the audit event's kind and actor
    actor: str
    request: _Splice  # idempotency key, trace id -> request bytes
    content: _Splice  # id, trace id, created_at, due_at -> content bytes
    event: _Splice  # seq, prev, ts, case id, content, content digest, key -> event body


def _templates(n: int) -> list[_Template]:
    """Submit ``n`` sample escalations through the service into a scratch database."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scratch.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        app = create_app(BackendSettings(database_url=url, server_key=Path(tmp) / "key.pem"))
        state: AppState = app.state.hitl
        raw = sqlite3.connect(path)
        try:
            agent_id, _ = add_agent(state.engine, name=AGENT, domains=list(DOMAINS))
            with read_session(state.engine) as session:
                agent = session.get(Agent, agent_id)
            assert agent is not None
            out = []
            for i in range(n):
                esc = sample_escalation(i, seed=SEED)
                status, _ = submit_escalation(state, agent=agent, escalation=esc)
                if status.status == "open":  # a policy may settle some: never queued
                    out.append(_template(state, raw, esc, i, status.id))
            return out
        finally:
            raw.close()
            state.engine.dispose()


def _template(
    state: AppState, raw: sqlite3.Connection, esc: EscalationCreate, sample: int, case_id: int
) -> _Template:
    cur = raw.execute("SELECT * FROM cases WHERE id = ?", (case_id,))
    row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    seq, prev, kind, actor, body = raw.execute(
        "SELECT seq, prev_hash, kind, actor, body FROM audit_events WHERE case_id = ?",
        (case_id,),
    ).fetchone()
    with read_session(state.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
    created, due, trace = case.created_at, case.due_at, case.trace_id
    assert trace is not None
    sha = hashlib.sha256

    # The request digest: the escalation as the service digests it.
    shaped = esc.model_copy(update={"idempotency_key": _KEY, "trace_id": _TRACE})
    request = _Splice(canonical_json(shaped.model_dump(mode="json")), [_j(_KEY), _j(_TRACE)])
    mine = "sha256:" + sha(request([_j(esc.idempotency_key), _j(trace)])).hexdigest()
    if mine != row["request_digest"]:
        raise AssertionError("the service digests requests differently now; update fill.py")

    # The content: what case_content shows for this row, with sentinel values.
    case.id, case.trace_id, case.created_at, case.due_at = _ID, _TRACE, _CREATED, _DUE
    content = _Splice(
        canonical_json(case_content(case, agent_name=AGENT).signed_json()),
        [str(_ID).encode(), _j(_TRACE), _j(_iso(_CREATED)), _j(_iso(_DUE))],
    )
    content_bytes = content([str(case_id).encode(), _j(trace), _j(_iso(created)), _j(_iso(due))])
    if "sha256:" + sha(content_bytes).hexdigest() != row["content_digest"]:
        raise AssertionError("the content digest is built differently now; update fill.py")

    # The audit event: the service's own, with sentinels where the row's values go.
    event = parse_json(bytes(body))
    data = event["data"]
    expected = (event["seq"], event["prev"], event["ts"], event["case_id"])
    assert expected == (seq, prev, _iso(created), case_id), expected
    assert (data["content_digest"], data["idempotency_key"]) == (
        row["content_digest"],
        esc.idempotency_key,
    )
    event.update(seq=_SEQ, prev=_PREV, ts=_iso(_CREATED), case_id=_ID)
    data.update(content=_CONTENT, content_digest=_DIGEST, idempotency_key=_KEY)
    splice = _Splice(
        canonical_json(event),
        [
            str(_SEQ).encode(),
            _j(_PREV),
            _j(_iso(_CREATED)),
            str(_ID).encode(),
            _j(_CONTENT),
            _j(_DIGEST),
            _j(_KEY),
        ],
    )
    values = [
        str(seq).encode(),
        _j(prev),
        _j(_iso(created)),
        str(case_id).encode(),
        content_bytes,
        _j(row["content_digest"]),
        _j(esc.idempotency_key),
    ]
    if splice(values) != bytes(body):
        raise AssertionError("the audit event is built differently now; update fill.py")
    return _Template(
        sample=sample,
        domain=esc.domain,
        sla=due - created,
        row=row,
        kind=kind,
        actor=actor,
        request=request,
        content=content,
        event=splice,
    )


def _mirror(engine: Engine, name: str) -> Table:
    """The table with plain column types, so executemany does no per-value processing."""
    with engine.connect() as conn:
        cols = conn.exec_driver_sql(f"PRAGMA table_info({name})").all()
    kinds = {"INTEGER": Integer, "FLOAT": Float, "BLOB": LargeBinary}
    return Table(name, MetaData(), *[Column(c[1], kinds.get(c[2], Text)) for c in cols])


@dataclass
class _Plan:
    """What the row generator needs; inherited by the forked worker process."""

    size: int
    first_id: int
    agent_id: int
    templates: list[_Template]
    first_seq: int
    columns: list[str]  # the cases table's columns, in insert order
    start: datetime  # naive UTC: the first case's arrival


_plan: _Plan | None = None


def _chunk(lo: int, hi: int) -> list[tuple[list[Any], str, bytes, bytes, int]]:
    """Rows ``lo..hi-1``: (case row, created_at as stored, event body before and after
    prev, template index).

    Runs in the worker process. The event body's ``prev`` (the previous event's hash) is
    the only value that needs the rows before it, so the parent splices it in.
    """
    plan = _plan
    assert plan is not None
    rng = random.Random(f"fill:{plan.size}:{lo}")
    step_us = BACKLOG / timedelta(microseconds=1) / plan.size
    col = {name: i for i, name in enumerate(plan.columns)}
    bases = []
    for t in plan.templates:
        base = [t.row[name] for name in plan.columns]
        base[col["agent_id"]] = plan.agent_id
        bases.append(base)
    i_id, i_key, i_req = col["id"], col["idempotency_key"], col["request_digest"]
    i_due, i_created, i_updated = col["due_at"], col["created_at"], col["updated_at"]
    i_trace, i_digest = col["trace_id"], col["content_digest"]
    out = []
    sha256 = hashlib.sha256
    for n in range(lo, hi):
        case_id = plan.first_id + n
        k = n % len(plan.templates)
        t = plan.templates[k]
        # Naive UTC datetimes: isoformat gives pydantic's text (plus "Z") and the DB's text.
        created = plan.start + timedelta(microseconds=int(n * step_us) + rng.randrange(1000))
        due = created + t.sla
        created_j = f'"{created.isoformat()}Z"'.encode()
        created_s = created.isoformat(" ", "microseconds")
        key = f"fill-{t.domain}-{n:07d}"
        trace = f"{rng.getrandbits(128):032x}"
        key_j, trace_j, id_b = f'"{key}"'.encode(), f'"{trace}"'.encode(), str(case_id).encode()
        content = t.content([id_b, trace_j, created_j, f'"{due.isoformat()}Z"'.encode()])
        digest = "sha256:" + sha256(content).hexdigest()
        row = bases[k].copy()
        row[i_id] = case_id
        row[i_key] = key
        row[i_req] = "sha256:" + sha256(t.request([key_j, trace_j])).hexdigest()
        row[i_due] = due.isoformat(" ", "microseconds")
        row[i_created] = row[i_updated] = created_s
        row[i_trace] = trace
        row[i_digest] = digest
        seq_b = str(plan.first_seq + n).encode()
        body = t.event([seq_b, _PREV_MARK, created_j, id_b, content, f'"{digest}"'.encode(), key_j])
        head, tail = body.split(_PREV_MARK)
        out.append((row, created_s, head, tail, k))
    return out


#: Stands for the JSON string of the previous hash until the parent knows it (canonical
#: JSON escapes NUL, so these bytes cannot occur in a body).
_PREV_MARK = b"\x00prev\x00"


def _bulk_engine(url: str) -> Engine:
    """An engine for the load only: no journal, no syncs, a big page cache."""
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "cache_size=-1000000",
            "temp_store=MEMORY",
            "locking_mode=EXCLUSIVE",
        ):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _load(
    url: str, size: int, agent_id: int, templates: list[_Template], log: Any
) -> tuple[int, int]:
    """Insert ``size`` cases and their audit events; returns (first case id, last seq).

    A forked worker builds rows (the costly part: content bytes and digests) one chunk
    ahead while this process chains the audit events and inserts, in one transaction
    per chunk.
    """
    global _plan
    engine = _bulk_engine(url)
    cases, events = _mirror(engine, "cases"), _mirror(engine, "audit_events")
    insert_case = str(cases.insert().compile(dialect=engine.dialect))
    insert_event = str(
        events.insert().compile(
            dialect=engine.dialect,
            column_keys=["seq", "ts", "kind", "case_id", "actor", "prev_hash", "hash", "body"],
        )
    )
    with engine.connect() as conn:
        first_id = (conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM cases").scalar()) + 1
        seq0, prev_hash = conn.exec_driver_sql(
            "SELECT seq, hash FROM audit_head WHERE id = 1"
        ).one()
        indexes = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('cases', 'audit_events')"
        ).all()
        conn.commit()
        with conn.begin():
            for name, _sql in indexes:
                conn.exec_driver_sql(f"DROP INDEX {name}")
        _plan = _Plan(
            size=size,
            first_id=first_id,
            agent_id=agent_id,
            templates=templates,
            first_seq=seq0 + 1,
            columns=[c.name for c in cases.columns],
            start=(datetime.now(UTC) - BACKLOG).replace(tzinfo=None),
        )
        id_at = _plan.columns.index("id")
        prev = prev_hash.encode()
        seq = seq0
        bounds = [(lo, min(lo + CHUNK, size)) for lo in range(0, size, CHUNK)]
        t0 = time.perf_counter()
        gc.disable()
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            ahead = [pool.submit(_chunk, *b) for b in bounds[:2]]
            waited = 0.0
            for i in range(len(bounds)):
                w0 = time.perf_counter()
                chunk = ahead.pop(0).result()
                waited += time.perf_counter() - w0
                if i + 2 < len(bounds):
                    ahead.append(pool.submit(_chunk, *bounds[i + 2]))
                event_rows = []
                for row, created_s, head, tail, k in chunk:
                    seq += 1
                    body = b"".join((head, b'"', prev, b'"', tail))
                    digest = hashlib.sha256(body).hexdigest()
                    t = templates[k]
                    event_rows.append(
                        (seq, created_s, t.kind, row[id_at], t.actor, prev.decode(), digest, body)
                    )
                    prev = digest.encode()
                with conn.begin():
                    conn.exec_driver_sql(insert_case, [tuple(c[0]) for c in chunk])
                    conn.exec_driver_sql(insert_event, event_rows)
                done = bounds[i][1]
                if (i + 1) % 10 == 0 or done == size:
                    rate = done / (time.perf_counter() - t0)
                    log(f"  {done:>9,} cases ({rate:,.0f}/s; waited {waited:.1f} s for rows)")
        gc.enable()
        log(f"  recreating {len(indexes)} indexes")
        with conn.begin():
            for _name, sql in indexes:
                conn.exec_driver_sql(sql)
            conn.execute(
                update(AuditHead.__table__)  # type: ignore[arg-type]
                .where(AuditHead.__table__.c.id == 1)  # type: ignore[attr-defined]
                .values(seq=seq, hash=prev.decode())
            )
    engine.dispose()
    _plan = None
    return first_id, seq


def _self_check(url: str, info: FillInfo, samples: int = 50) -> None:
    """Recompute sampled rows the way the service and the verifier do; a fill bug fails."""
    rng = random.Random(1)
    last = info.first_case_id + info.size - 1
    ids = {info.first_case_id, last, *rng.sample(range(info.first_case_id, last + 1), samples)}
    events = AuditEvent.__table__  # type: ignore[attr-defined]
    engine = make_engine(url)
    try:
        with read_session(engine) as session:
            for case_id in sorted(ids):
                case = session.get(Case, case_id)
                assert case is not None, case_id
                content = case_content(case, agent_name=AGENT).signed_json()
                if json_digest(content) != case.content_digest:
                    raise AssertionError(f"case {case_id}: content digest differs")
                n = case_id - info.first_case_id
                esc = sample_escalation(info.samples[n % len(info.samples)], seed=SEED)
                request = esc.model_copy(
                    update={"idempotency_key": case.idempotency_key, "trace_id": case.trace_id}
                )
                if json_digest(request.model_dump(mode="json")) != case.request_digest:
                    raise AssertionError(f"case {case_id}: request digest differs")
                ev = (
                    session.connection()
                    .execute(events.select().where(events.c.case_id == case_id))
                    .one()
                )
                body = bytes(ev.body)
                parsed = parse_json(body)
                prev = (
                    session.connection()
                    .execute(events.select().where(events.c.seq == ev.seq - 1))
                    .one()
                )
                if (
                    sha256_hex(body) != ev.hash
                    or canonical_json(parsed) != body
                    or parsed["prev"] != ev.prev_hash
                    or prev.hash != ev.prev_hash
                    or parsed["data"]["content"] != content
                    or parsed["data"]["content_digest"] != case.content_digest
                ):
                    raise AssertionError(f"case {case_id}: audit event differs")
            head = session.get(AuditHead, 1)
            tail = (
                session.connection()
                .execute(events.select().where(events.c.seq == info.audit_events))
                .one()
            )
            assert head is not None and (head.seq, head.hash) == (tail.seq, tail.hash)
    finally:
        engine.dispose()


def verify_chain(path: Path) -> audit.AuditReport:
    """Export and verify the whole audit log of a copy, as `hitl audit verify` would (slow)."""
    copy = path.with_suffix(".verify")
    shutil.copyfile(path, copy)
    engine = make_engine(f"sqlite:///{copy}")
    key = Ed25519PrivateKey.generate()
    try:
        from store.db import write_session

        with write_session(engine) as session:
            checkpoint = audit.sign_checkpoint(session, signer=key)
        with read_session(engine) as session:
            lines = audit.export_lines(
                session, checkpoint=checkpoint, checkpoint_key=key.public_key()
            )
            return audit.verify_export(lines)
    finally:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)


def _principals(url: str, tmp: Path) -> dict[str, Any]:
    """Agent, supervisor and an enrolled signing key, through the services."""
    engine = make_engine(url)
    try:
        agent_id, agent_token = add_agent(engine, name=AGENT, domains=list(DOMAINS))
        sup_id, sup_token = add_supervisor(
            engine, name=SUPERVISOR, role="supervisor", groups=list(DOMAINS)
        )
        key = Ed25519PrivateKey.generate()
        state = AppState(
            settings=BackendSettings(database_url=url, server_key=tmp / "unused.pem"),
            engine=engine,
            server_key=Ed25519PrivateKey.generate(),
            clock=lambda: datetime.now(UTC),
            triage=BuiltinTriage(),
        )
        from sqlmodel import Session, select

        from store.tables import Supervisor

        with Session(engine) as session:
            sup = session.exec(select(Supervisor).where(Supervisor.id == sup_id)).one()
        enrolled, _ = enroll_key(state, supervisor=sup, public_key=public_key_b64(key.public_key()))
        from cryptography.hazmat.primitives import serialization

        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return {
            "agent_id": agent_id,
            "agent_token": agent_token,
            "supervisor_id": sup_id,
            "supervisor_token": sup_token,
            "signing_key": raw.hex(),
            "key_id": enrolled.key_id,
        }
    finally:
        engine.dispose()


def fill(size: int, *, force: bool = False, log: Any = print) -> FillInfo:
    """A filled database of ``size`` open cases: the cached one, or a new one."""
    path = cache_path(size)
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists() and not force:
        return FillInfo(**json.loads(meta.read_text()))
    BENCH_DIR.mkdir(exist_ok=True)
    _prune(size, path)
    tmp = path.with_suffix(".filling")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), path, meta):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{tmp}"
    t0 = time.perf_counter()
    log(f"filling {size:,} cases into {path.name}")
    upgrade(url)
    principals = _principals(url, BENCH_DIR)
    templates = _templates(min(TEMPLATES, size))
    log(f"  {len(templates)} templates through the service in {time.perf_counter() - t0:.1f} s")
    first_id, events = _load(url, size, principals["agent_id"], templates, log)
    seconds = time.perf_counter() - t0
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")  # what the server's connections expect
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file alone holds everything
    conn.close()
    info = FillInfo(
        size=size,
        path=str(path),
        revision=schema_revision(),
        fill_version=FILL_VERSION,
        fill_seconds=round(seconds, 1),
        db_bytes=tmp.stat().st_size,
        first_case_id=first_id,
        audit_events=events,
        samples=[t.sample for t in templates],
        **principals,
    )
    _self_check(url, info)
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, path)
    meta.write_text(json.dumps(asdict(info), indent=2))
    log(f"  filled in {seconds:.1f} s, {info.db_bytes / 2**20:,.0f} MiB")
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument(
        "--verify", action="store_true", help="also export and verify the whole audit chain"
    )
    args = parser.parse_args()
    info = fill(args.size, force=args.force)
    print(
        json.dumps(
            {
                k: v
                for k, v in asdict(info).items()
                if k not in ("samples", "agent_token", "supervisor_token", "signing_key")
            },
            indent=2,
        )
    )
    if args.verify:
        t0 = time.perf_counter()
        report = verify_chain(Path(info.path))
        print(f"audit chain verified: {report.events} events in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
