"""The server-side commands: schema migrations, creating principals, refusing to serve
an empty database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from store.db import make_engine
from store.migrate import alembic_config, current_revision


def _backend(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_db_upgrade_creates_schema_with_migrations(tmp_path: Path) -> None:
    """`hitl db upgrade` brings an empty file to the latest revision with every table."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = _backend("db", "upgrade", "--database-url", url)
    assert result.returncode == 0, result.stderr
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert f"revision {head}" in result.stdout
    assert current_revision(url) == head
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "agents",
        "supervisors",
        "supervisor_keys",
        "cases",
        "claims",
        "decisions",
        "audit_events",
        "audit_head",
        "audit_checkpoints",
        "policy_versions",
        "webhook_cursor",
        "webhook_deliveries",
        "groups",
        "alembic_version",
    } <= tables


def test_admin_create_prints_token_once_and_stores_its_hash(tmp_path: Path) -> None:
    """The token is printed for the admin to hand over; the database holds only its hash."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _backend("db", "upgrade", "--database-url", url)
    out = _backend(
        "admin",
        "create-supervisor",
        "carol",
        "--group",
        "payments",
        "--database-url",
        url,
        "--json",
    )
    assert out.returncode == 0, out.stderr
    token = json.loads(out.stdout)["token"]
    assert token.startswith("hitl_sup_") and len(token) > 40
    assert token.encode() not in (tmp_path / "a.db").read_bytes()
    again = _backend("admin", "create-supervisor", "carol", "--database-url", url)
    assert again.returncode == 1
    assert "exists already" in again.stderr
    bad = _backend("admin", "create-supervisor", "dave", "--role", "root", "--database-url", url)
    assert bad.returncode == 2
    assert all(word in bad.stderr for word in ("root", "viewer", "supervisor", "admin"))


def test_admin_create_supervisor_with_each_role(tmp_path: Path) -> None:
    """`--role viewer|supervisor|admin` stores that role; a non-admin without a group is
    created but told they will see no case."""
    from sqlmodel import select

    from store.db import read_session
    from store.tables import Supervisor

    url = f"sqlite:///{tmp_path / 'r.db'}"
    _backend("db", "upgrade", "--database-url", url)
    for name, role, groups in (
        ("vic", "viewer", ["--group", "payments"]),
        ("sue", "supervisor", []),
        ("ada", "admin", []),
    ):
        out = _backend(
            "admin", "create-supervisor", name, "--role", role, *groups, "--database-url", url
        )
        assert out.returncode == 0, out.stderr
        assert ("in no group" in out.stderr) == (name == "sue")
    engine = make_engine(url)
    with read_session(engine) as session:
        roles = {s.name: s.role for s in session.exec(select(Supervisor))}
    engine.dispose()
    assert roles == {"vic": "viewer", "sue": "supervisor", "ada": "admin"}


def test_serve_refuses_database_without_schema(tmp_path: Path) -> None:
    """Starting on an unmigrated database says to run `hitl db upgrade` instead of crashing."""
    result = _backend(
        "serve", "--database-url", f"sqlite:///{tmp_path / 'empty.db'}", "--port", "1"
    )
    assert result.returncode == 2
    assert "hitl db upgrade" in result.stderr
