"""Content-addressed photo files with atomic, durable writes.

Two backends keep the same promises behind one small interface, :class:`PhotoFiles`: this
module's :class:`FileStore` (a local folder, the default) and
:class:`analyzer.store.objects.S3Files` (an S3-compatible bucket; see that module).
:func:`analyzer.store.objects.open_photo_files` picks one from the setting (:func:`analyzer.config.photo_store_location`).

Layout under the data folder (the same keys under the bucket's prefix)::

    photos/ab/cd/<sha256>.<ext>    the original upload, byte for byte
    derived/ab/cd/<sha256>.jpg     display copy: JPEG, no EXIF/GPS/ICC, at most 2048 px

A file is written to a temporary name in its final folder, fsynced, renamed over the final
name (``os.replace``) and the folder fsynced: after a crash a key holds either nothing or
the complete file, never part of one. Temporary files left by a crash start with ``.tmp-``.

Cross-process coordination uses ``flock`` on ``<data>/.files.lock``: uploads hold it shared
from the first file write until their row is committed; garbage collection and deletions
take it exclusively before removing files. So a file is never removed while a row that
needs it is on its way in.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from analyzer.store.errors import StoreError

#: Longest side of the display derivative, pixels.
DISPLAY_MAX_SIDE = 2048
DISPLAY_QUALITY = 90
#: File extension of an original upload, by the format Pillow reads.
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tif", "HEIF": "heic"}

#: Test hook: called with a stage name at each step of an upload (``tmp-written``,
#: ``original-durable``, ``derived-durable``, ``before-commit``, ``committed``). Tests set it
#: to pause or crash the process at a chosen point. ``None`` in normal use.
fault_hook: Callable[[str], None] | None = None

_KEY_RE = re.compile(r"^(photos|derived)/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\.[a-z0-9]{2,5}$")
TMP_PREFIX = ".tmp-"


def fault(stage: str) -> None:
    if fault_hook is not None:
        fault_hook(stage)


def original_key(sha256: str, ext: str) -> str:
    return f"photos/{sha256[:2]}/{sha256[2:4]}/{sha256}.{ext}"


def derived_key(sha256: str) -> str:
    return f"derived/{sha256[:2]}/{sha256[2:4]}/{sha256}.jpg"


class PhotoFiles(Protocol):
    """What the store needs of a photo backend. Keys are ``photos/ab/cd/<sha256>.<ext>`` and
    ``derived/ab/cd/<sha256>.jpg`` (:func:`original_key`, :func:`derived_key`).

    * :meth:`put` returns only once the bytes are durable (a crash leaves the key whole or absent);
    * :meth:`scan` lists every object, also what an interrupted write left (:meth:`is_tmp`);
    * :meth:`remove_keys` removes durably; :meth:`shared_lock` is held by writers from their first
      write until their row is committed, :meth:`exclusive_lock` by whoever removes files.
    """

    def describe(self) -> str: ...
    def put(self, key: str, data: bytes, *, compare: bool = False) -> bool: ...
    def read(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def originals_of(self, sha256: str) -> list[str]: ...
    def remove_keys(self, names: Iterable[str]) -> list[str]: ...
    def scan(self) -> Iterator[tuple[str, float]]: ...
    def is_tmp(self, name: str) -> bool: ...
    def has_originals(self) -> bool: ...
    def shared_lock(self) -> AbstractContextManager: ...
    def exclusive_lock(self) -> AbstractContextManager: ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FolderLock:
    """``flock`` on one lock file: shared by uploads, exclusive for removals (one machine)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @contextlib.contextmanager
    def _flock(self, mode: int) -> Iterator[None]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def shared(self):
        return self._flock(fcntl.LOCK_SH)

    def exclusive(self):
        return self._flock(fcntl.LOCK_EX)


