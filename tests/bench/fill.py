"""Fill a hitl SQLite database with N open cases, fast, for the API benchmark.

The rows are what ``POST /v1/escalations`` would have stored: a pool of realistic
escalations from :mod:`store.samples`, triaged by the built-in triage, each row with its
own id, idempotency key, trace id, timestamps, request digest and content digest; plus a
``case.created`` audit event per case, so the hash chain verifies end to end.

Speed comes from doing the expensive parts once per template, not once per row:

- the RFC 8785 canonical JSON of a template's content (and of its request and its audit
  event) is computed once with sentinel values; per row the sentinels are replaced by the
  row's values, which gives byte for byte what ``canonical_json`` returns for that row
  (canonical JSON of a nested value does not depend on where it sits). ``_self_check``
  recomputes sampled rows the service's way and fails loudly on any difference;
- rows go in with SQLAlchemy Core ``executemany`` in big transactions, against a mirror
  of the tables with plain column types (JSON and datetimes are serialized here, once
  per template or with a cheap ``strftime``), with the secondary indexes dropped during
  the load and recreated from their own ``CREATE INDEX`` statements afterwards.

Filled databases are cached under ``.bench/`` keyed by size, Alembic revision and
:data:`FILL_VERSION`; the benchmark copies the cached file before each run, so the cache
stays pristine. Run alone: ``.venv/bin/python tests/bench/fill.py --size 10000``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import sys
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

from backend.services.admin import add_agent, add_supervisor  # noqa: E402
from backend.services.keys import enroll_key  # noqa: E402
from backend.services.triage import BuiltinTriage  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402
from backend.state import AppState  # noqa: E402
from store import audit  # noqa: E402
from store.canonical import canonical_json, json_digest, sha256_hex  # noqa: E402
from store.cases import case_content  # noqa: E402
from store.contracts import SEVERITY_RANK, EscalationCreate  # noqa: E402
from store.db import make_engine, read_session  # noqa: E402
from store.migrate import alembic_config, upgrade  # noqa: E402
from store.samples import DOMAINS, sample_escalation  # noqa: E402
from store.signing import public_key_b64  # noqa: E402
from store.tables import AuditEvent, AuditHead, Case  # noqa: E402

__all__ = ["BENCH_DIR", "FILL_VERSION", "FillInfo", "fill"]

BENCH_DIR = ROOT / ".bench"
#: Bump when the rows this module writes change, so cached files are rebuilt.
FILL_VERSION = 1
#: Distinct sample escalations per database; rows cycle through them.
TEMPLATES = 3000
#: The backlog's cases arrived over this span, ending at fill time.
BACKLOG = timedelta(days=30)
CHUNK = 20_000
AGENT = "bench-agent"
SUPERVISOR = "bench-supervisor"
SEED = 11

# Sentinels: values that cannot occur in the sample data, replaced per row.
_ID = 987654321012345
_TRACE = "T" * 32
_KEY = "@@IDEMPOTENCY_KEY@@"
_CREATED = datetime(2099, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_DUE = datetime(2098, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_CONTENT = "@@CONTENT@@"
_DIGEST = "@@CONTENT_DIGEST@@"
_PREV = "@@PREV@@"
_SEQ = 876543210987654


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

    def private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self.signing_key))


def schema_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def cache_path(size: int) -> Path:
    return BENCH_DIR / f"hitl-{size}-rev{schema_revision()}-v{FILL_VERSION}.db"


def _iso(ts: datetime) -> str:
    """Datetimes as pydantic's JSON mode and the audit log write them."""
    return ts.isoformat().replace("+00:00", "Z")


def _db_ts(ts: datetime) -> str:
    """Datetimes as SQLAlchemy's SQLite DATETIME stores them (UTC, no offset)."""
    return ts.strftime("%Y-%m-%d %H:%M:%S.%f")


def _json_col(value: Any) -> str:
    """JSON columns as SQLAlchemy's JSON type serializes them (``json.dumps`` defaults)."""
    return json.dumps(value)


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
    domain: str
    severity: str
    rank: int
    group: str
    sla: timedelta
    static: dict[str, Any]  # column values shared by every row of this template
    request: _Splice  # idempotency key, trace id
    content: _Splice  # id, trace id, created_at, due_at


