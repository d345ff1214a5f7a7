"""One patient as one zip: ``manifest.json`` plus the original photo files.

Archive layout (format version 1)::

    manifest.json                 the records, ids replaced by local refs (1, 2, ...)
    photos/<sha256>.<ext>         each original, byte for byte (stored, not recompressed)

A photo entry carries ``reference_patch`` (``{"x", "y", "w", "h"}``, photo pixels) only when a
colour reference patch was marked on it; archives without the key import as before.

The archive is deterministic: entries sorted, every timestamp 1980-01-01 00:00, the
manifest written with sorted keys, records in a fixed order (series by creation, sessions
by date, photos by view, analyses by version/region). Importing keeps every value
(including ``created_at``) and assigns new ids in that same order, so export -> import ->
export gives a byte-identical archive.

Not exported: login accounts, patient link tokens and the audit log (they belong to one
installation, and a token must not travel). Display derivatives are rebuilt on import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa

from analyzer.errors import PhotoError
from analyzer.io import DEFAULT_MAX_BYTES, load_photo
from analyzer.store import validate as v
from analyzer.store.clinics import default_clinic_id_in
from analyzer.store.convert import patient_record as _patient
from analyzer.store.errors import Conflict, InvalidInput, StoreError
from analyzer.store.files import EXTENSIONS as _EXT
from analyzer.store.files import derived_key, display_jpeg, original_key
from analyzer.store.models import (
    AnalysisRow,
    ClinicRow,
    PatientRow,
    PhotoRow,
    SeriesRow,
    SessionRow,
)

FORMAT = "skin-progress-patient"
FORMAT_VERSION = 1
_EPOCH = (1980, 1, 1, 0, 0, 0)
_MANIFEST = "manifest.json"
_MAX_MANIFEST = 64 * 1024 * 1024
_FILE_RE = re.compile(r"^photos/([0-9a-f]{64})\.([a-z0-9]{2,5})$")


def _iso(t: dt.datetime | dt.date | None) -> str | None:
    return None if t is None else t.isoformat()


#: Years an archive's dates may name (a photo, a session, a record's creation).
_YEARS = (1900, 2200)


def _dt(value: Any, what: str, *, aware: bool) -> dt.datetime | None:
    if value is None:
        return None
    shown = repr(value)[:60]
    try:
        t = dt.datetime.fromisoformat(value)
        t = (t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)) if aware else t.replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"archive: {what} {shown} is not a date and time") from None
    if not _YEARS[0] <= t.year <= _YEARS[1]:
        raise InvalidInput(f"archive: {what} {shown} is not a possible date")
    return t


# ---- export ------------------------------------------------------------------------------


def build_manifest(store, patient_id: int) -> tuple[dict, dict[str, str]]:
    """(manifest, {archive file name: storage key}) read in one consistent transaction."""

    def q(s):
        p = store._get(s, PatientRow, patient_id, "patient")
        series = list(s.scalars(sa.select(SeriesRow).where(SeriesRow.patient_id == p.id)
                                .order_by(SeriesRow.created_at, SeriesRow.id)))
        s_ref = {r.id: i for i, r in enumerate(series, start=1)}
        sessions = list(s.scalars(sa.select(SessionRow).where(SessionRow.series_id.in_(list(s_ref)))))
        sessions.sort(key=lambda r: (s_ref[r.series_id], r.date, r.id))
        ss_ref = {r.id: i for i, r in enumerate(sessions, start=1)}
        photos = list(s.scalars(sa.select(PhotoRow).where(PhotoRow.session_id.in_(list(ss_ref)))))
        photos.sort(key=lambda r: (ss_ref[r.session_id], r.view, r.id))
        p_ref = {r.id: i for i, r in enumerate(photos, start=1)}
        analyses = list(s.scalars(sa.select(AnalysisRow).where(AnalysisRow.photo_id.in_(list(p_ref)))))
        analyses.sort(key=lambda r: (p_ref[r.photo_id], r.analyzer_version, r.region, r.id))
        files: dict[str, str] = {}
        photo_items = []
        for r in photos:
            ext = r.storage_key.rsplit(".", 1)[-1]
            name = f"photos/{r.sha256}.{ext}"
            files[name] = r.storage_key
            photo_items.append({
                "ref": p_ref[r.id], "session": ss_ref[r.session_id], "view": r.view,
                "sha256": r.sha256, "file": name, "filename": r.filename, "format": r.format,
                "size_bytes": r.size_bytes, "capture_time": _iso(r.capture_time),
                "width": r.width, "height": r.height, "created_at": _iso(r.created_at),
            })
            if r.reference_patch:  # only when marked: archives without one read as before
                photo_items[-1]["reference_patch"] = dict(r.reference_patch)
            if r.capture_conditions:
                photo_items[-1]["capture_conditions"] = dict(r.capture_conditions)
            if r.prekeep_check:
                photo_items[-1]["prekeep_check"] = dict(r.prekeep_check)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "patient": {
                "code": p.code, "display_name": p.display_name, "birth_year": p.birth_year,
                "fitzpatrick": p.fitzpatrick, "consent_photos": bool(p.consent_photos),
                "consent_reports": bool(p.consent_reports), "notes": p.notes or "",
                "screening": p.screening, "is_demo": bool(p.is_demo), "created_at": _iso(p.created_at),
            },
            "series": [{
                "ref": s_ref[r.id], "name": r.name or "", "body_area": r.body_area,
                "concerns": list(r.concerns or []), "regions": list(r.regions or []),
                "notes": r.notes or "", "created_at": _iso(r.created_at),
                "baseline_session": ss_ref.get(r.baseline_session_id),
            } for r in series],
            "sessions": [{
                "ref": ss_ref[r.id], "series": s_ref[r.series_id], "date": r.date.isoformat(),
                "device": r.device or "", "needle_depth_mm": r.needle_depth_mm, "passes": r.passes,
                "topical": r.topical or "", "practitioner": r.practitioner or "", "notes": r.notes or "",
                "kind": r.kind, "parent_session": ss_ref.get(r.parent_session_id),
                "screening": r.screening, "scar_grade": r.scar_grade, "created_at": _iso(r.created_at),
            } for r in sessions],
            "photos": photo_items,
            "analyses": [{
                "photo": p_ref[r.photo_id], "baseline_photo": p_ref.get(r.baseline_photo_id),
                "analyzer_version": r.analyzer_version, "region": r.region or "",
                "transform": r.transform, "result": r.result, "created_at": _iso(r.created_at),
            } for r in analyses],
        }
        return manifest, files

    return store._read(q)


def _zinfo(name: str, compress: int) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=_EPOCH)
    zi.compress_type = compress
    zi.create_system = 3
    zi.external_attr = 0o100644 << 16
    return zi


def export_patient(store, patient_id: int, out: Path | str | BinaryIO) -> None:
    """Write the archive to ``out`` (a path: written to a temporary file, then renamed).

    Photo files are copied one at a time (memory stays at one photo) and each is checked
    against its sha256 first. The shared file lock is held throughout, so a concurrent
    deletion can't remove a file this export still needs.
    """

    def write(fh: BinaryIO) -> None:
        with store.files.shared_lock():
            manifest, files = build_manifest(store, patient_id)
            text = json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
            with zipfile.ZipFile(fh, "w") as zf:
                zf.writestr(_zinfo(_MANIFEST, zipfile.ZIP_DEFLATED), text.encode("utf-8"))
                for name in sorted(files):
                    data = store.files.read(files[name])
                    if hashlib.sha256(data).hexdigest() != _FILE_RE.match(name).group(1):
                        raise StoreError(f"photo file {files[name]} is damaged (checksum mismatch); export stopped")
                    zf.writestr(_zinfo(name, zipfile.ZIP_STORED), data)

    if isinstance(out, str | os.PathLike):
        path = Path(out)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            with open(tmp, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise StoreError(f"can't write the archive {path}: {exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
    else:
        write(out)


# ---- import ------------------------------------------------------------------------------


def _refs(items: list, what: str) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for it in items:
        if not isinstance(it, dict) or isinstance(it.get("ref"), bool) or not isinstance(it.get("ref"), int):
            raise InvalidInput(f"archive: a {what} entry has no ref")
        if it["ref"] in out:
            raise InvalidInput(f"archive: {what} ref {it['ref']} is used twice")
        out[it["ref"]] = it
    return out


def _ref(value, table: dict, what: str, *, optional: bool = False):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in table:
        raise InvalidInput(f"archive: {what} refers to a missing entry ({value!r})")
    return value


def _open_archive(src) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(Path(src) if isinstance(src, str | os.PathLike) else src)
    except FileNotFoundError:
        raise InvalidInput(f"archive not found: {src}") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise InvalidInput("not a patient archive (not a readable zip file)") from None


#: Zip-bomb caps: the archive's files together may expand to at most this many bytes, and a
#: photo entry (photos are already compressed) to at most _MAX_RATIO times its stored size.
MAX_EXPANDED_BYTES = int(os.environ.get("SKIN_PROGRESS_MAX_ARCHIVE_BYTES", 8 * 2**30))


_MAX_RATIO = 20


_RATIO_FLOOR = 1 * 2**20  # smaller entries may compress as they like


_MAX_ENTRIES = 100_000


def _check_entries(zf: zipfile.ZipFile) -> None:
    """Refuse, before anything is read: duplicate names, encrypted entries, compressions other
    than stored/deflate, and zip bombs (total expanded size, compression ratio)."""
    infos = zf.infolist()
    if len(infos) > _MAX_ENTRIES:
        raise InvalidInput(f"archive has too many entries ({len(infos)})")
    names: set[str] = set()
    total = 0
    for zi in infos:
        if zi.filename in names:
            raise InvalidInput(f"archive has two entries named {zi.filename[:80]!r}")
        names.add(zi.filename)
        if zi.flag_bits & 0x1:
            raise InvalidInput(f"archive entry {zi.filename[:80]!r} is encrypted; export it again without a password")
        if zi.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InvalidInput(f"archive entry {zi.filename[:80]!r} uses an unsupported compression "
                               f"(method {zi.compress_type}); only stored and deflate are read")
        total += zi.file_size
        if zi.filename != _MANIFEST and zi.file_size > _RATIO_FLOOR and zi.file_size > _MAX_RATIO * max(zi.compress_size, 1):
            raise InvalidInput(f"archive entry {zi.filename[:80]!r} expands {zi.file_size / max(zi.compress_size, 1):.0f} "
                               "times its stored size: refused (zip bomb)")
    if total > MAX_EXPANDED_BYTES:
        raise InvalidInput(f"archive expands to {total / 2**30:.1f} GiB; the limit is "
                           f"{MAX_EXPANDED_BYTES / 2**30:.0f} GiB")


def _read_manifest(zf: zipfile.ZipFile) -> dict:
    _check_entries(zf)
    try:
        info = zf.getinfo(_MANIFEST)
    except KeyError:
        raise InvalidInput("not a patient archive (no manifest.json)") from None
    if info.file_size > _MAX_MANIFEST:
        raise InvalidInput("archive manifest is too large")
    try:
        manifest = json.loads(zf.read(info).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError, RecursionError,
            RuntimeError, NotImplementedError):
        raise InvalidInput("archive manifest is damaged (not valid JSON)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput("not a skin-progress patient archive")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(
            f"archive format version {manifest.get('format_version')!r} is not supported "
            f"(this version reads {FORMAT_VERSION})"
        )
    return manifest


def _read_photo(zf: zipfile.ZipFile, name: Any) -> tuple[str, bytes]:
    """(sha256, bytes) of a photo entry, checked against the sha256 in its name."""
    m = _FILE_RE.match(name if isinstance(name, str) else "")
    if not m:
        raise InvalidInput(f"archive: bad photo file name {name!r}")
    try:
        zi = zf.getinfo(name)
    except KeyError:
        raise InvalidInput(f"archive: photo file {name} is missing") from None
    if zi.file_size > DEFAULT_MAX_BYTES:
        raise InvalidInput(f"archive: photo file {name} is too large")
    try:
        data = zf.read(zi)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
        raise InvalidInput(f"archive: photo file {name} is damaged") from None
    if hashlib.sha256(data).hexdigest() != m.group(1):
        raise InvalidInput(f"archive: photo file {name} is damaged (checksum mismatch)")
    return m.group(1), data


def _capture_conditions(value: Any, ref: int) -> dict | None:
    from analyzer.conditions import conditions_from
    from analyzer.errors import UsageError

    try:
        c = conditions_from(value)
    except UsageError as exc:
        raise InvalidInput(f"archive: photo {ref}: {exc}") from None
    return c.to_dict() if c is not None else None


def _prekeep_check(value: Any, ref: int) -> dict | None:
    if value is None:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("ok"), bool) and isinstance(value.get("verdict"), str)):
        raise InvalidInput(f"archive: photo {ref}: the check before keeping is not readable")
    return v.json_value(dict(value), f"archive: photo {ref}: the check before keeping")


def _reference_patch(value: Any, ref: int, width: int, height: int) -> dict | None:
    """A photo's marked reference patch (absent in archives written before schema 0003)."""
    try:
        return v.reference_patch(value, width=width, height=height)
    except InvalidInput as exc:
        raise InvalidInput(f"archive: photo {ref}: {exc}") from None


