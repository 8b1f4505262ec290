"""decision kinds: rationale required by policy, deferral, questions to the agent, post-hoc

Revision ID: 0005_decision_kinds
Revises: 0004_decision_fencing
Create Date: 2026-11-28 12:00:00.000000

Cases gain ``rationale_required`` (the matched policy rule demands a rationale for final
decisions), ``deferred_until`` (a supervisor snoozed the case) and ``info_exchange`` (the
questions asked of the agent and its answers, part of the case's content). Decisions gain
``post_hoc``: recorded after the SLA fallback was applied, for review. Existing rows get
false, null and an empty list: their content digests do not change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005_decision_kinds"
down_revision: str | None = "0004_decision_fencing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN: recreating ``cases`` on SQLite would have to drop the
    # table that claims and decisions point at, which foreign keys refuse once there is data.
    with op.batch_alter_table("cases", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("rationale_required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("deferred_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("info_exchange", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("post_hoc", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("post_hoc")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), for the same reason.
    with op.batch_alter_table("cases", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("info_exchange")
        batch_op.drop_column("deferred_until")
        batch_op.drop_column("rationale_required")