def _templates(n: int, agent_name: str) -> list[_Template]:
    triage = BuiltinTriage()
    out = []
    for i in range(n):
        esc = sample_escalation(i, seed=SEED)
        outcome = triage.evaluate(esc)
        shaped = esc.model_copy(update={"idempotency_key": _KEY, "trace_id": _TRACE})
        request = _Splice(
            canonical_json(shaped.model_dump(mode="json")),
            [json.dumps(_KEY).encode(), json.dumps(_TRACE).encode()],
        )
        static = {
            "agent_id": None,
            "status": "open",
            "severity": outcome.severity,
            "severity_rank": SEVERITY_RANK[outcome.severity],
            "domain": esc.domain,
            "group_name": outcome.group,
            "summary": esc.summary,
            "confidence": esc.confidence.effective,
            "model_name": esc.model.name,
            "model_version": esc.model.version,
            "model_seed": esc.model.seed,
            "policy_id": outcome.policy.id,
            "policy_version": outcome.policy.version,
            "policy_hash": outcome.policy.hash,
            "policy_rule": outcome.policy.rule,
            "proposed_action": _json_col(esc.proposed_action.model_dump(mode="json")),
            "fallback_action": _json_col(outcome.fallback.model_dump(mode="json")),
            "context": _json_col(esc.context),
            "reasoning": _json_col([b.model_dump(mode="json") for b in esc.reasoning]),
            "evidence": _json_col([e.model_dump(mode="json") for e in esc.evidence]),
            "alternatives": _json_col([a.model_dump(mode="json") for a in esc.alternatives]),
            "confidence_detail": _json_col(esc.confidence.model_dump(mode="json")),
            "risk_flags": _json_col(esc.risk_flags),
            "amount": esc.amount,
            "claimed_by_id": None,
            "claim_expires_at": None,
            "claim_token": 0,
        }
        # The content exactly as the service builds it, from a row with sentinel values.
        row = _case_row(esc, outcome, _ID, _KEY, _TRACE, _CREATED, _DUE)
        content = _Splice(
            canonical_json(case_content(row, agent_name=agent_name).model_dump(mode="json")),
            [
                str(_ID).encode(),
                json.dumps(_TRACE).encode(),
                json.dumps(_iso(_CREATED)).encode(),
                json.dumps(_iso(_DUE)).encode(),
            ],
        )
        out.append(
            _Template(
                domain=esc.domain,
                severity=outcome.severity,
                rank=SEVERITY_RANK[outcome.severity],
                group=outcome.group,
                sla=outcome.sla,
                static=static,
                request=request,
                content=content,
            )
        )
    return out


def _case_row(
    esc: EscalationCreate,
    outcome: Any,
    case_id: int,
    key: str,
    trace: str,
    created: datetime,
    due: datetime,
) -> Case:
    """An unsaved ``Case`` as ``backend.services.escalations._create_case`` builds it."""
    return Case(
        id=case_id,
        agent_id=0,
        idempotency_key=key,
        request_digest="",
        status="open",
        severity=outcome.severity,
        severity_rank=SEVERITY_RANK[outcome.severity],
        domain=esc.domain,
        group_name=outcome.group,
        summary=esc.summary,
        confidence=esc.confidence.effective,
        due_at=due,
        created_at=created,
        updated_at=created,
        trace_id=trace,
        model_name=esc.model.name,
        model_version=esc.model.version,
        model_seed=esc.model.seed,
        policy_id=outcome.policy.id,
        policy_version=outcome.policy.version,
        policy_hash=outcome.policy.hash,
        policy_rule=outcome.policy.rule,
        content_digest="",
        proposed_action=esc.proposed_action.model_dump(mode="json"),
        fallback_action=outcome.fallback.model_dump(mode="json"),
        context=esc.context,
        reasoning=[b.model_dump(mode="json") for b in esc.reasoning],
        evidence=[e.model_dump(mode="json") for e in esc.evidence],
        alternatives=[a.model_dump(mode="json") for a in esc.alternatives],
        confidence_detail=esc.confidence.model_dump(mode="json"),
        risk_flags=esc.risk_flags,
        amount=esc.amount,
    )


