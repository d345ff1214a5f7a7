"""Issue 17, items 7 and 11 (archives): import enforces the store's own rules and raises only
the project's one-line errors. Refused archives write nothing (no row, no file).

Zip bombs, duplicate entries, a baseline from another series or from a recovery visit,
impossible dates, huge numbers and wrong types, encrypted or unsupported-compression entries,
tampered analyses, and an archive that marks its patient as the demo patient. A stored
file's extension follows its decoded format, never the archive's name."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import random
import zipfile

import numpy as np
import pytest
from PIL import Image

from analyzer import auth
from analyzer.errors import SkinProgressError
from analyzer.store import InvalidInput
from tests.store_fixtures import data_dir, db_url, png_bytes, store  # noqa: F401

D = dt.date


def populate(store) -> int:
    p = store.create_patient("P-0042", "Anna", birth_year=1980, consent_photos=True)
    face = store.create_series(p.id, body_area="face", concerns=["acne_scars"])
    neck = store.create_series(p.id, body_area="neck", concerns=["texture"])
    s1 = store.add_session(face.id, date=D(2024, 1, 10), needle_depth_mm=1.0, passes=3)
    s2 = store.add_session(face.id, date=D(2024, 2, 7))
    r1 = store.add_session(face.id, date=D(2024, 2, 9), kind="recovery", parent_session_id=s2.id)
    n1 = store.add_session(neck.id, date=D(2024, 1, 11))
    store.set_baseline_session(face.id, s1.id)
    base = store.add_photo(s1.id, view="front", data=png_bytes(1), filename="a.png")
    later = store.add_photo(s2.id, view="front", data=png_bytes(2), filename="b.png")
    store.add_photo(r1.id, view="front", data=png_bytes(3), filename="c.png")
    store.add_photo(n1.id, view="front", data=png_bytes(4), filename="d.png")
    t = [[1.01, 0.02, -3.5], [-0.02, 1.01, 4.25], [0.0, 0.0, 1.0]]
    store.save_analysis(later.id, baseline_photo_id=base.id, transform=t, analyzer_version="0.1.0",
                        result={"alignment": {"ok": True}, "regions": {"face": {"polygon": [[1, 2], [30, 2], [30, 40]]}},
                                "baseline": {"redness": {"a_star_mean": 9.5}}})
    return p.id


def export_bytes(store, pid) -> bytes:
    buf = io.BytesIO()
    store.export_patient(pid, buf)
    return buf.getvalue()


def entries(blob: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return [(zi, zf.read(zi)) for zi in zf.infolist()]


def rezip(items, *, manifest=None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for zi, data in items:
            if zi.filename == "manifest.json" and manifest is not None:
                # "__NESTED__" stands for 3000 nested lists (json.dumps can't write them)
                data = json.dumps(manifest).replace('"__NESTED__"', "[" * 3000 + "]" * 3000).encode()
            zf.writestr(zi, data)
    return out.getvalue()


def with_manifest(blob: bytes, edit) -> bytes:
    items = entries(blob)
    m = json.loads(dict((zi.filename, d) for zi, d in items)["manifest.json"])
    edit(m)
    return rezip(items, manifest=m)


def state(store, data_dir):
    files = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*")
                   if p.is_file() and ("photos" in p.parts or "derived" in p.parts))
    return [p.code for p in store.list_patients()], files


@pytest.fixture
def archive(store):
    pid = populate(store)
    blob = export_bytes(store, pid)
    store.delete_patient(pid)
    return blob


def refused(store, data_dir, blob, match=None):
    before = state(store, data_dir)
    with pytest.raises(InvalidInput) as e:
        store.import_archive(io.BytesIO(blob))
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400
    if match:
        assert match in msg, msg
    assert state(store, data_dir) == before  # nothing half-written
    return msg


def test_zip_bomb_is_refused(store, data_dir, archive):
    """A real PNG padded with 30 MiB of zeros after its end: 0.03 MiB in the zip."""
    m = json.loads(dict((zi.filename, d) for zi, d in entries(archive))["manifest.json"])
    bomb = png_bytes(9) + bytes(30 * 2**20)
    import hashlib

    sha = hashlib.sha256(bomb).hexdigest()
    name = f"photos/{sha}.png"
    m["photos"][0].update(sha256=sha, file=name, size_bytes=len(bomb))
    items = [(zi, d) for zi, d in entries(archive)]
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    blob = rezip(items + [(zi, bomb)], manifest=m)
    assert len(blob) < 2**20
    refused(store, data_dir, blob, "zip bomb")


def test_duplicate_entries_are_refused(store, data_dir, archive):
    items = entries(archive)
    man = next(x for x in items if x[0].filename == "manifest.json")
    evil = json.loads(man[1])
    evil["patient"]["code"] = "P-EVIL"
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name it writes
        blob = rezip(items + [(copy.copy(man[0]), json.dumps(evil).encode())])
    refused(store, data_dir, blob, "two entries")
    photo = next(x for x in items if x[0].filename.startswith("photos/"))
    with pytest.warns(UserWarning):
        refused(store, data_dir, rezip(items + [photo]), "two entries")


def test_baseline_from_another_series_or_a_recovery_visit_is_refused(store, data_dir, archive):
    m = json.loads(dict((zi.filename, d) for zi, d in entries(archive))["manifest.json"])
    face = next(s for s in m["series"] if s["body_area"] == "face")
    neck_session = next(s for s in m["sessions"] if s["series"] != face["ref"])
    recovery = next(s for s in m["sessions"] if s["kind"] == "recovery")
    refused(store, data_dir, with_manifest(archive, lambda mm: next(
        s for s in mm["series"] if s["ref"] == face["ref"]).update(baseline_session=neck_session["ref"])),
        "baseline from another series")
    refused(store, data_dir, with_manifest(archive, lambda mm: next(
        s for s in mm["series"] if s["ref"] == face["ref"]).update(baseline_session=recovery["ref"])),
        "recovery session can't be the baseline")
    # a recovery visit 30 days after its treatment session
    refused(store, data_dir, with_manifest(archive, lambda mm: next(
        s for s in mm["sessions"] if s["kind"] == "recovery").update(date="2024-03-20")), "recovery photos")


@pytest.mark.parametrize("compress", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, "encrypted"])
def test_encrypted_or_unsupported_compression_is_refused(store, data_dir, archive, compress):
    if compress == "encrypted":  # zipfile never writes the flag itself: set it in the headers
        blob = bytearray(archive)
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            offsets = [zi.header_offset for zi in zf.infolist() if zi.filename.startswith("photos/")]
        for off in offsets:
            blob[off + 6] |= 0x1
        i = blob.find(b"PK\x01\x02")
        while i >= 0:
            n = int.from_bytes(blob[i + 28:i + 30], "little")
            if bytes(blob[i + 46:i + 46 + n]).startswith(b"photos/"):
                blob[i + 8] |= 0x1
            i = blob.find(b"PK\x01\x02", i + 4)
        refused(store, data_dir, bytes(blob), "encrypted")
        return
    items = []
    for zi, d in entries(archive):
        if zi.filename.startswith("photos/"):
            zi = copy.copy(zi)
            zi.compress_type = compress
        items.append((zi, d))
    refused(store, data_dir, rezip(items), "unsupported compression")


BAD_VALUES = {
    "patient birth_year huge": lambda m: m["patient"].update(birth_year=10**40),
    "patient created_at impossible": lambda m: m["patient"].update(created_at="9999-12-31T23:59:59-14:00"),
    "patient created_at year 1": lambda m: m["patient"].update(created_at="0001-01-01T00:00:00"),
    "patient created_at a number": lambda m: m["patient"].update(created_at=12345),
    "patient name a list": lambda m: m["patient"].update(display_name=["x"]),
    "patient screening nested": lambda m: m["patient"].update(screening="__NESTED__"),  # see rezip
    "session date Feb 30": lambda m: m["sessions"][0].update(date="2024-02-30"),
    "session date year 9999": lambda m: m["sessions"][0].update(date="9999-01-01"),
    "session depth huge": lambda m: m["sessions"][0].update(needle_depth_mm=1e308),
    "session passes huge": lambda m: m["sessions"][0].update(passes=10**30),
    "session series a list": lambda m: m["sessions"][0].update(series=[1]),
    "session series a dict": lambda m: m["sessions"][0].update(series={"a": 1}),
    "photo capture time impossible": lambda m: m["photos"][0].update(capture_time="2024-13-01T00:00:00"),
    "photo session a list": lambda m: m["photos"][0].update(session=[1]),
    "photo file a number": lambda m: m["photos"][0].update(file=5),
    "series regions a string": lambda m: m["series"][0].update(regions="face"),
    "series concerns a number": lambda m: m["series"][0].update(concerns=7),
    "series baseline a list": lambda m: m["series"][0].update(baseline_session=[1]),
    "analysis transform huge": lambda m: m["analyses"][0].update(transform=[[1e300, 0, 0], [0, 1, 0], [0, 0, 1]]),
    "analysis transform text": lambda m: m["analyses"][0].update(transform=[["a", "b", "c"]] * 3),
    "analysis transform wrong shape": lambda m: m["analyses"][0].update(transform=[[1, 2]]),
    "analysis polygon text": lambda m: m["analyses"][0]["result"]["regions"]["face"].update(polygon="x"),
    "analysis polygon points": lambda m: m["analyses"][0]["result"]["regions"]["face"].update(polygon=[[1, "a"]] * 3),
    "analysis alignment a list": lambda m: m["analyses"][0]["result"].update(alignment=[1]),
    "analysis number huge": lambda m: m["analyses"][0]["result"]["baseline"]["redness"].update(a_star_mean=1e200),
    "analysis int too long": lambda m: m["analyses"][0]["result"]["baseline"]["redness"].update(a_star_mean=10**5000),
    "analysis photo a list": lambda m: m["analyses"][0].update(photo=[1]),
}


@pytest.mark.parametrize("label", list(BAD_VALUES))
def test_impossible_values_are_one_line_store_errors(store, data_dir, archive, label):
    import sys

    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # to write the 5000-digit number into the test archive
    try:
        blob = with_manifest(archive, BAD_VALUES[label])
    finally:
        sys.set_int_max_str_digits(old)
    refused(store, data_dir, blob)


def test_random_tampering_raises_only_store_errors(store, data_dir, archive):
    """300 random edits of the manifest (wrong types, huge numbers, odd text): each import
    either succeeds or raises the project's own one-line error, never a Python one."""
    base = json.loads(dict((zi.filename, d) for zi, d in entries(archive))["manifest.json"])
    items = entries(archive)
    rng = random.Random(17)
    hostile = [None, True, 0, -1, 10**25, 1e308, -1e308, 2.5, "", "x" * 300, "2024-02-30", "9999-12-31T00:00:00",
               [], [1, "a"], {}, {"ref": 1}, [[1, 2, 3]] * 3, "\u202e\u0000", "../../x"]

    def leaves(x, path=()):
        if isinstance(x, dict):
            for k, val in x.items():
                yield from leaves(val, (*path, k))
        elif isinstance(x, list):
            for i, val in enumerate(x):
                yield from leaves(val, (*path, i))
        yield path

    paths = [p for p in leaves(base) if p and p[0] not in ("format", "format_version")]
    for trial in range(300):
        m = copy.deepcopy(base)
        path = rng.choice(paths)
        target = m
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = copy.deepcopy(rng.choice(hostile))
        try:
            p = store.import_archive(io.BytesIO(rezip(items, manifest=m)), code=f"T-{trial}")
        except SkinProgressError as exc:
            assert "\n" not in str(exc), (path, exc)
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{'/'.join(map(str, path))}: {type(exc).__name__}: {exc}")
        else:
            store.delete_patient(p.id)


