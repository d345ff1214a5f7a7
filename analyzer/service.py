"""The app's one entry point into analyzer: glue between the store and the pipeline.

Pages call these functions and render what comes back; nothing here imports streamlit, and
nothing here caches across calls (the pages cache). What the functions do:

- :func:`open_store` opens the store (database URL from the environment, else the settings file
  in the data folder, else embedded SQLite in the data folder).
- :func:`ensure_demo` seeds the demo patient from ``sample_images/series.json`` when the
  database has no patients, and analyses it.
- :func:`analyze_session` / :func:`analyze_series` compare each photo with the baseline
  session's photo of the same view, for every region of the series, and store the results
  (keyed by analyzer version and region). A stored result is never recomputed.
- :func:`progress_table` builds the tidy long table behind the progress charts, and
  :func:`summary_cards` turns it into plain-language sentences.
- :func:`review_images` rebuilds the aligned follow-up and the change maps from a stored
  analysis (for the review page's overlays and heat maps).

Every warning that makes a number less trustworthy is returned in plain words with its remedy.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from analyzer import ANALYZER_VERSION
from analyzer.consent import consent_problem, require_consent  # noqa: F401 - part of this API
from analyzer.errors import PhotoError, UsageError

#: Progress callback: fraction done in [0, 1] and a short text.
Progress = Callable[[float, str], None]

REPO_DIR = Path(__file__).resolve().parents[1]
#: Where the demo patient comes from (override with SKIN_PROGRESS_SAMPLE_DIR).
SAMPLE_DIR = REPO_DIR / "sample_images"


def demo_dir() -> Path:
    """The demo folder: ``$SKIN_PROGRESS_SAMPLE_DIR``, else ``sample_images/`` in the repository."""
    return Path(os.environ.get("SKIN_PROGRESS_SAMPLE_DIR") or SAMPLE_DIR)
SETTINGS_FILE = "settings.json"
DEFAULT_REGION = "face"
SIMULATED_TAG = "[simulated]"

# ---------------------------------------------------------------------------------------------
# Metric catalogue: what each metric is called and means, in words a patient understands.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricInfo:
    """How a metric is named and explained to people."""

    key: str  # "group.name", e.g. "redness.a_star_mean"
    label: str  # short, for chart titles and sentences ("redness")
    explanation: str  # one or two friendly sentences for the patient view
    lower_is_better: bool | None = True  # None: neither direction is "better"

    @property
    def group(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


METRICS: dict[str, MetricInfo] = {
    m.key: m
    for m in [
        MetricInfo("redness.a_star_mean", "redness",
                   "How red the skin looks on average (the a* colour value). Lower means calmer, less red skin."),
        MetricInfo("redness.erythema_index_mean", "erythema index",
                   "A dermatology measure of redness from blood under the skin. Lower means less redness."),
        MetricInfo("redness.red_area_fraction", "red area",
                   "The share of the area that is noticeably redder than the rest. Lower means fewer red patches."),
        MetricInfo("pigmentation.L_star_mean", "brightness",
                   "How light the skin looks (the L* lightness value). Higher means brighter skin.",
                   lower_is_better=False),
        MetricInfo("pigmentation.ita_deg_mean", "skin tone angle (ITA)",
                   "The individual typology angle: a standard number for how light or tanned skin is.",
                   lower_is_better=None),
        MetricInfo("pigmentation.melanin_index_mean", "pigmentation",
                   "How much brown pigment (melanin) the skin shows. Lower means lighter, more even pigment."),
        MetricInfo("pigmentation.spot_area_fraction", "dark-spot area",
                   "The share of the area covered by spots darker than the surrounding skin. Lower is better."),
        MetricInfo("pigmentation.spot_count", "dark spots",
                   "How many distinct dark spots were found. Lower is better."),
        MetricInfo("pigmentation.tone_unevenness", "tone unevenness",
                   "How blotchy the skin tone is. Lower means a more even tone."),
        MetricInfo("redness.a_star_reference_balanced", "redness against untreated skin",
                   "How red the skin looks next to untreated skin in the same photo (the forehead, unless "
                   "another area was chosen), so a change of light cancels out. Lower means less red."),
        MetricInfo("redness.a_star_vs_reference", "redness difference to untreated skin",
                   "The a* redness of this area minus that of untreated skin in the same photo. Lower means "
                   "less red than the untreated skin."),
        MetricInfo("redness.erythema_index_vs_reference", "erythema index against untreated skin",
                   "The erythema index of this area minus that of untreated skin in the same photo. Lower "
                   "means less redness."),
        MetricInfo("pigmentation.L_star_vs_reference", "brightness against untreated skin",
                   "How light this area is compared with untreated skin in the same photo. Higher means "
                   "brighter.", lower_is_better=False),
        MetricInfo("pigmentation.melanin_index_vs_reference", "pigmentation against untreated skin",
                   "The melanin index of this area minus that of untreated skin in the same photo. Lower "
                   "means lighter pigment."),
        MetricInfo("texture.roughness", "texture roughness",
                   "How much fine relief (pores, lines, scars) the skin shows. Lower means smoother skin."),
        MetricInfo("texture.pore_density", "pore density",
                   "How many visible pores there are per unit of skin. Lower is better."),
        MetricInfo("texture.wrinkle_density", "fine lines",
                   "How much of the area shows fine lines and wrinkles. Lower is better."),
        MetricInfo("texture.glcm_contrast", "texture contrast",
                   "A texture statistic: how much neighbouring points differ. Lower means smoother skin."),
        MetricInfo("texture.glcm_homogeneity", "texture evenness",
                   "A texture statistic: how alike neighbouring points are. Higher means smoother skin.",
                   lower_is_better=False),
    ]
}
#: The metrics shown first (one per concern).
#: Redness against untreated skin in the same photo leads: it needs no colour chart, so it can be
#: compared across sessions where the absolute a* (next, hollow and grey without a chart) can't.
KEY_METRICS = ("redness.a_star_reference_balanced", "redness.a_star_mean", "pigmentation.melanin_index_mean",
               "texture.roughness")
METRIC_GROUPS = ("redness", "pigmentation", "texture")


def metric_info(key: str) -> MetricInfo:
    """The catalogue entry of ``key`` (a fallback entry for a metric not in the catalogue)."""
    if key in METRICS:
        return METRICS[key]
    from analyzer.concerns import measure_label

    lab = measure_label(key)  # a concern measure ("number of scars" ...)
    if lab != key:
        return MetricInfo(key, lab, f"The {lab} measurement (docs/concerns.md).", None)
    name = key.split(".", 1)[-1].replace("_", " ")
    return MetricInfo(key, name, f"The {name} measurement.", None)


def region_label(name: str) -> str:
    """``left_cheek`` (image left) → ``Patient's right cheek`` (analyzer.regions.region_label)."""
    from analyzer.regions import region_label as _label

    return "Face" if name == DEFAULT_REGION else _label(name)


# ---------------------------------------------------------------------------------------------
# Store and settings
# ---------------------------------------------------------------------------------------------


def read_settings(data_dir: str | os.PathLike) -> dict:
    """The settings file in the data folder (``{}`` when there is none or it is unreadable)."""
    p = Path(data_dir) / SETTINGS_FILE
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def write_settings(data_dir: str | os.PathLike, **values: Any) -> Path:
    """Merge ``values`` into the settings file in the data folder (``None`` removes a key)."""
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    cur = read_settings(d)
    for k, v in values.items():
        if v is None or v == "":
            cur.pop(k, None)
        else:
            cur[k] = v
    p = d / SETTINGS_FILE
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(cur, indent=2), encoding="utf-8")
    tmp.replace(p)
    return p


@dataclass(frozen=True)
class StoreLocation:
    """Where the data lives, and which setting chose it."""

    data_dir: Path
    database_url: str
    source: Literal["environment", "settings file", "default", "argument"]


