"""Re-analysis on a Dask cluster: the same numbers as the serial run, nothing written twice, a
worker killed mid-run survived; and ``batch`` on the same engine.

One small series (the four lisa photos, 600x800: a baseline and three follow-ups) and one
2-worker LocalCluster (processes) shared by the module. Each run files its results under its
own version label (``<version>+serial``, ``+kill``...), so one store holds them side by side.
"""

from __future__ import annotations

import datetime as dt
import os
import signal

import cv2
import pytest
import sqlalchemy as sa

from analyzer import ANALYZER_VERSION
from analyzer.service.analysis import analyze_series
from analyzer.service.reanalysis import photos_to_reanalyse, reanalyze
from analyzer.store import Store
from analyzer.store.models import AnalysisRow
from analyzer.stored import ALL_REGIONS

SERIAL = f"{ANALYZER_VERSION}+serial"


@pytest.fixture(scope="module")
def series_store(tmp_path_factory, lisa_paths):
    d = tmp_path_factory.mktemp("reanalysis")
    store = Store(f"sqlite:///{d / 'db.sqlite3'}", data_dir=d / "data", photo_store=str(d / "data"))
    p = store.create_patient("P-1", "Lisa", consent_photos=True)
    s = store.create_series(p.id, body_area="face", concerns=["redness"])
    for i, path in enumerate(lisa_paths):
        sess = store.add_session(s.id, date=dt.date(2024, 1, 1) + dt.timedelta(days=28 * i))
        store.add_photo(sess.id, view="front", data=path.read_bytes(), filename=path.name)
    # The serial run, in this process, on one OpenCV thread as each worker runs (OpenCV's
    # threads change the order of its float sums: the 10th digit of the ECC correlation).
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        analyze_series(store, s.id, version=SERIAL)
    finally:
        cv2.setNumThreads(threads)
    serial = {a.photo_id: a.result for a in store.analyses_for_series(s.id, analyzer_version=SERIAL)}
    assert len(serial) == 4
    yield store, p.id, s.id, serial
    store.close()


@pytest.fixture(scope="module")
def client():
    from analyzer.cluster import dask_client

    with dask_client(workers=2) as c:
        yield c


def _rows(store: Store, version: str) -> list[tuple]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(AnalysisRow.photo_id, AnalysisRow.region)
                                 .where(AnalysisRow.analyzer_version == version)))


def _results(store: Store, series_id: int, version: str) -> dict:
    return {a.photo_id: a.result for a in store.analyses_for_series(series_id, analyzer_version=version)}


def test_two_workers_give_the_serial_numbers_and_a_second_run_does_nothing(series_store, client):
    store, patient_id, series_id, serial = series_store
    version = ANALYZER_VERSION
    assert len(photos_to_reanalyse(store, patient_id=patient_id, version=version)) == 4
    seen = []
    run = reanalyze(store, client=client, series_id=series_id, version=version,
                    progress=lambda f, text: seen.append((f, text)))
    assert (run.total, run.written, run.already, run.failed, run.workers) == (4, 4, 0, (), 2)
    assert _results(store, series_id, version) == serial  # the same numbers, to the last bit
    assert [round(f, 2) for f, _ in seen] == [0.25, 0.5, 0.75, 1.0] and "4/4 photos" in seen[-1][1]
    # Resumed or run again: nothing left to do, nothing written.
    again = reanalyze(store, client=client, patient_id=patient_id, version=version)
    assert (again.total, again.written) == (0, 0)
    assert sorted(_rows(store, version)) == sorted((pid, ALL_REGIONS) for pid in serial)


def test_a_worker_killed_mid_run_changes_nothing(series_store, client):
    store, _patient_id, series_id, serial = series_store
    version = f"{ANALYZER_VERSION}+kill"
    killed = []

    def kill_a_busy_worker(fraction, text):
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys]
        assert busy, "no task in flight to kill a worker under"
        pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    run = reanalyze(store, client=client, series_id=series_id, version=version, progress=kill_a_busy_worker)
    assert killed and run.failed == () and run.total == 4 and run.written + run.already == 4
    assert _results(store, series_id, version) == serial
    rows = _rows(store, version)
    assert len(rows) == len(set(rows)) == 4  # one row per photo: nothing written twice
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert os.getpid() not in killed


def test_reanalyze_command_line(series_store, tmp_path, capsys, monkeypatch):
    """The subcommand on a 1-worker local cluster: one photo whose analysis was dropped."""
    from analyzer.cli import main

    store, _pid, series_id, serial = series_store
    photo_id = max(serial)  # the last follow-up
    store.set_reference_patch(photo_id, {"x": 10, "y": 10, "w": 20, "h": 20})  # drops its analyses
    store.clear_reference_patch(photo_id)
    url = store.open_args()["url"]
    code = main(["reanalyze", "--database-url", url, "--data-dir", str(store.data_dir), "--patient", "P-1",
                 "--workers", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "re-analysed" in out and "reanalyze: " in err
    assert _results(store, series_id, ANALYZER_VERSION)[photo_id] == serial[photo_id]
    assert main(["reanalyze", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"]) == 2


def test_batch_on_the_dask_engine_gives_the_process_pool_numbers(tmp_path, lisa_paths):
    """``batch --engine dask`` (here a 1-worker local cluster) on a two-session folder."""
    from analyzer.batch import run_batch

    for i, path in enumerate(lisa_paths[:2]):
        d = tmp_path / "folder" / f"2024-0{i + 1}-01"
        d.mkdir(parents=True)
        (d / "front.jpg").write_bytes(path.read_bytes())
    serial = run_batch(tmp_path / "folder", workers=1, write=False)
    dask = run_batch(tmp_path / "folder", workers=1, engine="dask", write=False)
    assert serial.failures == dask.failures == [] and len(dask.rows) == len(serial.rows) > 0

    def values(rows):  # OpenCV's thread count moves the last digits only
        return [(r["session_date"], r["metric"], r["value"]) for r in rows]

    for (s1, m1, v1), (s2, m2, v2) in zip(values(serial.rows), values(dask.rows), strict=True):
        assert (s1, m1) == (s2, m2) and (v1 == v2 or (v1 is not None and v2 is not None and v1 == pytest.approx(v2, rel=1e-6, abs=1e-9)))
