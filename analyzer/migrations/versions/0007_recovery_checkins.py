"""Recovery check-ins from the patient's link:

- recovery_plans: per treatment session, the check-in days (JSON list of days after the
  session) and the aftercare text shown to the patient; no row means the defaults;
- recovery_checkins: one per (treatment session, day): the symptoms the patient reported, the
  recovery visit holding the photo they sent (NULL when only symptoms came), who sent it.

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recovery_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("checkin_days", sa.JSON(), nullable=False),
        sa.Column("aftercare", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], name="fk_recovery_plans_session_id_sessions",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_plans"),
        sa.UniqueConstraint("session_id", name="uq_recovery_plans_session_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "recovery_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("treatment_session_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("recovery_session_id", sa.Integer(), nullable=True),
        sa.Column("photo_id", sa.Integer(), nullable=True),
        sa.Column("symptoms", sa.JSON(), nullable=True),
        sa.Column("sent_by", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["treatment_session_id"], ["sessions.id"],
                                name="fk_recovery_checkins_treatment_session_id_sessions", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["recovery_session_id"], ["sessions.id"],
                                name="fk_recovery_checkins_recovery_session_id_sessions", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], name="fk_recovery_checkins_photo_id_photos",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_checkins"),
        sa.UniqueConstraint("treatment_session_id", "day", name="uq_recovery_checkins_day"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_recovery_checkins_treatment_session_id", "recovery_checkins", ["treatment_session_id"])
    op.create_index("ix_recovery_checkins_recovery_session_id", "recovery_checkins", ["recovery_session_id"])


def downgrade() -> None:
    op.drop_index("ix_recovery_checkins_recovery_session_id", table_name="recovery_checkins")
    op.drop_index("ix_recovery_checkins_treatment_session_id", table_name="recovery_checkins")
    op.drop_table("recovery_checkins")
    op.drop_table("recovery_plans")