def store_location(*, url: str | None = None, data_dir: str | os.PathLike | None = None) -> StoreLocation:
    """Resolve the data folder and database URL the app will use.

    The database URL comes from, in order: ``url``, the environment variable
    ``SKIN_PROGRESS_DATABASE_URL``, ``database_url`` in ``<data folder>/settings.json``, and
    finally embedded SQLite in the data folder.
    """
    from analyzer.store import default_data_dir, default_database_url

    ddir = Path(data_dir) if data_dir is not None else Path(default_data_dir())
    if url:
        return StoreLocation(ddir, url, "argument")
    if os.environ.get("SKIN_PROGRESS_DATABASE_URL"):
        return StoreLocation(ddir, os.environ["SKIN_PROGRESS_DATABASE_URL"], "environment")
    s = read_settings(ddir).get("database_url")
    if s:
        return StoreLocation(ddir, str(s), "settings file")
    if data_dir is None:
        return StoreLocation(ddir, default_database_url(), "default")
    return StoreLocation(ddir, f"sqlite:///{(ddir / 'skin-progress.sqlite3').resolve()}", "default")


def open_store(*, url: str | None = None, data_dir: str | os.PathLike | None = None):
    """Open the store at :func:`store_location` (creating the SQLite file on first use)."""
    from analyzer.store import Store

    loc = store_location(url=url, data_dir=data_dir)
    loc.data_dir.mkdir(parents=True, exist_ok=True)
    return Store(url=loc.database_url, data_dir=loc.data_dir)


def check_database(url: str, data_dir: str | os.PathLike) -> str:
    """Open the database at ``url`` as the app would (connect, bring its tables up to date) and
    close it again: a URL is saved only once this works. Returns its description (no password);
    raises a one-line SkinProgressError when it can't be opened."""
    from analyzer.store import Store

    st = Store(url=url, data_dir=Path(data_dir), new_database_ok=True)  # chosen on purpose
    try:
        return st.describe()
    finally:
        st.close()


# ---------------------------------------------------------------------------------------------
# Regions of a series
# ---------------------------------------------------------------------------------------------


def region_to_roi(spec: Mapping[str, Any]):
    """A stored region dict → ``(name, ROI | None)``.

    ``{"kind": "named", "name": "left_cheek"}``, ``{"kind": "rect", "name": .., "x", "y", "w", "h"}``,
    ``{"kind": "face"}`` (the whole face area).
    """
    from analyzer.regions import FACE_REGIONS, NamedROI, RectROI

    kind = spec.get("kind", "named")
    if kind == "face":
        return spec.get("name") or DEFAULT_REGION, None
    if kind == "named":
        name = str(spec.get("name", ""))
        if name == DEFAULT_REGION:
            return name, None
        if name not in FACE_REGIONS:
            raise UsageError(f"unknown face region {name!r}; allowed: " + ", ".join(FACE_REGIONS))
        return name, NamedROI(name)
    if kind == "rect":
        x, y, w, h = (float(spec[k]) for k in ("x", "y", "w", "h"))
        if w <= 0 or h <= 0 or x < 0 or y < 0:
            raise UsageError("a rectangle needs x, y ≥ 0 and a width and height above 0")
        name = str(spec.get("name") or f"rect {x:g},{y:g} {w:g}x{h:g}")
        return name, RectROI(x, y, w, h)
    raise UsageError(f"unknown region kind {kind!r}; allowed: face, named, rect")


def series_rois(series) -> dict[str, Any]:
    """The regions a series is measured on, name → ROI (``None`` = whole face). Always has ``face``."""
    rois: dict[str, Any] = {DEFAULT_REGION: None}
    for spec in series.regions or []:
        try:
            name, roi = region_to_roi(spec)
        except (UsageError, KeyError, TypeError, ValueError):
            continue
        rois[name] = roi
    return rois


def add_region(store, series_id: int, spec: Mapping[str, Any]) -> str:
    """Add (or replace, by name) a region of the series; returns its name. Nothing is analysed here."""
    name, _ = region_to_roi(spec)
    if name == DEFAULT_REGION:
        return name
    series = store.get_series(series_id)
    keep = [r for r in (series.regions or []) if region_to_roi_name(r) != name]
    store.set_regions(series_id, keep + [dict(spec, name=name)])
    return name


def remove_region(store, series_id: int, name: str) -> None:
    """Stop measuring a region (its stored analyses stay in the database)."""
    series = store.get_series(series_id)
    store.set_regions(series_id, [r for r in (series.regions or []) if region_to_roi_name(r) != name])


def region_to_roi_name(spec: Mapping[str, Any]) -> str:
    try:
        return region_to_roi(spec)[0]
    except (UsageError, KeyError, TypeError, ValueError):
        return str(spec.get("name", ""))


def create_patient_with_series(store, *, code: str, display_name: str, body_area: str = "face",
                               concerns: Iterable[str] = (), series_name: str = "", **patient_fields):
    """Create a patient and their first treatment series; both or neither (returns both records)."""
    from analyzer.store import StoreError

    code = (code or "").strip()
    display_name = (display_name or "").strip()
    if not code:
        raise UsageError("the patient code is empty; give a short code such as P-0042")
    if not display_name:
        raise UsageError("the display name is empty")
    patient = store.create_patient(code, display_name, **patient_fields)
    try:
        series = store.create_series(patient.id, body_area=body_area, concerns=list(concerns),
                                     name=series_name or "")
    except StoreError:
        store.delete_patient(patient.id)
        raise
    return patient, series


# ---------------------------------------------------------------------------------------------
# Consent: photos are stored, and reports made, only with the patient's matching consent
# ---------------------------------------------------------------------------------------------

# consent_problem / require_consent live in analyzer.consent (the report refuses too).


def _patient_of_session(store, session_id: int) -> int:
    return store.get_series(store.get_session(session_id).series_id).patient_id


def add_session_with_photos(store, series_id: int, *, date, photos: Iterable[tuple[str, bytes, str]] = (),
                            **session_fields):
    """Add a session, then its photos ``(view, data, filename)``.

    Returns ``(session, added photo records, errors)``. A photo that can't be used is reported
    in ``errors`` (one line each) and nothing is stored for it; the session itself is kept.
    The first session of a series becomes its baseline. Photos of a patient without photo
    consent are refused before anything is stored (UsageError).
    """
    photos = list(photos)
    if photos:
        require_consent(store, store.get_series(series_id).patient_id, "photos")
    rec = store.add_session(series_id, date=date, **session_fields)
    if store.get_series(series_id).baseline_session_id is None:
        store.set_baseline_session(series_id, rec.id)
    added, errors = add_photos(store, rec.id, photos)
    return rec, added, errors


def assign_views(filenames: Sequence[str], chosen: str, views: Sequence[str]) -> list[str]:
    """The view of each uploaded file, in order. One file: ``chosen``. Several: a file whose name
    names a view ("…left45…") gets it; the others get ``chosen`` first, then the remaining
    ``views`` in their order.

    >>> assign_views(["a.jpg", "b.jpg"], "left45", ["front", "left45", "right45"])
    ['left45', 'front']
    >>> assign_views(["x_right45.jpg", "y.jpg"], "front", ["front", "left45", "right45"])
    ['right45', 'front']
    """
    if len(filenames) == 1:
        return [chosen]
    named: list[str | None] = []
    for name in filenames:
        low = name.lower()
        hit = next((v for v in sorted(views, key=len, reverse=True) if v.lower() in low), None)
        named.append(hit if hit not in named else None)
    free = [v for v in [chosen, *views] if v not in named]
    free = list(dict.fromkeys(free))
    out = []
    for n in named:
        out.append(n if n is not None else (free.pop(0) if free else chosen))
    return out


def add_photos(store, session_id: int, photos: Iterable[tuple[str, bytes, str]], *, replace: bool = False):
    """Store uploaded photos ``(view, data, filename)``: returns (added records, one-line errors).

    Refused as a whole (UsageError, nothing stored) when the patient gave no photo consent.
    """
    from analyzer.store import StoreError

    photos = list(photos)
    if photos:
        require_consent(store, _patient_of_session(store, session_id), "photos")
    added, errors = [], []
    for view, data, filename in photos:
        try:
            added.append(store.add_photo(session_id, view=view, data=data, filename=filename, replace=replace))
        except (PhotoError, StoreError) as exc:
            errors.append(str(exc))
    return added, errors


# ---------------------------------------------------------------------------------------------
# Sessions: labels, simulated changes
# ---------------------------------------------------------------------------------------------


def simulated_note(session) -> str | None:
    """The simulated change recorded on a session (demo data), or None for real photos."""
    notes = session.notes or ""
    i = notes.find(SIMULATED_TAG)
    if i < 0:
        return None
    return notes[i + len(SIMULATED_TAG):].strip(" :\n") or "simulated change"


