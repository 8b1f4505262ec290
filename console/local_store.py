"""What the console keeps on this machine: a cache of what it has shown, and an outbox.

Both are SQLite files (stdlib ``sqlite3``: the console stays light) created 0600 in 0700
directories, because they hold what the supervisor saw and signed. Nothing in them is raw
PII: cases arrive from the backend already redacted, and are stored as received.

- :class:`Cache` (under the user cache dir) keeps the last queue page, every case the
  console has shown and who the supervisor is, so that with no route to the backend the
  console still shows them, with the snapshot's age.
- :class:`Outbox` (under the user data dir: a cache may be wiped, unsent decisions must
  not be) keeps signed decisions until the backend has answered for each. An entry is
  committed with ``synchronous=FULL`` before :meth:`Outbox.add` returns, so a decision the
  console called "saved" survives ``kill -9`` and a power cut.

An air-gapped *bundle* is one file holding both (see :mod:`console.bundle`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import platformdirs

from console.errors import ConsoleError
from store.contracts import CasePublic, ClaimPublic, Envelope, QueueItem, SupervisorMe

__all__ = [
    "Cache",
    "LocalStoreError",
    "Outbox",
    "OutboxEntry",
    "OutboxState",
    "default_cache_path",
    "default_outbox_path",
]

OutboxState = Literal["pending", "sent", "conflict", "rejected"]


class LocalStoreError(ConsoleError):
    """The cache, outbox or bundle file cannot be used (permissions, corruption...)."""


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'local'}-{parts.port or 0}"


def default_cache_path(url: str) -> Path:
    return Path(platformdirs.user_cache_dir("hitl")) / f"cache-{_host(url)}.db"


def default_outbox_path(url: str) -> Path:
    return Path(platformdirs.user_data_dir("hitl")) / f"outbox-{_host(url)}.db"


def _now() -> datetime:
    return datetime.now(UTC)


def _private_file(path: Path) -> None:
    """Create ``path`` 0600 in a 0700 directory, or check an existing one is private."""
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        directory.chmod(0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        return
    except FileExistsError:
        pass
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise LocalStoreError(f"refusing {path}: not a regular file")
    if st.st_uid != os.getuid():
        raise LocalStoreError(f"refusing {path}: it belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o077:
        raise LocalStoreError(
            f"refusing {path}: other users can read it (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod 600 {path}`"
        )


class _Db:
    SCHEMA = ""

    def __init__(self, path: Path, *, synchronous: str = "NORMAL") -> None:
        self.path = path
        _private_file(path)
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # A rollback journal, not WAL: every commit is in the one file, so a bundle or an
            # outbox can be copied (or the console killed) at any moment and stay whole.
            self._conn.execute("PRAGMA journal_mode=DELETE")
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.executescript(self.SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise LocalStoreError(f"{path} is not a usable hitl file: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def close(self) -> None:
        self._conn.close()


class Cache(_Db):
    """The last queue snapshot, every case shown, and the signed-in supervisor."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS queue_items (
        position INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, item TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS cases (
        id INTEGER PRIMARY KEY, body TEXT NOT NULL, fetched_at TEXT NOT NULL);
    """

    def save_queue(
        self, items: list[QueueItem], *, taken_at: datetime | None = None, append: bool = False
    ) -> None:
        """Replace the queue snapshot with ``items`` (in queue order), or with ``append``
        add a further page after the rows already kept (skipping cases already there)."""
        taken = (taken_at or _now()).isoformat()
        with self._tx() as conn:
            start = 0
            if append:
                row = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM queue_items")
                start = int(row.fetchone()[0])
                kept = {int(r[0]) for r in conn.execute("SELECT case_id FROM queue_items")}
                items = [item for item in items if item.id not in kept]
            else:
                conn.execute("DELETE FROM queue_items")
            conn.executemany(
                "INSERT INTO queue_items(position, case_id, item) VALUES (?, ?, ?)",
                [(start + n, item.id, item.model_dump_json()) for n, item in enumerate(items)],
            )
            if not append:
                self._set_meta(conn, "queue_taken_at", taken)

    def load_queue(self) -> tuple[list[QueueItem], datetime] | None:
        """The last snapshot and when it was taken, or None if there is none."""
        taken = self._meta("queue_taken_at")
        if taken is None:
            return None
        rows = self._conn.execute("SELECT item FROM queue_items ORDER BY position").fetchall()
        return [QueueItem.model_validate_json(r[0]) for r in rows], datetime.fromisoformat(taken)

    def save_case(self, case: CasePublic, *, fetched_at: datetime | None = None) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO cases(id, body, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET body = excluded.body, "
                "fetched_at = excluded.fetched_at",
                (case.id, case.model_dump_json(), (fetched_at or _now()).isoformat()),
            )

    def load_case(self, case_id: int) -> tuple[CasePublic, datetime] | None:
        row = self._conn.execute(
            "SELECT body, fetched_at FROM cases WHERE id = ?", (case_id,)
        ).fetchone()
        if row is None:
            return None
        return CasePublic.model_validate_json(row[0]), datetime.fromisoformat(row[1])

    def save_claim(self, claim: ClaimPublic, *, at: datetime | None = None) -> None:
        """Note on the kept copy of its case that ``claim`` was taken (at ``at``)."""
        row = self._conn.execute("SELECT body FROM cases WHERE id = ?", (claim.case_id,)).fetchone()
        if row is None:
            return
        case = CasePublic.model_validate_json(row[0])
        case = case.model_copy(update={"claim": claim, "claim_token": claim.token})
        self.save_case(case, fetched_at=at)

    def case_ids(self) -> list[int]:
        return [int(r[0]) for r in self._conn.execute("SELECT id FROM cases ORDER BY id")]

    def save_me(self, me: SupervisorMe) -> None:
        with self._tx() as conn:
            self._set_meta(conn, "me", me.model_dump_json())

    def save_info(self, info: dict[str, str]) -> None:
        """Facts about this file (a bundle's backend, group, puller and time)."""
        with self._tx() as conn:
            self._set_meta(conn, "info", json.dumps(info))

    def load_info(self) -> dict[str, str]:
        raw = self._meta("info")
        return {} if raw is None else {str(k): str(v) for k, v in json.loads(raw).items()}

    def load_me(self) -> SupervisorMe | None:
        raw = self._meta("me")
        return None if raw is None else SupervisorMe.model_validate_json(raw)


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    decision_id: str
    case_id: int
    action: str
    envelope: Envelope
    created_at: datetime
    state: OutboxState
    attempts: int
    result: dict[str, Any] | None

    @property
    def message(self) -> str:
        """What the backend said, for a conflict or a refusal."""
        if not self.result:
            return ""
        detail = self.result.get("detail") or ""
        title = self.result.get("title") or ""
        return f"{title}: {detail}" if title and detail else title or detail


class Outbox(_Db):
    """Signed decisions waiting for the backend, in the order they were made."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        decision_id TEXT NOT NULL UNIQUE,
        case_id INTEGER NOT NULL,
        action TEXT NOT NULL,
        envelope TEXT NOT NULL,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'sent', 'conflict', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        result TEXT,
        updated_at TEXT
    );
    CREATE INDEX IF NOT EXISTS ix_outbox_state ON outbox(state, seq);
    """

    def __init__(self, path: Path) -> None:
        # FULL: the commit is on disk before add() returns and the console says "saved".
        super().__init__(path, synchronous="FULL")

    def add(self, *, case_id: int, decision_id: str, action: str, envelope: Envelope) -> int:
        """Store a signed decision durably; returns its place in the send order."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO outbox(decision_id, case_id, action, envelope, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (decision_id, case_id, action, envelope.model_dump_json(), _now().isoformat()),
            )
            assert cur.lastrowid is not None
            return int(cur.lastrowid)

    def entries(self, state: OutboxState | None = None) -> list[OutboxEntry]:
        query = (
            "SELECT seq, decision_id, case_id, action, envelope, created_at, state, attempts, "
            "result FROM outbox"
        )
        params: tuple[str, ...] = ()
        if state is not None:
            query += " WHERE state = ?"
            params = (state,)
        rows = self._conn.execute(query + " ORDER BY seq", params).fetchall()
        return [
            OutboxEntry(
                seq=r[0],
                decision_id=r[1],
                case_id=r[2],
                action=r[3],
                envelope=Envelope.model_validate_json(r[4]),
                created_at=datetime.fromisoformat(r[5]),
                state=r[6],
                attempts=r[7],
                result=json.loads(r[8]) if r[8] else None,
            )
            for r in rows
        ]

    def pending(self) -> list[OutboxEntry]:
        return self.entries("pending")

    def pending_for(self, case_id: int) -> OutboxEntry | None:
        return next((e for e in self.pending() if e.case_id == case_id), None)

    def settle(self, seq: int, state: OutboxState, result: dict[str, Any]) -> None:
        """Record the backend's answer for an entry."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET state = ?, result = ?, attempts = attempts + 1, "
                "updated_at = ? WHERE seq = ?",
                (state, json.dumps(result), _now().isoformat(), seq),
            )

    def attempted(self, seq: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, updated_at = ? WHERE seq = ?",
                (_now().isoformat(), seq),
            )

    def mark_synced(self, at: datetime | None = None) -> None:
        with self._tx() as conn:
            self._set_meta(conn, "last_sync", (at or _now()).isoformat())

    def last_sync(self) -> datetime | None:
        raw = self._meta("last_sync")
        return None if raw is None else datetime.fromisoformat(raw)

    def counts(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")
        counts = {"pending": 0, "sent": 0, "conflict": 0, "rejected": 0}
        counts.update({str(state): int(n) for state, n in rows})
        return counts
