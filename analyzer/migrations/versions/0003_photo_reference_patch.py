"""Colour reference: photos.reference_patch, a neutral patch the practitioner marked on the
photo (a grey card, a white headband), ``{"x", "y", "w", "h"}`` in the photo's own upright
pixels, or NULL. Used for "reference-patch" calibration when no ColorChecker is in frame.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("reference_patch", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.drop_column("reference_patch")
