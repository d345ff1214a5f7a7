"""A Dask cluster to run on: one given by its scheduler's address, or a local one.

``dask.distributed`` (the ``cluster`` extra: ``pip install "skin-progress[cluster]"``) brings
the scheduler, the loss of a worker (its tasks run again elsewhere) and the progress of futures.
A local cluster runs worker *processes* (the analysis holds the GIL in places), one thread each
(the tasks set OpenCV's own threads to one: one process per core already). A script that
starts a local cluster needs an ``if __name__ == "__main__":`` guard: worker processes
re-import it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from analyzer.errors import UsageError


def default_workers() -> int:
    """All cores (``os.process_cpu_count`` when available, else ``os.cpu_count``)."""
    return max(1, int(getattr(os, "process_cpu_count", os.cpu_count)() or 1))


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UsageError('the Dask engine needs dask.distributed: pip install "skin-progress[cluster]"') from None
    return distributed


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """A ``distributed.Client``: connected to ``scheduler`` (``tcp://host:8786``), else to a
    new local cluster of ``workers`` processes (default: all cores), closed on exit."""
    distributed = _distributed()
    if workers is not None and int(workers) < 1:
        raise UsageError(f"--workers must be 1 or more (got {workers})")
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"can't reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster = distributed.LocalCluster(
        n_workers=int(workers or default_workers()), threads_per_worker=1, processes=True,
        dashboard_address=None, silence_logs=logging.ERROR)
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def wait_first(futures) -> set:
    """The futures of ``futures`` that are done, waiting for at least one."""
    return set(_distributed().wait(list(futures), return_when="FIRST_COMPLETED").done)


def as_completed(futures):
    """Iterate over ``futures`` as each completes (``distributed.as_completed``)."""
    return _distributed().as_completed(list(futures))
