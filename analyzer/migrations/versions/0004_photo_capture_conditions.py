"""Capture conditions and the check before keeping, per photo:

- photos.capture_conditions: what the practitioner recorded about how the photo was taken
  (``{"light_source", "polarised", "makeup", "reference"}``, see analyzer.conditions), or NULL;
- photos.prekeep_check: the verdict of the check before keeping when the photo was kept (see
  analyzer.precheck: ``{"ok", "verdict", "failed": [{"name", "fix"}], ...}``), or NULL (kept
  before this check existed, or imported).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("capture_conditions", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("prekeep_check", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.drop_column("prekeep_check")
        batch.drop_column("capture_conditions")
