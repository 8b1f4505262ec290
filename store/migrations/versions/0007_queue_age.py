"""the queue oldest first: indexes for ?sort=age

Revision ID: 0007_queue_age
Revises: 0006_lifecycle
Create Date: 2026-11-27 18:30:00.000000

The console sorts the queue by priority (the existing queue indexes), by SLA time left
(the same indexes, walked one severity at a time) or by age. Age needs its own keyset
index, for all groups (admins) and per group (one arm per group, merged), so a page
stays a few index reads at any queue size.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_queue_age"
down_revision: str | None = "0006_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cases_queue_age", "cases", ["status", "created_at", "id"])
    op.create_index(
        "ix_cases_queue_group_age", "cases", ["status", "group_name", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_cases_queue_group_age", table_name="cases")
    op.drop_index("ix_cases_queue_age", table_name="cases")
