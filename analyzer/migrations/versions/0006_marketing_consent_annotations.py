"""Marketing consent (its own record: dated, withdrawable, history kept) and annotations stored
with a photo (arrows, text, freehand outlines; never read by the analysis).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "marketing_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("given_at", sa.DateTime(), nullable=False),
        sa.Column("given_by", sa.String(100), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by", sa.String(100), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE",
                                name=op.f("fk_marketing_consents_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_consents")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_marketing_consents_patient_id"), "marketing_consents", ["patient_id"])
    op.create_table(
        "photo_annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('arrow', 'text', 'outline')", name=op.f("ck_photo_annotations_kind")),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], ondelete="CASCADE",
                                name=op.f("fk_photo_annotations_photo_id_photos")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo_annotations")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_photo_annotations_photo_id"), "photo_annotations", ["photo_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_photo_annotations_photo_id"), table_name="photo_annotations")
    op.drop_table("photo_annotations")
    op.drop_index(op.f("ix_marketing_consents_patient_id"), table_name="marketing_consents")
    op.drop_table("marketing_consents")
