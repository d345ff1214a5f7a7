"""Re-analysis: measure again every stored photo whose analysis is not of the current analyzer
version (or one patient's, or one series'), on a Dask cluster.

Results are keyed by analyzer version and never mixed, so an upgrade of the analyzer means every
photo is measured again. :func:`reanalyze` sends one task per photo to a Dask cluster (given by
its scheduler's address, else a local one): a worker opens the same store (database and photo
store, :meth:`Store.open_args`), reads the photo and its baseline and computes the analysis with
the same use case as the app (:func:`analyzer.service.analysis.compute_analysis`); the results
come back to this process, which writes each one as its future completes
(:func:`analyzer.service.analysis.save_computed`):

* **Idempotent.** A photo whose analysis of this version is current is not sent; a result that
  another process stored meanwhile is not written again; the store's unique key (photo, version,
  region) holds one row whatever happens.
* **A worker killed mid-run** loses only its tasks in flight: the scheduler runs them on another
  worker (Dask's own recovery); each result is written once, by this process.
* **Resumable.** Each result is stored as it arrives, so a run stopped half-way (Ctrl-C, a lost
  client) is resumed by running it again: only what is missing is computed.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analyzer import ANALYZER_VERSION
from analyzer.service.analysis import (
    Progress,
    _PhotoCache,
    compute_analysis,
    pending_photos,
    save_computed,
)

if TYPE_CHECKING:
    from analyzer.store import Store


@dataclass(frozen=True)
class ReanalysisRun:
    """What a re-analysis did."""

    total: int  #: photos sent (not current when the run started)
    written: int  #: results stored by this run
    already: int  #: found current on the worker or before writing (stored by someone else)
    failed: tuple[tuple[int, str], ...]  #: (photo id, one line) for each photo that could not be analysed
    seconds: float
    workers: int

    @property
    def photos_per_second(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else float("nan")


def photos_to_reanalyse(store: Store, *, patient_id: int | None = None, series_id: int | None = None,
                        version: str = ANALYZER_VERSION) -> list[int]:
    """Photo ids with a baseline to compare with but no current analysis of ``version``: every
    patient's, one patient's, or one series' (series first, then sessions by date)."""
    if series_id is not None:
        series_ids = [store.get_series(series_id).id]
    else:
        patients = [store.get_patient(patient_id)] if patient_id is not None else store.list_patients()
        series_ids = [s.id for p in patients for s in store.list_series(p.id)]
    return [pid for sid in series_ids for pid in pending_photos(store, sid, version=version)]


# ---------------------------------------------------------------- on the workers
_STORES: dict = {}
_CACHES: dict = {}
#: Photos a worker keeps decoded (a series' baseline is reused by its follow-ups).
_CACHE_PHOTOS = 6


def _worker_store(args: dict):
    key = tuple(sorted((k, str(v)) for k, v in args.items()))
    if key not in _STORES:
        from analyzer.store import Store

        _STORES[key] = Store(**args)
        _CACHES[key] = _PhotoCache(_STORES[key])
    cache = _CACHES[key]
    if len(cache.photos) >= _CACHE_PHOTOS:
        cache.photos.clear()
        cache.faces.clear()
    return _STORES[key], cache


def compute_task(store_args: dict, photo_id: int, version: str) -> dict:
    """One photo on a worker: ``{"photo_id", "computed": ComputedAnalysis | None, "error"}``.
    Never raises for a bad photo (the run goes on); a worker running another analyzer version
    refuses (its numbers would be filed under the wrong version)."""
    if version != ANALYZER_VERSION and not version.startswith(f"{ANALYZER_VERSION}+"):
        return {"photo_id": photo_id, "computed": None,
                "error": f"this worker runs analyzer {ANALYZER_VERSION}, not {version}: install the same version"}
    try:
        import cv2

        # One OpenCV thread per worker: one worker process per core already, and the numbers
        # are then the same bit for bit whatever the cluster's shape (OpenCV's thread count
        # changes the order of its float sums: the 10th digit of an alignment's correlation).
        cv2.setNumThreads(1)
        store, cache = _worker_store(store_args)
        return {"photo_id": photo_id, "computed": compute_analysis(store, photo_id, version=version, _cache=cache),
                "error": None}
    except Exception as exc:  # noqa: BLE001 - one line per photo; the run goes on
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"photo_id": photo_id, "computed": None, "error": text}


# ---------------------------------------------------------------- on the client
def reanalyze(store: Store, *, scheduler: str | None = None, workers: int | None = None,
              patient_id: int | None = None, series_id: int | None = None, version: str = ANALYZER_VERSION,
              progress: Progress | None = None, client=None) -> ReanalysisRun:
    """Re-analyse every photo not current at ``version`` (or one patient's, one series') on a
    Dask cluster: ``client`` (an open ``distributed.Client``), else the scheduler at
    ``scheduler``, else a local cluster of ``workers`` processes. ``progress(fraction, text)``
    after each photo. See the module docstring for what is promised."""
    from analyzer.cluster import as_completed, dask_client

    t0 = time.monotonic()
    ids = photos_to_reanalyse(store, patient_id=patient_id, series_id=series_id, version=version)
    if not ids:
        if progress:
            progress(1.0, "Every photo's analysis is current: nothing to do")
        return ReanalysisRun(0, 0, 0, (), time.monotonic() - t0, 0)
    args = store.open_args()
    written = already = 0
    failed: list[tuple[int, str]] = []
    ctx = contextlib.nullcontext(client) if client is not None else dask_client(scheduler, workers)
    with ctx as c:
        n_workers = len(c.scheduler_info().get("workers", {}))
        futures = {c.submit(compute_task, args, pid, version, pure=False, key=f"reanalyse-{version}-{pid}-{i}"): pid
                   for i, pid in enumerate(ids)}
        for done, fut in enumerate(as_completed(futures), start=1):
            pid = futures[fut]
            try:
                out = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: its task failed on too many workers
                out = {"computed": None, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
            fut.release()
            if out["error"]:
                failed.append((pid, out["error"]))
            elif out["computed"] is not None and save_computed(store, out["computed"]):
                written += 1
            else:
                already += 1
            if progress:
                rate = done / max(time.monotonic() - t0, 1e-9)
                progress(done / len(ids), f"{done}/{len(ids)} photos ({written} written, {already} already "
                                          f"current, {len(failed)} failed; {rate:.2f} photos/s)")
    return ReanalysisRun(len(ids), written, already, tuple(failed), time.monotonic() - t0, n_workers)
