"""The store's file housekeeping: remove files no row needs, collect the garbage a crash left,
verify that every photo row has its files. :class:`Housekeeping` is part of
:class:`analyzer.store.Store` (a mixin: it uses the store's transactions and file store)."""

from __future__ import annotations

import hashlib

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
        removed: list[str] = []
        with self.files.exclusive_lock():
            used = set(self._read(lambda s: list(s.scalars(
                sa.select(PhotoRow.sha256).where(PhotoRow.sha256.in_(set(shas)))))))
            for sha in sorted(set(shas) - used):
                folder = self.files.root / "photos" / sha[:2] / sha[2:4]
                keys = [f"photos/{sha[:2]}/{sha[2:4]}/{p.name}" for p in folder.glob(f"{sha}.*")]
                keys.append(derived_key(sha))
                for key in keys:
                    if self.files.remove(key):
                        removed.append(key)
            self.files.sync_removals(removed)
            self.files.prune_empty_dirs(removed)
        return removed

    def collect_garbage(self, *, grace_seconds: float = 60.0) -> list[str]:
        """Remove stray files: originals and derivatives no photo row uses, and temporary
        files left by a crash. Files younger than ``grace_seconds`` are kept (a writer on
        another machine sharing the folder may be about to commit). Returns the removed
        keys (relative paths), sorted."""
        removed: list[str] = []
        self.check_database_file()
        with self.files.exclusive_lock():
            keys = set(self._read(lambda s: list(s.scalars(sa.select(PhotoRow.storage_key)))))
            shas = {k.rsplit("/", 1)[-1].split(".", 1)[0] for k in keys}
            found = [(rel, path, mtime) for rel, path, mtime in self.files.scan()
                     if self.files.age(mtime) >= grace_seconds]
            if (not keys and any(rel.startswith("photos/") and not self.files.is_tmp(rel) for rel, _, _ in found)
                    and not self._read(self._photos_ever_stored)):
                # This database has never held a photo, yet the folder holds originals: the wrong
                # or a lost database, not stray files. Delete nothing but temporary files.
                found = [f for f in found if self.files.is_tmp(f[0])]
            for rel, path, _mtime in found:
                if self.files.is_tmp(rel):
                    stray = True
                elif rel.startswith("photos/"):
                    stray = rel not in keys
                else:
                    stray = path.name.split(".", 1)[0] not in shas
                if stray:
                    try:
                        path.unlink()
                        removed.append(rel)
                    except FileNotFoundError:
                        pass
            self.files.sync_removals([r for r in removed if not self.files.is_tmp(r)])
            self.files.prune_empty_dirs(removed)
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
            p = self.files.path(key)
            if not p.is_file():
                problems.append(f"{key}: missing")
            elif hashlib.sha256(p.read_bytes()).hexdigest() != sha:
                problems.append(f"{key}: checksum mismatch")
        return problems
