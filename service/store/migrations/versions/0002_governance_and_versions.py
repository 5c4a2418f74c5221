"""Governance and versioned content: each card's content version, mode and suggestions; governance history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cards_issued") as table:
        # Cards issued before this revision had no recorded version or mode: "" and "active".
        table.add_column(sa.Column("version", sa.String(32), nullable=False, server_default=""))
        table.add_column(sa.Column("mode", sa.String(8), nullable=False, server_default="active"))
        table.add_column(sa.Column("suggestions", sa.Text(), nullable=False, server_default=""))
        table.create_index("ix_cards_issued_issued_at", ["issued_at"])
    op.create_table(
        "governance_configs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("modes", sa.Text(), nullable=False),
    )
    op.create_index("ix_governance_configs_effective_at", "governance_configs", ["effective_at"])


def downgrade() -> None:
    op.drop_table("governance_configs")
    with op.batch_alter_table("cards_issued") as table:
        table.drop_index("ix_cards_issued_issued_at")
        table.drop_column("suggestions")
        table.drop_column("mode")
        table.drop_column("version")
