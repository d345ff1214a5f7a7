"""Issue 17, item 6: a lost or corrupt database is never papered over.

* A database with no schema beside a photo store that holds photos is an error naming both
  (it was silently started empty, and collect_garbage() then deleted every photo).
* A write after the SQLite file was deleted is not acknowledged.
* A corrupt SQLite file: the app's own "database can't be opened" screen, and a one-line CLI
  error with exit status 2.
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analyzer import auth
from analyzer.store import Store, StoreError
from tests.store_fixtures import (  # noqa: F401
    REPO,
    data_dir,
    db_url,
    drop_pg_database,
    new_pg_database,
    png_bytes,
    store,
)


def _one_photo(store):
    p = store.create_patient("P-1", "Anna", consent_photos=True)
    se = store.create_series(p.id, body_area="face", concerns=["redness"])
    ss = store.add_session(se.id, date=dt.date(2026, 1, 1))
    return store.add_photo(ss.id, view="front", data=png_bytes(1), filename="a.png")


def _originals(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "photos").rglob("*") if p.is_file()]


def test_a_lost_database_beside_photos_is_an_error_naming_both(store, db_url, data_dir):
    _one_photo(store)
    store.close()
    assert len(_originals(data_dir)) == 1
    if db_url.startswith("sqlite"):
        lost = Path(db_url.split("///", 1)[1])
        lost.unlink()
        for sfx in ("-wal", "-shm"):
            Path(f"{lost}{sfx}").unlink(missing_ok=True)
        other = db_url
    else:
        other = new_pg_database()  # the setting now names an empty database
    try:
        with pytest.raises(StoreError) as e:
            Store(other, data_dir=data_dir)
        msg = str(e.value)
        assert "\n" not in msg and str(data_dir / "photos") in msg and "missing or empty" in msg
        if db_url.startswith("sqlite"):
            assert str(lost) in msg and not lost.exists()  # no empty database was left behind
        assert len(_originals(data_dir)) == 1  # and no photo was touched
    finally:
        if other != db_url:
            drop_pg_database(other)


def test_collect_garbage_never_deletes_photos_a_database_does_not_know(db_url, data_dir, tmp_path):
    """A store whose database lists no photo at all beside a folder of originals (the wrong
    database): collect_garbage deletes none of them."""
    with Store(db_url, data_dir=data_dir):  # an existing database that will hold no photos
        pass
    with Store(f"sqlite:///{tmp_path / 'first.sqlite3'}", data_dir=data_dir) as first:
        _one_photo(first)
    with Store(db_url, data_dir=data_dir) as s:
        assert s.collect_garbage(grace_seconds=0) == []
    assert len(_originals(data_dir)) == 1


def test_a_write_after_the_database_file_was_deleted_is_not_acknowledged(tmp_path):
    """SQLite only: a PostgreSQL database has no file to delete under a running app."""
    d = tmp_path / "data"
    with Store(data_dir=d) as s:
        ph = _one_photo(s)
        db = Path(s._url.database)
        db.unlink()
        for sfx in ("-wal", "-shm"):
            Path(f"{db}{sfx}").unlink(missing_ok=True)
        with pytest.raises(StoreError, match="deleted or replaced while in use"):
            s.create_patient("P-2", "Ben")
        with pytest.raises(StoreError, match="deleted or replaced"):
            auth.create_first_practitioner(s, "anna", "long enough pw", "long enough pw")
        with pytest.raises(StoreError, match="deleted or replaced"):
            s.collect_garbage(grace_seconds=0)
        assert s.files.path(ph.storage_key).is_file()


def _corrupt(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "skin-progress.sqlite3"
    db.write_bytes(b"this is not a database, just damaged bytes " * 200)
    return db


def test_a_corrupt_sqlite_file_is_a_one_line_store_error(tmp_path):
    db = _corrupt(tmp_path / "data")
    with pytest.raises(StoreError) as e:
        Store(data_dir=tmp_path / "data")
    assert "\n" not in str(e.value) and str(db) in str(e.value) and "not a database" in str(e.value)


def test_cli_on_a_corrupt_database_exits_2_with_one_line(tmp_path):
    _corrupt(tmp_path / "data")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SKIN_PROGRESS_DATABASE_URL", None)
    r = subprocess.run([sys.executable, "-m", "analyzer", "report", "--data-dir", str(tmp_path / "data"),
                        "--patient", "P-1", "--out", str(tmp_path / "r.pdf")],
                       capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: can't open the database") and "Traceback" not in r.stderr


def test_app_on_a_corrupt_database_shows_its_own_screen(tmp_path, monkeypatch):
    _corrupt(tmp_path / "data")
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert at.error and "database can't be opened" in at.error[0].value