def _event_splice(agent_name: str) -> _Splice:
    """A ``case.created`` audit event body as :func:`store.audit.append_event` builds it."""
    body = canonical_json(
        {
            "v": 1,
            "seq": _SEQ,
            "prev": _PREV,
            "ts": _iso(_CREATED),
            "kind": "case.created",
            "actor": f"agent:{agent_name}",
            "case_id": _ID,
            "data": {"content": _CONTENT, "content_digest": _DIGEST, "idempotency_key": _KEY},
        }
    )
    return _Splice(
        body,
        [
            str(_SEQ).encode(),
            json.dumps(_PREV).encode(),
            json.dumps(_iso(_CREATED)).encode(),
            str(_ID).encode(),
            json.dumps(_CONTENT).encode(),
            json.dumps(_DIGEST).encode(),
            json.dumps(_KEY).encode(),
        ],
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
    event: _Splice
    first_seq: int
    columns: list[str]  # the cases table's columns, in insert order
    start: datetime  # naive UTC: the first case's arrival


_plan: _Plan | None = None


def _chunk(lo: int, hi: int) -> list[tuple[list[Any], str, bytes, bytes]]:
    """Rows ``lo..hi-1``: (case row, created_at as stored, event body before and after prev).

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
        base: list[Any] = [None] * len(plan.columns)
        for name, value in t.static.items():
            base[col[name]] = value
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
        created_iso, due_iso = created.isoformat() + "Z", due.isoformat() + "Z"
        created_s = created.isoformat(" ", "microseconds")
        key = f"fill-{t.domain}-{n:07d}"
        trace = f"{rng.getrandbits(128):032x}"
        key_j, trace_j = f'"{key}"'.encode(), f'"{trace}"'.encode()
        id_b, created_j = str(case_id).encode(), f'"{created_iso}"'.encode()
        content = t.content([id_b, trace_j, created_j, f'"{due_iso}"'.encode()])
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
        body = plan.event([seq_b, _PREV_MARK, created_j, id_b, content, digest_j(digest), key_j])
        head, tail = body.split(_PREV_MARK)
        out.append((row, created_s, head, tail))
    return out


def digest_j(digest: str) -> bytes:
    return f'"{digest}"'.encode()


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
            event=_event_splice(AGENT),
            first_seq=seq0 + 1,
            columns=[c.name for c in cases.columns],
            start=(datetime.now(UTC) - BACKLOG).replace(tzinfo=None),
        )
        actor = f"agent:{AGENT}"
        id_at = _plan.columns.index("id")
        prev = prev_hash.encode()
        seq = seq0
        bounds = [(lo, min(lo + CHUNK, size)) for lo in range(0, size, CHUNK)]
        t0 = time.perf_counter()
        gc.disable()
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            ahead = [pool.submit(_chunk, *b) for b in bounds[:2]]
            for i in range(len(bounds)):
                chunk = ahead.pop(0).result()
                if i + 2 < len(bounds):
                    ahead.append(pool.submit(_chunk, *bounds[i + 2]))
                event_rows = []
                for row, created_s, head, tail in chunk:
                    seq += 1
                    body = b"".join((head, b'"', prev, b'"', tail))
                    digest = hashlib.sha256(body).hexdigest()
                    event_rows.append(
                        (
                            seq,
                            created_s,
                            "case.created",
                            row[id_at],
                            actor,
                            prev.decode(),
                            digest,
                            body,
                        )
                    )
                    prev = digest.encode()
                with conn.begin():
                    conn.exec_driver_sql(insert_case, [tuple(r) for r, *_ in chunk])
                    conn.exec_driver_sql(insert_event, event_rows)
                done = bounds[i][1]
                if (i + 1) % 10 == 0 or done == size:
                    rate = done / (time.perf_counter() - t0)
                    log(f"  {done:>9,} cases ({rate:,.0f}/s)")
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
    """Recompute sampled rows the way the service does; any difference is a fill bug."""
    rng = random.Random(1)
    last = info.first_case_id + info.size - 1
    ids = {info.first_case_id, last, *rng.sample(range(info.first_case_id, last + 1), samples)}
    engine = make_engine(url)
    try:
        with read_session(engine) as session:
            for case_id in sorted(ids):
                case = session.get(Case, case_id)
                assert case is not None, case_id
                content = case_content(case, agent_name=AGENT).model_dump(mode="json")
                if json_digest(content) != case.content_digest:
                    raise AssertionError(f"case {case_id}: content digest differs")
                ev = session.exec(  # type: ignore[call-overload]
                    AuditEvent.__table__.select().where(  # type: ignore[attr-defined]
                        AuditEvent.__table__.c.case_id == case_id  # type: ignore[attr-defined]
                    )
                ).one()
                body = canonical_json(
                    {
                        "v": 1,
                        "seq": ev.seq,
                        "prev": ev.prev_hash,
                        "ts": _iso(case.created_at),
                        "kind": "case.created",
                        "actor": f"agent:{AGENT}",
                        "case_id": case_id,
                        "data": {
                            "content": content,
                            "content_digest": case.content_digest,
                            "idempotency_key": case.idempotency_key,
                        },
                    }
                )
                if bytes(ev.body) != body or sha256_hex(body) != ev.hash:
                    raise AssertionError(f"case {case_id}: audit event differs")
                n = (case_id - info.first_case_id) % min(TEMPLATES, info.size)
                request = sample_escalation(n, seed=SEED).model_copy(
                    update={"idempotency_key": case.idempotency_key, "trace_id": case.trace_id}
                )
                if json_digest(request.model_dump(mode="json")) != case.request_digest:
                    raise AssertionError(f"case {case_id}: request digest differs")
            prev = session.exec(  # type: ignore[call-overload]
                AuditEvent.__table__.select().where(  # type: ignore[attr-defined]
                    AuditEvent.__table__.c.seq == info.audit_events  # type: ignore[attr-defined]
                )
            ).one()
            head = session.get(AuditHead, 1)
            assert head is not None and head.hash == prev.hash and head.seq == prev.seq
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
    tmp = path.with_suffix(".filling")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), path, meta):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{tmp}"
    t0 = time.perf_counter()
    log(f"filling {size:,} cases into {path.name}")
    upgrade(url)
    principals = _principals(url, BENCH_DIR)
    templates = _templates(min(TEMPLATES, size), AGENT)
    log(f"  {len(templates)} templates in {time.perf_counter() - t0:.1f} s")
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
    print(json.dumps({k: v for k, v in asdict(info).items() if "token" not in k}, indent=2))
    if args.verify:
        t0 = time.perf_counter()
        report = verify_chain(Path(info.path))
        print(f"audit chain verified: {report.events} events in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
