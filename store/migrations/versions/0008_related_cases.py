"""related cases: redacted values per case, an agent's cases newest first

Revision ID: 0008_related_cases
Revises: 0007_queue_age
Create Date: 2026-11-27 18:40:00.000000

``GET /v1/cases/{id}/related`` lists cases sharing the agent, the trace id or a redacted
value. ``case_placeholders`` holds each case's typed placeholders (``⟦email:…⟧``), keyed
both ways: by case (what this case holds) and by placeholder (who else holds it). The
cases already stored are indexed here, a thousand at a time. ``ix_cases_agent_id``
becomes ``(agent_id, id)``, so an agent's newest cases are one index range on
PostgreSQL too (SQLite's index already ended in the rowid); lookups by agent alone use
its prefix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008_related_cases"
down_revision: str | None = "0007_queue_age"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in store/related.py (a migration does not import the code it predates).
_PLACEHOLDER = re.compile(r"⟦[a-z]+:[0-9a-f]{12}⟧")
_CONTENT = (
    "summary",
    "proposed_action",
    "fallback_action",
    "context",
    "reasoning",
    "evidence",
    "alternatives",
    "info_exchange",
)
_BATCH = 1000


def upgrade() -> None:
    marks = op.create_table(
        "case_placeholders",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("placeholder", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id", "placeholder"),
    )
    op.create_index(
        "ix_case_placeholders_value", "case_placeholders", ["placeholder", "case_id"], unique=False
    )
    with op.batch_alter_table("cases", schema=None, recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_agent_id"))
        batch_op.create_index("ix_cases_agent_recent", ["agent_id", "id"], unique=False)
    _index_existing(marks)


def _index_existing(marks: sa.Table) -> None:
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer()),
        *(sa.column(name, sa.String() if name == "summary" else sa.JSON()) for name in _CONTENT),
    )
    bind = op.get_bind()
    after = 0
    while True:
        rows = bind.execute(
            sa.select(cases).where(cases.c.id > after).order_by(cases.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        found: list[dict[str, object]] = []
        for row in rows:
            text = json.dumps([row._mapping[name] for name in _CONTENT], ensure_ascii=False)
            found.extend(
                {"case_id": row.id, "placeholder": p}
                for p in sorted(set(_PLACEHOLDER.findall(text)))
            )
        if found:
            bind.execute(marks.insert(), found)
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_cases_agent_recent")
        batch_op.create_index(batch_op.f("ix_cases_agent_id"), ["agent_id"], unique=False)
    op.drop_index("ix_case_placeholders_value", table_name="case_placeholders")
    op.drop_table("case_placeholders")
