"""Alembic migrations: from an empty database, and from the previous schema (0001) with data."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from analyzer.store import Store
from analyzer.store.engine import current_revision, downgrade, head_revision, migrate, resolve_url
from analyzer.store.models import Base
from tests.store_fixtures import data_dir, empty_db_url, png_bytes  # noqa: F401

TABLES = {"patients", "series", "sessions", "photos", "analyses", "users", "patient_tokens",
          "audit_log", "auth_failures", "clinics", "alembic_version", "marketing_consents",
          "photo_annotations", "recovery_plans", "recovery_checkins"}


def _engine(url):
    return sa.create_engine(resolve_url(url), poolclass=sa.pool.NullPool)


def test_revisions_are_a_single_line():
    assert head_revision() == "0008"


def test_empty_database_to_head_matches_models(empty_db_url, data_dir):
    u = resolve_url(empty_db_url)
    eng = _engine(empty_db_url)
    assert current_revision(eng) is None
    store = Store(empty_db_url, data_dir=data_dir)
    assert current_revision(eng) == head_revision()
    assert set(sa.inspect(eng).get_table_names()) == TABLES
    # The ORM models and the migrations describe the same schema.
    with eng.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    # Opening again is a no-op; so is migrating again.
    store.close()
    Store(empty_db_url, data_dir=data_dir).close()
    migrate(u)
    assert current_revision(eng) == head_revision()
    eng.dispose()


def _insert_0001_data(url: str) -> None:
    """Rows as version 0001 of the app wrote them (raw SQL: the 0001 schema, not today's models)."""
    now = dt.datetime(2024, 5, 1, 12, 0, 0)
    eng = _engine(url)
    with eng.begin() as c:
        c.execute(sa.text(
            "INSERT INTO patients (id, code, display_name, birth_year, fitzpatrick, consent_photos,"
            " consent_reports, notes, is_demo, created_at) VALUES"
            " (1, 'P-0001', 'Anna', 1980, 3, true, false, 'n', false, :t),"
            " (2, 'P-0002', 'Bea', NULL, NULL, false, false, '', true, :t)"), {"t": now})
        c.execute(sa.text(
            "INSERT INTO series (id, patient_id, name, body_area, concern, baseline_session_id,"
            " regions, notes, created_at) VALUES"
            " (1, 1, 'Cheeks', 'face', 'acne_scars', NULL, :r, '', :t),"
            " (2, 2, '', 'abdomen', 'stretch_marks', NULL, '[]', '', :t)"),
            {"t": now, "r": json.dumps([{"kind": "named", "name": "left_cheek"}])})
        c.execute(sa.text(
            "INSERT INTO sessions (id, series_id, date, device, needle_depth_mm, passes, topical,"
            " practitioner, notes, created_at) VALUES"
            " (1, 1, :d1, 'Dermapen', 1.5, 3, 'HA', 'Dr. Li', '', :t),"
            " (2, 1, :d2, 'Dermapen', 2.0, 4, 'HA', 'Dr. Li', 'second', :t),"
            " (3, 2, :d1, '', NULL, NULL, '', '', '', :t)"),
            {"t": now, "d1": dt.date(2024, 1, 1), "d2": dt.date(2024, 2, 1)})
        c.execute(sa.text("UPDATE series SET baseline_session_id = 1 WHERE id = 1"))
        sha = "a" * 64
        c.execute(sa.text(
            "INSERT INTO photos (id, session_id, view, sha256, filename, format, size_bytes,"
            " capture_time, width, height, storage_key, created_at) VALUES"
            " (1, 1, 'front', :sha, 'a.jpg', 'JPEG', 10, NULL, 60, 40, :key, :t),"
            " (2, 2, 'front', :sha, 'b.jpg', 'JPEG', 10, :t, 60, 40, :key, :t)"),
            {"t": now, "sha": sha, "key": f"photos/aa/aa/{sha}.jpg"})
        c.execute(sa.text(
            "INSERT INTO analyses (id, photo_id, baseline_photo_id, analyzer_version, region,"
            " transform, result, created_at) VALUES (1, 2, 1, '0.1.0', '', NULL, :res, :t)"),
            {"t": now, "res": json.dumps({"redness": 1.25})})
    if eng.dialect.name == "postgresql":  # explicit ids: move the sequences past them
        with eng.begin() as c:
            for t in ("patients", "series", "sessions", "photos", "analyses"):
                c.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))
    eng.dispose()


def test_upgrade_from_0001_keeps_every_row(empty_db_url, data_dir):
    u = resolve_url(empty_db_url)
    migrate(u, "0001")
    eng = _engine(empty_db_url)
    assert current_revision(eng) == "0001"
    assert "users" not in sa.inspect(eng).get_table_names()
    _insert_0001_data(empty_db_url)

    store = Store(empty_db_url, data_dir=data_dir)  # opening upgrades to head
    assert current_revision(eng) == head_revision()
    a, b = store.list_patients()
    assert (a.code, a.display_name, a.birth_year, a.fitzpatrick, a.consent_photos, a.screening) == (
        "P-0001", "Anna", 1980, 3, True, None)
    assert a.created_at == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert b.is_demo
    s1 = store.get_series(1)
    assert (s1.concerns, s1.baseline_session_id, s1.regions, s1.name) == (
        ["acne_scars"], 1, [{"kind": "named", "name": "left_cheek"}], "Cheeks")
    assert store.get_series(2).concerns == ["stretch_marks"]
    sessions = store.list_sessions(1)
    assert [(x.id, x.kind, x.parent_session_id, x.scar_grade, x.screening) for x in sessions] == [
        (1, "treatment", None, None, None), (2, "treatment", None, None, None)]
    assert (sessions[1].needle_depth_mm, sessions[1].passes, sessions[1].notes) == (2.0, 4, "second")
    assert [p.filename for p in store.list_photos(2)] == ["b.jpg"]
    an = store.get_analysis(2, analyzer_version="0.1.0")
    assert (an.baseline_photo_id, an.result) == (1, {"redness": 1.25})
    if eng.dialect.name == "sqlite":
        with eng.connect() as c:
            assert c.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    # The new columns and tables work on the upgraded database.
    rec = store.add_session(1, date=dt.date(2024, 2, 3), kind="recovery", parent_session_id=2, scar_grade=2)
    assert rec.id == 4
    store.update_patient(1, screening={"pregnant": False})
    store.create_user("anna", role="patient", password_hash="h", patient_id=1)
    store.update_series(1, concerns=["acne_scars", "texture"])
    # Deleting still cascades through old and new rows.
    store.delete_patient(1)
    assert [p.code for p in store.list_patients()] == ["P-0002"]
    store.close()

    # And back down (developers): the first concern survives, the new tables go.
    downgrade(u, "0001")
    assert current_revision(eng) == "0001"
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT concern FROM series")).scalars().all() == ["stretch_marks"]
    assert "users" not in sa.inspect(eng).get_table_names()
    migrate(u)
    assert current_revision(eng) == head_revision()
    eng.dispose()


def test_newer_database_is_refused(empty_db_url, data_dir):
    """A database migrated by a newer version of the app: a clear error, not a crash."""
    import pytest

    from analyzer.store import StoreError

    Store(empty_db_url, data_dir=data_dir).close()
    eng = _engine(empty_db_url)
    with eng.begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    eng.dispose()
    with pytest.raises(StoreError, match="newer") as ei:
        Store(empty_db_url, data_dir=data_dir)
    assert "\n" not in str(ei.value)
