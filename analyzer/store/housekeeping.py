"""The store's file housekeeping: remove files no row needs, collect the garbage a crash left,
verify that every photo row has its files. :class:`Housekeeping` is part of
:class:`analyzer.store.Store` (a mixin: it uses the store's transactions and its photo backend,
:class:`analyzer.store.files.PhotoFiles`: the same code for a local folder and a bucket)."""

from __future__ import annotations

import hashlib
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession

from analyzer.store.files import derived_key
from analyzer.store.models import PhotoRow


class Housekeeping:
    """Files no row needs, garbage a crash left, rows without files (methods of the Store)."""

    def _remove_files_of(self, shas: list[str]) -> list[str]:
        """Remove the original and derived files of each sha256 that no photo row uses."""
        if not shas:
            return []
        with self.files.exclusive_lock():
            used = set(self._read(lambda s: list(s.scalars(
                sa.select(PhotoRow.sha256).where(PhotoRow.sha256.in_(set(shas)))))))
            keys = [k for sha in sorted(set(shas) - used)
                    for k in (*self.files.originals_of(sha), derived_key(sha))]
            removed = self.files.remove_keys(keys)
        return removed

    def collect_garbage(self, *, grace_seconds: float = 60.0) -> list[str]:
        """Remove stray files: originals and derivatives no photo row uses, and temporary
        files left by a crash. Files younger than ``grace_seconds`` are kept (a writer on
        another machine sharing the folder may be about to commit). Returns the removed
        keys (relative paths), sorted."""
        self.check_database_file()
        with self.files.exclusive_lock():
            keys = set(self._read(lambda s: list(s.scalars(sa.select(PhotoRow.storage_key)))))
            shas = {k.rsplit("/", 1)[-1].split(".", 1)[0] for k in keys}
            now = time.time()
            found = [rel for rel, mtime in self.files.scan() if now - mtime >= grace_seconds]
            if (not keys and any(rel.startswith("photos/") and not self.files.is_tmp(rel) for rel in found)
                    and not self._read(self._photos_ever_stored)):
                # This database has never held a photo, yet the folder holds originals: the wrong
                # or a lost database, not stray files. Delete nothing but temporary files.
                found = [f for f in found if self.files.is_tmp(f)]
            stray = []
            for rel in found:
                if self.files.is_tmp(rel):
                    stray.append(rel)
                elif rel.startswith("photos/"):
                    if rel not in keys:
                        stray.append(rel)
                elif rel.rsplit("/", 1)[-1].split(".", 1)[0] not in shas:
                    stray.append(rel)
            removed = self.files.remove_keys(stray)
        return sorted(removed)

    def _photos_ever_stored(self, s: OrmSession) -> bool:
        """Has this database ever given out a photo id (ids are never reused, migration 0004)?"""
        if self.backend == "sqlite":
            return bool(s.scalar(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'photos'")))
        seq = s.scalar(sa.text("SELECT pg_get_serial_sequence('photos', 'id')"))
        return bool(seq) and bool(s.execute(sa.text(f"SELECT is_called FROM {seq}")).scalar())

    def verify_files(self) -> list[str]:
        """Problems with stored files: one line per photo row whose original is missing or
        whose checksum is wrong. Empty when consistent."""
        problems = []
        for key, sha in self._read(lambda s: list(s.execute(sa.select(PhotoRow.storage_key, PhotoRow.sha256)))):
            if not self.files.exists(key):
                problems.append(f"{key}: missing")
            elif hashlib.sha256(self.files.read(key)).hexdigest() != sha:
                problems.append(f"{key}: checksum mismatch")
        return problems
