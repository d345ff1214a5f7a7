"""Issue 17, item 1: ids are never reused, and no display cache is keyed by an id alone.

On SQLite without AUTOINCREMENT a deleted row's id went to the next row: the next patient
inherited the deleted patient's audit trail, a retaken photo kept its predecessor's id, and
the app's display cache (keyed by photo id) showed the old face.
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from analyzer.store import Store
from analyzer.store.engine import downgrade, migrate, resolve_url
from tests.store_fixtures import data_dir, db_url, png_bytes, run_py, store  # noqa: F401


def _patient_with_photo(store, code, seed):
    p = store.create_patient(code, f"Name {code}", consent_photos=True)
    se = store.create_series(p.id, body_area="face", concerns=["acne_scars"])
    ss = store.add_session(se.id, date=dt.date(2025, 1, 2))
    ph = store.add_photo(ss.id, view="front", data=png_bytes(seed), filename="f.png")
    return p, se, ss, ph


def test_deleted_ids_are_never_handed_out_again(store):
    a, sa_, ssa, pha = _patient_with_photo(store, "P-A", 1)
    store.audit("local:dr", "view.progress", patient_id=a.id)
    store.delete_patient(a.id)
    b, sb, ssb, phb = _patient_with_photo(store, "P-B", 2)
    assert b.id != a.id and sb.id != sa_.id and ssb.id != ssa.id and phb.id != pha.id
    # The deleted patient's trail stays theirs: the new patient has none of it.
    assert store.list_audit(patient_id=b.id) == []
    assert [e.action for e in store.list_audit(patient_id=a.id)] == ["view.progress"]


def test_retaken_photo_gets_a_new_id(store):
    _, _, ss, first = _patient_with_photo(store, "P-A", 1)
    again = store.add_photo(ss.id, view="front", data=png_bytes(9), filename="g.png", replace=True)
    assert again.id != first.id and again.sha256 != first.sha256
    deleted = again.id
    store.delete_photo(deleted)
    third = store.add_photo(ss.id, view="front", data=png_bytes(10), filename="h.png")
    assert third.id not in (first.id, deleted)


def test_upgrade_keeps_a_deleted_patients_id_out_of_reach(tmp_path, data_dir):
    """A SQLite database written before AUTOINCREMENT whose newest patient was deleted: after
    the upgrade, the next patient does not take that id (the audit trail still names it).
    (SQLite only: PostgreSQL sequences never gave an id out twice.)"""
    empty_db_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    u = resolve_url(empty_db_url)
    s = Store(empty_db_url, data_dir=data_dir)
    s.close()
    downgrade(u, "0004")
    eng = sa.create_engine(u, poolclass=sa.pool.NullPool)
    with eng.begin() as c:
        for i, code in ((1, "P-1"), (2, "P-2")):
            c.execute(sa.text("INSERT INTO patients (id, code, display_name, consent_photos, consent_reports, "
                              "notes, is_demo, created_at) VALUES (:i, :c, 'x', false, false, '', false, "
                              "'2025-01-01 00:00:00')"), {"i": i, "c": code})
        c.execute(sa.text("INSERT INTO audit_log (at, actor, action, patient_id, detail) "
                          "VALUES ('2025-01-01 00:00:00', 'local:dr', 'view.progress', 2, '')"))
        c.execute(sa.text("DELETE FROM patients WHERE id = 2"))
    eng.dispose()
    migrate(u)
    with Store(empty_db_url, data_dir=data_dir) as s2:
        new = s2.create_patient("P-3", "New")
        assert new.id > 2
        assert s2.list_audit(patient_id=new.id) == []


def test_app_display_cache_follows_content_not_id(db_url, tmp_path):
    """The app's cached display JPEG of a photo id, after that photo was retaken (and after its
    patient was deleted and another added): always the bytes of the photo stored now."""
    code = """
import hashlib, os, datetime as dt, warnings
warnings.simplefilter("ignore")
from analyzer.store import Store
from tests.store_fixtures import png_bytes
from ui import common as c
s = c.get_store()
p = s.create_patient("P-A", "A", consent_photos=True)
se = s.create_series(p.id, body_area="face", concerns=["acne_scars"])
ss = s.add_session(se.id, date=dt.date(2025, 1, 2))
ph = s.add_photo(ss.id, view="front", data=png_bytes(1), filename="a.png")
first = c.display_bytes(ph.id); c.small_rgb(ph.id)
new = s.add_photo(ss.id, view="front", data=png_bytes(2), filename="b.png", replace=True)
assert c.display_bytes(new.id) == s.photo_display_bytes(new.id), "retake shows the old picture"
assert c.display_bytes(new.id) != first
s.delete_patient(p.id)
q = s.create_patient("P-B", "B", consent_photos=True)
se = s.create_series(q.id, body_area="face", concerns=["acne_scars"])
ss = s.add_session(se.id, date=dt.date(2025, 1, 3))
ph2 = s.add_photo(ss.id, view="front", data=png_bytes(3), filename="c.png")
assert c.display_bytes(ph2.id) == s.photo_display_bytes(ph2.id), "another patient's face is shown"
print("ok")
"""
    r = run_py(code, env={"SKIN_PROGRESS_DATABASE_URL": db_url,
                          "SKIN_PROGRESS_DATA_DIR": str(tmp_path / "data")})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().endswith("ok")
