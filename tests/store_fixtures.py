"""Fixtures for the storage tests: one store per test, on SQLite and on PostgreSQL.

Photos go to the data folder, or (``@pytest.mark.parametrize("photo_store", PHOTO_STORES,
indirect=True)``) to a fresh bucket of an S3 server run by moto in this test process
(``ThreadedMotoServer`` on 127.0.0.1, as s3fs's own tests do): the setting is put in the
environment, so forked children and Dask workers open the same bucket.

PostgreSQL runs when ``SKIN_PROGRESS_TEST_PG_URL`` is set (``.ci/run`` sets it), e.g.
``postgresql+psycopg://root@/skin_progress_test?host=/var/run/postgresql``. Each test gets
its own fresh database on that server (created from an admin connection to the URL's
database, dropped afterwards). Without the variable the PostgreSQL variants are skipped.
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("SKIN_PROGRESS_TEST_PG_URL", "").strip()
#: Set by .ci/run: the PostgreSQL variants must run there, so a missing URL fails instead of skipping.
REQUIRE_PG = os.environ.get("SKIN_PROGRESS_REQUIRE_PG", "") not in ("", "0")
ENGINES = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
]

_admin_engine = None


def _need_pg() -> None:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SKIN_PROGRESS_REQUIRE_PG is set but SKIN_PROGRESS_TEST_PG_URL is not")
        pytest.skip("PostgreSQL: set SKIN_PROGRESS_TEST_PG_URL (.ci/run does)")


def _admin():
    global _admin_engine
    if _admin_engine is None:
        from analyzer.store.engine import resolve_url

        _admin_engine = sa.create_engine(
            resolve_url(PG_URL), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
    return _admin_engine


def new_pg_database() -> str:
    """Create an empty database on the test server; return its URL."""
    from analyzer.store.engine import resolve_url

    name = f"sp_test_{os.getpid()}_{secrets.token_hex(4)}"
    with _admin().connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return resolve_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    with _admin().connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate_all(url: str) -> None:
    """Empty every table (ids restart at 1), keeping the schema and its Alembic version."""
    from analyzer.store.models import Base

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()


_pg_process_url: str | None = None


def pg_process_url(config) -> str:
    """One PostgreSQL database per test process, migrated once and dropped when pytest ends
    in that process (creating a database per test costs ~1 s on PostgreSQL; emptying the
    tables, milliseconds). ``config.add_cleanup`` also runs in pytest-xdist workers, where
    ``atexit`` does not."""
    global _pg_process_url
    if _pg_process_url is None:
        from analyzer.store.engine import migrate, resolve_url

        url = new_pg_database()
        pid = os.getpid()
        # Forked test children share this module state; only the creating process drops.
        config.add_cleanup(lambda: drop_pg_database(url) if os.getpid() == pid else None)
        migrate(resolve_url(url))
        _pg_process_url = url
    return _pg_process_url


@pytest.fixture(params=ENGINES)
def db_url(request, tmp_path):
    """A database URL for each engine, empty at the start of the test: a new SQLite file,
    or the process's PostgreSQL test database with every table emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'store.sqlite3'}"
    _need_pg()
    url = pg_process_url(request.config)
    truncate_all(url)
    return url


@pytest.fixture(params=ENGINES)
def empty_db_url(request, tmp_path):
    """A brand-new database with no tables at all (for migration tests)."""
    if request.param == "sqlite":
        (tmp_path / "db").mkdir(exist_ok=True)
        yield f"sqlite:///{tmp_path / 'db' / 'empty.sqlite3'}"
        return
    _need_pg()
    url = new_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


PHOTO_STORES = ["local", "s3"]
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1", "AWS_SESSION_TOKEN": "testing"}
_s3_server: dict = {}


def s3_endpoint() -> str:
    """An S3 API on 127.0.0.1 (moto's threaded server), one per test process."""
    if _s3_server.get("pid") != os.getpid():
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        _s3_server.update(pid=os.getpid(), server=server, url=f"http://{host}:{port}")
    return _s3_server["url"]


def new_bucket(monkeypatch) -> str:
    """A fresh bucket on the test S3 server; the AWS test credentials are set in the environment."""
    import boto3

    for k, v in S3_ENV.items():
        monkeypatch.setenv(k, v)
    name = f"sp-{secrets.token_hex(6)}"
    boto3.client("s3", endpoint_url=s3_endpoint()).create_bucket(Bucket=name)
    return name


@pytest.fixture
def photo_store(request, monkeypatch):
    """``None`` (the data folder), or ``s3://<fresh bucket>/clinic`` set as the photo store."""
    monkeypatch.delenv("SKIN_PROGRESS_PHOTO_STORE", raising=False)
    monkeypatch.delenv("SKIN_PROGRESS_PHOTO_STORE_ENDPOINT", raising=False)
    if getattr(request, "param", "local") == "local":
        return None
    url = f"s3://{new_bucket(monkeypatch)}/clinic"
    monkeypatch.setenv("SKIN_PROGRESS_PHOTO_STORE", url)
    monkeypatch.setenv("SKIN_PROGRESS_PHOTO_STORE_ENDPOINT", s3_endpoint())
    return url


def raw_objects(store) -> dict[str, bytes]:
    """Every photo file of the store as it really is (the folder, or the bucket read with boto3
    rather than through the store): key -> bytes. Temporary files are listed too."""
    if not store.photo_store.is_s3:
        root = store.files.root
        return {p.relative_to(root).as_posix(): p.read_bytes()
                for top in ("photos", "derived") for p in (root / top).rglob("*") if p.is_file()}
    import boto3

    c = boto3.client("s3", endpoint_url=store.files.endpoint_url)
    pre = store.files.prefix + "/"
    out = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=store.files.bucket, Prefix=pre):
        for o in page.get("Contents", []):
            out[o["Key"][len(pre):]] = c.get_object(Bucket=store.files.bucket, Key=o["Key"])["Body"].read()
    return out


@pytest.fixture
def store(db_url, data_dir, photo_store):
    from analyzer.store import Store

    s = Store(db_url, data_dir=data_dir)
    yield s
    s.close()


def png_bytes(seed: int = 0, width: int = 64, height: int = 48) -> bytes:
    """A small random RGB PNG (different seeds -> different content)."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def jpeg_with_metadata(seed: int = 1, width: int = 80, height: int = 60, orientation: int = 6) -> bytes:
    """A JPEG with EXIF capture time, GPS position and an orientation tag."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x0132] = "2024:03:01 10:11:12"
    exif.get_ifd(0x8769)[0x9003] = "2024:03:01 10:11:12"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.0)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 36.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=90)
    return buf.getvalue()


def run_py(code: str, *, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run Python code in a fresh interpreter with the repo importable."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                          timeout=timeout)


def popen_py(code: str, *, env: dict | None = None) -> subprocess.Popen:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    return subprocess.Popen([sys.executable, "-c", code], env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


class Child:
    """A forked child process running ``fn(report, *args)``; ``report(line)`` sends a line
    back. Forking (instead of starting Python) skips ~1 s of imports per child; the child
    opens its own Store and leaves with ``os._exit`` so it never touches the parent's
    database connections."""

    def __init__(self, fn, *args):
        r, w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # child
            code = 1
            try:
                os.close(r)
                out = os.fdopen(w, "w", buffering=1)
                fn(lambda line: print(line, file=out, flush=True), *args)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(w)
        self.stdout = os.fdopen(r)
        self.returncode: int | None = None

    def readline(self) -> str:
        return self.stdout.readline()

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
            self.stdout.close()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, 9)