def import_archive(store, src, *, code: str | None = None, clinic_id: int | None = None):
    """Check the whole archive, write its files, then insert every row in one transaction.

    Photos are read one at a time (twice: to check, then to store); only their small
    display copies are kept in memory.
    """
    with _open_archive(src) as zf:
        return _import(store, zf, code, clinic_id)


def _import(store, zf: zipfile.ZipFile, code: str | None, clinic_id: int | None = None):
    manifest = _read_manifest(zf)
    for key in ("patient", "series", "sessions", "photos", "analyses"):
        want = dict if key == "patient" else list
        if not isinstance(manifest.get(key), want):
            raise InvalidInput(f"archive manifest has no valid {key!r}")
    pm = manifest["patient"]
    pvals = store._patient_values({k: pm.get(k) for k in (
        "code", "display_name", "birth_year", "fitzpatrick", "consent_photos", "consent_reports",
        "notes", "screening", "is_demo")})
    if code is not None:
        pvals["code"] = v.patient_code(code)
    # An imported patient is a real patient: an archive can't make anyone a demo patient (demo
    # patients are readable without sign-in while the app runs in demo mode).
    pvals["is_demo"] = False
    pvals["created_at"] = _dt(pm.get("created_at"), "patient created_at", aware=True)

    series = _refs(manifest["series"], "series")
    sessions = _refs(manifest["sessions"], "session")
    photos = _refs(manifest["photos"], "photo")
    series_vals, session_vals, photo_vals, analysis_vals = {}, {}, {}, []
    derived: dict[str, tuple[bytes, str, int, int]] = {}
    files_seen: dict[str, tuple[str, int]] = {}
    for ref, it in series.items():
        series_vals[ref] = dict(
            name=v.text(it.get("name"), "series name"),
            body_area=v.text(it.get("body_area"), "body area", max_len=100, required=True),
            concerns=v.concerns(it.get("concerns") or []),
            regions=v.regions(it.get("regions") or []),
            notes=v.long_text(it.get("notes"), "notes"),
            created_at=_dt(it.get("created_at"), "series created_at", aware=True),
        )
        base = _ref(it.get("baseline_session"), sessions, "a series baseline", optional=True)
        if base is not None and sessions[base].get("series") != ref:
            raise InvalidInput(f"archive: series {ref} takes its baseline from another series")
        if base is not None and sessions[base].get("kind", "treatment") != "treatment":
            raise InvalidInput(f"archive: series {ref}: a recovery session can't be the baseline")
    for ref, it in sessions.items():
        _ref(it.get("series"), series, "a session")
        vals = store._session_values({k: it.get(k) for k in (
            "date", "device", "needle_depth_mm", "passes", "topical", "practitioner", "notes",
            "screening", "scar_grade")} | {"kind": it.get("kind", "treatment")})
        vals["created_at"] = _dt(it.get("created_at"), "session created_at", aware=True)
        parent = _ref(it.get("parent_session"), sessions, "a recovery session", optional=True)
        if (vals["kind"] == "recovery") != (parent is not None):
            raise InvalidInput(f"archive: session {ref} kind and parent don't match")
        if parent is not None and sessions[parent].get("series") != it.get("series"):
            raise InvalidInput(f"archive: session {ref} follows a session of another series")
        if not _YEARS[0] <= vals["date"].year <= _YEARS[1]:
            raise InvalidInput(f"archive: session {ref} date {vals['date'].isoformat()} is not a possible date")
        session_vals[ref] = vals
    for ref, it in sessions.items():  # the store's recovery rule: 0-7 days after a treatment session
        parent = it.get("parent_session")
        if parent is None:
            continue
        if sessions[parent].get("kind", "treatment") != "treatment":
            raise InvalidInput(f"archive: session {ref}: a recovery session must follow a treatment session")
        days = (session_vals[ref]["date"] - session_vals[parent]["date"]).days
        if not 0 <= days <= v.RECOVERY_MAX_DAYS:
            raise InvalidInput(f"archive: session {ref}: recovery photos are taken 0-{v.RECOVERY_MAX_DAYS} "
                               f"days after the session, not {days}")
    for ref, it in photos.items():
        _ref(it.get("session"), sessions, "a photo")
        fname = v.filename(it.get("filename"))
        if not isinstance(it.get("file"), str):
            raise InvalidInput(f"archive: photo {ref} names no file")
        if it.get("file") in files_seen:
            sha, size = files_seen[it["file"]]
        else:
            sha, data = _read_photo(zf, it.get("file"))
            size = len(data)
            files_seen[it["file"]] = (sha, size)
        if sha not in derived:
            try:
                photo = load_photo(data, name=fname)
            except PhotoError as exc:
                raise InvalidInput(f"archive: {exc}") from None
            # Keep only the small display copy, not the decoded pixels.
            derived[sha] = (display_jpeg(photo.rgb), photo.format, photo.width, photo.height)
            del photo, data
        _disp, fmt, width, height = derived[sha]
        if it.get("sha256") != sha:
            raise InvalidInput(f"archive: photo {ref} checksum doesn't match its file")
        photo_vals[ref] = dict(
            view=v.view(it.get("view")), sha256=sha, filename=fname, format=fmt,
            size_bytes=size, capture_time=_dt(it.get("capture_time"), "capture time", aware=False),
            width=width, height=height,
            reference_patch=_reference_patch(it.get("reference_patch"), ref, width, height),
            capture_conditions=_capture_conditions(it.get("capture_conditions"), ref),
            prekeep_check=_prekeep_check(it.get("prekeep_check"), ref),
            # The stored name follows the decoded format, never the archive's file name.
            storage_key=original_key(sha, _EXT.get(fmt, "bin")),
            created_at=_dt(it.get("created_at"), "photo created_at", aware=True),
            _file=it["file"],
        )
    seen_views = set()
    for ref, pv in photo_vals.items():
        k = (photos[ref]["session"], pv["view"])
        if k in seen_views:
            raise InvalidInput(f"archive: two {pv['view']} photos in one session")
        seen_views.add(k)
    seen_keys = set()
    for it in manifest["analyses"]:
        if not isinstance(it, dict):
            raise InvalidInput("archive: bad analysis entry")
        _ref(it.get("photo"), photos, "an analysis")
        _ref(it.get("baseline_photo"), photos, "an analysis baseline", optional=True)
        result, transform = v.imported_analysis(it.get("result"), it.get("transform"),
                                                f"archive: analysis of photo {it['photo']}")
        vals = dict(
            photo=it["photo"], baseline_photo=it.get("baseline_photo"),
            analyzer_version=v.analyzer_version(it.get("analyzer_version")),
            region=v.region_name(it.get("region")),
            transform=transform, result=result,
            created_at=_dt(it.get("created_at"), "analysis created_at", aware=True),
        )
        key = (vals["photo"], vals["analyzer_version"], vals["region"])
        if key in seen_keys:
            raise InvalidInput("archive: an analysis appears twice")
        seen_keys.add(key)
        analysis_vals.append(vals)

    # Everything checked. Files first (durable), then all rows in one transaction.
    def tx(s):
        if store._code_taken(s, pvals["code"]):
            raise Conflict(
                f"a patient with code {pvals['code']!r} already exists; import under another code"
            )
        cid = default_clinic_id_in(s) if clinic_id is None else store._get(s, ClinicRow, clinic_id, "clinic").id
        prow = PatientRow(clinic_id=cid, **pvals)
        s.add(prow)
        s.flush()
        sid, ssid, pid = {}, {}, {}
        for ref in sorted(series_vals):
            row = SeriesRow(patient_id=prow.id, **series_vals[ref])
            s.add(row)
            s.flush()
            sid[ref] = row.id
        for ref in sorted(session_vals):
            row = SessionRow(series_id=sid[sessions[ref]["series"]], **session_vals[ref])
            s.add(row)
            s.flush()
            ssid[ref] = row.id
        for ref in sorted(session_vals):
            parent = sessions[ref].get("parent_session")
            if parent is not None:
                s.get(SessionRow, ssid[ref]).parent_session_id = ssid[parent]
        for ref in sorted(series_vals):
            base = series[ref].get("baseline_session")
            if base is not None:
                s.get(SeriesRow, sid[ref]).baseline_session_id = ssid[base]
        for ref in sorted(photo_vals):
            vals = {k: x for k, x in photo_vals[ref].items() if not k.startswith("_")}
            row = PhotoRow(session_id=ssid[photos[ref]["session"]], **vals)
            s.add(row)
            s.flush()
            pid[ref] = row.id
        for a in analysis_vals:
            s.add(AnalysisRow(
                photo_id=pid[a["photo"]],
                baseline_photo_id=pid[a["baseline_photo"]] if a["baseline_photo"] is not None else None,
                analyzer_version=a["analyzer_version"], region=a["region"], transform=a["transform"],
                result=a["result"], created_at=a["created_at"],
            ))
        s.flush()
        return _patient(prow)

    if store._read(lambda s: store._code_taken(s, pvals["code"])):
        raise Conflict(f"a patient with code {pvals['code']!r} already exists; import under another code")
    shas = sorted({pv["sha256"] for pv in photo_vals.values()})
    try:
        with store.files.shared_lock():
            done = set()
            for pv in photo_vals.values():
                if pv["sha256"] in done:
                    continue
                done.add(pv["sha256"])
                store.files.put(pv["storage_key"], _read_photo(zf, pv["_file"])[1], compare=True)
                store.files.put(derived_key(pv["sha256"]), derived[pv["sha256"]][0])
            return store._write_unique(tx, f"a patient with code {pvals['code']!r} already exists")
    except BaseException:
        store._remove_files_of(shas)
        raise


def manifest_of(src: Path | str | BinaryIO | bytes) -> dict:
    """The manifest of an archive (for tests and previews)."""
    if isinstance(src, bytes):
        src = io.BytesIO(src)
    with _open_archive(src) as zf:
        return _read_manifest(zf)


class PatientArchive:
    """Export and import of one patient's whole record (methods of :class:`analyzer.store.Store`)."""

    def export_patient(self, patient_id: int, out: Path | BinaryIO) -> None:
        """Write the patient's whole record as one zip (see :mod:`analyzer.store.archive`)."""
        export_patient(self, patient_id, out)

    def import_archive(self, src: Path | BinaryIO, *, code: str | None = None, clinic_id: int | None = None):
        """Import an exported patient with new ids into ``clinic_id`` (default: the default
        clinic). ``code`` renames the patient (needed when the archive's code is taken here:
        :class:`Conflict`)."""
        return import_archive(self, src, code=code, clinic_id=clinic_id)
