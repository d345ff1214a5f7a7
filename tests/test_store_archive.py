"""Export -> import -> export round trip, and archives that must be refused."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest

from analyzer.store import Conflict, InvalidInput, Store
from analyzer.store.archive import manifest_of
from tests.store_fixtures import data_dir, db_url, jpeg_with_metadata, photo_store, png_bytes, store  # noqa: F401
from tests.test_store import both_photo_stores, stored_files, table_counts

D = dt.date


def populate(store: Store, lisa_path) -> int:
    p = store.create_patient("P-0042", "Zoë Ångström", birth_year=1979, fitzpatrick=2,
                             consent_photos=True, consent_reports=True, notes="línea 1\nline 2",
                             screening={"pregnant": False, "meds": ["isotretinoin"], "score": 0.25})
    face = store.create_series(p.id, body_area="face", concerns=["acne_scars", "texture"], name="Cheeks")
    belly = store.create_series(p.id, body_area="abdomen", concerns=["stretch_marks"], notes="postpartum")
    s1 = store.add_session(face.id, date=D(2024, 1, 10), device="Dermapen 4", needle_depth_mm=1.25,
                           passes=3, topical="HA serum", practitioner="Dr. Li", scar_grade=3,
                           screening={"ok": True})
    s2 = store.add_session(face.id, date=D(2024, 2, 7), needle_depth_mm=1.5, passes=4, scar_grade=2)
    r1 = store.add_session(face.id, date=D(2024, 2, 9), kind="recovery", parent_session_id=s2.id)
    b1 = store.add_session(belly.id, date=D(2024, 1, 11), needle_depth_mm=2.0)
    store.set_baseline_session(face.id, s1.id)
    store.set_regions(face.id, [{"kind": "named", "name": "left_cheek"},
                                {"kind": "rect", "name": "scar", "x": 10, "y": 12.5, "w": 20, "h": 8}])
    base = store.add_photo(s1.id, view="front", data=lisa_path.read_bytes(), filename=lisa_path.name)
    store.add_photo(s1.id, view="closeup:left_cheek", data=jpeg_with_metadata(3), filename="IMG_1.JPG")
    later = store.add_photo(s2.id, view="front", data=png_bytes(4), filename="s2.png")
    store.add_photo(r1.id, view="front", data=png_bytes(5), filename="r1.png")
    store.add_photo(b1.id, view="front", data=png_bytes(4), filename="same-bytes.png")  # shared content
    t = [[1.01, 0.02, -3.5], [-0.02, 1.01, 4.25], [0.0, 0.0, 1.0]]
    for ver, val in (("0.1.0", 1.5), ("0.2.0", 1.4)):
        store.save_analysis(later.id, baseline_photo_id=base.id, transform=t, analyzer_version=ver,
                            result={"redness": {"value": val, "unit": "a*"}, "texture": None})
        store.save_analysis(later.id, baseline_photo_id=base.id, transform=t, analyzer_version=ver,
                            region="left_cheek", result={"redness": {"value": val + 1, "unit": "a*"}})
    store.save_analysis(base.id, baseline_photo_id=None, transform=None, analyzer_version="0.1.0",
                        result={"redness": {"value": 1.0, "unit": "a*"}})
    return p.id


def export_bytes(store: Store, patient_id: int) -> bytes:
    buf = io.BytesIO()
    store.export_patient(patient_id, buf)
    return buf.getvalue()


@both_photo_stores
def test_round_trip_is_byte_identical(store, tmp_path, lisa_paths):
    pid = populate(store, lisa_paths[0])
    a = export_bytes(store, pid)
    assert export_bytes(store, pid) == a  # deterministic

    # Into another installation (always SQLite: also a cross-engine check from PostgreSQL).
    # On S3, the other installation has its own prefix of the bucket.
    other = Store(f"sqlite:///{tmp_path / 'other' / 'db.sqlite3'}", data_dir=tmp_path / "other",
                  photo_store=f"{store.photo_store.url}-other" if store.photo_store.is_s3 else None)
    imported = other.import_archive(io.BytesIO(a))
    assert imported.code == "P-0042" and imported.display_name == "Zoë Ångström"
    b = export_bytes(other, imported.id)
    assert b == a

    # Everything is there, including the originals byte for byte and derived display copies.
    man = manifest_of(a)
    assert [len(man[k]) for k in ("series", "sessions", "photos", "analyses")] == [2, 4, 5, 5]
    assert man["patient"]["screening"] == {"pregnant": False, "meds": ["isotretinoin"], "score": 0.25}
    series = other.list_series(imported.id)
    assert [s.name for s in series] == ["Cheeks", ""]
    sessions = other.list_sessions(series[0].id)
    assert [s.kind for s in sessions] == ["treatment", "treatment", "recovery"]
    assert sessions[2].parent_session_id == sessions[1].id
    assert other.baseline_session(series[0].id).id == sessions[0].id
    assert (sessions[0].needle_depth_mm, sessions[0].scar_grade, sessions[0].screening) == (1.25, 3, {"ok": True})
    assert series[0].regions[1] == {"kind": "rect", "name": "scar", "x": 10, "y": 12.5, "w": 20, "h": 8}
    front = other.list_photos(sessions[0].id)[0]
    assert other.photo_original_bytes(front.id) == lisa_paths[0].read_bytes()
    assert other.photo_display_bytes(front.id)[:2] == b"\xff\xd8"
    assert other.analyzer_versions(series[0].id) == ["0.1.0", "0.2.0"]
    v2 = other.analyses_for_series(series[0].id, analyzer_version="0.2.0")
    assert [(x.region, x.result["redness"]["value"]) for x in v2] == [("", 1.4), ("left_cheek", 2.4)]
    assert v2[0].baseline_photo_id == front.id
    assert other.verify_files() == []
    other.close()

    # Into the same installation: the code is taken, so nothing happens without a new code.
    before, files_before = table_counts(store), stored_files(store)
    with pytest.raises(Conflict, match="P-0042"):
        store.import_archive(io.BytesIO(a))
    assert table_counts(store) == before and stored_files(store) == files_before
    copy = store.import_archive(io.BytesIO(a), code="P-0042-copy")
    c = manifest_of(export_bytes(store, copy.id))
    assert c["patient"].pop("code") == "P-0042-copy"
    man["patient"].pop("code")
    assert c == man
    # The copy shares files with the original; deleting the original keeps the copy whole.
    store.delete_patient(pid)
    assert store.verify_files() == []
    assert manifest_of(export_bytes(store, copy.id))["photos"] == man["photos"]


def test_export_to_path_and_import_from_path(store, tmp_path):
    p = store.create_patient("P-1", "A")
    s = store.create_series(p.id, body_area="face", concerns=["redness"])
    store.add_photo(store.add_session(s.id, date=D(2024, 1, 1)).id, view="front", data=png_bytes(1), filename="a.png")
    out = tmp_path / "p1.zip"
    store.export_patient(p.id, out)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names[0] == "manifest.json" and names[1:] == sorted(names[1:])
        assert {zi.date_time for zi in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert not list(tmp_path.glob(".*.tmp"))  # written via a temporary file, renamed
    store.delete_patient(p.id)
    q = store.import_archive(out)
    assert q.code == "P-1" and len(store.list_series(q.id)) == 1


def _rezip(a: bytes, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(a))
    entries = {zi.filename: src.read(zi) for zi in src.infolist()}
    change(entries)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _edit_manifest(fn):
    def change(entries):
        m = json.loads(entries["manifest.json"])
        fn(m)
        entries["manifest.json"] = json.dumps(m).encode()
    return change


def test_bad_archives_create_nothing(store, lisa_paths):
    pid = populate(store, lisa_paths[0])
    a = export_bytes(store, pid)
    store.delete_patient(pid)
    assert stored_files(store) == []
    before = table_counts(store)
    first_photo = manifest_of(a)["photos"][0]["file"]
    bad = {
        "not a zip": b"hello",
        "truncated": a[: len(a) // 2],
        "no manifest": _rezip(a, lambda e: e.pop("manifest.json")),
        "missing photo": _rezip(a, lambda e: e.pop(first_photo)),
        "tampered photo": _rezip(a, lambda e: e.__setitem__(first_photo, e[first_photo][:-10] + b"0" * 10)),
        "future format": _rezip(a, _edit_manifest(lambda m: m.__setitem__("format_version", 99))),
        "bad depth": _rezip(a, _edit_manifest(lambda m: m["sessions"][0].__setitem__("needle_depth_mm", -2))),
        "bad view": _rezip(a, _edit_manifest(lambda m: m["photos"][-1].__setitem__("view", "back"))),
        "dangling ref": _rezip(a, _edit_manifest(lambda m: m["analyses"][0].__setitem__("photo", 99))),
        "path escape": _rezip(a, _edit_manifest(lambda m: m["photos"][0].__setitem__("file", "../../etc/passwd"))),
        "nan result": _rezip(a, lambda e: e.__setitem__("manifest.json", e["manifest.json"].replace(
            b'"texture": null', b'"texture": NaN'))),
    }
    for label, blob in bad.items():
        with pytest.raises(InvalidInput) as ei:
            store.import_archive(io.BytesIO(blob))
        assert "\n" not in str(ei.value), label
        assert table_counts(store) == before, label
        assert stored_files(store) == [], label
    # The untouched archive still imports.
    assert store.import_archive(io.BytesIO(a)).code == "P-0042"