class FileStore:
    """The photo files of one data folder."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = FolderLock(self.root / ".files.lock")

    # -- keys and paths -------------------------------------------------------------------
    def path(self, key: str) -> Path:
        if not _KEY_RE.match(key):
            raise StoreError(f"invalid storage key {key!r}")
        return self.root / key

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def describe(self) -> str:
        return f"folder {self.root}"

    def originals_of(self, sha256: str) -> list[str]:
        folder = self.root / "photos" / sha256[:2] / sha256[2:4]
        return sorted(f"photos/{sha256[:2]}/{sha256[2:4]}/{p.name}" for p in folder.glob(f"{sha256}.*"))

    def has_originals(self) -> bool:
        """True if ``photos/`` holds at least one file (stops at the first one found)."""
        base = self.root / "photos"
        return base.is_dir() and any(p.is_file() for p in base.rglob("*"))

    # -- locking --------------------------------------------------------------------------
    def shared_lock(self):
        """Held by writers from first file write to row commit."""
        return self._lock.shared()

    def exclusive_lock(self):
        """Held by whoever removes files (garbage collection, deletions)."""
        return self._lock.exclusive()

    # -- writing --------------------------------------------------------------------------
    def put(self, key: str, data: bytes, *, compare: bool = False) -> bool:
        """Make ``key`` hold ``data`` durably. Returns False when the file was already there.

        An existing file of the same size (and, with ``compare``, the same bytes) is kept and
        its mtime refreshed (so a garbage collection with a grace period sees it as new); a
        damaged one is replaced.
        """
        final = self.path(key)
        folder = final.parent
        try:
            if final.is_file() and final.stat().st_size == len(data):
                if not compare or final.read_bytes() == data:
                    os.utime(final)
                    return False
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"{TMP_PREFIX}{secrets.token_hex(8)}-{final.name}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                fault("tmp-written")
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            os.close(fd)
            os.replace(tmp, final)
            _fsync_dir(folder)
        except OSError as exc:
            raise StoreError(f"can't write photo file under {self.root}: {exc.strerror or exc}") from None
        return True

    def read(self, key: str) -> bytes:
        p = self.path(key)
        try:
            return p.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"photo file is missing from the data folder: {key}") from None
        except OSError as exc:
            raise StoreError(f"can't read photo file {key}: {exc.strerror or exc}") from None

    def remove(self, key: str) -> bool:
        p = self.path(key)
        try:
            p.unlink()
        except FileNotFoundError:
            return False
        return True

    def remove_keys(self, names: Iterable[str]) -> list[str]:
        """Remove keys and temporary files (names from :meth:`scan`) durably; prune emptied
        folders. Returns the names removed (call under :meth:`exclusive_lock`)."""
        removed: list[str] = []
        for name in names:
            if self.is_tmp(name):
                if ".." in name or not name.startswith(("photos/", "derived/")):
                    raise StoreError(f"invalid temporary file name {name!r}")
                p = self.root / name
            else:
                p = self.path(name)
            try:
                p.unlink()
                removed.append(name)
            except FileNotFoundError:
                pass
        self.sync_removals([r for r in removed if not self.is_tmp(r)])
        self.prune_empty_dirs(removed)
        return removed

    def sync_removals(self, keys: list[str]) -> None:
        for folder in {self.path(k).parent for k in keys}:
            with contextlib.suppress(OSError):
                _fsync_dir(folder)

    def prune_empty_dirs(self, rels: list[str]) -> None:
        """Remove the now-empty ``ab/cd`` and ``ab`` folders of removed files (call under
        the exclusive lock, so no writer is about to use them)."""
        for rel in rels:
            folder = (self.root / rel).parent
            for _ in range(2):
                try:
                    folder.rmdir()
                except OSError:
                    break
                folder = folder.parent

    # -- scanning -------------------------------------------------------------------------
    def scan(self) -> Iterator[tuple[str, float]]:
        """Every file under photos/ and derived/: (key or relative tmp path, mtime)."""
        for top in ("photos", "derived"):
            base = self.root / top
            if not base.is_dir():
                continue
            for dirpath, _dirs, files in os.walk(base):
                for name in files:
                    p = Path(dirpath) / name
                    try:
                        mtime = p.stat().st_mtime
                    except FileNotFoundError:
                        continue
                    yield p.relative_to(self.root).as_posix(), mtime

    @staticmethod
    def is_tmp(rel: str) -> bool:
        return rel.rsplit("/", 1)[-1].startswith(TMP_PREFIX)

    @staticmethod
    def age(mtime: float) -> float:
        return time.time() - mtime


def display_jpeg(rgb, *, max_side: int = DISPLAY_MAX_SIDE, quality: int = DISPLAY_QUALITY) -> bytes:
    """The display derivative: sRGB JPEG, longest side <= ``max_side``, no EXIF/GPS/ICC.

    Downscales with OpenCV's area filter on the float image (about 3x faster than Pillow's
    Lanczos on a 12 MP photo, and alias-free for reductions).
    """
    import cv2
    from PIL import Image

    from analyzer.io import to_uint8

    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    out = io.BytesIO()
    Image.fromarray(to_uint8(rgb), mode="RGB").save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
