"""store.db and store.migrate on a real SQLite file: pragmas, write locking, transactions
and the schema the migration creates."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select
from store_log_builder import seeded_key

from store.audit import GENESIS_HASH, append_event, export_lines, sign_checkpoint, verify_export
from store.canonical import sha256_hex
from store.db import make_engine, read_session, write_session
from store.migrate import alembic_config, current_revision
from store.tables import AuditEvent, AuditHead, Claim


@pytest.fixture
def db(fresh_db_url: Callable[[], str]) -> Iterator[tuple[str, Engine]]:
    url = fresh_db_url()
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def _path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _chain(engine: Engine) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


def test_make_engine_opens_sqlite_in_wal_with_foreign_keys_and_a_busy_timeout(
    db: tuple[str, Engine],
) -> None:
    """Every connection runs in WAL mode, enforces foreign keys and waits for a busy lock."""
    _, engine = db
    with engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 1,
    }


def test_make_engine_enforces_foreign_keys(db: tuple[str, Engine]) -> None:
    """A claim on a case that does not exist is refused by the database, not stored."""
    _, engine = db
    now = datetime.now(UTC)
    claim = Claim(case_id=999, supervisor_id=999, token=1, claimed_at=now, expires_at=now)
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), write_session(engine) as session:
        session.add(claim)
        session.flush()


def test_make_engine_rejects_an_unknown_synchronous_setting(
    monkeypatch: pytest.MonkeyPatch, db: tuple[str, Engine]
) -> None:
    """A typo in HITL_SQLITE_SYNCHRONOUS fails at start-up with the allowed values."""
    url, _ = db
    monkeypatch.setenv("HITL_SQLITE_SYNCHRONOUS", "fast")
    with pytest.raises(ValueError, match="OFF, NORMAL, FULL or EXTRA"):
        make_engine(url)


def test_migration_creates_the_schema_and_the_genesis_audit_head(db: tuple[str, Engine]) -> None:
    """A fresh database is at the head revision, has every table, and its audit chain starts
    at seq 0 with the genesis hash."""
    url, engine = db
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert current_revision(url) == head
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    with read_session(engine) as session:
        heads = session.exec(select(AuditHead)).all()
    assert [(h.id, h.seq, h.hash) for h in heads] == [(1, 0, GENESIS_HASH)]
    assert _chain(engine) == []


def test_migration_matches_the_table_models(db: tuple[str, Engine]) -> None:
    """The migration and store/tables.py describe the same schema (no drift for autogenerate)."""
    _, engine = db
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_write_session_takes_the_write_lock_up_front(db: tuple[str, Engine]) -> None:
    """A write transaction holds SQLite's write lock from its first statement (BEGIN IMMEDIATE),
    so two appenders queue instead of both reading the same head; a read session does not."""
    url, engine = db
    other = sqlite3.connect(_path(url), timeout=0, isolation_level=None)
    try:
        with write_session(engine) as session:
            session.exec(select(AuditHead)).one()  # a read, yet the write lock is taken
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        with read_session(engine) as session:
            session.exec(select(AuditHead)).one()
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_write_session_rolls_back_the_event_with_the_change(db: tuple[str, Engine]) -> None:
    """If the change an event records fails, the event is not written and the head does not
    move: the log never records something that did not happen."""
    _, engine = db
    with pytest.raises(RuntimeError), write_session(engine) as session:
        append_event(session, kind="case.claimed", actor="s1", data={"token": 1})
        raise RuntimeError("the change failed")
    with write_session(engine) as session:
        event = append_event(session, kind="case.claimed", actor="s1", data={"token": 2})
    assert event.seq == 1
    assert [e.seq for e in _chain(engine)] == [1]


def test_concurrent_appenders_produce_a_gap_free_chain(db: tuple[str, Engine]) -> None:
    """Four writers (each its own engine, as separate processes would be) appending at once
    give one unbroken chain: no gaps, no forks, no "database is locked" errors."""
    url, _ = db
    writers, per_writer = 4, 30
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def work(w: int) -> None:
        engine = make_engine(url)
        try:
            start.wait()
            for i in range(per_writer):
                with write_session(engine) as session:
                    append_event(session, kind="note", actor=f"w{w}", data={"i": i})
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    engine = make_engine(url)
    try:
        chain = _chain(engine)
        assert [e.seq for e in chain] == list(range(1, writers * per_writer + 1))
        prev = GENESIS_HASH
        for event in chain:
            assert (event.prev_hash, event.hash) == (prev, sha256_hex(bytes(event.body)))
            prev = event.hash
        key = seeded_key("backend")
        with write_session(engine) as session:
            checkpoint = sign_checkpoint(session, signer=key)
        with read_session(engine) as session:
            lines = list(
                export_lines(session, checkpoint=checkpoint, checkpoint_key=key.public_key())
            )
    finally:
        engine.dispose()
    assert verify_export(lines).events == writers * per_writer


@pytest.mark.parametrize("value", [2**53, float("nan"), float("inf"), "\ud800"])
def test_append_event_refuses_data_canonical_json_cannot_carry(
    db: tuple[str, Engine], value: object
) -> None:
    """An event whose data RFC 8785 cannot represent (a 64-bit id, NaN, a lone surrogate) fails
    the write, with the change it records, instead of leaving an unverifiable log."""
    _, engine = db
    with pytest.raises(ValueError), write_session(engine) as session:
        append_event(session, kind="case.created", actor="agent", data={"order_no": value})
    assert _chain(engine) == []


def test_on_commit_hears_the_audited_cases_only_after_a_commit(db) -> None:
    """Listeners (the backend's long-poll wake-ups) hear which cases a write audited once
    it has committed, never for a write that rolled back or audited no case."""
    from store.db import on_commit

    _, engine = db
    heard: list[frozenset[int]] = []
    on_commit(engine, heard.append)
    now = datetime(2026, 3, 2, tzinfo=UTC)
    with write_session(engine) as session:
        append_event(session, kind="test.a", actor="t", data={}, case_id=7, ts=now)
        append_event(session, kind="test.b", actor="t", data={}, case_id=9, ts=now)
        append_event(session, kind="test.c", actor="t", data={}, ts=now)
        assert heard == []  # not before the commit
    assert heard == [frozenset({7, 9})]
    with pytest.raises(RuntimeError), write_session(engine) as session:
        append_event(session, kind="test.d", actor="t", data={}, case_id=11, ts=now)
        raise RuntimeError("crash before commit")
    with write_session(engine) as session:
        append_event(session, kind="policy.activated", actor="t", data={}, ts=now)
    assert heard == [frozenset({7, 9})]
