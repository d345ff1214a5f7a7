"""Store behaviour on both engines: records, validation, photos, analyses, deletion."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from analyzer.errors import PhotoError, SkinProgressError
from analyzer.store import (
    Conflict,
    InvalidInput,
    NotFound,
    Store,
    StoreError,
    default_data_dir,
    default_database_url,
)
from analyzer.store.models import Base
from tests.store_fixtures import (  # noqa: F401
    PHOTO_STORES,
    data_dir,
    db_url,
    jpeg_with_metadata,
    photo_store,
    png_bytes,
    raw_objects,
    store,
)

both_photo_stores = pytest.mark.parametrize("photo_store", PHOTO_STORES, indirect=True)

D = dt.date


def table_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


def stored_files(store: Store) -> list[str]:
    """The photo files really there: in the data folder, or in the bucket (listed with boto3)."""
    if store.photo_store.is_s3:
        return sorted(raw_objects(store))
    root = store.data_dir
    return sorted(
        p.relative_to(root).as_posix()
        for top in ("photos", "derived")
        for p in (root / top).rglob("*")
        if p.is_file()
    )


def make_series(store: Store, code: str = "P-0001"):
    p = store.create_patient(code, "Anna K.", birth_year=1985, fitzpatrick=3, consent_photos=True)
    s = store.create_series(p.id, body_area="face", concerns=["acne_scars", "Fine lines"])
    return p, s


# ---- settings --------------------------------------------------------------------------


def test_defaults_follow_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(tmp_path / "d"))
    assert default_data_dir() == (tmp_path / "d").resolve()
    assert default_database_url() == f"sqlite:///{(tmp_path / 'd').resolve()}/skin-progress.sqlite3"
    monkeypatch.setenv("SKIN_PROGRESS_DATABASE_URL", "postgresql://u:secret@db.example/clinic")
    assert default_database_url() == "postgresql://u:secret@db.example/clinic"
    monkeypatch.delenv("SKIN_PROGRESS_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == tmp_path.resolve() / "data"


def test_default_store_is_sqlite_in_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(tmp_path / "clinic"))
    with Store() as s:
        assert s.describe() == f"SQLite file {(tmp_path / 'clinic' / 'skin-progress.sqlite3').resolve()}"
        assert s.data_dir == (tmp_path / "clinic").resolve()
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_bad_urls_are_one_line_errors(tmp_path):
    with pytest.raises(InvalidInput, match="unsupported database 'mysql'"):
        Store("mysql://x@y/z", data_dir=tmp_path)
    with pytest.raises(InvalidInput, match="file path"):
        Store("sqlite://", data_dir=tmp_path)
    with pytest.raises(StoreError) as ei:
        Store("postgresql://nobody:hunter2@127.0.0.1:1/nodb", data_dir=tmp_path)
    msg = str(ei.value)
    assert "\n" not in msg and "hunter2" not in msg and "PostgreSQL at 127.0.0.1:1/nodb" in msg
    assert isinstance(ei.value, SkinProgressError)


def test_url_normalisation_and_description():
    from analyzer.store.engine import describe_url, resolve_url

    u = resolve_url("postgresql://clinic:s3cret@db.example:5433/skin")
    assert u.drivername == "postgresql+psycopg" and u.password == "s3cret"
    assert describe_url(u) == "PostgreSQL at db.example:5433/skin"
    sock = resolve_url("postgresql+psycopg://root@/skin?host=/var/run/postgresql")
    assert describe_url(sock) == "PostgreSQL at /var/run/postgresql/skin"
    assert resolve_url("sqlite:///rel/x.sqlite3").database == str(Path("rel/x.sqlite3").resolve())


def test_describe_names_the_engine_never_the_password(store, db_url, data_dir):
    u = sa.engine.make_url(db_url)
    if store.backend == "sqlite":
        assert store.describe() == f"SQLite file {Path(u.database).resolve()}"
        return
    assert store.describe().startswith("PostgreSQL at ") and store.describe().endswith(f"/{u.database}")
    # (the test server trusts local connections, so a password is accepted and ignored)
    with Store(u.set(password="hunter2").render_as_string(hide_password=False), data_dir=data_dir) as s:
        assert "hunter2" not in s.url + s.describe() + repr(s)
        assert s.list_patients() == []


# ---- records ---------------------------------------------------------------------------


def test_patient_series_session_round_trip(store):
    p = store.create_patient(
        "P-0001", " Anna K. ", birth_year=1985, fitzpatrick="IV", consent_photos=True,
        notes="prefers mornings", screening={"isotretinoin_6mo": False, "keloids": False},
    )
    assert (p.code, p.display_name, p.birth_year, p.fitzpatrick) == ("P-0001", "Anna K.", 1985, 4)
    assert p.consent_photos and not p.consent_reports and not p.is_demo
    assert p.screening == {"isotretinoin_6mo": False, "keloids": False}
    assert p.created_at.tzinfo is not None
    assert store.get_patient(p.id) == p

    s = store.create_series(p.id, body_area="face", concerns=["Acne scars", "redness", "acne_scars"])
    assert s.concerns == ["acne_scars", "redness"] and s.regions == [] and s.baseline_session_id is None
    s2 = store.create_series(p.id, body_area="abdomen", concerns=["stretch marks"], name="Belly")
    assert [x.id for x in store.list_series(p.id)] == [s.id, s2.id]

    a = store.add_session(s.id, date=D(2024, 3, 1), device="Dermapen 4", needle_depth_mm=1.5,
                          passes=3, topical="hyaluronic acid", practitioner="Dr. Li",
                          screening={"active_infection": False}, scar_grade=3)
    b = store.add_session(s.id, date=D(2024, 2, 1), needle_depth_mm="0.5")
    c = store.add_session(s.id, date=D(2024, 3, 4), kind="recovery", parent_session_id=a.id)
    assert a.needle_depth_mm == 1.5 and a.passes == 3 and a.scar_grade == 3
    assert a.screening == {"active_infection": False} and a.kind == "treatment"
    assert b.needle_depth_mm == 0.5
    assert (c.kind, c.parent_session_id) == ("recovery", a.id)
    assert [x.id for x in store.list_sessions(s.id)] == [b.id, a.id, c.id]
    assert store.get_session(a.id) == a
    # Baseline: earliest treatment session by default, then explicit.
    assert store.baseline_session(s.id).id == b.id
    store.set_baseline_session(s.id, a.id)
    assert store.baseline_session(s.id).id == a.id
    assert store.get_series(s.id).baseline_session_id == a.id
    with pytest.raises(InvalidInput, match="recovery"):
        store.set_baseline_session(s.id, c.id)
    store.set_baseline_session(s.id, None)
    assert store.baseline_session(s.id).id == b.id

    regions = [
        {"name": "left_cheek", "kind": "named"},
        {"name": "spot1", "kind": "rect", "x": 10, "y": 20, "w": 30, "h": 40},
        {"kind": "polygon", "points": [[0, 0], [10, 0], [5, 8.5]]},
        {"kind": "face"},
    ]
    s = store.set_regions(s.id, regions)
    assert [r["name"] for r in s.regions] == ["left_cheek", "spot1", "region3", "face"]
    assert s.regions[1] == {"name": "spot1", "kind": "rect", "x": 10, "y": 20, "w": 30, "h": 40}
    assert store.get_series(s.id).regions == s.regions

    p2 = store.update_patient(p.id, display_name="Anna Kowalska", consent_reports=True)
    assert p2.display_name == "Anna Kowalska" and p2.consent_reports and p2.code == "P-0001"
    assert store.update_session(a.id, notes="mild erythema").notes == "mild erythema"
    assert store.update_series(s.id, concerns=["texture"]).concerns == ["texture"]


def test_list_patients_search(store):
    store.create_patient("P-0001", "Anna Kowalska")
    store.create_patient("P-0002", "Bea Müller")
    store.create_patient("X_1", "Carla 100%")
    assert [p.code for p in store.list_patients()] == ["P-0001", "P-0002", "X_1"]
    assert [p.code for p in store.list_patients("ANNA")] == ["P-0001"]
    assert [p.code for p in store.list_patients("p-00")] == ["P-0001", "P-0002"]
    assert [p.code for p in store.list_patients("0%")] == ["X_1"]  # % is literal
    assert [p.code for p in store.list_patients("_")] == ["X_1"]  # _ is literal
    assert store.list_patients("zzz") == []


def test_codes_are_unique_case_insensitively(store):
    p = store.create_patient("P-0001", "Anna")
    with pytest.raises(Conflict, match="already exists"):
        store.create_patient("p-0001", "Someone else")
    q = store.create_patient("P-0002", "Bea")
    with pytest.raises(Conflict):
        store.update_patient(q.id, code="P-0001")
    assert store.update_patient(p.id, code="P-0001").code == "P-0001"


def test_not_found(store):
    for call in (
        lambda: store.get_patient(999), lambda: store.get_series(999),
        lambda: store.get_session(999), lambda: store.get_photo(999),
        lambda: store.list_series(999), lambda: store.delete_patient(999),
        lambda: store.add_session(999, date=D(2024, 1, 1)),
        lambda: store.create_series(999, body_area="face", concerns=["texture"]),
        lambda: store.get_patient("1"),
    ):
        with pytest.raises(NotFound) as ei:
            call()
        assert "not found" in str(ei.value) and isinstance(ei.value, StoreError)


def test_bad_input_creates_no_rows_and_no_files(store):
    p, s = make_series(store)
    sess = store.add_session(s.id, date=D(2024, 1, 10))
    other_series = store.create_series(p.id, body_area="neck", concerns=["texture"])
    other = store.add_session(other_series.id, date=D(2024, 1, 10))
    before, files_before = table_counts(store), stored_files(store)
    bad = [
        (InvalidInput, lambda: store.create_patient("", "x")),
        (InvalidInput, lambda: store.create_patient("P 1/../", "x")),
        (InvalidInput, lambda: store.create_patient("P-9", "")),
        (InvalidInput, lambda: store.create_patient("P-9", "x", birth_year=1700)),
        (InvalidInput, lambda: store.create_patient("P-9", "x", fitzpatrick=7)),
        (InvalidInput, lambda: store.create_patient("P-9", "x", screening={"a": float("nan")})),
        (InvalidInput, lambda: store.create_patient("P-9", "x", consent_photos="yes")),
        (InvalidInput, lambda: store.update_patient(p.id, colour="red")),
        (InvalidInput, lambda: store.create_series(p.id, body_area="face", concerns=["a/b"])),
        (InvalidInput, lambda: store.create_series(p.id, body_area="face", concerns="acne")),
        (InvalidInput, lambda: store.create_series(p.id, body_area="", concerns=["texture"])),
        (InvalidInput, lambda: store.add_session(s.id, date="2024-13-01")),
        (InvalidInput, lambda: store.add_session(s.id, date=dt.datetime(2024, 1, 1, 10))),
        (InvalidInput, lambda: store.add_session(s.id, date=D(2024, 1, 1), needle_depth_mm=-1)),
        (InvalidInput, lambda: store.add_session(s.id, date=D(2024, 1, 1), needle_depth_mm=float("nan"))),
        (InvalidInput, lambda: store.add_session(s.id, date=D(2024, 1, 1), passes=0)),
        (InvalidInput, lambda: store.add_session(s.id, date=D(2024, 1, 1), scar_grade=5)),
        (InvalidInput, lambda: store.add_session(s.id, date=D(2024, 1, 1), kind="maintenance")),
        (InvalidInput, lambda: store.add_session(s.id, date=D(2024, 1, 12), kind="recovery")),
        (InvalidInput, lambda: store.add_session(s.id, date=D(2024, 1, 30), kind="recovery",
                                                 parent_session_id=sess.id)),
        (InvalidInput, lambda: store.add_session(s.id, date=D(2024, 1, 12), kind="recovery",
                                                 parent_session_id=other.id)),
        (InvalidInput, lambda: store.add_session(s.id, date=D(2024, 1, 12), parent_session_id=sess.id)),
        (InvalidInput, lambda: store.set_regions(s.id, [{"kind": "rect", "x": 0, "y": 0, "w": 0, "h": 5}])),
        (InvalidInput, lambda: store.set_regions(s.id, [{"kind": "polygon", "points": [[0, 0], [1, 1]]}])),
        (InvalidInput, lambda: store.set_regions(s.id, [{"kind": "blob", "name": "x"}])),
        (InvalidInput, lambda: store.set_regions(s.id, [{"kind": "named", "name": "a"}, {"kind": "named", "name": "a"}])),
        (InvalidInput, lambda: store.add_photo(sess.id, view="top", data=png_bytes(), filename="a.png")),
        (InvalidInput, lambda: store.add_photo(sess.id, view="front", data="not bytes", filename="a.png")),
        (PhotoError, lambda: store.add_photo(sess.id, view="front", data=b"", filename="empty.jpg")),
        (PhotoError, lambda: store.add_photo(sess.id, view="front", data=b"GIF89a" + b"\0" * 50, filename="x.gif")),
        (PhotoError, lambda: store.add_photo(sess.id, view="front", data=png_bytes()[:200], filename="cut.png")),
        (NotFound, lambda: store.add_photo(12345, view="front", data=png_bytes(), filename="a.png")),
    ]
    for exc_type, call in bad:
        with pytest.raises(exc_type) as ei:
            call()
        assert "\n" not in str(ei.value) and str(ei.value)
    assert table_counts(store) == before
    assert stored_files(store) == files_before
    assert store.get_series(s.id).regions == []


def test_messages_name_allowed_values(store):
    _, s = make_series(store)
    sess = store.add_session(s.id, date=D(2024, 1, 1))
    with pytest.raises(InvalidInput, match="front, left45, right45, left90, right90 or 'closeup:<name>'"):
        store.add_photo(sess.id, view="back", data=png_bytes(), filename="a.png")
    with pytest.raises(InvalidInput, match="treatment, recovery"):
        store.add_session(s.id, date=D(2024, 1, 1), kind="x")


# ---- photos ----------------------------------------------------------------------------


@both_photo_stores
def test_photo_original_kept_byte_for_byte_and_display_stripped(store):
    _, s = make_series(store)
    sess = store.add_session(s.id, date=D(2024, 3, 1))
    data = jpeg_with_metadata(orientation=6)  # 80x60 stored, rotated 90° -> upright 60x80
    rec = store.add_photo(sess.id, view="Front", data=data, filename="C:\\phone\\IMG_0001.JPG")
    assert rec.view == "front" and rec.filename == "IMG_0001.JPG"
    assert rec.sha256 == hashlib.sha256(data).hexdigest()
    assert (rec.width, rec.height) == (60, 80)
    assert rec.capture_time == dt.datetime(2024, 3, 1, 10, 11, 12)
    assert rec.storage_key == f"photos/{rec.sha256[:2]}/{rec.sha256[2:4]}/{rec.sha256}.jpg"
    assert raw_objects(store)[rec.storage_key] == data
    assert store.photo_original_bytes(rec.id) == data
    if store.photo_store.is_s3:  # nothing of the photo on the local disk
        assert not (store.data_dir / "photos").exists() and not (store.data_dir / "derived").exists()
    # The original still has its GPS; the display copy has no EXIF at all.
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    disp = Image.open(io.BytesIO(store.photo_display_bytes(rec.id)))
    assert disp.format == "JPEG" and disp.size == (60, 80)
    assert len(disp.getexif()) == 0 and "exif" not in disp.info and "icc_profile" not in disp.info
    photo = store.load_photo(rec.id)
    assert photo.size == {"width": 60, "height": 80} and photo.rgb.dtype.name == "float32"
    assert store.get_photo(rec.id) == rec and store.list_photos(sess.id) == [rec]


def test_display_derivative_is_downscaled(store):
    _, s = make_series(store)
    sess = store.add_session(s.id, date=D(2024, 3, 1))
    rec = store.add_photo(sess.id, view="front", data=png_bytes(3, width=2560, height=320), filename="big.png")
    assert (rec.width, rec.height) == (2560, 320)
    assert Image.open(io.BytesIO(store.photo_display_bytes(rec.id))).size == (2048, 256)


def test_real_photo_round_trip(store, lisa_paths):
    _, s = make_series(store)
    sess = store.add_session(s.id, date=D(2024, 3, 1))
    data = lisa_paths[0].read_bytes()
    rec = store.add_photo(sess.id, view="front", data=data, filename=lisa_paths[0].name)
    assert (rec.width, rec.height) == (600, 800) and rec.format == "JPEG"
    assert store.photo_original_bytes(rec.id) == data
    assert store.load_photo(rec.id).rgb.shape == (800, 600, 3)


def test_same_upload_twice_is_idempotent_and_views_are_unique(store):
    _, s = make_series(store)
    sess = store.add_session(s.id, date=D(2024, 3, 1))
    a = store.add_photo(sess.id, view="front", data=png_bytes(1), filename="a.png")
    assert store.add_photo(sess.id, view="front", data=png_bytes(1), filename="again.png") == a
    with pytest.raises(Conflict, match="already has a front photo"):
        store.add_photo(sess.id, view="front", data=png_bytes(2), filename="b.png")
    c1 = store.add_photo(sess.id, view="closeup: left cheek", data=png_bytes(3), filename="c.png")
    assert c1.view == "closeup:left_cheek"
    store.add_photo(sess.id, view="left45", data=png_bytes(4), filename="l.png")
    assert [p.view for p in store.list_photos(sess.id)] == ["front", "left45", "closeup:left_cheek"]
    # replace=True swaps the photo, drops its analyses and the old file.
    store.save_analysis(a.id, baseline_photo_id=None, transform=None, result={"v": 1}, analyzer_version="0.1.0")
    b = store.add_photo(sess.id, view="front", data=png_bytes(2), filename="b.png", replace=True)
    assert b.id != a.id and store.get_analysis(b.id, analyzer_version="0.1.0") is None
    assert not (store.data_dir / a.storage_key).exists()
    assert len(store.list_photos(sess.id)) == 3


@both_photo_stores
def test_same_content_in_two_patients_shares_one_file(store):
    _, s1 = make_series(store, "P-1")
    _, s2 = make_series(store, "P-2")
    a = store.add_photo(store.add_session(s1.id, date=D(2024, 1, 1)).id, view="front",
                        data=png_bytes(7), filename="a.png")
    b = store.add_photo(store.add_session(s2.id, date=D(2024, 1, 1)).id, view="front",
                        data=png_bytes(7), filename="b.png")
    assert a.storage_key == b.storage_key
    store.delete_patient(store.get_series(s1.id).patient_id)
    assert store.photo_original_bytes(b.id) == png_bytes(7)  # still there for P-2
    store.delete_patient(store.get_series(s2.id).patient_id)
    assert stored_files(store) == []


def test_missing_display_copy_is_rebuilt_and_damage_detected(store):
    _, s = make_series(store)
    sess = store.add_session(s.id, date=D(2024, 3, 1))
    rec = store.add_photo(sess.id, view="front", data=png_bytes(5), filename="a.png")
    derived = store.data_dir / "derived" / rec.sha256[:2] / rec.sha256[2:4] / f"{rec.sha256}.jpg"
    derived.unlink()
    assert Image.open(io.BytesIO(store.photo_display_bytes(rec.id))).size == (64, 48)
    assert derived.exists()
    orig = store.data_dir / rec.storage_key
    orig.write_bytes(orig.read_bytes()[:-1] + b"\0")
    with pytest.raises(StoreError, match="damaged"):
        store.photo_original_bytes(rec.id)
    assert store.verify_files() == [f"{rec.storage_key}: checksum mismatch"]
    # Uploading the same photo again (anywhere) repairs the shared file.
    other = store.add_session(s.id, date=D(2024, 3, 2))
    store.add_photo(other.id, view="front", data=png_bytes(5), filename="again.png")
    assert store.photo_original_bytes(rec.id) == png_bytes(5) and store.verify_files() == []


# ---- analyses --------------------------------------------------------------------------


def test_analyses_are_keyed_by_version_and_never_mixed(store):
    _, s = make_series(store)
    s1 = store.add_session(s.id, date=D(2024, 1, 1))
    s2 = store.add_session(s.id, date=D(2024, 2, 1))
    base = store.add_photo(s1.id, view="front", data=png_bytes(1), filename="a.png")
    later = store.add_photo(s2.id, view="front", data=png_bytes(2), filename="b.png")
    t = [[1.0, 0.0, 2.5], [0.0, 1.0, -1.0], [0.0, 0.0, 1.0]]
    for ph in (base, later):
        store.save_analysis(ph.id, baseline_photo_id=base.id, transform=t,
                            result={"redness": 1.0, "missing": None}, analyzer_version="0.1.0")
    store.save_analysis(later.id, baseline_photo_id=base.id, transform=t, result={"redness": 2.0},
                        analyzer_version="0.1.0", region="left_cheek")
    # A method change: new version, computed on request; old results stay.
    new = store.save_analysis(later.id, baseline_photo_id=base.id, transform=t,
                              result={"redness": 1.5}, analyzer_version="0.10.0")
    old = store.get_analysis(later.id, analyzer_version="0.1.0")
    assert old.result == {"redness": 1.0, "missing": None} and old.transform == t
    assert new.result == {"redness": 1.5}
    assert store.get_analysis(later.id, analyzer_version="0.1.0", region="left_cheek").result == {"redness": 2.0}
    assert store.get_analysis(later.id, analyzer_version="0.2.0") is None
    assert store.analyzer_versions(s.id) == ["0.1.0", "0.10.0"]
    v1 = store.analyses_for_series(s.id, analyzer_version="0.1.0")
    assert [(a.photo_id, a.region) for a in v1] == [(base.id, ""), (later.id, ""), (later.id, "left_cheek")]
    assert {a.analyzer_version for a in v1} == {"0.1.0"}
    assert [a.id for a in store.analyses_for_series(s.id, analyzer_version="0.10.0")] == [new.id]
    # Recomputing the same key replaces it (one row per photo/version/region).
    again = store.save_analysis(later.id, baseline_photo_id=base.id, transform=None,
                                result={"redness": 1.1}, analyzer_version="0.1.0")
    assert again.id == old.id and store.get_analysis(later.id, analyzer_version="0.1.0").result == {"redness": 1.1}
    with pytest.raises(InvalidInput, match="NaN"):
        store.save_analysis(later.id, baseline_photo_id=None, transform=None,
                            result={"x": float("nan")}, analyzer_version="0.1.0")
    with pytest.raises(InvalidInput, match="version"):
        store.save_analysis(later.id, baseline_photo_id=None, transform=None, result={}, analyzer_version="")


def test_baseline_photo_of_another_patient_is_refused(store):
    _, s1 = make_series(store, "P-1")
    _, s2 = make_series(store, "P-2")
    a = store.add_photo(store.add_session(s1.id, date=D(2024, 1, 1)).id, view="front", data=png_bytes(1), filename="a.png")
    b = store.add_photo(store.add_session(s2.id, date=D(2024, 1, 1)).id, view="front", data=png_bytes(2), filename="b.png")
    with pytest.raises(InvalidInput, match="another patient"):
        store.save_analysis(b.id, baseline_photo_id=a.id, transform=None, result={}, analyzer_version="0.1.0")


# ---- deletion --------------------------------------------------------------------------


def _populate(store: Store, code: str, seed: int):
    p, s = make_series(store, code)
    a = store.add_session(s.id, date=D(2024, 1, 1))
    r = store.add_session(s.id, date=D(2024, 1, 3), kind="recovery", parent_session_id=a.id)
    store.set_baseline_session(s.id, a.id)
    ph = store.add_photo(a.id, view="front", data=png_bytes(seed), filename="f.png")
    store.add_photo(r.id, view="closeup:chin", data=png_bytes(seed + 1), filename="c.png")
    store.save_analysis(ph.id, baseline_photo_id=ph.id, transform=None, result={"a": 1}, analyzer_version="0.1.0")
    store.create_user(f"{code}-login", role="patient", password_hash="$argon2id$x", patient_id=p.id)
    store.add_patient_token(p.id, token_hash=f"h-{code}", expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    return p


@both_photo_stores
def test_delete_patient_is_complete(store):
    keep = _populate(store, "KEEP", 10)
    counts_one = table_counts(store)
    files_one = stored_files(store)
    gone = _populate(store, "GONE", 20)
    store.audit("dr.li", "patient.view", patient_id=gone.id)
    store.delete_patient(gone.id)
    after = table_counts(store)
    after.pop("audit_log")
    counts_one.pop("audit_log")
    assert after == counts_one
    assert stored_files(store) == files_one
    # Audit entries keep only the number, and the trail survives.
    assert [a.action for a in store.list_audit(patient_id=gone.id)] == ["patient.view"]
    with pytest.raises(NotFound):
        store.get_patient(gone.id)
    assert store.get_patient(keep.id) == keep
    store.delete_patient(keep.id)
    assert stored_files(store) == []
    left = table_counts(store)
    assert left.pop("audit_log") == 1 and left.pop("clinics") == 1 and set(left.values()) == {0}  # the clinic stays
    # No empty folders left behind either.
    assert [p for p in (store.data_dir / "photos").rglob("*")] == []
    assert store.collect_garbage(grace_seconds=0) == []


@both_photo_stores
def test_delete_session_series_photo(store):
    p, s = make_series(store)
    a = store.add_session(s.id, date=D(2024, 1, 1))
    r = store.add_session(s.id, date=D(2024, 1, 2), kind="recovery", parent_session_id=a.id)
    b = store.add_session(s.id, date=D(2024, 2, 1))
    pa = store.add_photo(a.id, view="front", data=png_bytes(1), filename="a.png")
    pb = store.add_photo(b.id, view="front", data=png_bytes(2), filename="b.png")
    store.add_photo(r.id, view="front", data=png_bytes(3), filename="r.png")
    store.save_analysis(pb.id, baseline_photo_id=pa.id, transform=None, result={}, analyzer_version="0.1.0")
    store.delete_session(a.id)  # takes its recovery session along; b's analysis loses its baseline link
    assert [x.id for x in store.list_sessions(s.id)] == [b.id]
    assert store.get_analysis(pb.id, analyzer_version="0.1.0").baseline_photo_id is None
    assert len(stored_files(store)) == 2
    store.delete_photo(pb.id)
    assert stored_files(store) == [] and store.get_analysis(pb.id, analyzer_version="0.1.0") is None
    store.delete_series(s.id)
    assert store.list_series(p.id) == []


# ---- access tables ---------------------------------------------------------------------


def test_access_primitives(store):
    p = store.create_patient("P-1", "Anna")
    u = store.create_user("Dr.Li", role="practitioner", password_hash="$argon2id$abc")
    assert u.username == "dr.li" and store.get_user("DR.LI") == u and store.get_user("x") is None
    with pytest.raises(Conflict):
        store.create_user("dr.li", role="practitioner", password_hash="h")
    with pytest.raises(InvalidInput, match="practitioner"):
        store.create_user("x", role="admin", password_hash="h")
    with pytest.raises(InvalidInput):
        store.create_user("anna", role="patient", password_hash="h")
    pu = store.create_user("anna", role="patient", password_hash="h", patient_id=p.id)
    assert pu.patient_id == p.id
    assert store.update_user(u.id, disabled=True).disabled
    now = dt.datetime.now(dt.UTC)
    t = store.add_patient_token(p.id, token_hash="sha256:abc", expires_at=now + dt.timedelta(days=30), label="phone")
    assert store.find_patient_token("sha256:abc") == t and t.is_valid()
    assert not t.is_valid(now + dt.timedelta(days=31))
    assert not store.revoke_patient_token(t.id).is_valid()
    with pytest.raises(InvalidInput, match="timezone"):
        store.add_patient_token(p.id, token_hash="h2", expires_at=dt.datetime(2030, 1, 1))
    for _ in range(3):
        store.record_auth_failure("login:anna")
    assert store.count_auth_failures("login:anna", since=now - dt.timedelta(minutes=1)) == 3
    assert store.count_auth_failures("login:anna", since=now + dt.timedelta(minutes=1)) == 0
    assert store.clear_auth_failures("login:anna") == 3
    store.audit("dr.li", "report.export", patient_id=p.id, detail="pdf")
    store.audit("dr.li", "login")
    assert [a.action for a in store.list_audit()] == ["login", "report.export"]
    assert [a.action for a in store.list_audit(patient_id=p.id)] == ["report.export"]


def test_store_files_live_in_data_dir(store, data_dir):
    assert store.data_dir == Path(data_dir).resolve()
    assert os.path.isdir(store.data_dir)