def treatment_text(session) -> str:
    """One line with the session's treatment parameters (empty for a baseline visit with none)."""
    parts = []
    if session.device:
        parts.append(session.device)
    if session.needle_depth_mm is not None:
        parts.append(f"{session.needle_depth_mm:g} mm")
    if session.passes is not None:
        parts.append(f"{session.passes} passes")
    if session.topical:
        parts.append(session.topical)
    if session.practitioner:
        parts.append(f"by {session.practitioner}")
    return ", ".join(parts)


def session_label(session, index: int | None = None, *, baseline_id: int | None = None) -> str:
    """``Session 2 · 2026-02-01 · treatment`` (+ ``baseline`` / ``simulated``)."""
    bits = [f"Session {index}" if index is not None else "Session", session.date.isoformat(), session.kind]
    if baseline_id is not None and session.id == baseline_id:
        bits.append("baseline")
    if simulated_note(session):
        bits.append("simulated")
    return " · ".join(bits)


def baseline_session(store, series_id: int):
    """The series' baseline session: the one marked, else the earliest; None when there is none."""
    b = store.baseline_session(series_id)
    if b is not None:
        return b
    sessions = store.list_sessions(series_id)
    return min(sessions, key=lambda s: (s.date, s.id)) if sessions else None


# ---------------------------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------------------------

Remedy = Literal["retake", "mark_reference", "upload_baseline", "check_patient", "none"]


@dataclass(frozen=True)
class Caveat:
    """Something that makes a photo's numbers less trustworthy, in plain words."""

    kind: str  # alignment, blur, highlights, lighting, calibration, face, baseline, other
    message: str
    remedy: Remedy = "retake"

    @property
    def remedy_text(self) -> str:
        return {
            "retake": "Retake the photo: same pose, distance and light as the baseline.",
            "mark_reference": "Retake with the colour chart in frame, or mark a neutral reference patch "
                              "(grey card, white headband) on the photo.",
            "upload_baseline": "Upload a photo of this view to the baseline session.",
            "check_patient": "This looks like another person: check the patient. If the photo belongs to "
                             "someone else, delete it here and upload it to the right patient.",
            "none": "",
        }[self.remedy]


@dataclass(frozen=True)
class PhotoAnalysis:
    """The outcome of analysing one photo (all regions of its series)."""

    photo_id: int
    session_id: int
    view: str
    filename: str
    baseline_photo_id: int | None
    regions: tuple[str, ...]
    aligned: bool | None  # None: the photo is the baseline itself or had no baseline
    caveats: tuple[Caveat, ...] = ()
    computed: bool = True  # False: everything came from the store
    #: How this photo's colours were calibrated: "colorchecker", "reference-patch", "none";
    #: None when not measured (not analysed yet, or the alignment was refused).
    calibration: str | None = None

    @property
    def ok(self) -> bool:
        return self.baseline_photo_id is not None and self.aligned is not False


def _classify(msg: str) -> tuple[str, Remedy]:
    m = msg.lower()
    if "chart" in m or "calibrat" in m or "reference patch" in m:
        return "calibration", "mark_reference"
    if "blur" in m or "sharp" in m or "focus" in m:
        return "blur", "retake"
    if "underexpos" in m or "shadow" in m:
        return "shadows", "retake"
    if "clip" in m or "highlight" in m or "overexpos" in m or "saturat" in m:
        return "highlights", "retake"
    if "light" in m or "exposure" in m or "white balance" in m or "illumin" in m:
        return "lighting", "retake"
    if "face" in m:
        return "face", "retake"
    return "other", "retake"


def caveats_from_result(result: Mapping[str, Any] | None) -> list[Caveat]:
    """The plain-words caveats of one stored analysis result (the follow-up side)."""
    if not result:
        return []
    out: list[Caveat] = []
    al = result.get("alignment") or {}
    if al and al.get("ok") is False:
        reason = al.get("reason") or result.get("reason") or "the photos could not be matched"
        if "different person" in str(reason).lower():  # align.py's identity check
            out.append(Caveat("identity", "This looks like another person than in the baseline photo. "
                              "This photo is left out of the charts.", "check_patient"))
        else:
            out.append(Caveat("alignment", f"Alignment refused: {reason}. This photo is left out of the charts.",
                              "retake"))
    side = result.get("followup") or result.get("baseline") or {}
    q = side.get("quality") or {}
    for w in q.get("warnings") or []:
        kind, remedy = _classify(str(w))
        out.append(Caveat(kind, str(w)[:1].upper() + str(w)[1:], remedy))
    if q.get("lighting_differs") and not any(c.kind == "lighting" for c in out):
        out.append(Caveat("lighting", "The lighting differs from the baseline photo.", "retake"))
    cal = side.get("calibration") or {}
    if isinstance(cal, Mapping) and not any(c.kind == "calibration" for c in out):
        found = cal.get("chart_found", cal.get("found", cal.get("ok")))
        if found is False or cal.get("method") in ("none", "uncalibrated"):
            out.append(Caveat("calibration",
                              "No colour chart found: colours are compared without calibration.",
                              "mark_reference"))
    seen, uniq = set(), []
    for c in out:
        if c.message not in seen:
            seen.add(c.message)
            uniq.append(c)
    return uniq


def _transform_list(alignment) -> list | None:
    m = getattr(alignment, "matrix", None)
    if m is None:
        return None
    return np.asarray(m, dtype=float).round(8).tolist()


def _strip_regions(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "regions"}


class _PhotoCache:
    """Loaded photos and detected faces within one analysis run (baselines are reused)."""

    def __init__(self, store):
        self.store = store
        self.photos: dict[int, Any] = {}
        self.faces: dict[int, Any] = {}

    def photo(self, pid: int):
        if pid not in self.photos:
            self.photos[pid] = self.store.load_photo(pid)
        return self.photos[pid]

    def face(self, pid: int):
        if pid not in self.faces:
            from analyzer.face import detect_face

            self.faces[pid] = detect_face(self.photo(pid).rgb)
        return self.faces[pid]


def _baseline_self_result(results: Mapping[str, Any], photo, *, failed: Mapping[str, str]) -> dict:
    """The stored result for a baseline photo measured on its own (it is its own reference).

    Shaped like ``Comparison.to_dict()`` (``regions`` per name; the photo's metrics are its
    ``baseline`` side) so that the export and the charts read both kinds the same way.
    """
    regions = {}
    for name, pm in results.items():
        metrics = {k: v for k, v in pm.to_dict().items() if k not in ("image", "region", "analyzer_version")}
        regions[name] = {
            "region": name,
            "polygon": None if pm.polygon is None else np.asarray(pm.polygon, float).round(2).tolist(),
            "baseline": metrics, "followup": None, "change": None, "reason": None,
        }
    main = next(iter(regions.values()), None)
    return {
        "image": {"baseline": photo.size, "followup": photo.size},
        "alignment": {"ok": True, "method": "identity (the baseline photo itself)", "confidence": 1.0,
                      "reason": None},
        "region": main["region"] if main else DEFAULT_REGION,
        "baseline": main["baseline"] if main else None,
        "followup": None,
        "change": None,
        "reason": None,
        "regions": regions,
        "failed_regions": dict(failed),
        "is_baseline": True,
        "analyzer_version": ANALYZER_VERSION,
    }


#: The store's region key for a photo's analysis: one record per photo holds every region.
ALL_REGIONS = ""


# ---- concern measures (analyzer.concerns), merged into the stored region results ----------------


def measured_concerns(concerns: Iterable[str]) -> list[str]:
    """The series' concerns that have a measure of their own (analyzer.concerns.CONCERNS), in order."""
    from analyzer.concerns import CONCERNS, normalize_concern

    out = []
    for c in concerns or ():
        try:
            n = normalize_concern(c)
        except UsageError:
            continue
        if n in CONCERNS and n not in out:
            out.append(n)
    return out


def _merge_metrics(side: dict | None, extra: Mapping[str, Any]) -> None:
    """Merge ``analyzer.concerns.to_metrics_dict`` output into a stored metrics dict, group by
    group (the ``redness`` concern adds ``cheeks_nose.*`` keys next to the general redness keys)."""
    if side is None:
        return
    for g, d in extra.items():
        cur = side.get(g)
        if not isinstance(cur, dict):
            cur = side[g] = {}
        cur.update(d)


