"""Faults: a process killed mid-upload, concurrent writers, concurrent first opens,
a crash between a delete's commit and its file removal, a failed commit. The photo-file faults
run against both photo backends: the data folder and an S3 bucket (moto's server)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import hashlib
import io
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from analyzer.store import NotFound, Store, files
from tests.store_fixtures import (  # noqa: F401
    Child,
    data_dir,
    db_url,
    empty_db_url,
    photo_store,
    png_bytes,
    store,
)
from tests.test_store import both_photo_stores, stored_files

STAGES = ["tmp-written", "original-durable", "derived-durable", "before-commit", "committed"]


def _wait_for(child: Child, prefix: str, timeout: float = 60) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = child.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line:
            raise AssertionError(f"child exited early (status {child.wait()}); see captured stderr")
    raise AssertionError("child did not report in time")


def _upload_and_pause(report, url, data_dir, session_id, stage, photo_path):
    """Child: open the store, upload, and stop for good at ``stage`` (until SIGKILL)."""
    store = Store(url, data_dir=data_dir)

    def hook(s):
        if s == stage:
            report(f"AT {s}")
            time.sleep(120)

    files.fault_hook = hook
    store.add_photo(session_id, view="front", data=Path(photo_path).read_bytes(), filename="big.png")
    report("DONE")


@both_photo_stores
def test_sigkill_mid_upload_leaves_a_consistent_store(store, db_url, data_dir, tmp_path):
    p = store.create_patient("P-1", "Anna")
    s = store.create_series(p.id, body_area="face", concerns=["texture"])
    sessions = {st: store.add_session(s.id, date=dt.date(2024, 1, 1 + i)).id for i, st in enumerate(STAGES)}
    kept = store.add_photo(sessions["committed"], view="left45", data=png_bytes(99), filename="kept.png")
    photos = {}
    for i, st in enumerate(STAGES):
        path = tmp_path / f"{st}.png"
        path.write_bytes(png_bytes(100 + i, width=800, height=600))  # ~1.4 MB each
        photos[st] = path
    store.engine.dispose()  # no pooled connections across fork
    # One process per stage, all paused at their stage at once, then all SIGKILLed.
    children = {st: Child(_upload_and_pause, db_url, data_dir, sessions[st], st, photos[st]) for st in STAGES}
    try:
        for st, child in children.items():
            assert _wait_for(child, "AT") == f"AT {st}"
    finally:
        for child in children.values():
            child.kill()
            child.wait()
    assert all(c.returncode == -signal.SIGKILL for c in children.values())

    store2 = Store(db_url, data_dir=data_dir)
    # No row without its file, every checksum right.
    assert store2.verify_files() == []
    for st in STAGES[:-1]:
        assert store2.list_photos(sessions[st]) == [], st
    committed = [ph for ph in store2.list_photos(sessions["committed"]) if ph.view == "front"]
    assert len(committed) == 1
    assert store2.photo_original_bytes(committed[0].id) == photos["committed"].read_bytes()
    if store2.backend == "sqlite":
        with store2.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    # The crash left stray files (a temp file, uncommitted originals/derivatives) ...
    files_before = stored_files(store2)
    tmp_left = [f for f in files_before if f.rsplit("/", 1)[-1].startswith(".tmp-")]
    # (An S3 PUT stores the whole object or nothing: a process killed before its PUT leaves nothing.)
    assert len(tmp_left) == (0 if store2.photo_store.is_s3 else 1)
    shas = {st: hashlib.sha256(photos[st].read_bytes()).hexdigest() for st in STAGES}
    assert not any(shas["tmp-written"] in f for f in files_before if f not in tmp_left)
    # ... kept while young (a writer elsewhere may be about to commit) ...
    assert store2.collect_garbage(grace_seconds=3600) == []
    # ... and collected later; files of committed rows are never touched.
    removed = store2.collect_garbage(grace_seconds=0)
    assert set(tmp_left) <= set(removed)
    for st in ("original-durable", "derived-durable", "before-commit"):
        assert any(shas[st] in r and r.startswith("photos/") for r in removed), st
    for st in ("derived-durable", "before-commit"):
        assert any(shas[st] in r and r.startswith("derived/") for r in removed), st
    assert not any(shas["committed"] in r or kept.sha256 in r for r in removed)
    assert sorted(stored_files(store2)) == sorted(
        [committed[0].storage_key, kept.storage_key,
         f"derived/{shas['committed'][:2]}/{shas['committed'][2:4]}/{shas['committed']}.jpg",
         f"derived/{kept.sha256[:2]}/{kept.sha256[2:4]}/{kept.sha256}.jpg"])
    assert store2.verify_files() == [] and store2.collect_garbage(grace_seconds=0) == []
    # The interrupted uploads simply work when retried.
    again = store2.add_photo(sessions["before-commit"], view="front",
                             data=photos["before-commit"].read_bytes(), filename="big.png")
    assert store2.photo_original_bytes(again.id) == photos["before-commit"].read_bytes()
    store2.close()


def _add_sessions(report, url, data_dir, series_id, tag, n, go, photo_every):
    """Child: wait for the start signal, then add ``n`` sessions (a photo every few)."""
    store = Store(url, data_dir=data_dir)
    report("READY")
    while not Path(go).exists():
        time.sleep(0.002)
    report(f"START {time.time()}")
    for i in range(n):
        rec = store.add_session(series_id, date=dt.date(2024, 1, 1) + dt.timedelta(days=i),
                                notes=f"{tag}-{i}", needle_depth_mm=1.0)
        if i == 0:  # rendezvous: both have started writing before either goes on
            Path(f"{go}.{tag}").touch()
            deadline = time.time() + 60
            while len(list(Path(go).parent.glob(Path(go).name + ".*"))) < 2 and time.time() < deadline:
                time.sleep(0.002)
        if photo_every and i % photo_every == 0:
            buf = io.BytesIO()
            rng = np.random.default_rng([ord(tag), i])
            Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(buf, "PNG")
            store.add_photo(rec.id, view="front", data=buf.getvalue(), filename=f"{tag}-{i}.png")
    report(f"DONE {time.time()}")


@both_photo_stores
def test_two_processes_adding_sessions_lose_nothing(store, db_url, data_dir, tmp_path):
    p = store.create_patient("P-1", "Anna")
    s = store.create_series(p.id, body_area="face", concerns=["texture"])
    n = 40
    go = tmp_path / "go"
    store.engine.dispose()
    children = [Child(_add_sessions, db_url, data_dir, s.id, tag, n, go, 5) for tag in ("A", "B")]
    try:
        for c in children:
            _wait_for(c, "READY")
        go.touch()
        spans = []
        for c in children:
            start = float(_wait_for(c, "START").split()[1])
            spans.append((start, float(_wait_for(c, "DONE", timeout=120).split()[1])))
    finally:
        for c in children:
            if c.wait() != 0:
                c.kill()
    assert [c.returncode for c in children] == [0, 0]
    sessions = store.list_sessions(s.id)
    assert len(sessions) == 2 * n
    assert sorted(x.notes for x in sessions) == sorted(f"{t}-{i}" for t in "AB" for i in range(n))
    # The two writers really ran at the same time (they meet after their first session).
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1
    photos = [ph for x in sessions for ph in store.list_photos(x.id)]
    assert len(photos) == 2 * len(range(0, n, 5))
    assert store.verify_files() == []
    assert store.collect_garbage(grace_seconds=0) == []


def _open_and_add(report, url, data_dir, go, code):
    report("READY")
    while not Path(go).exists():
        time.sleep(0.001)
    Store(url, data_dir=data_dir).create_patient(code, "x")
    report("DONE")


def test_concurrent_first_open_migrates_once(empty_db_url, data_dir, tmp_path):
    go = tmp_path / "go"
    children = [Child(_open_and_add, empty_db_url, data_dir, go, f"P-{i}") for i in range(3)]
    for c in children:
        _wait_for(c, "READY")
    go.touch()
    assert [c.wait() for c in children] == [0, 0, 0]
    with Store(empty_db_url, data_dir=data_dir) as store:
        assert [p.code for p in store.list_patients()] == ["P-0", "P-1", "P-2"]
        with store.engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1


@both_photo_stores
def test_crash_between_delete_commit_and_file_removal(store, monkeypatch):
    """Rows are deleted first, files after: a crash in between leaves only stray files."""
    p = store.create_patient("P-1", "Anna")
    s = store.create_series(p.id, body_area="face", concerns=["texture"])
    ph = store.add_photo(store.add_session(s.id, date=dt.date(2024, 1, 1)).id, view="front",
                         data=png_bytes(1), filename="a.png")
    with monkeypatch.context() as m:  # the process "dies" before removing files
        m.setattr(Store, "_remove_files_of", lambda self, shas: [])
        store.delete_patient(p.id)
    assert store.list_patients() == [] and store.verify_files() == []
    assert len(stored_files(store)) == 2
    assert store.collect_garbage(grace_seconds=0) == sorted(
        [ph.storage_key, f"derived/{ph.sha256[:2]}/{ph.sha256[2:4]}/{ph.sha256}.jpg"])
    assert stored_files(store) == []


@both_photo_stores
def test_failed_commit_removes_its_files(store, monkeypatch):
    """If the row can't be committed (here: the session vanished), the upload's files go too."""
    p = store.create_patient("P-1", "Anna")
    s = store.create_series(p.id, body_area="face", concerns=["texture"])
    sess = store.add_session(s.id, date=dt.date(2024, 1, 1))

    def vanish(stage):
        if stage == "before-commit":
            store.delete_session(sess.id)

    monkeypatch.setattr(files, "fault_hook", vanish)
    with pytest.raises(NotFound):
        store.add_photo(sess.id, view="front", data=png_bytes(2), filename="a.png")
    assert stored_files(store) == []


def _upload_slowly(report, url, data_dir, session_id, photo_path):
    """Child: upload, pausing 1.5 s between writing the files and committing the row."""
    store = Store(url, data_dir=data_dir)

    def hook(s):
        if s == "before-commit":
            report("AT before-commit")
            time.sleep(1.5)
        elif s == "committed":  # still inside the upload's shared lock
            report(f"COMMITTED {time.time()}")

    files.fault_hook = hook
    store.add_photo(session_id, view="front", data=Path(photo_path).read_bytes(), filename="slow.png")


@both_photo_stores
def test_garbage_collection_waits_for_uploads_in_flight(store, db_url, data_dir, tmp_path):
    """Files written but not yet committed look stray; collection must not take them."""
    p = store.create_patient("P-1", "Anna")
    s = store.create_series(p.id, body_area="face", concerns=["texture"])
    sess = store.add_session(s.id, date=dt.date(2024, 1, 1))
    photo = tmp_path / "slow.png"
    photo.write_bytes(png_bytes(7))
    store.engine.dispose()
    child = Child(_upload_slowly, db_url, data_dir, sess.id, photo)
    try:
        _wait_for(child, "AT before-commit")
        assert len(stored_files(store)) == 2  # on disk, no row yet
        removed = store.collect_garbage(grace_seconds=0)  # blocks until the upload commits
        gc_done = time.time()
        committed_at = float(_wait_for(child, "COMMITTED").split()[1])
    finally:
        assert child.wait() == 0
    assert removed == [] and committed_at <= gc_done
    (rec,) = store.list_photos(sess.id)
    assert store.photo_original_bytes(rec.id) == photo.read_bytes() and store.verify_files() == []


@pytest.mark.parametrize("photo_store", ["s3"], indirect=True)
def test_an_interrupted_multipart_upload_is_collected_on_s3(store):
    """S3's temporary files: the parts of a multipart upload never completed (a large upload cut
    short). Invisible in listings, billed all the same: collection aborts them, after the grace."""
    import boto3

    c = boto3.client("s3", endpoint_url=store.files.endpoint_url)
    sha = hashlib.sha256(b"never finished").hexdigest()
    key = f"{store.files.prefix}/photos/{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    up = c.create_multipart_upload(Bucket=store.files.bucket, Key=key)
    c.upload_part(Bucket=store.files.bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 1024)
    # (moto reports every upload as started in 2010, so the grace period can't be checked here.)
    removed = store.collect_garbage(grace_seconds=0)
    assert removed == [f"photos/{sha[:2]}/{sha[2:4]}/{sha}.jpg#upload={up['UploadId']}"]
    assert c.list_multipart_uploads(Bucket=store.files.bucket).get("Uploads", []) == []
