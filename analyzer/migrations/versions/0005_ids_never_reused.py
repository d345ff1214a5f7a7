"""Ids are never handed out again (SQLite ``AUTOINCREMENT``).

Without ``AUTOINCREMENT`` SQLite gives a new row the largest id in use plus one: the id of a
just-deleted patient or photo went to the next one, with its audit history and any display
cached by that id. Every table is rebuilt with ``AUTOINCREMENT``; the patients' counter
starts past every patient id the audit log has ever named (a deleted patient's trail is
never inherited). PostgreSQL sequences never reuse a value: nothing to do there.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("patients", "series", "sessions", "photos", "analyses", "users", "patient_tokens",
          "audit_log", "auth_failures")


def _rebuild(autoincrement: bool) -> None:
    for name in TABLES:
        with op.batch_alter_table(name, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _rebuild(True)
    # sqlite_sequence now holds each table's largest id; a patient's must also pass every id
    # the audit trail names (the last patient may have been deleted before this upgrade).
    top = bind.execute(sa.text(
        "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM patients "
        "UNION ALL SELECT MAX(patient_id) FROM audit_log "
        "UNION ALL SELECT MAX(patient_id) FROM users)")).scalar() or 0
    if top:
        n = bind.execute(sa.text("UPDATE sqlite_sequence SET seq = MAX(seq, :top) WHERE name = 'patients'"),
                         {"top": top}).rowcount
        if not n:
            bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('patients', :top)"),
                         {"top": top})


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(False)
