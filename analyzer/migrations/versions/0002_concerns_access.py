"""Concern tracking and access: series.concerns (list, replaces concern), session kind /
parent_session_id / screening / scar_grade, patient screening; users, patient_tokens,
audit_log, auth_failures.

Revision ID: 0002
Revises: 0001
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("patients", sa.Column("screening", sa.JSON(), nullable=True))

    # series.concern (one string) -> series.concerns (JSON list), keeping every value.
    op.add_column("series", sa.Column("concerns", sa.JSON(), nullable=True))
    bind = op.get_bind()
    series = sa.table(
        "series", sa.column("id", sa.Integer()), sa.column("concern", sa.String()),
        sa.column("concerns", sa.JSON()),
    )
    rows = bind.execute(sa.select(series.c.id, series.c.concern)).all()
    for sid, concern in rows:
        bind.execute(
            series.update().where(series.c.id == sid).values(concerns=[concern] if concern else [])
        )
    with op.batch_alter_table("series") as batch:
        batch.alter_column("concerns", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("concern")

    with op.batch_alter_table("sessions") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(20), nullable=False, server_default="treatment")
        )
        batch.add_column(sa.Column("parent_session_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("screening", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("scar_grade", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_sessions_parent_session_id_sessions",
            "sessions",
            ["parent_session_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.CheckConstraint("role IN ('practitioner', 'patient')", name="ck_users_role"),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name="fk_users_patient_id_patients", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_index("ix_users_patient_id", "users", ["patient_id"])
    op.create_table(
        "patient_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name="fk_patient_tokens_patient_id_patients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_patient_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_patient_tokens_token_hash"),
    )
    op.create_index("ix_patient_tokens_patient_id", "patient_tokens", ["patient_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_patient_id", "audit_log", ["patient_id"])
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_auth_failures"),
    )
    op.create_index("ix_auth_failures_key", "auth_failures", ["key"])
    op.create_index("ix_auth_failures_at", "auth_failures", ["at"])


def downgrade() -> None:
    op.drop_table("auth_failures")
    op.drop_table("audit_log")
    op.drop_table("patient_tokens")
    op.drop_table("users")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_constraint("fk_sessions_parent_session_id_sessions", type_="foreignkey")
        batch.drop_column("scar_grade")
        batch.drop_column("screening")
        batch.drop_column("parent_session_id")
        batch.drop_column("kind")
    op.add_column("series", sa.Column("concern", sa.String(100), nullable=True))
    bind = op.get_bind()
    series = sa.table(
        "series", sa.column("id", sa.Integer()), sa.column("concern", sa.String()),
        sa.column("concerns", sa.JSON()),
    )
    for sid, concerns in bind.execute(sa.select(series.c.id, series.c.concerns)).all():
        if isinstance(concerns, str):
            concerns = json.loads(concerns)
        first = concerns[0] if concerns else ""
        bind.execute(series.update().where(series.c.id == sid).values(concern=first))
    with op.batch_alter_table("series") as batch:
        batch.alter_column("concern", existing_type=sa.String(100), nullable=False)
        batch.drop_column("concerns")
    op.drop_column("patients", "screening")
