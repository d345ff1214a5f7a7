"""Several clinics in one installation.

A clinic owns patients and practitioner accounts; a practitioner sees only their clinic's
patients, links, exports and audit log (``analyzer.service.scope.PatientScope`` and the
store's queries). Everything already stored moves into one default clinic, so an existing
installation goes on as before:

* ``clinics`` (id, name, created_at); one row, "Default clinic", made here.
* ``patients.clinic_id`` (NOT NULL): every patient joins the default clinic.
* ``users.clinic_id``: every account joins it; ``users.is_admin``: the installation admin
  (manages clinics). The earliest practitioner account becomes the admin, as the first
  account of a new installation does.
* ``audit_log.clinic_id`` (a plain number, like its ``patient_id``: the trail outlives what
  it names): every existing entry belongs to the default clinic.

Revision ID: 0008
Revises: 0005
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

DEFAULT_NAME = "Default clinic"
REBUILT = ("patients", "users", "audit_log")


def _sequences(bind) -> dict[str, int]:
    """SQLite's id counters (0005: past every id the audit log names). Rebuilding a table copies
    its rows and would start the counter at the largest id left: they are put back after."""
    return {n: s for n, s in bind.execute(sa.text("SELECT name, seq FROM sqlite_sequence")).all() if n in REBUILT}


def _restore(bind, seqs: dict[str, int]) -> None:
    for name, seq in seqs.items():
        n = bind.execute(sa.text("UPDATE sqlite_sequence SET seq = MAX(seq, :s) WHERE name = :n"),
                         {"s": seq, "n": name}).rowcount
        if not n:
            bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:n, :s)"), {"n": name, "s": seq})


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clinics"),
        sa.UniqueConstraint("name", name="uq_clinics_name"),
        sqlite_autoincrement=True,
    )
    seqs = _sequences(bind) if sqlite else {}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    bind.execute(sa.text("INSERT INTO clinics (name, created_at) VALUES (:n, :t)"), {"n": DEFAULT_NAME, "t": now})
    default_id = bind.execute(sa.text("SELECT MIN(id) FROM clinics")).scalar()

    kw = {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": True}} if sqlite else {}
    # patients: add, fill, then require
    with op.batch_alter_table("patients", **kw) as b:
        b.add_column(sa.Column("clinic_id", sa.Integer(), nullable=True))
    bind.execute(sa.text("UPDATE patients SET clinic_id = :c"), {"c": default_id})
    with op.batch_alter_table("patients", **kw) as b:
        b.alter_column("clinic_id", existing_type=sa.Integer(), nullable=False)
        b.create_foreign_key("fk_patients_clinic_id_clinics", "clinics", ["clinic_id"], ["id"])
        b.create_index("ix_patients_clinic_id", ["clinic_id"])

    with op.batch_alter_table("users", **kw) as b:
        b.add_column(sa.Column("clinic_id", sa.Integer(), nullable=True))
        b.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.create_foreign_key("fk_users_clinic_id_clinics", "clinics", ["clinic_id"], ["id"])
        b.create_index("ix_users_clinic_id", ["clinic_id"])
    bind.execute(sa.text("UPDATE users SET clinic_id = :c"), {"c": default_id})
    first = bind.execute(sa.text("SELECT MIN(id) FROM users WHERE role = 'practitioner'")).scalar()
    if first is not None:
        bind.execute(sa.text("UPDATE users SET is_admin = :t WHERE id = :i"), {"t": True, "i": first})

    with op.batch_alter_table("audit_log", **kw) as b:
        b.add_column(sa.Column("clinic_id", sa.Integer(), nullable=True))
        b.create_index("ix_audit_log_clinic_id", ["clinic_id"])
    bind.execute(sa.text("UPDATE audit_log SET clinic_id = :c"), {"c": default_id})
    if sqlite:
        _restore(bind, seqs)


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    seqs = _sequences(bind) if sqlite else {}
    kw = {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": True}} if sqlite else {}
    with op.batch_alter_table("audit_log", **kw) as b:
        b.drop_index("ix_audit_log_clinic_id")
        b.drop_column("clinic_id")
    with op.batch_alter_table("users", **kw) as b:
        b.drop_index("ix_users_clinic_id")
        b.drop_constraint("fk_users_clinic_id_clinics", type_="foreignkey")
        b.drop_column("is_admin")
        b.drop_column("clinic_id")
    with op.batch_alter_table("patients", **kw) as b:
        b.drop_index("ix_patients_clinic_id")
        b.drop_constraint("fk_patients_clinic_id_clinics", type_="foreignkey")
        b.drop_column("clinic_id")
    op.drop_table("clinics")
    if sqlite:
        _restore(bind, seqs)
