"""The schema as it was before migrations (``create_all`` of the first release): the baseline.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invocations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("hook_instance", sa.String(256), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook", sa.String(64), nullable=False),
        sa.Column("patient_hash", sa.String(64), nullable=False),
        sa.Column("client_iss", sa.String(512), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("recommendations", sa.Text(), nullable=False),
        sa.Column("skipped_resources", sa.Integer(), nullable=False),
    )
    for column in ("hook_instance", "service_id", "patient_hash", "received_at"):
        op.create_index(f"ix_invocations_{column}", "invocations", [column])

    op.create_table(
        "cards_issued",
        sa.Column("uuid", sa.String(64), primary_key=True),
        sa.Column("invocation_id", sa.Integer(), sa.ForeignKey("invocations.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("recommendation", sa.String(64), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cards_issued_invocation_id", "cards_issued", ["invocation_id"])
    op.create_index("ix_cards_issued_recommendation", "cards_issued", ["recommendation"])

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("card_uuid", sa.String(256), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("recommendation", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", sa.Text(), nullable=False),
        sa.Column("override_system", sa.String(512), nullable=True),
        sa.Column("override_code", sa.String(256), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_iss", sa.String(512), nullable=True),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])
    op.create_index("ix_feedback_rec_outcome", "feedback", ["recommendation", "outcome"])

    op.create_table(
        "seen_jwts",
        sa.Column("iss", sa.String(512), primary_key=True),
        sa.Column("jti", sa.String(256), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seen_jwts_expires_at", "seen_jwts", ["expires_at"])


def downgrade() -> None:
    op.drop_table("seen_jwts")
    op.drop_table("feedback")
    op.drop_table("cards_issued")
    op.drop_table("invocations")
