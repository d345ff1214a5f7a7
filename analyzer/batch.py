"""Batch analysis of a folder of sessions: ``python -m analyzer batch FOLDER [--out DIR]``.

The folder holds one subfolder per session, named by date (``2026-01-15``, optionally
followed by text: ``2026-01-15_session2``) or, when not every name starts with a date,
ordered by name (natural order: ``s2`` before ``s10``). Each session folder holds photos
named by view: ``front.jpg``, ``left45.png``... The first session is the baseline.

Every photo is aligned to the first session's photo of the same view and measured over the
same pixels (:func:`analyzer.pipeline.compare`); each baseline is measured once on its own
(:func:`analyzer.pipeline.analyze_metrics`). Photos run in parallel worker processes. A bad
photo does not stop the run: it is listed at the end with its one-line error, and the exit
status is 1. The outputs are ``DIR/results.csv``, ``DIR/results.json`` (tidy rows, see
:mod:`analyzer.export`) and ``DIR/report.pdf`` (:mod:`analyzer.report`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.errors import SkinProgressError, UsageError
from analyzer.manifest import MANIFEST_NAME, read_manifest  # noqa: F401 - MANIFEST_NAME: batch's public name

#: Photo file suffixes a session folder is searched for (anything else is ignored).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic", ".heif")

#: Longest side of the images kept for the PDF (about 300 dpi at the report's print size).
REPORT_IMAGE_SIDE = 900

_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:$|[^0-9])")


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class BatchSession:
    """One session folder: its name, date (when the name starts with one) and photos by view.

    ``simulated`` is the manifest's description of an injected change (None for real photos).
    """

    index: int
    name: str
    date: str | None
    photos: Mapping[str, Path]
    simulated: str | None = None

    @property
    def label(self) -> str:
        """The date when known, else the folder name (the ``session_date`` column)."""
        return self.date or self.name


@dataclass(frozen=True)
class BatchFailure:
    """A photo that could not be analysed, with its one-line error."""

    session: str
    view: str
    file: str
    error: str

    def line(self) -> str:
        err = self.error
        if err.startswith(f"{self.file}: "):  # PhotoError messages start with the file name
            err = err[len(self.file) + 2 :]
        return f"FAILED {self.session}/{self.file}: {err}"


def _session_date(name: str) -> str | None:
    m = _DATE_RE.match(name)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def discover_sessions(folder: str | os.PathLike, *, exclude: Path | None = None) -> tuple[list[BatchSession], list[BatchFailure]]:
    """Find the session subfolders and their photos.

    Parameters
    ----------
    folder : path
        The batch folder.
    exclude : path, optional
        A folder to skip (the output folder when it sits inside ``folder``).

    Returns
    -------
    sessions : list of BatchSession
        In treatment order: by date when every subfolder name starts with a valid date,
        else by name in natural order. Index 0 is the baseline.
    problems : list of BatchFailure
        Files that can't be used as they are named (two photos of the same view in a session).

    Raises
    ------
    UsageError
        The folder is missing, not a folder, or holds no session subfolder with photos.
    """
    root = Path(folder)
    if not root.exists():
        raise UsageError(f"batch folder not found: {root}")
    if not root.is_dir():
        raise UsageError(f"batch: {root} is not a folder (give a folder with one subfolder per session)")
    ex = exclude.resolve() if exclude is not None else None
    subdirs = [
        d
        for d in root.iterdir()
        if d.is_dir() and not d.name.startswith((".", "_")) and (ex is None or d.resolve() != ex)
    ]
    problems: list[BatchFailure] = []
    found: list[tuple[str, str | None, dict[str, Path]]] = []
    for d in subdirs:
        photos: dict[str, Path] = {}
        for f in sorted(d.iterdir(), key=lambda p: p.name):
            if not f.is_file() or f.name.startswith(".") or f.suffix.lower() not in PHOTO_SUFFIXES:
                continue
            view = f.stem.strip().lower()
            if view in photos:
                problems.append(
                    BatchFailure(d.name, view, f.name, f"two photos of view {view!r} in this session "
                                 f"({photos[view].name} is used)")
                )
                continue
            photos[view] = f
        if photos:
            found.append((d.name, _session_date(d.name), photos))
    if not found:
        loose = [f.name for f in root.iterdir() if f.is_file() and f.suffix.lower() in PHOTO_SUFFIXES]
        if loose:
            raise UsageError(
                f"batch: {root} holds photos but no session subfolders; put each session's photos "
                f"in a subfolder named by date (e.g. 2026-01-15/{loose[0]})"
            )
        raise UsageError(
            f"batch: no session subfolders with photos in {root} "
            "(expected e.g. 2026-01-15/front.jpg, 2026-02-12/front.jpg)"
        )
    if all(dt is not None for _, dt, _ in found):
        found.sort(key=lambda t: (t[1], _natural_key(t[0])))
    else:
        found.sort(key=lambda t: _natural_key(t[0]))
    sessions = [BatchSession(i, n, dt, photos) for i, (n, dt, photos) in enumerate(found)]
    return sessions, problems


# --------------------------------------------------------------------------- workers


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SkinProgressError):
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return msg
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return f"internal error ({type(exc).__name__}{': ' + msg if msg else ''})"


def _thumbnail(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """uint8 copy with the longest side at most ``side``; returns (image, scale)."""
    import cv2

    from analyzer.io import to_uint8

    h, w = rgb.shape[:2]
    s = min(1.0, side / max(h, w))
    img = to_uint8(rgb)
    if s < 1.0:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return img, s


def _roi_from_text(text: str | None):
    if not text:
        return None
    from analyzer.regions import parse_roi

    return parse_roi(text)


def _rois(roi_text: str | None) -> dict[str, Any] | None:
    roi = _roi_from_text(roi_text)
    if roi is None:
        return None
    from analyzer.regions import roi_label

    return {roi_label(roi): roi}


def _init_worker() -> None:  # pragma: no cover - runs in worker processes
    try:
        import cv2

        cv2.setNumThreads(1)  # one process per core already
    except Exception:  # noqa: BLE001
        pass


def baseline_task(path: str, roi_text: str | None, image_side: int = REPORT_IMAGE_SIDE) -> dict:
    """Measure one baseline photo on its own (worker-process entry point; never raises).

    Returns ``{"ok": True, "result": PhotoMetrics.to_dict(), "face": Face|None, "image": uint8,
    "polygon": (N,2) in image pixels}`` or ``{"ok": False, "error": one line}``.
    """
    try:
        from analyzer.io import load_photo
        from analyzer.pipeline import analyze_metrics

        photo = load_photo(path)
        roi = _roi_from_text(roi_text)
        pm = analyze_metrics(photo, roi=roi)
        result = pm.to_dict()
        if roi is not None:
            from analyzer.regions import roi_label

            result["region"] = roi_label(roi)
        thumb, s = _thumbnail(photo.rgb, image_side)
        poly = None if pm.polygon is None else np.asarray(pm.polygon, np.float64) * s
        return {"ok": True, "result": result, "face": pm.face, "image": thumb, "polygon": poly}
    except Exception as exc:  # noqa: BLE001 - one line per photo; the batch goes on
        return {"ok": False, "error": _error_text(exc)}


def followup_task(
    baseline_path: str,
    path: str,
    roi_text: str | None,
    baseline_face=None,
    image_side: int = REPORT_IMAGE_SIDE,
) -> dict:
    """Align one follow-up photo to its baseline and measure both (worker entry point; never raises).

    Returns ``{"ok": True, "result": Comparison.to_dict(), "aligned": uint8 | None,
    "polygon": (N,2) in aligned-image pixels, "transform": 3x3 list}`` or ``{"ok": False, "error"}``.
    """
    try:
        from analyzer.io import load_photo
        from analyzer.pipeline import compare

        followup = load_photo(path)
        baseline = load_photo(baseline_path)
        comp = compare(baseline, followup, rois=_rois(roi_text), baseline_face=baseline_face, keep_aligned=True)
        result = comp.to_dict()
        aligned = poly = None
        if comp.aligned_rgb is not None:
            aligned, s = _thumbnail(comp.aligned_rgb, image_side)
            main = next(iter(comp.regions.values()))
            poly = np.asarray(main.polygon, np.float64) * s
        matrix = getattr(comp.alignment, "matrix", None)
        transform = None if matrix is None else np.asarray(matrix, np.float64).tolist()
        return {"ok": True, "result": result, "aligned": aligned, "polygon": poly, "transform": transform}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": _error_text(exc)}


# --------------------------------------------------------------------------- run


@dataclass(frozen=True)
class BatchPhoto:
    """One analysed photo of the batch."""

    session: BatchSession
    view: str
    path: Path
    is_baseline: bool
    result: Mapping[str, Any] = field(repr=False)
    transform: list | None = field(default=None, repr=False)


@dataclass(frozen=True)
class BatchResult:
    """What a batch run produced.

    Attributes
    ----------
    folder : Path
    sessions : list of BatchSession
    photos : list of BatchPhoto
        Every photo analysed, in session then view order.
    failures : list of BatchFailure
        Every photo that could not be analysed, with its error.
    rows : list of dict
        Tidy rows (:data:`analyzer.export.TIDY_COLUMNS`).
    report : analyzer.report.ReportData or None
        What the PDF was built from.
    outputs : dict of str to Path
        ``csv``, ``json``, ``pdf`` when written.
    seconds : float
        Wall time of the analysis (not counting writing).
    workers : int
    """

    folder: Path
    sessions: list[BatchSession]
    photos: list[BatchPhoto]
    failures: list[BatchFailure]
    rows: list[dict] = field(repr=False)
    report: Any = field(default=None, repr=False)
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    workers: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.total = total
        self.done = 0
        self.t0 = time.monotonic()

    def start(self) -> None:
        if self.enabled:
            self.stream.write(f"\r[{'.' * 24}] 0/{self.total} photos  starting...".ljust(110))
            self.stream.flush()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 24
        fill = round(width * self.done / self.total)
        el = time.monotonic() - self.t0
        eta = el / self.done * (self.total - self.done)
        line = f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} photos  ETA {eta:4.0f}s  {label}"
        self.stream.write(line[:110].ljust(110))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 110 + "\r")
            self.stream.flush()


@contextlib.contextmanager
def _executor(n_workers: int, engine: str, scheduler: str | None):
    """``(submit(fn, *args) -> future, wait_done(futures) -> the done ones)`` on this machine's
    process pool, or on a Dask cluster (the re-analysis engine, :mod:`analyzer.cluster`)."""
    if engine == "dask":
        from analyzer.cluster import dask_client, wait_first

        with dask_client(scheduler, None if scheduler else n_workers) as client:
            yield (lambda fn, *a: client.submit(fn, *a, pure=False)), wait_first
        return
    ctx = multiprocessing.get_context("spawn")  # fork after OpenCV/dlib threads can deadlock
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_init_worker) as pool:
        yield pool.submit, (lambda fs: wait(fs, return_when=FIRST_COMPLETED)[0])


def default_workers() -> int:
    """All cores (``os.process_cpu_count`` when available, else ``os.cpu_count``)."""
    n = getattr(os, "process_cpu_count", os.cpu_count)() or 1
    return max(1, int(n))


def run_batch(
    folder: str | os.PathLike,
    *,
    out_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    roi: str | None = None,
    progress: bool = False,
    patient_code: str | None = None,
    write: bool = True,
    on_photo: Callable[[str], None] | None = None,
    engine: str = "processes",
    scheduler: str | None = None,
) -> BatchResult:
    """Analyse a folder of sessions; write the CSV, JSON and PDF.

    Parameters
    ----------
    folder : path
        One subfolder per session, photos named by view (see the module docstring).
    out_dir : path, optional
        Where to write ``results.csv``, ``results.json`` and ``report.pdf``. Default: a
        sibling folder ``<FOLDER>-analysis``.
    workers : int, optional
        Worker processes (default: all cores). ``1`` runs in this process.
    roi : str, optional
        ``X,Y,W,H`` on the baseline photos (or a face region name); default the face area.
    progress : bool
        Draw a progress bar on stderr (only when it is a terminal).
    patient_code : str, optional
        Code printed on the report and in the rows (default: the folder's name).
    write : bool
        Write the output files (False: return the results only).
    engine : str
        ``"processes"`` (this machine's process pool) or ``"dask"``: the re-analysis engine, a
        Dask cluster (:mod:`analyzer.cluster`), local with ``workers`` processes or the one at
        ``scheduler`` (its workers must see the folder at the same path).

    Returns
    -------
    BatchResult
        ``failures`` lists every photo that could not be analysed; the others are in ``rows``.

    Raises
    ------
    UsageError
        A missing or empty folder, or a malformed ``roi``.
    """
    root = Path(folder)
    out = Path(out_dir) if out_dir is not None else root.parent / f"{root.name}-analysis"
    if roi:
        _roi_from_text(roi)  # a malformed --roi is a usage error before any work
    if workers is not None and int(workers) < 1:
        raise UsageError(f"--workers must be 1 or more (got {workers})")
    if engine not in ("processes", "dask"):
        raise UsageError(f"--engine must be processes or dask (got {engine!r})")
    if scheduler and engine != "dask":
        raise UsageError("--scheduler needs --engine dask")
    sessions, failures = discover_sessions(root, exclude=out)
    manifest, notes = read_manifest(root)
    if manifest.get("simulated"):
        sim = manifest["simulated"]
        sessions = [dataclasses.replace(s, simulated=sim.get(s.name)) for s in sessions]
    code = patient_code or manifest.get("patient_code") or root.resolve().name
    series_name = manifest.get("series_name") or root.resolve().name
    n_workers = int(workers) if workers else default_workers()

    views: list[str] = []
    for s in sessions:
        for v in s.photos:
            if v not in views:
                views.append(v)
    baseline_of: dict[str, tuple[BatchSession, Path]] = {}
    for v in views:
        first = next(s for s in sessions if v in s.photos)
        baseline_of[v] = (first, first.photos[v])
    total = sum(len(s.photos) for s in sessions)
    n_workers = max(1, min(n_workers, total))  # no idle worker processes to start
    bar = _Progress(total, progress and sys.stderr.isatty())

    photos: list[BatchPhoto] = []
    images: dict[str, dict] = {}  # view -> {"baseline": out, "latest": (session, out)}
    t0 = time.monotonic()

    failed_baselines: set[str] = set()

    def follow_of(view: str) -> list[tuple[BatchSession, Path]]:
        s, _ = baseline_of[view]
        return [(s2, s2.photos[view]) for s2 in sessions if s2.index > s.index and view in s2.photos]

    def tick(label: str) -> None:
        bar.step(label)
        if on_photo:
            on_photo(label)

    def handle_baseline(view: str, res: dict) -> None:
        s, p = baseline_of[view]
        if not res["ok"]:
            failures.append(BatchFailure(s.name, view, p.name, res["error"]))
            failed_baselines.add(view)
            return
        photos.append(BatchPhoto(s, view, p, True, res["result"]))
        images.setdefault(view, {})["baseline"] = (s, res)

    def handle_followup(view: str, s2: BatchSession, p2: Path, res: dict) -> None:
        if view in failed_baselines:
            s, p = baseline_of[view]
            failures.append(BatchFailure(s2.name, view, p2.name, f"not analysed: its baseline {s.name}/{p.name} failed"))
            return
        if not res["ok"]:
            failures.append(BatchFailure(s2.name, view, p2.name, res["error"]))
            return
        photos.append(BatchPhoto(s2, view, p2, False, res["result"], res.get("transform")))
        im = images.setdefault(view, {})
        if im.get("latest") is None or im["latest"][0].index < s2.index:
            im["latest"] = (s2, res)
        if res.get("aligned") is not None and (im.get("shown") is None or im["shown"][0].index < s2.index):
            im["shown"] = (s2, res)  # the latest photo that could be aligned: the one the report shows
        else:
            res.pop("aligned", None)  # not shown: don't keep its pixels

    bar.start()
    try:
        if n_workers == 1 and engine != "dask":
            for v in views:
                s, p = baseline_of[v]
                res = baseline_task(str(p), roi)
                tick(f"{s.name}/{p.name}")
                handle_baseline(v, res)
                for s2, p2 in follow_of(v):
                    if v in failed_baselines:
                        res2 = {"ok": False, "error": "baseline failed"}
                    else:
                        res2 = followup_task(str(p), str(p2), roi, res.get("face"))
                    tick(f"{s2.name}/{p2.name}")
                    handle_followup(v, s2, p2, res2)
        else:
            # The baselines are submitted first; a view's follow-ups as soon as its baseline is
            # measured, with the baseline's face (as the serial run does: no follow-up detects
            # the baseline's face again). A failed baseline's follow-ups are not run.
            done_follow: list[tuple] = []
            with _executor(n_workers, engine, scheduler) as (submit, wait_done):
                pending: dict[Future, tuple] = {}
                for v in views:
                    s, p = baseline_of[v]
                    pending[submit(baseline_task, str(p), roi)] = ("baseline", v, s, p)
                while pending:
                    done = wait_done(pending)
                    for fut in done:
                        kind, v, s2, p2 = pending.pop(fut)
                        try:
                            res = fut.result()
                        except Exception as exc:  # noqa: BLE001 - a worker died (killed, out of memory...)
                            res = {"ok": False, "error": _error_text(exc)}
                        tick(f"{s2.name}/{p2.name}")
                        if kind == "baseline":
                            handle_baseline(v, res)
                            for s3, p3 in follow_of(v):
                                if v in failed_baselines:
                                    done_follow.append((v, s3, p3, {"ok": False, "error": "baseline failed"}))
                                    tick(f"{s3.name}/{p3.name}")
                                else:
                                    fut3 = submit(followup_task, str(baseline_of[v][1]), str(p3), roi,
                                                       res.get("face"))
                                    pending[fut3] = ("followup", v, s3, p3)
                        else:
                            done_follow.append((v, s2, p2, res))
            # Follow-ups are handled once every baseline's outcome is known.
            for v, s2, p2, res in done_follow:
                handle_followup(v, s2, p2, res)
    finally:
        bar.close()
    seconds = time.monotonic() - t0

    photos.sort(key=lambda b: (b.session.index, views.index(b.view)))
    failures.sort(key=lambda f: (_natural_key(f.session), f.view))
    rows = rows_for_batch(photos, patient_code=code, series=series_name)

    from analyzer.report import ReportData, ViewImages

    view_images = []
    for v in views:
        im = images.get(v, {})
        if "baseline" not in im:
            continue
        bs, bres = im["baseline"]
        latest, shown = im.get("latest"), im.get("shown")
        align = None
        latest_img = None
        latest_label = ""
        poly = bres.get("polygon")
        note = ""
        if shown is not None:
            ss, sres = shown
            align = sres["result"].get("alignment")
            latest_label = ss.label
            latest_img = sres["aligned"]
            poly = sres.get("polygon") if sres.get("polygon") is not None else poly
        if latest is not None and (shown is None or shown[0].index != latest[0].index):
            ls, lres = latest
            why = str((lres["result"].get("alignment") or {}).get("reason") or "refused")
            note = f"The latest photo ({ls.label}) could not be aligned to the baseline: {why}."
            if shown is not None:
                note += f" Shown: the latest photo that could ({shown[0].label})."
            else:
                align = lres["result"].get("alignment")
        view_images.append(
            ViewImages(
                view=v,
                baseline=bres["image"],
                latest=latest_img,
                polygon=poly,
                baseline_label=bs.label,
                latest_label=latest_label,
                alignment=align,
                note=note,
            )
        )
    dates = tuple(s.label for s in sessions)
    report = ReportData(
        patient_code=code,
        patient_name=manifest.get("patient_name", ""),
        body_area=manifest.get("body_area", ""),
        series_name=series_name,
        dates=dates,
        views=tuple(view_images),
        rows=tuple(rows),
        failures=tuple(f.line() for f in failures),
    )
    result = BatchResult(root, sessions, photos, failures, rows, report, {}, seconds, n_workers, notes)
    if write:
        result.outputs.update(write_batch_outputs(result, out))
    return result


def rows_for_batch(photos: list[BatchPhoto], *, patient_code: str, series: str) -> list[dict]:
    """Tidy rows for the analysed photos of a batch (the same builder as the store export)."""
    from analyzer.export import AnalysisEntry, tidy_rows

    entries = [
        AnalysisEntry(b.session.label, b.session.index, b.view, b.result, is_baseline=b.is_baseline,
                      simulated=bool(b.session.simulated))
        for b in photos
    ]
    return tidy_rows(entries, patient_code=patient_code, series=series)


def batch_json_extra(result: BatchResult) -> dict:
    """The JSON document's keys beside ``rows``: source folder, sessions, photos, failures."""
    base = {b.view: b for b in result.photos if b.is_baseline}
    photos = []
    for b in result.photos:
        r = b.result
        bl = base.get(b.view)
        photos.append(
            {
                "session": b.session.name,
                "session_date": b.session.label,
                "session_index": b.session.index,
                "view": b.view,
                "file": f"{b.session.name}/{b.path.name}",
                "baseline_file": None if b.is_baseline or bl is None else f"{bl.session.name}/{bl.path.name}",
                "transform": b.transform,
                "alignment": None if b.is_baseline else r.get("alignment"),
                "polygon": _polygon_of(r),
            }
        )
    return {
        "source": {
            "folder": str(result.folder.resolve()),
            "sessions": [{"index": s.index, "name": s.name, "date": s.date, "simulated": s.simulated}
                         for s in result.sessions],
        },
        "photos": photos,
        "failures": [
            {"session": f.session, "view": f.view, "file": f"{f.session}/{f.file}", "error": f.error}
            for f in result.failures
        ],
    }


def _polygon_of(result: Mapping[str, Any]) -> list | None:
    regions = result.get("regions")
    if isinstance(regions, Mapping) and regions:
        name = result.get("region") or next(iter(regions))
        poly = (regions.get(name) or {}).get("polygon")
        return poly
    poly = result.get("polygon")
    if poly is None and isinstance(result.get("scale"), Mapping):
        poly = result["scale"].get("region_polygon")  # PhotoMetrics.to_dict() keeps it here
    if poly is None:
        return None
    return np.asarray(poly, float).round(2).tolist()


def write_batch_outputs(result: BatchResult, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``results.csv``, ``results.json`` and ``report.pdf`` into ``out_dir``."""
    from analyzer.export import _atomic_write, write_exports
    from analyzer.report import build_report

    out = Path(out_dir)
    csv_path, json_path = write_exports(result.rows, out, extra=batch_json_extra(result))
    outputs = {"csv": csv_path, "json": json_path}
    if result.report is not None and result.report.views:
        pdf_path = out / "report.pdf"
        _atomic_write(pdf_path, build_report(result.report))
        outputs["pdf"] = pdf_path
    return outputs


# --------------------------------------------------------------------------- CLI


__all__ = [
    "PHOTO_SUFFIXES",
    "BatchFailure",
    "BatchPhoto",
    "BatchResult",
    "BatchSession",
    "discover_sessions",
    "run_batch",
]
