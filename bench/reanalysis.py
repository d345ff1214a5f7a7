"""Re-analysis: every stored photo measured again on a Dask LocalCluster, 1 worker then 2.

A store (SQLite and the local photo folder, in ``bench/_work/reanalysis``) holds one series of
the bench's generated sessions (front view). :func:`analyzer.service.reanalysis.reanalyze` runs
it once per cluster size, each run under its own version label so both start from nothing; the
cluster is started before the clock (its start is reported apart). Also measured: the per-photo
CPU cost in this process (one OpenCV thread, as a worker), the client's write per photo, and the
bytes moved per photo (the original read by the worker, its result sent back and stored), which
the scaling model for N workers is built from (see the notes and bench/RESULTS.md).
"""

from __future__ import annotations

import json
import os
import shutil
import time

import cv2

from bench.common import Config, Section, Target
from bench.inputs import make_series

SPEEDUP_TARGET = 1.5  # the bench's own, as for the batch: 2 workers on 2 cores


def run(cfg: Config, sec: Section, extras: dict) -> None:
    import datetime as dt

    from analyzer import ANALYZER_VERSION
    from analyzer.cluster import dask_client
    from analyzer.service import reanalysis as ra
    from analyzer.service.analysis import compute_analysis
    from analyzer.store import Store

    folder = make_series(cfg.work / "inputs", sessions=cfg.series_sessions, views=("front",),
                         long_side=cfg.series_long_side)
    photos = sorted(folder.glob("*/front.jpg"))
    work = cfg.work / "reanalysis"
    shutil.rmtree(work, ignore_errors=True)
    store = Store(f"sqlite:///{work / 'db.sqlite3'}", data_dir=work, photo_store=str(work))
    p = store.create_patient("BENCH-1", "Bench", consent_photos=True)
    s = store.create_series(p.id, body_area="face", concerns=["redness"])
    for i, ph in enumerate(photos):
        sess = store.add_session(s.id, date=dt.date(2026, 1, 1) + dt.timedelta(days=7 * i))
        store.add_photo(sess.id, view="front", data=ph.read_bytes(), filename=ph.name)
    n = len(photos)
    orig_mb = sum(ph.stat().st_size for ph in photos) / n / 1e6

    # Per-photo CPU cost in this process, one OpenCV thread (a worker's setting), a follow-up.
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        ids = ra.photos_to_reanalyse(store, series_id=s.id)
        compute_analysis(store, ids[0])  # warm-up (models, caches)
        t0 = time.process_time()
        c = compute_analysis(store, ids[-1])
        cpu = time.process_time() - t0
    finally:
        cv2.setNumThreads(threads)
    result_kb = len(json.dumps(c.result)) / 1e3

    # The client's write per photo (save_computed), timed inside the runs.
    writes: list[float] = []
    real_save = ra.save_computed

    def timed_save(*a, **k):
        t = time.perf_counter()
        try:
            return real_save(*a, **k)
        finally:
            writes.append(time.perf_counter() - t)

    ra.save_computed = timed_save
    res = {}
    try:
        for workers in (1, cfg.parallel_workers):
            t0 = time.perf_counter()
            with dask_client(workers=workers) as client:
                start = time.perf_counter() - t0
                run_ = ra.reanalyze(store, client=client, series_id=s.id, version=f"{ANALYZER_VERSION}+w{workers}")
            res[workers] = {"seconds": run_.seconds, "start_s": start, "total": run_.total,
                            "failed": len(run_.failed), "written": run_.written}
    finally:
        ra.save_computed = real_save
    store.close()
    extras["reanalysis"] = res
    w1, w2 = res[1], res[cfg.parallel_workers]
    x1, x2 = w1["total"] / w1["seconds"], w2["total"] / w2["seconds"]
    write_ms = 1000 * sorted(writes)[len(writes) // 2] if writes else float("nan")
    sec.add("Re-analysis throughput, 1 worker", x1, "photos/s",
            note=f"{w1['total']} photos in {w1['seconds']:.1f} s ({w1['seconds'] / w1['total']:.2f} s per photo); "
            f"cluster start {w1['start_s']:.1f} s, not counted")
    sec.add(f"Re-analysis throughput, {cfg.parallel_workers} workers", x2, "photos/s",
            note=f"{w2['total']} photos in {w2['seconds']:.1f} s; cluster start {w2['start_s']:.1f} s, not counted")
    sec.add(f"Speed-up, {cfg.parallel_workers} workers vs 1", x2 / x1, "x",
            Target(">=", SPEEDUP_TARGET, f">= {SPEEDUP_TARGET:g} x (bench's own target)"),
            note=f"machine has {os.cpu_count()} cores; load average at the end {os.getloadavg()[0]:.1f}")
    sec.add("Per-photo CPU cost (compute_analysis of a follow-up, 1 OpenCV thread)", cpu, "s",
            note="process CPU time in the bench process: the c of the model below")
    sec.add("Client write per photo (save_computed: check + upsert)", write_ms, "ms",
            note=f"median of {len(writes)}; serial at the client: the ceiling 1/w of the model")
    sec.add("Data moved per photo", orig_mb + result_kb / 1e3, "MB",
            note=f"original read by the worker {orig_mb:.2f} MB (its baseline comes from the worker's cache), "
            f"result back to the client and into the database {result_kb:.0f} kB")
    sec.add("Photos that failed", w1["failed"] + w2["failed"], "", Target("==", 0, "0"))
    sec.notes.append(
        f"Photos: {n} sessions of the bench's generated series, front view, long side {cfg.series_long_side} px "
        f"(JPEG, {orig_mb:.2f} MB each). Model for N workers: throughput X(N) = min(N / c, B / d, 1 / w) with c the "
        "per-photo CPU cost, d the data moved per photo, B the store's bandwidth to the workers, w the client's write "
        "per photo. Here: N / c = "
        f"{1 / cpu:.2f} N photos/s, 1 / w = {1000 / write_ms:.0f} photos/s, and B / d = {100 / (orig_mb + result_kb / 1e3):.0f} "
        "photos/s at 100 MB/s.")
