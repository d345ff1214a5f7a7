"""Photo files in an S3-compatible object store (AWS S3, MinIO, Ceph RGW...), through s3fs.

Chosen by one setting, ``SKIN_PROGRESS_PHOTO_STORE=s3://bucket/prefix`` (with
``SKIN_PROGRESS_PHOTO_STORE_ENDPOINT`` for a store other than AWS; credentials from the usual
AWS chain), see :func:`analyzer.config.photo_store_location`. The keys are the local folder's,
under the prefix: ``<prefix>/photos/ab/cd/<sha256>.<ext>``, ``<prefix>/derived/ab/cd/<sha256>.jpg``.

The local folder's promises (:mod:`analyzer.store.files`), kept the object store's way:

* **Durable before the row.** :meth:`S3Files.put` is one PUT carrying ``Content-MD5`` (the
  server refuses a body that does not match it) and returns once the store acknowledged it;
  an S3 PUT is acknowledged only when the object is stored, and an object appears whole or not
  at all, so there is no temporary object to rename. A photo is far below s3fs's multipart
  threshold (100 MB); a multipart upload cut short would leave invisible parts, which
  :meth:`S3Files.scan` lists as temporary (``<key>#upload=<id>``) and garbage collection aborts.
* **Fresh in the listing.** A PUT of an existing key writes it again: that refreshes its
  ``LastModified`` (so collection's grace period sees it as new, as ``os.utime`` does on disk)
  and repairs a damaged object.
* **Locks.** Uploads hold a shared lock from their first PUT to their row's commit; garbage
  collection and deletions take it exclusively. On PostgreSQL it is a session advisory lock in
  the shared database, so every app server using the bucket sees it (a killed process's
  connection closes and frees it). On SQLite, which is one machine, it is ``flock`` on
  ``<data folder>/.files.lock`` as for the local folder.
* **Deletion.** A DELETE is final on S3 (an unversioned bucket; with versioning on, the bucket's
  lifecycle rules decide how long old versions stay: say so in the installation's notes).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from analyzer.store import files as files_mod
from analyzer.store.errors import StoreError

#: The advisory lock's key on PostgreSQL (the migrations use 7031505).
PG_LOCK_KEY = 7031506
_UPLOAD_MARK = "#upload="
_URL_RE = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(.*))?$")


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _PgAdvisoryLock:
    """The upload/removal lock as a PostgreSQL session advisory lock (one connection held)."""

    def __init__(self, engine):
        self.engine = engine

    @contextlib.contextmanager
    def hold(self, shared: bool) -> Iterator[None]:
        import sqlalchemy as sa

        kind = "_shared" if shared else ""
        with self.engine.connect() as conn:
            conn.execute(sa.text(f"SELECT pg_advisory_lock{kind}(:k)"), {"k": PG_LOCK_KEY})
            conn.commit()  # the lock is the session's, not the transaction's
            try:
                yield
            finally:
                with contextlib.suppress(Exception):  # a broken connection has freed it already
                    conn.execute(sa.text(f"SELECT pg_advisory_unlock{kind}(:k)"), {"k": PG_LOCK_KEY})
                    conn.commit()


class S3Files:
    """The photo files of one bucket prefix (see the module docstring)."""

    def __init__(self, url: str, *, endpoint_url: str | None = None, lock_dir: Path | None = None,
                 engine=None):
        m = _URL_RE.match(url.strip())
        if not m:
            raise StoreError(f"the photo store {url!r} is not s3://bucket/prefix")
        self.bucket = m.group(1)
        self.prefix = (m.group(2) or "").strip("/")
        self.base = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        self.endpoint_url = endpoint_url
        try:
            import s3fs
        except ImportError:
            raise StoreError("the photo store is in S3 but s3fs is not installed: "
                             "pip install 'skin-progress[cluster]'") from None
        # No instance cache (a forked or spawned worker makes its own) and no listing cache
        # (another server may have written or removed objects since).
        self.fs = s3fs.S3FileSystem(endpoint_url=endpoint_url, skip_instance_cache=True,
                                    use_listings_cache=False)
        self._pg = _PgAdvisoryLock(engine) if engine is not None and engine.dialect.name == "postgresql" else None
        self._local = None
        if self._pg is None:
            if lock_dir is None:
                raise StoreError("the S3 photo store needs PostgreSQL or a data folder for its lock")
            Path(lock_dir).mkdir(parents=True, exist_ok=True)
            self._local = files_mod.FolderLock(Path(lock_dir) / ".files.lock")

    # -- names ----------------------------------------------------------------------------
    def _path(self, key: str) -> str:
        if not files_mod._KEY_RE.match(key):
            raise StoreError(f"invalid storage key {key!r}")
        return f"{self.base}/{key}"

    def _rel(self, path: str) -> str:
        return path[len(self.base) + 1:]

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"bucket s3://{self.base}{where}"

    def __str__(self) -> str:
        return self.describe()

    def _fail(self, what: str, exc: BaseException) -> StoreError:
        return StoreError(f"can't {what} in the photo store ({self.describe()}): {_why(exc)}")

    # -- locking --------------------------------------------------------------------------
    def shared_lock(self):
        return self._pg.hold(True) if self._pg is not None else self._local.shared()

    def exclusive_lock(self):
        return self._pg.hold(False) if self._pg is not None else self._local.exclusive()

    # -- reading and writing --------------------------------------------------------------
    def put(self, key: str, data: bytes, *, compare: bool = False) -> bool:
        """Store ``data`` under ``key`` (one PUT with Content-MD5); returns once acknowledged.
        Always written, also when the key exists (see the module docstring); returns True."""
        path = self._path(key)
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        files_mod.fault("tmp-written")  # the bytes are ready to send; nothing is stored yet
        try:
            self.fs.pipe_file(path, bytes(data), ContentMD5=md5)
        except Exception as exc:  # noqa: BLE001 - s3fs/botocore raise many kinds: one line
            raise self._fail(f"write {key}", exc) from None
        return True

    def read(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return self.fs.cat_file(path)
        except FileNotFoundError:
            raise StoreError(f"photo file is missing from the photo store: {key}") from None
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"read {key}", exc) from None

    def exists(self, key: str) -> bool:
        path = self._path(key)
        try:
            return bool(self.fs.isfile(path))
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"look up {key}", exc) from None

    def originals_of(self, sha256: str) -> list[str]:
        folder = f"{self.base}/photos/{sha256[:2]}/{sha256[2:4]}"
        try:
            names = self.fs.ls(folder, detail=False, refresh=True)
        except FileNotFoundError:
            return []
        except Exception as exc:  # noqa: BLE001
            raise self._fail("list photos", exc) from None
        return sorted(self._rel(n) for n in names if n.rsplit("/", 1)[-1].startswith(f"{sha256}."))

    def has_originals(self) -> bool:
        try:
            out = self._s3("list_objects_v2", Bucket=self.bucket, Prefix=self._key_prefix("photos/"), MaxKeys=1)
        except Exception as exc:  # noqa: BLE001
            if "NoSuchBucket" in _why(exc):
                return False
            raise self._fail("list photos", exc) from None
        return bool(out.get("KeyCount") or out.get("Contents"))

    # -- removing -------------------------------------------------------------------------
    def remove_keys(self, names: Iterable[str]) -> list[str]:
        """Remove objects and abort interrupted multipart uploads (names from :meth:`scan`).
        Returns the names removed (call under :meth:`exclusive_lock`)."""
        removed: list[str] = []
        for name in names:
            try:
                if self.is_tmp(name):
                    key, upload_id = name.split(_UPLOAD_MARK, 1)
                    self._s3("abort_multipart_upload", Bucket=self.bucket, Key=self._key_prefix(key),
                             UploadId=upload_id)
                    removed.append(name)
                    continue
                path = self._path(name)
                if self.fs.isfile(path):
                    self.fs.rm_file(path)
                    removed.append(name)
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001
                raise self._fail(f"remove {name}", exc) from None
        return removed

    # -- scanning -------------------------------------------------------------------------
    def scan(self) -> Iterator[tuple[str, float]]:
        """Every object under photos/ and derived/ (key, LastModified as a timestamp), then
        every interrupted multipart upload under them (``<key>#upload=<id>``, its start)."""
        try:
            for top in ("photos", "derived"):
                try:
                    found = self.fs.find(f"{self.base}/{top}", detail=True)
                except FileNotFoundError:
                    continue
                for path, info in sorted(found.items()):
                    if info.get("type", "file") != "file":
                        continue
                    yield self._rel(path), info["LastModified"].timestamp()
            marker: dict = {}
            while True:
                out = self._s3("list_multipart_uploads", Bucket=self.bucket, Prefix=self._key_prefix(""), **marker)
                for up in out.get("Uploads", []):
                    rel = up["Key"][len(self._key_prefix("")):]
                    if rel.startswith(("photos/", "derived/")):
                        yield f"{rel}{_UPLOAD_MARK}{up['UploadId']}", up["Initiated"].timestamp()
                if not out.get("IsTruncated"):
                    break
                marker = {"KeyMarker": out["NextKeyMarker"], "UploadIdMarker": out["NextUploadIdMarker"]}
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._fail("list the photo store", exc) from None

    @staticmethod
    def is_tmp(name: str) -> bool:
        return _UPLOAD_MARK in name

    # -- plumbing -------------------------------------------------------------------------
    def _key_prefix(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _s3(self, method: str, **kwargs):
        """One S3 API call through s3fs's client (retries and credentials as s3fs's own)."""
        from fsspec.asyn import sync

        return sync(self.fs.loop, self.fs._call_s3, method, **kwargs)


def open_photo_files(location, data_dir: Path, *, engine=None) -> files_mod.PhotoFiles:
    """The backend for a :class:`analyzer.config.PhotoStoreLocation`: the data folder (or the
    folder named), or an S3 bucket. ``engine``: the store's database engine; on PostgreSQL the
    S3 backend's locks are advisory locks there, so app servers sharing a bucket see each other."""
    if location.is_s3:
        return S3Files(location.url, endpoint_url=location.endpoint_url, lock_dir=data_dir, engine=engine)
    return files_mod.FileStore(Path(location.url).expanduser().resolve() if location.url else data_dir)