def _with_grade(measures: dict, grade: int | None) -> dict:
    """The baseline side of a comparison carries the *baseline* session's scar grade."""
    key = "acne_scars.clinician_grade"
    m = measures.get(key)
    if m is None or grade is None:
        return measures
    import dataclasses

    return {**measures, key: dataclasses.replace(m, value=float(grade), reason=None)}


def _concerns_of_comparison(res: dict, comp, concerns: list[str], *, face, scar_grade, base_grade) -> None:
    """Concern measures of a follow-up and its baseline over the same skin, into ``res``."""
    from analyzer.concerns import measure_comparison, to_metrics_dict

    cm = measure_comparison(comp, concerns, face=face, scar_grade=scar_grade)
    for name, part in (res.get("regions") or {}).items():
        got = cm.get(name)
        if not got:
            continue
        _merge_metrics(part.get("baseline"), to_metrics_dict(_with_grade(got["baseline"], base_grade)))
        if got.get("followup") is not None:
            _merge_metrics(part.get("followup"), to_metrics_dict(got["followup"]))


def _concerns_of_baseline(res: dict, results: Mapping[str, Any], photo, concerns: list[str], *, face,
                          scar_grade) -> None:
    """Concern measures of a baseline photo measured on its own (same masks and scale as in a
    comparison: region polygon & skin, eye-distance scale of the face, its own calibration)."""
    from analyzer.calibrate import apply_calibration
    from analyzer.concerns import Scale, measure_concerns, to_metrics_dict
    from analyzer.regions import polygon_mask, skin_mask

    shape = photo.rgb.shape[:2]
    sc = Scale.from_face(face) if face is not None else None
    for name, pm in results.items():
        part = (res.get("regions") or {}).get(name)
        if part is None:
            continue
        reg = polygon_mask(pm.polygon, shape) if pm.polygon is not None else np.ones(shape, bool)
        mask = reg & skin_mask(photo.rgb, region=reg)
        rgb = apply_calibration(photo.rgb, pm.metrics.calibration)
        m = measure_concerns(concerns, rgb, mask=mask, scale=sc, face=face, scar_grade=scar_grade, region=name)
        _merge_metrics(part.get("baseline"), to_metrics_dict(m))


def _stored_regions(a) -> set[str]:
    if a is None:
        return set()
    res = a.result or {}
    return set((res.get("regions") or {}).keys()) | set((res.get("failed_regions") or {}).keys())


# ---- colour reference patch marked on a photo ---------------------------------------------------


def reference_roi(patch: Mapping[str, Any] | None):
    """A stored reference patch ``{"x", "y", "w", "h"}`` → :class:`analyzer.regions.RectROI` (None → None)."""
    if not patch:
        return None
    from analyzer.regions import RectROI

    return RectROI(*(float(patch[k]) for k in ("x", "y", "w", "h")))


def _patch_dict(roi) -> dict | None:
    """A RectROI, an (x, y, w, h) tuple or a dict → the stored form; None stays None."""
    if roi is None:
        return None
    if isinstance(roi, Mapping):
        return dict(roi)
    if all(hasattr(roi, k) for k in ("x", "y", "w", "h")):
        return {k: getattr(roi, k) for k in ("x", "y", "w", "h")}
    if isinstance(roi, tuple | list) and len(roi) == 4:
        return dict(zip(("x", "y", "w", "h"), roi, strict=True))
    raise UsageError("a reference patch is a rectangle x, y, w, h in photo pixels (RectROI)")


def _patches_of(bphoto, photo) -> tuple[dict | None, dict | None]:
    """(baseline's, this photo's) reference patch as stored; the baseline measured on its own
    uses only its own."""
    if bphoto.id == photo.id:
        return photo.reference_patch, None
    return bphoto.reference_patch, photo.reference_patch


def _stored_patches(stored) -> tuple[dict | None, dict | None]:
    """The reference patches a stored analysis was computed with (None, None before they existed)."""
    rp = (stored.result or {}).get("reference_patches") or {}
    return rp.get("baseline"), rp.get("followup")


def _usable_reference(photo, patch, side: str, errors: dict[str, str]):
    """The photo's marked patch as an ROI, or None (with the one-line reason in ``errors[side]``)
    when it can't be used (clipped, too small): the photo is then measured without it."""
    roi = reference_roi(patch)
    if roi is None:
        return None
    from analyzer.calibrate import reference_patch_lab

    try:
        reference_patch_lab(photo.rgb, roi)
    except UsageError as exc:
        errors[side] = str(exc)
        return None
    return roi


def set_reference_patch(store, photo_id: int, roi, *, user=None, analyze: bool = True,
                        progress: Progress | None = None) -> list[PhotoAnalysis]:
    """Mark (or, with ``roi=None``, clear) a neutral reference patch on a photo, then re-analyse.

    Parameters
    ----------
    store : analyzer.store.Store
    photo_id : int
    roi : RectROI, dict ``{"x", "y", "w", "h"}``, (x, y, w, h) or None
        A grey card, a white headband, a white-balance card: something neutral in the same
        light as the skin, in the photo's own upright full-resolution pixels. ``None`` clears.
    user : analyzer.auth.Principal, optional
        Who does it. When given, a patient is refused (:class:`analyzer.auth.AccessDenied`),
        a practitioner or the demo (demo patients only) must be allowed to see the patient
        (:func:`analyzer.auth.authorize`), and the change is written to the audit log as
        ``photo.reference_patch``.
    analyze : bool
        Re-analyse the photos whose numbers depend on it (this photo, and when it is a
        baseline photo, the follow-ups of its view) right away.

    Returns
    -------
    list of PhotoAnalysis
        The re-analysed photos, this photo first (empty with ``analyze=False``). When no
        ColorChecker is found, this photo's ``calibration`` is now ``"reference-patch"``.

    Raises
    ------
    UsageError or analyzer.store.InvalidInput
        One line, nothing stored: a patch outside the photo, of no size, too small (fewer
        than 9 pixels) or clipped (too bright or too dark to tell its colour).
    """
    from analyzer.store import InvalidInput

    patch = _patch_dict(roi)
    rec = store.get_photo(photo_id)
    sess = store.get_session(rec.session_id)
    series = store.get_series(sess.series_id)
    if user is not None:
        from analyzer import auth

        if not (user.is_practitioner or user.is_demo):
            raise auth.AccessDenied("only a practitioner can mark a reference patch")
        auth.authorize(user, series.patient_id, store)
    if patch is not None:
        from analyzer.store.validate import reference_patch as check_patch

        patch = check_patch(patch, width=rec.width, height=rec.height)  # one line, before loading pixels
        unusable: dict[str, str] = {}
        if _usable_reference(store.load_photo(photo_id), patch, "patch", unusable) is None:
            raise InvalidInput(unusable["patch"])
    before = rec.reference_patch
    rec = store.set_reference_patch(photo_id, patch)
    if user is not None and before != rec.reference_patch:
        from analyzer import auth

        what = "cleared" if patch is None else "x {x:g}, y {y:g}, {w:g} x {h:g}".format(**patch)
        auth.record_audit(store, user, "photo.reference_patch", series.patient_id,
                          detail=f"photo {photo_id}: {what}")
    if not analyze:
        return []
    ids = [photo_id]
    base = baseline_session(store, series.id)
    if base is not None and base.id == sess.id:  # a baseline photo: its follow-ups use it too
        for s in sorted(store.list_sessions(series.id), key=lambda s: (s.date, s.id)):
            ids.extend(p.id for p in store.list_photos(s.id) if p.view == rec.view and p.id != photo_id)
    return _analyze_photos(store, ids, progress=progress, force=False, version=ANALYZER_VERSION)


