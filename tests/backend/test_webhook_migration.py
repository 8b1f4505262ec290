"""The webhooks migration on a database that already holds data, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from store.audit import append_event
from store.db import make_engine, write_session
from store.migrate import alembic_config, current_revision, upgrade
from tests.pgserver import create_database

REVISION = "0003_webhooks"


def _before(url: str) -> str:
    """The revision this migration follows."""
    script = ScriptDirectory.from_config(alembic_config(url))
    down = script.get_revision(REVISION).down_revision
    assert isinstance(down, str)
    return down


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return create_database(request.getfixturevalue("pg_base_url"))


def test_webhook_migration_upgrades_a_used_database_without_replaying_history(
    empty_url: str,
) -> None:
    """An existing database (agents, audit events) upgrades: agents have no webhook and
    the server's default limits, and the outbox cursor starts at the audit head, so old
    decisions are never sent. It downgrades and upgrades again cleanly."""
    before = _before(empty_url)
    upgrade(empty_url, before)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO agents (name, token_hash, domains, created_at) "
                    "VALUES ('old-bot', 'h', '[]', '2026-01-01 00:00:00+00:00')"
                )
            )
        with write_session(engine) as session:
            for n in range(3):
                append_event(session, kind="case.created", actor="agent:old-bot", data={"n": n})
        upgrade(empty_url)
        with engine.connect() as conn:
            cursor = conn.execute(text("SELECT seq FROM webhook_cursor WHERE id = 1")).scalar()
            agent = conn.execute(
                text(
                    "SELECT webhook_url, webhook_secret_version, ingest_rate, ingest_burst "
                    "FROM agents"
                )
            ).one()
        assert cursor == 3
        assert tuple(agent) == (None, 0, None, None)
        command.downgrade(alembic_config(empty_url), before)
        assert current_revision(empty_url) == before
        upgrade(empty_url, REVISION)
        assert current_revision(empty_url) == REVISION
    finally:
        engine.dispose()
