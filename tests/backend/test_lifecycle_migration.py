"""The lifecycle migration: groups, availability and the open-case counters (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, LargeBinary, MetaData, text

from backend.app import create_app
from backend.services.admin import add_agent
from backend.services.escalations import submit_escalation
from backend.settings import BackendSettings
from backend.state import AppState
from store.contracts import Confidence
from store.db import make_engine, read_session
from store.migrate import alembic_config, upgrade
from store.samples import sample_escalations
from store.tables import Agent
from tests.conftest import FrozenClock
from tests.pgserver import create_database


def _before_lifecycle() -> str:
    scripts = ScriptDirectory.from_config(alembic_config())
    [mine] = [r for r in scripts.walk_revisions() if r.revision.endswith("_lifecycle")]
    assert isinstance(mine.down_revision, str)
    return mine.down_revision


def _filler(column: Any, n: int) -> Any:
    """A value for a NOT NULL column of the old schema."""
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return n
    if isinstance(kind, Float):
        return 0.5
    if isinstance(kind, DateTime) or "datetime" in type(kind).__name__.lower():
        return datetime(2026, 1, 1, tzinfo=UTC)
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, LargeBinary):
        return b""
    return f"{column.name}-{n}"


def _row(table: Any, n: int, **values: Any) -> dict[str, Any]:
    row = {
        c.name: _filler(c, n)
        for c in table.columns
        if not c.nullable and c.server_default is None and not c.primary_key
    }
    return row | values


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name, open_cases FROM groups")).all()
            return {name: count for name, count in rows}
    finally:
        engine.dispose()


def test_migration_counts_existing_open_cases_and_keeps_counting(
    db_url: str, tmp_path: Path, request: Any
) -> None:
    """Upgrading a database that already holds cases starts each group's open count from
    what is there, the counters follow new cases afterwards, and a downgrade and upgrade
    of the used database come back to the same counts."""
    # db_url is migrated to head; this test needs one just before the lifecycle migration,
    # on the same kind of server.
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if db_url.startswith("sqlite")
        else create_database(request.getfixturevalue("pg_base_url"))
    )
    upgrade(url, _before_lifecycle())
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine, only=["agents", "cases"])
    agents, cases = meta.tables["agents"], meta.tables["cases"]
    with engine.begin() as conn:
        agent_pk = conn.execute(agents.insert().values(_row(agents, 1, domains=[])))
        agent_id = agent_pk.inserted_primary_key[0]
        for n, (group, status) in enumerate(
            [("payments", "open"), ("payments", "open"), ("payments", "decided"), ("ops", "open")],
            start=1,
        ):
            values = _row(cases, n, agent_id=agent_id, group_name=group, status=status)
            conn.execute(cases.insert().values(values))
    engine.dispose()

    upgrade(url)
    assert _counts(url) == {"payments": 2, "ops": 1}

    app = create_app(
        BackendSettings(database_url=url, server_key=tmp_path / "k.pem"), clock=FrozenClock()
    )
    state: AppState = app.state.hitl
    new_agent, _ = add_agent(state.engine, name="bot", domains=[])
    with read_session(state.engine) as session:
        agent = session.get(Agent, new_agent)
    assert agent is not None
    esc = sample_escalations(1)[0].model_copy(
        update={
            "idempotency_key": "new",
            "domain": "payments",
            "confidence": Confidence(reported=0.9),
            "risk_flags": [],
            "amount": None,
        }
    )
    submit_escalation(state, agent=agent, escalation=esc)
    state.engine.dispose()
    assert _counts(url) == {"payments": 3, "ops": 1}

    command.downgrade(alembic_config(url), _before_lifecycle())
    upgrade(url)
    assert _counts(url) == {"payments": 3, "ops": 1}