def analyze_photo(store, photo_id: int, *, force: bool = False, _cache: _PhotoCache | None = None,
                  version: str = ANALYZER_VERSION) -> PhotoAnalysis:
    """Analyse one photo against the baseline session's photo of the same view, for all regions.

    One analysis record per photo and analyzer version holds every region of the series. It
    is reused, never recomputed, unless a region was added since (or ``force``). A region that
    can't be placed on this photo (a named region with no face found) is reported as a caveat
    and the other regions are still measured. The baseline photo is measured on its own.
    """
    from analyzer.pipeline import analyze_metrics, compare

    cache = _cache or _PhotoCache(store)
    p = store.get_photo(photo_id)
    sess = store.get_session(p.session_id)
    series = store.get_series(sess.series_id)
    base = baseline_session(store, series.id)
    rois = series_rois(series)
    bphoto = None
    if base is not None:
        same_view = [bp for bp in store.list_photos(base.id) if bp.view == p.view]
        bphoto = same_view[0] if same_view else None
    if bphoto is None:
        return PhotoAnalysis(p.id, sess.id, p.view, p.filename, None, (), None,
                             (Caveat("baseline", f"No baseline photo of the {p.view} view to compare with.",
                                     "upload_baseline"),), computed=False)
    stored = store.get_analysis(p.id, analyzer_version=version, region=ALL_REGIONS)
    patches = _patches_of(bphoto, p)
    computed = False
    if (force or stored is None or stored.baseline_photo_id != bphoto.id or not set(rois) <= _stored_regions(stored)
            or _stored_patches(stored) != patches):
        computed = True
        sim = simulated_note(sess)
        concerns = measured_concerns(series.concerns)
        failed: dict[str, str] = {}
        patch_errors: dict[str, str] = {}
        if bphoto.id == p.id:
            photo = cache.photo(p.id)
            face = cache.face(p.id)
            ref = _usable_reference(photo, p.reference_patch, "baseline", patch_errors)
            results = {}
            for name, roi in rois.items():
                try:
                    results[name] = analyze_metrics(photo, roi=roi, face=face, reference=ref)
                except UsageError as exc:
                    failed[name] = str(exc)
            res = _baseline_self_result(results, photo, failed=failed)
            if concerns:
                _concerns_of_baseline(res, results, photo, concerns, face=face, scar_grade=sess.scar_grade)
            transform = np.eye(3).tolist()
        else:
            bl, fu = cache.photo(bphoto.id), cache.photo(p.id)
            bface = cache.face(bphoto.id)
            bref = _usable_reference(bl, bphoto.reference_patch, "baseline", patch_errors)
            fref = _usable_reference(fu, p.reference_patch, "followup", patch_errors)
            ok_rois = {}
            for name, roi in rois.items():
                if roi is not None and type(roi).__name__ == "NamedROI" and bface is None:
                    failed[name] = "no face found on the baseline photo, so a named region can't be placed"
                    continue
                if roi is not None:
                    from analyzer.regions import roi_polygon

                    try:  # one region that can't be placed on this baseline is reported on that region only
                        roi_polygon(roi, face=bface, shape=bl.rgb.shape[:2])
                    except UsageError:
                        h, w = bl.rgb.shape[:2]
                        failed[name] = (f"the region lies outside the baseline photo ({w}x{h} px, retaken "
                                        "smaller?): mark it again on the baseline")
                        continue
                ok_rois[name] = roi
            comp = compare(bl, fu, rois=ok_rois or {DEFAULT_REGION: None}, baseline_face=bface,
                           followup_face=cache.face(p.id), keep_aligned=bool(concerns),
                           baseline_reference=bref, followup_reference=fref)
            res = comp.to_dict(DEFAULT_REGION if DEFAULT_REGION in comp.regions else None)
            if concerns:  # the series' concern measures, over the same pixels as the metrics
                _concerns_of_comparison(res, comp, concerns, face=bface, scar_grade=sess.scar_grade,
                                        base_grade=base.scar_grade)
            res["failed_regions"] = failed
            transform = _transform_list(comp.alignment)
        res["reference_patches"] = {"baseline": patches[0], "followup": patches[1]}
        if patch_errors:
            res["reference_patch_errors"] = patch_errors
        if sim:
            res["simulated"] = True
            res["simulated_note"] = sim
        store.save_analysis(p.id, baseline_photo_id=bphoto.id, transform=transform, result=res,
                            analyzer_version=version, region=ALL_REGIONS)
        stored = store.get_analysis(p.id, analyzer_version=version, region=ALL_REGIONS)
    return _photo_analysis(p, sess.id, bphoto.id, stored, computed)


def _photo_analysis(p, session_id: int, bpid: int | None, stored, computed: bool) -> PhotoAnalysis:
    res = (stored.result if stored is not None else None) or {}
    caveats = caveats_from_result(res) if stored is not None else []
    own = "baseline" if bpid == p.id else "followup"
    why_patch = (res.get("reference_patch_errors") or {}).get(own)
    if why_patch:
        caveats.insert(0, Caveat("calibration", f"The marked reference patch was not used: {why_patch}.",
                                 "mark_reference"))
    for name, why in (res.get("failed_regions") or {}).items():
        caveats.append(Caveat("face", f"{region_label(name)} could not be measured: {why}.", "retake"))
    if bpid is None:
        caveats = [Caveat("baseline", f"No baseline photo of the {p.view} view to compare with.", "upload_baseline")]
    aligned = None
    if stored is not None and bpid != p.id:
        aligned = bool((res.get("alignment") or {}).get("ok", False))
    regions = tuple((res.get("regions") or {}).keys())
    cal = ((res.get(own) or {}).get("calibration") or {}) if stored is not None and bpid is not None else {}
    method = cal.get("method") if isinstance(cal, Mapping) else None
    return PhotoAnalysis(p.id, session_id, p.view, p.filename, bpid, regions, aligned, tuple(caveats), computed,
                         method if isinstance(method, str) else None)


def _session_order(store, session_id: int) -> list[int]:
    """The session's photo ids, baseline session's photos first when it is the baseline."""
    return [p.id for p in store.list_photos(session_id)]


def analyze_session(store, session_id: int, *, progress: Progress | None = None, force: bool = False,
                    version: str = ANALYZER_VERSION) -> list[PhotoAnalysis]:
    """Analyse every photo of a session against the baseline session (see :func:`analyze_photo`).

    ``progress(fraction, text)`` is called before each photo and once at the end.
    """
    return _analyze_photos(store, _session_order(store, session_id), progress=progress, force=force,
                           version=version)


def analyze_series(store, series_id: int, *, progress: Progress | None = None, force: bool = False,
                   version: str = ANALYZER_VERSION) -> list[PhotoAnalysis]:
    """Analyse every photo of every session of a series (stored results are reused)."""
    ids: list[int] = []
    for s in sorted(store.list_sessions(series_id), key=lambda s: (s.date, s.id)):
        ids.extend(_session_order(store, s.id))
    return _analyze_photos(store, ids, progress=progress, force=force, version=version)


def _analyze_photos(store, ids: list[int], *, progress, force, version) -> list[PhotoAnalysis]:
    cache = _PhotoCache(store)
    out = []
    n = max(len(ids), 1)
    for i, pid in enumerate(ids):
        if progress:
            p = store.get_photo(pid)
            progress(i / n, f"Analysing photo {i + 1} of {len(ids)} ({p.view}, {p.filename})")
        out.append(analyze_photo(store, pid, force=force, _cache=cache, version=version))
    if progress:
        progress(1.0, f"Analysed {len(ids)} photo{'s' if len(ids) != 1 else ''}")
    return out


def series_status(store, series_id: int, *, version: str = ANALYZER_VERSION) -> list[PhotoAnalysis]:
    """What is stored for each photo of the series, without computing anything."""
    base = baseline_session(store, series_id)
    bviews: dict[str, int] = {}
    if base is not None:
        for bp in store.list_photos(base.id):
            bviews.setdefault(bp.view, bp.id)
    out = []
    for s in sorted(store.list_sessions(series_id), key=lambda s: (s.date, s.id)):
        for p in store.list_photos(s.id):
            stored = store.get_analysis(p.id, analyzer_version=version, region=ALL_REGIONS)
            out.append(_photo_analysis(p, s.id, bviews.get(p.view), stored, False))
    return out


def region_outlines(store, series_id: int, view: str, *,
                    analyzer_version: str = ANALYZER_VERSION) -> dict[str, np.ndarray]:
    """Where each measured region lies on the baseline photo of ``view``: name → (N, 2) xy polygon.

    Read from the baseline photo's stored analysis (nothing is computed); empty when it has none.
    """
    base = baseline_session(store, series_id)
    if base is None:
        return {}
    bp = next((p for p in store.list_photos(base.id) if p.view == view), None)
    a = None if bp is None else store.get_analysis(bp.id, analyzer_version=analyzer_version, region=ALL_REGIONS)
    if a is None:
        return {}
    out = {}
    for name, part in ((a.result or {}).get("regions") or {}).items():
        poly = part.get("polygon")
        if poly:
            out[name] = np.asarray(poly, float)
    return out


