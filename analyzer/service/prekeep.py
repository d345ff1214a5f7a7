"""Use case: check a candidate photo for a session's view before it is kept.

:func:`check_before_keep` loads the candidate bytes (an unusable file raises the loader's one-line
:class:`~analyzer.errors.PhotoError`; nothing is stored), finds the baseline photo of the same
view in the series, and runs :func:`analyzer.precheck.precheck` with the series' concerns. The
baseline's measure is cached per photo (by id and content hash), so a retake costs only the
candidate's own measure. Nothing here writes to the store.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from analyzer.io import load_photo
from analyzer.precheck import CaptureMeasure, Precheck, measure_capture, precheck

if TYPE_CHECKING:
    from analyzer.store import Store

_lock = threading.Lock()
_baselines: OrderedDict[tuple[int, str], CaptureMeasure] = OrderedDict()
_MAX_CACHED = 16


def baseline_photo_for(store: Store, session_id: int, view: str):
    """The baseline session's photo of ``view`` for the series of ``session_id``, or None (none
    yet, or the photo would itself be the baseline: the session is the baseline session)."""
    from analyzer.stored import baseline_session

    sess = store.get_session(session_id)
    base = baseline_session(store, sess.series_id)
    if base is None or base.id == session_id:
        return None
    return next((p for p in store.list_photos(base.id) if p.view == view), None)


def baseline_measure(store: Store, photo) -> CaptureMeasure:
    """:func:`measure_capture` of a stored photo, cached by (id, sha256)."""
    key = (photo.id, photo.sha256)
    with _lock:
        m = _baselines.get(key)
        if m is not None:
            _baselines.move_to_end(key)
            return m
    m = measure_capture(store.load_photo(photo.id).rgb)
    with _lock:
        _baselines[key] = m
        while len(_baselines) > _MAX_CACHED:
            _baselines.popitem(last=False)
    return m


def check_before_keep(store: Store, session_id: int, view: str, data: bytes, filename: str) -> Precheck:
    """The pre-keep verdict on candidate ``data`` for ``view`` of session ``session_id``.

    ``seconds`` of the result covers everything from the bytes to the verdict (decode, the
    baseline's measure when not cached, the candidate's measure and the comparison).
    """
    from dataclasses import replace

    t0 = time.perf_counter()
    photo = load_photo(data, name=filename)
    sess = store.get_session(session_id)
    series = store.get_series(sess.series_id)
    bphoto = baseline_photo_for(store, session_id, view)
    bm = baseline_measure(store, bphoto) if bphoto is not None else None
    r = precheck(photo.rgb, bm, concerns=series.concerns)
    return replace(r, seconds=time.perf_counter() - t0)
