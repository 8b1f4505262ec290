"""decision nonces and the claim a decision was made under

Revision ID: 0004_decision_fencing
Revises: 0003_webhooks
Create Date: 2026-11-28 10:00:00.000000

A signed decision now carries a random ``nonce`` (unique: a replayed envelope is refused)
and the fencing ``claim_token`` of the claim it was made under. Decisions recorded before
have neither (NULL; a unique constraint allows many NULLs on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004_decision_fencing"
down_revision: str | None = "0003_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("claim_token", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_decisions_nonce", ["nonce"])


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_decisions_nonce", type_="unique")
        batch_op.drop_column("claim_token")
        batch_op.drop_column("nonce")