def pending_photos(store, series_id: int, *, version: str = ANALYZER_VERSION) -> list[int]:
    """Photos of the series that have a baseline to compare with but no up-to-date analysis."""
    want = set(series_rois(store.get_series(series_id)))
    out = []
    for a in series_status(store, series_id, version=version):
        if a.baseline_photo_id is None:
            continue
        st = store.get_analysis(a.photo_id, analyzer_version=version, region=ALL_REGIONS)
        if st is None or st.baseline_photo_id != a.baseline_photo_id or not want <= _stored_regions(st):
            out.append(a.photo_id)
        elif _stored_patches(st) != _patches_of(store.get_photo(a.baseline_photo_id), store.get_photo(a.photo_id)):
            out.append(a.photo_id)
    return out


# ---------------------------------------------------------------------------------------------
# Progress table and summary cards
# ---------------------------------------------------------------------------------------------


def _measurement(side: Mapping[str, Any] | None, key: str) -> tuple[float | None, str, str | None]:
    """(value or None, unit, reason) of ``group.name`` in a metrics dict.

    Accepts both shapes: ``{"redness": {"a_star_mean": 12.3}, "meta": {"redness.a_star_mean":
    {"unit", "reason"}}}`` and ``{"redness": {"a_star_mean": {"value", "unit", "reason"}}}``.
    """
    if not side:
        return None, "", "not measured"
    group, name = key.split(".", 1)
    g = side.get(group)
    if not isinstance(g, Mapping) or name not in g:
        return None, "", "not measured"
    m = g.get(name)
    meta = (side.get("meta") or {}).get(key) or {}
    unit = meta.get("unit") or ""
    reason = meta.get("reason")
    if isinstance(m, Mapping):
        v = m.get("value")
        unit = m.get("unit") or unit
        reason = m.get("reason") or reason
    else:
        v = m
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        return None, unit, reason or "could not be computed"
    return float(v), unit, None


def _metric_keys(side: Mapping[str, Any] | None) -> list[str]:
    """``group.key`` of every metric in a stored side: the general groups, then the concern groups
    (analyzer.concerns.CONCERNS; the ``redness`` concern's keys sit in the ``redness`` group)."""
    from analyzer.concerns import CONCERNS

    keys = []
    for group in dict.fromkeys((*METRIC_GROUPS, *CONCERNS)):
        g = (side or {}).get(group)
        if isinstance(g, Mapping):
            keys.extend(f"{group}.{k}" for k in g)
    return keys


def noise_band_of(key: str) -> float | None:
    """The metric's repeatability (absolute units): analyzer.metrics, else analyzer.concerns
    (the concern measures' bands); None when unknown."""
    from analyzer.concerns import MEASURE_LABELS, NOISE_BANDS
    from analyzer.concerns import noise_band as concern_band

    if key in NOISE_BANDS or key in MEASURE_LABELS or key.count(".") > 1:  # a concern measure: its own band
        v = concern_band(key)
        return float(v) if math.isfinite(v) else None
    try:
        from analyzer.metrics import noise_band

        v = noise_band(key)
    except (ImportError, KeyError, ValueError, UsageError):
        return None
    return float(v) if v is not None and math.isfinite(float(v)) else None


def noise_band_basis(key: str) -> str | None:
    """Plain words on the repeat photos a metric's band was measured on (None when unknown)."""
    from analyzer.concerns import MEASURE_LABELS, NOISE_BANDS

    if key in NOISE_BANDS or key in MEASURE_LABELS or key.count(".") > 1:
        return ("95th percentile of |change| on real repeat photos within one studio-flash session "
                "(London neutral/smiling; docs/concerns.md)") if key in NOISE_BANDS else None
    from analyzer.metrics import noise_band_basis as metric_basis

    return metric_basis(key)


def progress_table(store, series_id: int, *, analyzer_version: str = ANALYZER_VERSION) -> list[dict]:
    """The tidy long table behind the progress charts: one row per photo, region and metric.

    Columns: patient, series_id, session_id, session_index, session_date (ISO), session_kind,
    is_baseline, treatment, simulated (text or None), photo_id, view, region, metric (``group.name``),
    group, label, value, unit, baseline_value, change, percent, noise_band, noise_band_percent,
    beyond_noise, reason, caveats (comma-separated caveat kinds of the follow-up photo: lighting,
    blur, highlights, shadows, calibration, alignment...), verdict (``baseline``, ``within_noise``,
    ``beyond_noise``, ``cant_tell``, ``missing``), verdict_reason (plain words when it can't be told:
    absolute colour without a colour reference, a resolution or blur mismatch, a refused alignment),
    noise_band_basis (which repeat photos the band comes from). ``value`` is None (never 0) when not
    computable; ``reason`` says why. ``beyond_noise`` is None whenever the verdict is not a comparison.

    Only stored analyses of ``analyzer_version`` are used, so a chart never mixes methods.
    """
    from analyzer.metrics import PERCENT_UNDEFINED_KEYS, stored_verdict

    series = store.get_series(series_id)
    patient = store.get_patient(series.patient_id)
    sessions = sorted(store.list_sessions(series_id), key=lambda s: (s.date, s.id))
    index = {s.id: i + 1 for i, s in enumerate(sessions)}
    by_id = {s.id: s for s in sessions}
    photos = {}
    for s in sessions:
        for p in store.list_photos(s.id):
            photos[p.id] = p
    wanted = set(series_rois(series))
    rows: list[dict] = []
    nb_cache: dict[str, float | None] = {}
    for a in store.analyses_for_series(series_id, analyzer_version=analyzer_version):
        p = photos.get(a.photo_id)
        if p is None or a.region != ALL_REGIONS:
            continue
        s = by_id[p.session_id]
        res = a.result or {}
        is_base = bool(res.get("is_baseline")) or (a.baseline_photo_id == a.photo_id)
        align_ok = (res.get("alignment") or {}).get("ok") is not False
        caveat_kinds = ",".join(sorted({c.kind for c in caveats_from_result(res)})) if not is_base else ""
        for region, part in (res.get("regions") or {}).items():
            if region not in wanted:
                continue
            bl_side = part.get("baseline")
            fu_side = bl_side if is_base else part.get("followup")
            refused = not align_ok or fu_side is None
            for key in _metric_keys(bl_side) or _metric_keys(fu_side):
                info = metric_info(key)
                bv, unit, breason = _measurement(bl_side, key)
                if refused:
                    v = None
                    reason = part.get("reason") or res.get("reason") or "alignment refused"
                else:
                    v, unit2, reason = _measurement(fu_side, key)
                    unit = unit or unit2
                if key not in nb_cache:
                    nb_cache[key] = noise_band_of(key)
                nb = nb_cache[key]
                entry = None if (is_base or not isinstance(part.get("change"), Mapping)) else part["change"].get(key)
                if isinstance(entry, Mapping) and entry.get("noise_band") is not None:
                    nb = float(entry["noise_band"])  # the band the verdict was made with
                no_pct = key.split(".")[-1] in PERCENT_UNDEFINED_KEYS
                chg = pct = None
                if v is not None and bv is not None:
                    chg = 0.0 if is_base else v - bv
                    pct = None if no_pct else (0.0 if is_base else (100.0 * chg / abs(bv) if bv != 0 else None))
                nbp = (100.0 * nb / abs(bv)) if (nb is not None and bv not in (None, 0) and not no_pct) else None
                beyond, verdict_reason = None, None
                if is_base:
                    verdict = "baseline"
                elif chg is None:
                    verdict, verdict_reason = "missing", reason
                else:
                    within, verdict_reason = stored_verdict(key, dict(entry) if isinstance(entry, Mapping) else None,
                                                            chg, nb, bl_side, fu_side)
                    beyond = None if within is None else not within
                    verdict = "cant_tell" if within is None else ("within_noise" if within else "beyond_noise")
                rows.append({
                    "patient": patient.code,
                    "series_id": series.id,
                    "session_id": s.id,
                    "session_index": index[s.id],
                    "session_date": s.date.isoformat(),
                    "session_kind": s.kind,
                    "is_baseline": is_base,
                    "treatment": treatment_text(s),
                    "simulated": simulated_note(s),
                    "photo_id": p.id,
                    "view": p.view,
                    "region": region,
                    "metric": key,
                    "group": info.group,
                    "label": info.label,
                    "value": v,
                    "unit": unit,
                    "baseline_value": bv,
                    "change": chg,
                    "percent": pct,
                    "noise_band": nb,
                    "noise_band_percent": nbp,
                    "beyond_noise": beyond,
                    "reason": reason,
                    "caveats": caveat_kinds,
                    "verdict": verdict,
                    "verdict_reason": verdict_reason,
                    "noise_band_basis": (entry.get("noise_band_basis") if isinstance(entry, Mapping) else None)
                    or (noise_band_basis(key) if nb is not None else None),
                })
    rows.sort(key=lambda r: (r["view"], r["region"], r["metric"], r["session_date"], r["session_id"], r["photo_id"]))
    return rows


