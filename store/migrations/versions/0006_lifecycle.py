"""groups, supervisor availability, routing and suggestions on cases, open-case counters

Revision ID: 0006_lifecycle
Revises: 0005_decision_kinds
Create Date: 2026-11-27 14:46:47.460065

Routing and backpressure (issue 4): ``groups`` holds a group's fallback group and
open-case limit; supervisors gain ``availability`` (on call unless they say otherwise);
cases gain the suggested assignee and where and why routing sent them.

Two counters are kept by triggers on ``cases``, so they are exact whatever code changes a
case (ingest, decisions, the SLA sweeper, reassignment) and cost one indexed row update
per change instead of a COUNT over the case index per ingest:

- ``groups.open_cases``: the group's cases with status ``open`` (a row is inserted for a
  group's first queued case, with no fallback and no limit);
- ``supervisors.open_load``: open cases whose suggested assignee they are.

Existing open cases are counted once here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006_lifecycle"
down_revision: str | None = "0005_decision_kinds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite: one trigger per event; each statement's WHERE makes it a no-op when its
# condition does not hold (OLD/NEW are constants inside a trigger).
_SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER cases_counters_insert AFTER INSERT ON cases
    WHEN NEW.status = 'open'
    BEGIN
        INSERT INTO groups (name, domains, open_cases) VALUES (NEW.group_name, '[]', 1)
            ON CONFLICT (name) DO UPDATE SET open_cases = open_cases + 1;
        UPDATE supervisors SET open_load = open_load + 1 WHERE id = NEW.suggested_assignee_id;
    END
    """,
    """
    CREATE TRIGGER cases_counters_update
    AFTER UPDATE OF status, group_name, suggested_assignee_id ON cases
    WHEN (OLD.status = 'open' OR NEW.status = 'open')
        AND (OLD.status IS NOT NEW.status OR OLD.group_name IS NOT NEW.group_name
             OR OLD.suggested_assignee_id IS NOT NEW.suggested_assignee_id)
    BEGIN
        UPDATE groups SET open_cases = open_cases - 1
            WHERE OLD.status = 'open' AND name = OLD.group_name;
        UPDATE supervisors SET open_load = open_load - 1
            WHERE OLD.status = 'open' AND id = OLD.suggested_assignee_id;
        INSERT INTO groups (name, domains, open_cases)
            SELECT NEW.group_name, '[]', 1 WHERE NEW.status = 'open'
            ON CONFLICT (name) DO UPDATE SET open_cases = open_cases + 1;
        UPDATE supervisors SET open_load = open_load + 1
            WHERE NEW.status = 'open' AND id = NEW.suggested_assignee_id;
    END
    """,
    """
    CREATE TRIGGER cases_counters_delete AFTER DELETE ON cases
    WHEN OLD.status = 'open'
    BEGIN
        UPDATE groups SET open_cases = open_cases - 1 WHERE name = OLD.group_name;
        UPDATE supervisors SET open_load = open_load - 1 WHERE id = OLD.suggested_assignee_id;
    END
    """,
)

_POSTGRES_TRIGGERS = (
    """
    CREATE FUNCTION hitl_cases_counters() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' AND OLD.status = 'open' THEN
            UPDATE groups SET open_cases = open_cases - 1 WHERE name = OLD.group_name;
            IF OLD.suggested_assignee_id IS NOT NULL THEN
                UPDATE supervisors SET open_load = open_load - 1
                    WHERE id = OLD.suggested_assignee_id;
            END IF;
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.status = 'open' THEN
            INSERT INTO groups (name, domains, open_cases) VALUES (NEW.group_name, '[]', 1)
                ON CONFLICT (name) DO UPDATE SET open_cases = groups.open_cases + 1;
            IF NEW.suggested_assignee_id IS NOT NULL THEN
                UPDATE supervisors SET open_load = open_load + 1
                    WHERE id = NEW.suggested_assignee_id;
            END IF;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER cases_counters_insert AFTER INSERT ON cases
    FOR EACH ROW WHEN (NEW.status = 'open') EXECUTE FUNCTION hitl_cases_counters()
    """,
    """
    CREATE TRIGGER cases_counters_update
    AFTER UPDATE OF status, group_name, suggested_assignee_id ON cases
    FOR EACH ROW WHEN ((OLD.status = 'open' OR NEW.status = 'open')
        AND (OLD.status IS DISTINCT FROM NEW.status
             OR OLD.group_name IS DISTINCT FROM NEW.group_name
             OR OLD.suggested_assignee_id IS DISTINCT FROM NEW.suggested_assignee_id))
    EXECUTE FUNCTION hitl_cases_counters()
    """,
    """
    CREATE TRIGGER cases_counters_delete AFTER DELETE ON cases
    FOR EACH ROW WHEN (OLD.status = 'open') EXECUTE FUNCTION hitl_cases_counters()
    """,
)


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("domains", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("fallback_group", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("open_case_limit", sa.Integer(), nullable=True),
        sa.Column("open_cases", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    # Plain ALTER TABLE ... ADD COLUMN (recreate="never"): recreating ``cases`` on SQLite
    # would copy the whole table and drop the one claims and decisions point at, which
    # foreign keys refuse once there is data. For the same reason suggested_assignee_id
    # has no foreign key: SQLite cannot drop such a column in place on downgrade (and
    # supervisors are never deleted; the case keeps the name too).
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("cases", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("suggested_assignee_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "suggested_assignee",
                sqlmodel.sql.sqltypes.AutoString(length=100),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("routed_from", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "routing_note",
                sqlmodel.sql.sqltypes.AutoString(length=500),
                server_default="",
                nullable=False,
            )
        )
    with op.batch_alter_table("supervisors", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column(
                "availability",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                server_default="on_call",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("open_load", sa.Integer(), server_default="0", nullable=False)
        )

    op.execute(
        "INSERT INTO groups (name, domains, open_cases) "
        "SELECT group_name, '[]', COUNT(*) FROM cases WHERE status = 'open' GROUP BY group_name"
    )
    for statement in _POSTGRES_TRIGGERS if postgres else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in ("cases_counters_insert", "cases_counters_update", "cases_counters_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON cases" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS hitl_cases_counters()")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), for the same reason as above.
    with op.batch_alter_table("supervisors", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("open_load")
        batch_op.drop_column("availability")
    with op.batch_alter_table("cases", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("routing_note")
        batch_op.drop_column("routed_from")
        batch_op.drop_column("suggested_assignee")
        batch_op.drop_column("suggested_assignee_id")
    op.drop_table("groups")
