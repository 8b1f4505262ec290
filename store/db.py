"""Engines and sessions. SQLite by default (a file under the user data dir), any
SQLAlchemy URL through ``HITL_DATABASE_URL``.

SQLite is opened in WAL mode with a busy timeout and foreign keys on. Write
transactions use :func:`write_session`, which on SQLite starts with ``BEGIN IMMEDIATE``
so that concurrent writers queue on the busy timeout instead of failing when a read
transaction tries to upgrade to a write. Within one process, SQLite writers also queue
on a lock per engine: SQLite's busy handler polls with sleeps of up to 100 ms, so under
concurrent writes most of the time went to sleeping while the database was free.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

__all__ = [
    "AUDITED_CASES",
    "database_url",
    "default_database_url",
    "make_engine",
    "on_commit",
    "read_session",
    "write_session",
]

APP_NAME = "hitl"
_IMMEDIATE = "hitl_begin_immediate"
#: Seconds SQLite waits for a lock (``timeout`` and ``busy_timeout`` below).
_BUSY_TIMEOUT = 30
#: SQLite engine -> the lock its writers take in this process (see :func:`write_session`).
_writer_locks: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
#: ``session.info`` key: the ids of the cases whose audit events a write session appended.
AUDITED_CASES = "hitl_audited_cases"
#: Engine -> callbacks run after each :func:`write_session` commit with the audited case ids.
_commit_listeners: weakref.WeakKeyDictionary[Engine, list[Callable[[frozenset[int]], None]]] = (
    weakref.WeakKeyDictionary()
)


def on_commit(engine: Engine, listener: Callable[[frozenset[int]], None]) -> None:
    """Call ``listener`` after every committed :func:`write_session` on ``engine`` that
    appended audit events about cases, with those cases' ids.

    The backend wakes its long-polls with it, whatever the change was. Listeners run in
    the committing thread and must not raise or block.
    """
    _commit_listeners.setdefault(engine, []).append(listener)


def default_database_url() -> str:
    data_dir = Path(platformdirs.user_data_dir(APP_NAME))
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return f"sqlite:///{data_dir / 'hitl.db'}"


def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("HITL_DATABASE_URL") or default_database_url()


def sqlite_url_for(path: Path) -> str:
    return f"sqlite:///{path}"


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    url = database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": _BUSY_TIMEOUT},
            pool_size=8,
            max_overflow=8,
        )
        synchronous = os.environ.get("HITL_SQLITE_SYNCHRONOUS", "NORMAL").upper()
        if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError("HITL_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT * 1000}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Straight to the driver: exec_driver_sql would run SQLAlchemy's whole
            # statement machinery for every transaction, a cost on the order of a query.
            begin = "BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN"
            conn.connection.driver_connection.execute(begin)

        _writer_locks[engine] = threading.RLock()
    else:
        engine = create_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)
    return engine


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction takes the write lock up front and commits on exit.

    On SQLite, writers in this process first queue on the engine's lock, so the next one
    starts as soon as the previous commits. After the busy timeout a writer goes ahead
    anyway and lets SQLite's own timeout decide, as before. After the commit (and the
    lock's release) the :func:`on_commit` listeners hear which cases were audited.
    """
    lock = _writer_locks.get(engine)
    held = lock is not None and lock.acquire(timeout=_BUSY_TIMEOUT)
    cases: set[int] | None = None
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**{_IMMEDIATE: True})
            with Session(bind=conn, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
                cases = session.info.get(AUDITED_CASES)
    finally:
        if held:
            assert lock is not None
            lock.release()
    if cases:
        done = frozenset(cases)
        for listener in _commit_listeners.get(engine, ()):
            listener(done)