@dataclass(frozen=True)
class SummaryCard:
    """One plain-language sentence about one metric in one region."""

    metric: str
    region: str
    view: str
    sentence: str
    percent: float | None
    noise_band_percent: float | None
    beyond_noise: bool | None
    improved: bool | None
    simulated: bool = False
    caution: str | None = None
    #: "within_noise", "beyond_noise" or "cant_tell" (then ``beyond_noise`` and ``improved`` are None)
    verdict: str | None = None


def summary_cards(rows: Iterable[Mapping[str, Any]], *, metrics: Iterable[str] = KEY_METRICS,
                  view: str | None = None, regions: Iterable[str] | None = None) -> list[SummaryCard]:
    """Plain-language summaries: the latest measured session against the first, per metric and region.

    Example: ``Left cheek redness down 18% since the first session, beyond the 4% noise band.``
    """
    rows = [r for r in rows if view is None or r["view"] == view]
    want_regions = None if regions is None else set(regions)
    cards: list[SummaryCard] = []
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        if r["metric"] in set(metrics) and (want_regions is None or r["region"] in want_regions):
            groups.setdefault((r["view"], r["region"], r["metric"]), []).append(r)
    order = {m: i for i, m in enumerate(metrics)}

    def latest(rs):
        m = [r for r in rs if not r["is_baseline"] and r.get("change") is not None]
        return max(m, key=lambda r: (r["session_date"], r["session_id"])) if m else None

    def cant_tell(rs) -> bool:  # the comparable measures lead
        last = latest(rs)
        return last is not None and last.get("verdict") == "cant_tell"

    for (v, region, key), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != DEFAULT_REGION,
                                                                      kv[0][1], cant_tell(kv[1]),
                                                                      order.get(kv[0][2], 99))):
        info = metric_info(key)
        subject = f"{region_label(region)} {info.label}"
        follow = [r for r in rs if not r["is_baseline"]]
        measured = [r for r in follow if r["percent"] is not None or r.get("change") is not None]
        if not follow:
            cards.append(SummaryCard(key, region, v, f"{subject}: baseline measured; no follow-up session yet.",
                                     None, None, None, None))
            continue
        if not measured:
            why = next((r["reason"] for r in follow if r["reason"]), "could not be measured")
            cards.append(SummaryCard(key, region, v, f"{subject}: no follow-up value yet ({why}).",
                                     None, None, None, None))
            continue
        last = max(measured, key=lambda r: (r["session_date"], r["session_id"]))
        sim = last["simulated"] is not None
        since = "since the first session"
        if last.get("verdict") == "cant_tell":
            why = str(last.get("verdict_reason") or "can't tell")
            why = why[len("can't tell: "):] if why.startswith("can't tell: ") else why
            text = f"{subject}: can't tell {since}: {why}"
            if sim:
                text += " (simulated change in demo photos)"
            cards.append(SummaryCard(key, region, v, text + ".", None, None, None, None, sim, None, "cant_tell"))
            continue
        pct = None if last["percent"] is None else float(last["percent"])
        chg = float(last["change"]) if last.get("change") is not None else 0.0
        signed = pct if pct is not None else chg
        direction = "down" if signed < 0 else "up"
        nbp = last["noise_band_percent"]
        nb = last.get("noise_band")
        beyond = last["beyond_noise"]
        unit = last.get("unit") or ""
        if pct is not None and abs(pct) < 0.5 or pct is None and chg == 0.0:
            text = f"{subject} unchanged {since}"
        elif pct is not None:
            text = f"{subject} {direction} {abs(pct):.0f}% {since}"
        else:
            text = f"{subject} {direction} {abs(chg):.2g} ({unit}) {since}"
        if nbp is None and (pct is not None or nb is None):
            text += " (its noise band is not measured yet, so treat this as indicative)"
        elif pct is None:
            text += (f", beyond the ±{nb:.2g} noise band" if beyond
                     else f", within the ±{nb:.2g} noise band: not a measurable change yet")
        elif beyond:
            text += f", beyond the {nbp:.0f}% noise band"
        else:
            text += f", within the {nbp:.0f}% noise band: not a measurable change yet"
        kinds = set(filter(None, str(last.get("caveats") or "").split(",")))
        caution = None
        from analyzer.metrics import RELATIVE_COLOUR_KEYS

        if "lighting" in kinds and key.split(".")[-1] in RELATIVE_COLOUR_KEYS:
            caution = None  # relative to skin in the same photo: the light's colour and exposure cancel
        elif "lighting" in kinds:
            caution = "the lighting of that photo differs from the baseline's, so part of this may be lighting"
        elif "highlights" in kinds or "shadows" in kinds:
            caution = "part of that photo is over- or underexposed"
        elif "blur" in kinds and info.group == "texture":
            caution = "that photo is blurred, which makes texture read low"
        if caution:
            text += f" ({caution})"
        improved = None
        if info.lower_is_better is not None and beyond:
            improved = (signed < 0) == info.lower_is_better
        if sim:
            text += " (simulated change in demo photos)"
        verdict = None if beyond is None else ("beyond_noise" if beyond else "within_noise")
        cards.append(SummaryCard(key, region, v, text + ".", pct, nbp, beyond, improved, sim, caution, verdict))
    return cards


# ---------------------------------------------------------------------------------------------
# Review: aligned overlay and change maps from a stored analysis
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewImages:
    """Pictures for the review page, all in the baseline photo's frame, float32 RGB in [0, 1]."""

    photo_id: int
    baseline_photo_id: int | None
    region: str
    baseline_rgb: np.ndarray = field(repr=False)
    followup_rgb: np.ndarray | None = field(repr=False)  # aligned into the baseline frame
    polygon: np.ndarray | None = field(repr=False)  # (N, 2) xy, display scale
    maps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # a_star, L_star, roughness
    aligned: bool = False
    reason: str | None = None
    scale: float = 1.0  # display pixels per baseline pixel