def test_an_archive_cannot_make_its_patient_a_demo_patient(store, archive):
    blob = with_manifest(archive, lambda m: m["patient"].update(is_demo=True))
    p = store.import_archive(io.BytesIO(blob))
    assert p.is_demo is False
    assert not auth.demo_mode_available(store)  # a real patient: no reading without sign-in
    demo = auth.demo_principal()
    with pytest.raises(auth.AccessDenied):
        auth.authorize(demo, p.id, store)


def test_stored_extension_follows_the_decoded_format(store, archive):
    """The archive names a PNG ``.gif`` (and a JPEG ``.png``): stored as .png and .jpg."""
    rgb = np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG")
    jpeg = buf.getvalue()
    import hashlib

    m = json.loads(dict((zi.filename, d) for zi, d in entries(archive))["manifest.json"])
    items = []
    renames = {}
    for zi, d in entries(archive):
        if zi.filename.startswith("photos/"):
            new = zi.filename.rsplit(".", 1)[0] + ".gif"
            renames[zi.filename] = new
            zi = copy.copy(zi)
            zi.filename = new
        items.append((zi, d))
    sha = hashlib.sha256(jpeg).hexdigest()
    zj = zipfile.ZipInfo(f"photos/{sha}.png", date_time=(1980, 1, 1, 0, 0, 0))
    items.append((zj, jpeg))
    for ph in m["photos"]:
        ph["file"] = renames[ph["file"]]
    m["photos"][0].update(file=f"photos/{sha}.png", sha256=sha, size_bytes=len(jpeg))
    p = store.import_archive(io.BytesIO(rezip(items, manifest=m)))
    keys = sorted({ph.storage_key.rsplit(".", 1)[1] for se in store.list_series(p.id)
                   for s in store.list_sessions(se.id) for ph in store.list_photos(s.id)})
    assert keys == ["jpg", "png"]
