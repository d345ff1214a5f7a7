"""``series.json``: the manifest of a folder of sessions (the demo series' format, see
sample_images/). The one reader of it: the demo patient is seeded from it
(:func:`load_manifest`, with the session helpers) and a batch folder's optional manifest
names the patient and marks simulated sessions (:func:`read_manifest`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from analyzer.config import demo_dir
from analyzer.errors import PhotoError

#: Optional manifest in the batch folder (the demo series' format, see sample_images/).
MANIFEST_NAME = "series.json"


def read_manifest(folder: str | os.PathLike) -> tuple[dict, list[str]]:
    """Read the optional ``series.json`` of a batch folder.

    Recognised keys: ``patient.code``, ``patient.display_name``, ``series.name``,
    ``series.body_area`` and ``sessions[].folder`` with ``sessions[].simulated`` (a truthy
    value marks that session's photos as carrying a simulated change: every row, chart and
    table cell from them is labelled "simulated").

    Returns
    -------
    manifest : dict
        ``patient_code, patient_name, series_name, body_area, simulated`` ({folder: note}); only
        the keys found.
    notes : list of str
        One line per problem (an unreadable manifest is ignored, with a note).
    """
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        return {}, []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return {}, [f"{MANIFEST_NAME} ignored: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]
    out: dict[str, Any] = {}
    patient = doc.get("patient") if isinstance(doc.get("patient"), dict) else {}
    series = doc.get("series") if isinstance(doc.get("series"), dict) else {}
    for key, src, name in (("patient_code", patient, "code"), ("patient_name", patient, "display_name"),
                           ("series_name", series, "name"), ("body_area", series, "body_area")):
        if isinstance(src.get(name), str) and src[name].strip():
            out[key] = src[name].strip()
    sim: dict[str, str] = {}
    for s in doc.get("sessions") or []:
        if isinstance(s, dict) and s.get("simulated") and s.get("folder"):
            v = s["simulated"]
            sim[str(s["folder"])] = s.get("note") or (json.dumps(v) if not isinstance(v, str) else v)
    if sim:
        out["simulated"] = sim
    return out, []


def load_manifest(sample_dir: str | os.PathLike | None = None) -> dict:
    """``sample_images/series.json`` as a dict (raises PhotoError with one line when unusable)."""
    d = Path(sample_dir) if sample_dir else demo_dir()
    p = d / "series.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except OSError:
        raise PhotoError(f"{p}: the demo manifest is missing") from None
    except ValueError as exc:
        raise PhotoError(f"{p}: the demo manifest is not valid JSON ({exc})") from None


def session_date(v) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])


def simulated_text(sess: Mapping[str, Any]) -> str | None:
    """The words describing a session's simulated change in the manifest, or None for real photos."""
    sim = sess.get("simulated")
    if not sim:
        return None
    note = str(sess.get("note") or "")
    if note.upper().startswith("SIMULATED"):
        note = note.split(":", 1)[-1].strip()
    if note:
        return note
    if isinstance(sim, str):
        return sim
    if isinstance(sim, Mapping):
        return ", ".join(f"{k} {v}" for k, v in sim.items())
    return "simulated change"


def session_photos(sess: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(view, relative path) pairs of a manifest session (``{"front": "x.jpg"}`` or a list)."""
    ph = sess.get("photos") or {}
    if isinstance(ph, Mapping):
        return [(str(v), str(f)) for v, f in ph.items()]
    out = []
    for item in ph:
        if isinstance(item, str):
            out.append(("front", item))
        else:
            out.append((str(item.get("view") or "front"), str(item.get("file") or item.get("path"))))
    return out