def _resize(rgb: np.ndarray, s: float) -> np.ndarray:
    import cv2

    if s >= 1.0:
        return rgb
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def review_images(store, photo_id: int, *, region: str = DEFAULT_REGION, max_side: int = 900,
                  with_maps: bool = True, analyzer_version: str = ANALYZER_VERSION) -> ReviewImages:
    """Rebuild the aligned follow-up and the change maps of a photo from its stored analysis.

    The follow-up is warped with the stored transform (no re-alignment). Maps are computed at
    the baseline's full resolution inside the region and then reduced to ``max_side`` for display.
    Raises ``LookupError`` when the photo has not been analysed for this region.
    """
    import cv2

    a = store.get_analysis(photo_id, analyzer_version=analyzer_version, region=ALL_REGIONS)
    if a is None:
        raise LookupError(f"photo {photo_id} has not been analysed yet")
    res = a.result or {}
    bpid = a.baseline_photo_id or photo_id
    base = store.load_photo(bpid)
    h, w = base.rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    poly = ((res.get("regions") or {}).get(region) or {}).get("polygon")
    polygon = None if poly is None else np.asarray(poly, float) * s
    ok = bool((res.get("alignment") or {}).get("ok", False))
    if bpid == photo_id:
        small = _resize(base.rgb, s)
        return ReviewImages(photo_id, bpid, region, small, small, polygon, {}, True, None, s)
    if not ok or a.transform is None:
        reason = (res.get("alignment") or {}).get("reason") or res.get("reason") or "alignment refused"
        fu = store.load_photo(photo_id)
        return ReviewImages(photo_id, bpid, region, _resize(base.rgb, s),
                            _resize(fu.rgb, min(1.0, max_side / max(fu.rgb.shape[:2]))), polygon, {},
                            False, str(reason), s)
    fu = store.load_photo(photo_id)
    m = np.asarray(a.transform, dtype=np.float64)
    # Display: warp the follow-up straight into the reduced baseline frame (S @ M).
    S = np.diag([s, s, 1.0])
    dw, dh = max(1, round(w * s)), max(1, round(h * s))
    small_warp = cv2.warpPerspective(fu.rgb, S @ m, (dw, dh), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT)
    maps: dict[str, np.ndarray] = {}
    if with_maps and poly is not None:
        from analyzer.calibrate import Calibration
        from analyzer.metrics import change_maps
        from analyzer.regions import polygon_mask

        # Maps at full resolution, computed only on the region's bounding box (plus a margin for
        # the smoothing), then placed in the frame and reduced for display.
        pts = np.asarray(poly, float)
        pad = 48
        x0, y0 = max(0, int(np.floor(pts[:, 0].min())) - pad), max(0, int(np.floor(pts[:, 1].min())) - pad)
        x1, y1 = min(w, int(np.ceil(pts[:, 0].max())) + pad), min(h, int(np.ceil(pts[:, 1].max())) + pad)
        if x1 > x0 and y1 > y0:
            T = np.array([[1.0, 0, -x0], [0, 1.0, -y0], [0, 0, 1.0]])
            cw, ch = x1 - x0, y1 - y0
            warped = cv2.warpPerspective(fu.rgb, T @ m, (cw, ch), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT)
            ones = np.full(fu.rgb.shape[:2], 255, np.uint8)
            valid = cv2.warpPerspective(ones, T @ m, (cw, ch), flags=cv2.INTER_NEAREST, borderValue=0) > 0
            warped[~valid] = 0.0
            mask = polygon_mask(pts - [x0, y0], (ch, cw)) & valid
            crop = np.ascontiguousarray(base.rgb[y0:y1, x0:x1])
            # In each photo's calibrated colours, as the numbers are.
            rr = (res.get("regions") or {}).get(region) or {}
            cals = {side: Calibration.from_dict((rr.get(side) or {}).get("calibration"))
                    for side in ("baseline", "followup")}
            for k, v in change_maps(crop, warped, mask, baseline_calibration=cals["baseline"],
                                    followup_calibration=cals["followup"]).items():
                v = np.asarray(v, np.float32)
                if v.ndim != 2:
                    continue
                full = np.full((h, w), np.nan, np.float32)
                full[y0:y1, x0:x1] = v
                maps[k] = _resize_nan(full, s)
    return ReviewImages(photo_id, bpid, region, _resize(base.rgb, s), small_warp, polygon, maps,
                        True, None, s)


def _resize_nan(v: np.ndarray, s: float) -> np.ndarray:
    """Reduce a map with NaN holes (nearest neighbour keeps NaN edges crisp and values unmixed)."""
    import cv2

    if s >= 1.0:
        return v
    h, w = v.shape
    return cv2.resize(v, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_NEAREST)


# ---------------------------------------------------------------------------------------------
# Demo patient
# ---------------------------------------------------------------------------------------------


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


def _date(v) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])


def _simulated_text(sess: Mapping[str, Any]) -> str | None:
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


def _manifest_photos(sess: Mapping[str, Any]) -> list[tuple[str, str]]:
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


def demo_patient(store):
    """The demo patient, or None."""
    for p in store.list_patients():
        if p.is_demo:
            return p
    return None


def ensure_demo(store, *, sample_dir: str | os.PathLike | None = None, progress: Progress | None = None,
                analyze: bool = True):
    """Seed the demo patient from ``sample_images/series.json`` when the database has no patients.

    Creates the patient (``is_demo=True``), its series, sessions (with treatment parameters; a
    simulated change is recorded in the session notes and shown as "simulated" wherever the
    session appears) and photos, then analyses the series. Returns the demo patient, or None
    when the database already had patients (nothing is touched then) or there is no manifest.
    """
    if store.list_patients():
        return None
    d = Path(sample_dir) if sample_dir else demo_dir()
    if not (d / "series.json").exists():
        return None
    man = load_manifest(d)
    pat = man.get("patient") or {}
    ser = man.get("series") or {}
    sessions = sorted(man.get("sessions") or [], key=lambda s: str(s.get("date")))
    patient = store.create_patient(
        pat.get("code") or "DEMO-001",
        pat.get("display_name") or pat.get("name") or "Demo patient",
        birth_year=pat.get("birth_year"),
        fitzpatrick=pat.get("fitzpatrick"),
        consent_photos=bool(pat.get("consent_photos", True)),
        consent_reports=bool(pat.get("consent_reports", True)),
        notes=pat.get("notes") or "Demo patient seeded from sample_images/ (photos with simulated changes).",
        is_demo=True,
    )
    series = store.create_series(
        patient.id,
        body_area=ser.get("body_area") or "face",
        concerns=list(ser.get("concerns") or []),
        name=ser.get("name") or "Demo series",
        notes=ser.get("notes") or "",
    )
    regions = ser.get("regions") or man.get("regions")
    if regions:
        specs = [({"kind": "named", "name": r} if isinstance(r, str) else dict(r)) for r in regions]
        store.set_regions(series.id, [s for s in specs if region_to_roi_name(s) != DEFAULT_REGION])
    n_photos = sum(len(_manifest_photos(s)) for s in sessions) or 1
    done = 0
    first_id = None
    baseline_id = None
    for s in sessions:
        tr = s.get("treatment") or {}
        sim = _simulated_text(s)
        notes = str(s.get("notes") or "")
        if sim:
            notes = (notes + "\n" if notes else "") + f"{SIMULATED_TAG} {sim}"
        rec = store.add_session(
            series.id,
            date=_date(s["date"]),
            device=tr.get("device") or "",
            needle_depth_mm=tr.get("needle_depth_mm"),
            passes=tr.get("passes"),
            topical=tr.get("topical") or "",
            practitioner=tr.get("practitioner") or "",
            notes=notes,
            kind=s.get("kind") or "treatment",
        )
        if first_id is None:
            first_id = rec.id
        if s.get("baseline"):
            baseline_id = baseline_id or rec.id
        for view, rel in _manifest_photos(s):
            path = d / rel
            if progress:
                progress(0.3 * done / n_photos, f"Adding demo photo {rel}")
            store.add_photo(rec.id, view=view, data=path.read_bytes(), filename=path.name)
            done += 1
    if first_id is not None:
        store.set_baseline_session(series.id, baseline_id or first_id)
    if analyze:
        def sub(f, t):
            if progress:
                progress(0.3 + 0.7 * f, t)

        analyze_series(store, series.id, progress=sub)
    return store.get_patient(patient.id)


# ---------------------------------------------------------------------------------------------
# Downloads
# ---------------------------------------------------------------------------------------------

PROGRESS_COLUMNS = (
    "patient", "session_index", "session_date", "session_kind", "treatment", "simulated", "view", "region",
    "metric", "label", "value", "unit", "baseline_value", "change", "percent", "noise_band",
    "noise_band_percent", "beyond_noise", "reason", "caveats",
)


def rows_to_csv(rows: Iterable[Mapping[str, Any]], *, columns: Iterable[str] = PROGRESS_COLUMNS) -> str:
    """The progress table as CSV text (empty cell, never 0, for a value that could not be computed)."""
    import csv
    import io

    from analyzer.export import csv_text  # text cells neutralised against formula injection (OWASP)

    cols = list(columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r.get(c) is None else (f"{r[c]:.6g}" if isinstance(r.get(c), float)
                                                 else csv_text(r[c]) if isinstance(r[c], str) else r[c])
                    for c in cols])
    return buf.getvalue()


def patient_report_pdf(store, patient_id: int, series_id: int, *,
                       analyzer_version: str = ANALYZER_VERSION) -> bytes:
    """The PDF progress report of one patient's series (analyzer.report)."""
    from analyzer.report import report_from_store

    series = store.get_series(series_id)
    if series.patient_id != patient_id:
        raise UsageError("that series belongs to another patient")
    require_consent(store, patient_id, "reports")
    return report_from_store(store, patient_id, series_id, analyzer_version=analyzer_version)
