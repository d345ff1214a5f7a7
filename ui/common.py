"""Shared page helpers: the cached store, the current patient/series, caching and pictures.

Only presentation lives here. Every number comes from analyzer.service.
"""

from __future__ import annotations

import base64
import io
import os
import re
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from PIL import Image

from analyzer import ANALYZER_VERSION, service
from ui.auth import patient_scope

if TYPE_CHECKING:
    from analyzer.store import Store


# The page files live in app_pages/, not pages/: a folder named pages/ next to app.py would put
# Streamlit in its old folder-based multipage mode, where a first request at a page URL runs that
# page file on its own, without app.py and its sign-in gate. Should such a folder reappear, a page
# refuses to run outside app.py rather than show anything.
def _refuse_folder_mode(*, from_app: bool) -> None:
    if from_app:
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - other Streamlit versions
        return
    if PagesManager.uses_pages_directory:
        st.error("This page opens only through the app (a folder named pages/ next to app.py must not exist).")
        st.stop()


# ------------------------------------------------------------------ store and data revision
def _location_key() -> tuple[str, str]:
    loc = service.store_location()
    return str(loc.data_dir.resolve()), loc.database_url


@st.cache_resource(show_spinner=False)
def _store_for(data_dir: str, url: str):
    return service.open_store(url=url, data_dir=data_dir)


def get_store(*, from_app: bool = False):
    """The Store of the current data folder / database URL (one per location, kept across reruns).

    Every page calls it first, so it is also where a run in Streamlit's folder mode (a pages/
    folder next to app.py) is refused (``from_app=True`` from app.py itself).
    """
    _refuse_folder_mode(from_app=from_app)
    d, url = _location_key()
    return _store_for(d, url)


@st.cache_resource(show_spinner=False)
def _revisions() -> dict:
    return {}


def revision() -> int:
    """A counter bumped after every write, part of every cache key (shared by all browser tabs)."""
    return _revisions().get(_location_key(), 0)


def bump() -> None:
    """Call after writing to the store: cached tables and pictures are rebuilt on next use."""
    r = _revisions()
    k = _location_key()
    r[k] = r.get(k, 0) + 1


# ------------------------------------------------------------------ cached reads
@st.cache_data(show_spinner=False, max_entries=64)
def progress_rows(loc: tuple[str, str], series_id: int, version: str, rev: int) -> list[dict]:
    return service.progress_table(get_store(), series_id, analyzer_version=version)


def cached_progress_rows(series_id: int) -> list[dict]:
    return progress_rows(_location_key(), series_id, ANALYZER_VERSION, revision())


#: map key -> (title, legend, render kind, sign, (blue end, red end), unit). Red always means
#: "more of the concern": redder, darker (more pigment), rougher. The pigmentation map shows
#: −ΔL*, so that a darker patch is red (ΔL* itself is negative when skin darkens).
MAP_NAMES = {
    "delta_a_star": ("Redness change (Δa*)", "red = redder, blue = less red", "a_star", 1.0,
                     ("less red", "redder"), "a*"),
    "delta_L_star": ("Pigmentation change (−ΔL*)", "red = darker (more pigment), blue = lighter", "L_star", -1.0,
                     ("lighter", "darker"), "L*"),
    "delta_roughness": ("Texture change (Δ roughness)", "red = rougher, blue = smoother", "roughness", 1.0,
                        ("smoother", "rougher"), "L* RMS"),
}


def colour_bar_html(kind: str, ends: tuple[str, str], unit: str) -> str:
    """A colour bar under a change map: the fixed scale (analyzer.render.DEFAULT_LIMITS) with
    what each end means. Fits any column width."""
    from analyzer.render import DEFAULT_LIMITS, _diverging

    lim = DEFAULT_LIMITS.get(kind, 1.0)
    stops = ", ".join("rgb({},{},{}) {}%".format(*(int(255 * c) for c in _diverging(np.float32(t))), int(50 + 50 * t))
                      for t in (-1.0, -0.5, 0.0, 0.5, 1.0))
    return (f'<div style="font-size:0.8rem;line-height:1.2;margin:-0.4rem 0 0.6rem 0;">'
            f'<div style="height:10px;border:1px solid #999;background:linear-gradient(to right, {stops});"></div>'
            f'<div style="display:flex;justify-content:space-between;">'
            f'<span>−{lim:g} {unit} ({ends[0]})</span><span>0</span><span>+{lim:g} {unit} ({ends[1]})</span>'
            f'</div></div>')


@st.cache_resource(show_spinner=False, max_entries=48)  # shared, not copied: never mutate the dict
def _review(loc: tuple[str, str], photo_id: int, sha256: str, region: str, version: str, rev: int) -> dict:
    """Everything the review needs to show, ready to display (JPEG bytes, uint8 arrays):
    computed once per photo (its id *and* content hash), region and data revision, so a revisit
    costs no image work and a retaken photo is never shown with another's pictures."""
    from analyzer.render import draw_polygon, heatmap

    r = service.review_images(get_store(), photo_id, region=region, analyzer_version=version)
    out = {"aligned": r.aligned, "reason": r.reason, "baseline_photo_id": r.baseline_photo_id,
           "same": r.baseline_photo_id == photo_id, "maps": []}
    outline = r.polygon
    b = draw_polygon(r.baseline_rgb, outline) if outline is not None else r.baseline_rgb
    out["b"] = to_uint8(b)
    out["b_jpg"] = jpeg_bytes(b)
    if r.aligned and r.followup_rgb is not None:
        f = draw_polygon(r.followup_rgb, outline) if outline is not None else r.followup_rgb
        out["f"] = to_uint8(f)
        out["f_jpg"] = jpeg_bytes(f)
    for key, arr in r.maps.items():
        if not isinstance(arr, np.ndarray) or arr.ndim != 2:
            continue
        title, legend, kind, sign, ends, unit = MAP_NAMES.get(key, (key, "", key, 1.0, ("−", "+"), ""))
        img = heatmap(sign * arr, background=r.baseline_rgb, kind=kind)
        if outline is not None:
            img = draw_polygon(img, outline)
        out["maps"].append((title, legend, jpeg_bytes(img), colour_bar_html(kind, ends, unit)))
    return out


def cached_review(photo_id: int, region: str) -> dict:
    """Display assets of a photo's review (see ``_review``); raises LookupError if not analysed."""
    return _review(_location_key(), photo_id, _sha_of(photo_id), region, ANALYZER_VERSION, revision())


def prefetch_reviews(photo_ids: list[int], region: str) -> None:
    """Prepare the review of other photos in the background, so that switching to them is quick.

    Runs once per set of photos, region and data revision in this browser session; a daemon thread
    fills the shared cache (nothing is stored, nothing is shown; a failure is just a cache miss).
    """
    import threading

    args = (_location_key(), tuple(photo_ids), region, ANALYZER_VERSION, revision())
    if not photo_ids or st.session_state.get("_prefetched") == args:
        return
    st.session_state["_prefetched"] = args

    shas = {}  # content hashes read here, in the script's thread, not in the background one
    for pid in photo_ids:
        try:
            shas[pid] = _sha_of(pid)
        except Exception:  # noqa: BLE001 - prefetch only: a photo just deleted is skipped
            pass

    def work() -> None:
        for pid, sha in shas.items():
            try:
                _review(args[0], pid, sha, region, ANALYZER_VERSION, args[4])
            except Exception:  # noqa: BLE001 - prefetch only
                pass

    threading.Thread(target=work, name="review-prefetch", daemon=True).start()


def _sha_of(photo_id: int) -> str:
    """The photo's content hash: what every picture cache is keyed by (never the id alone)."""
    return get_store().get_photo(photo_id).sha256


@st.cache_data(show_spinner=False, max_entries=256)
def _display_bytes(loc: tuple[str, str], sha256: str, _photo_id: int) -> bytes:
    # Keyed by content (``_photo_id`` is not part of the key): a photo id that pointed at
    # other bytes before (a retake, a deleted patient) can never bring back the old picture.
    return get_store().photo_display_bytes(_photo_id)


def display_bytes(photo_id: int) -> bytes:
    """The photo's display JPEG (no metadata), cached by its content hash."""
    return _display_bytes(_location_key(), _sha_of(photo_id), photo_id)


@st.cache_data(show_spinner=False, max_entries=128)
def _status(loc: tuple[str, str], series_id: int, version: str, rev: int):
    return service.series_status(get_store(), series_id, version=version)


@st.cache_resource(show_spinner=False, max_entries=128)  # shared, read-only
def _small_rgb(loc: tuple[str, str], sha256: str, max_side: int, _photo_id: int) -> np.ndarray:
    img = Image.open(io.BytesIO(_display_bytes(loc, sha256, _photo_id))).convert("RGB")
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(img, np.float32) / 255.0


def small_rgb(photo_id: int, max_side: int = 480) -> np.ndarray:
    """A reduced float RGB copy of a photo for previews (cached by its content hash)."""
    return _small_rgb(_location_key(), _sha_of(photo_id), max_side, photo_id)


def cached_status(series_id: int):
    return _status(_location_key(), series_id, ANALYZER_VERSION, revision())


# ------------------------------------------------------------------ current patient / series
def current_patient_id() -> int | None:
    return st.session_state.get("patient_id")


def current_series_id() -> int | None:
    return st.session_state.get("series_id")


def select_patient(patient_id: int | None, series_id: int | None = None) -> None:
    """Make a patient (and a series of it, default its first) the current one."""
    st.session_state["patient_id"] = patient_id
    if patient_id is None:
        st.session_state["series_id"] = None
        return
    if series_id is None:
        ser = get_store().list_series(patient_id)
        series_id = ser[0].id if ser else None
    st.session_state["series_id"] = series_id


def default_selection(store: Store) -> None:
    """On a fresh browser session: open the demo patient when it is the only kind there is;
    among real patients nobody is pre-selected (the practitioner picks one)."""
    if "patient_id" in st.session_state:
        return
    pats = patient_scope(store).patients()
    if not pats:
        select_patient(None)
        return
    real = [p for p in pats if not p.is_demo]
    if real:  # a clinic's own patients: nobody is opened unasked (the demo neither)
        select_patient(None)
        return
    select_patient(pats[0].id)  # demo only: open the demo patient


def context_sidebar(store: Store) -> None:
    """Patient and series pickers in the sidebar (practitioner pages only): the patients of the
    signed-in practitioner's clinic."""
    pats = patient_scope(store).patients()
    ids = [p.id for p in pats]
    names = {p.id: f"{p.display_name} ({p.code})" + (" · demo" if p.is_demo else "") for p in pats}
    pid = current_patient_id()
    if pid not in ids:
        pid = None
        select_patient(None)
    if st.session_state.get("_pick_patient") != pid:
        st.session_state["_pick_patient"] = pid

    def _on_patient():
        select_patient(st.session_state["_pick_patient"])

    st.sidebar.selectbox("Patient", [None, *ids], key="_pick_patient", on_change=_on_patient,
                         format_func=lambda i: "— choose a patient —" if i is None else names[i])
    if pid is None:
        return
    ser = store.list_series(pid)
    sids = [s.id for s in ser]
    sid = current_series_id()
    if sid not in sids:
        sid = sids[0] if sids else None
        st.session_state["series_id"] = sid
    if not sids:
        st.sidebar.caption("This patient has no series yet (create one on the Patients page).")
        return
    if st.session_state.get("_pick_series") != sid:
        st.session_state["_pick_series"] = sid
    labels = {s.id: series_label(s) for s in ser}

    def _on_series():
        st.session_state["series_id"] = st.session_state["_pick_series"]

    st.sidebar.selectbox("Series", sids, key="_pick_series", on_change=_on_series,
                         format_func=lambda i: labels[i])


def series_label(s) -> str:
    return s.name or f"{s.body_area} series"


def need_series(store: Store):
    """(patient, series) of the current selection, or stop the page with a pointer to Patients."""
    pid, sid = current_patient_id(), current_series_id()
    if pid is None:
        st.info("Choose or create a patient first.")
        st.page_link("app_pages/patients.py", label="Go to Patients", icon=":material/group:")
        st.stop()
    patient = store.get_patient(pid)
    if sid is None:
        st.info(f"{md_escape(patient.display_name)} has no treatment series yet.")
        st.page_link("app_pages/patients.py", label="Create a series on the Patients page", icon=":material/group:")
        st.stop()
    return patient, store.get_series(sid)


# ------------------------------------------------------------------ pictures
def to_uint8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    return np.clip(np.asarray(rgb, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def jpeg_bytes(rgb: np.ndarray, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_uint8(rgb)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def data_url(rgb_or_jpeg) -> str:
    b = rgb_or_jpeg if isinstance(rgb_or_jpeg, (bytes, bytearray)) else jpeg_bytes(rgb_or_jpeg)
    return "data:image/jpeg;base64," + base64.b64encode(b).decode("ascii")


def blend(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """``b`` over ``a`` at opacity ``alpha`` (float RGB of the same size)."""
    return (1.0 - alpha) * np.asarray(a, np.float32) + alpha * np.asarray(b, np.float32)


def decode_rgb(data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
    """Bytes → float RGB (optionally resized to (width, height)) for display only."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    if size is not None and img.size != size:
        img = img.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(img, np.float32) / 255.0


def before_after_slider(before_jpg: bytes, after_jpg: bytes, size: tuple[int, int], *, height: int = 520,
                        start: int = 50, labels: tuple[str, str] = ("Before", "After")) -> None:
    """A drag slider: ``before`` on the left of the bar, ``after`` on the right (JPEGs of the same
    aligned frame; size = (w, h)).

    Both pictures fill the same box, whose width is that of the column (at most the width that
    gives ``height`` pixels of height) and whose height follows from the photo's proportions, so
    on a phone both halves are the same face at the same scale. The after picture is clipped
    (CSS clip-path), never resized, as the bar moves.
    """
    w, h = size
    max_w = int(round(w * height / h))
    img = "position:absolute;top:0;left:0;width:100%;height:100%;display:block;"
    html = f"""
<style>html,body{{margin:0;padding:0;}}</style>
<div id="ba" style="position:relative;width:100%;max-width:{max_w}px;aspect-ratio:{w}/{h};user-select:none;
     font-family:sans-serif;overflow:hidden;">
  <img id="before" alt="{labels[0]}" src="{data_url(before_jpg)}" style="{img}">
  <img id="after" alt="{labels[1]}" src="{data_url(after_jpg)}" style="{img}clip-path:inset(0 0 0 {start}%);">
  <div id="bar" style="position:absolute;top:0;left:{start}%;width:3px;height:100%;background:#fff;
       box-shadow:0 0 4px #000;"></div>
  <span style="position:absolute;top:6px;left:8px;color:#fff;text-shadow:0 0 3px #000">{labels[0]}</span>
  <span style="position:absolute;top:6px;right:8px;color:#fff;text-shadow:0 0 3px #000">{labels[1]}</span>
  <input id="rng" type="range" min="0" max="100" value="{start}" aria-label="before/after position"
     style="position:absolute;bottom:4px;left:5%;width:90%;margin:0;">
</div>
<script>
const r=document.getElementById('rng'), a=document.getElementById('after'), b=document.getElementById('bar');
r.addEventListener('input', e => {{ a.style.clipPath='inset(0 0 0 '+r.value+'%)'; b.style.left=r.value+'%'; }});
</script>"""
    st.iframe(html, height="content")


def drawable_photo_spec(rgb: np.ndarray, size: tuple[int, int], *, name: str = "patch") -> dict:
    """Vega-Lite spec showing a photo on axes in the photo's own pixels (size = (w, h) of the
    original), with a box selection ``name``: dragging a box on the photo returns its pixel
    coordinates (``patch_from_selection``). The chart takes its column's width."""
    w, h = size
    height = int(min(520, max(220, 420 * h / max(w, 1))))
    return {
        "data": {"values": [{"x": 0, "y": 0, "x2": w, "y2": h, "url": data_url(rgb)}]},
        "width": "container", "height": height,
        "params": [{"name": name, "select": {"type": "interval", "encodings": ["x", "y"]}}],
        "mark": {"type": "image", "aspect": False},
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "title": None,
                  "scale": {"domain": [0, w], "nice": False, "zero": False}},
            "x2": {"field": "x2"},
            "y": {"field": "y", "type": "quantitative", "title": None,
                  "scale": {"domain": [h, 0], "nice": False, "zero": False}},
            "y2": {"field": "y2"},
            "url": {"field": "url", "type": "nominal"},
        },
    }


def patch_from_selection(selection, size: tuple[int, int], *, name: str = "patch") -> dict | None:
    """The drawn box of a ``drawable_photo_spec`` chart as ``{"x", "y", "w", "h"}`` in whole photo
    pixels, clipped to the photo; None when nothing (or a box under 2 px) is drawn."""
    try:
        box = (selection or {}).get("selection", {}).get(name) or {}
        xs, ys = sorted(float(v) for v in box["x"]), sorted(float(v) for v in box["y"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    w, h = size
    x0, x1 = max(0, int(round(xs[0]))), min(w, int(round(xs[1])))
    y0, y1 = max(0, int(round(ys[0]))), min(h, int(round(ys[1])))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return {"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0}


def ghost_camera(ghost_rgb: np.ndarray | None, opacity: float, *, height: int = 420) -> None:
    """Live camera preview with the baseline photo as a ghost on top, for framing the pose.

    Shown while framing; the photo itself is taken with ``st.camera_input`` below it.
    """
    ghost = "" if ghost_rgb is None else (
        f'<img src="{data_url(ghost_rgb)}" style="position:absolute;top:0;left:0;width:100%;height:100%;'
        f'object-fit:contain;opacity:{opacity:.2f};pointer-events:none;">')
    html = f"""
<div style="position:relative;width:100%;height:{height}px;background:#111;">
  <video id="v" autoplay playsinline muted style="width:100%;height:100%;object-fit:contain;"></video>
  {ghost}
  <div id="msg" style="position:absolute;bottom:6px;left:8px;color:#ddd;font:13px sans-serif;"></div>
</div>
<script>
navigator.mediaDevices && navigator.mediaDevices.getUserMedia({{video:{{facingMode:"user"}}}})
 .then(s => {{ document.getElementById('v').srcObject = s; }})
 .catch(e => {{ document.getElementById('msg').textContent = 'Camera not available here: ' + e.name; }});
</script>"""
    st.iframe(html, height=height + 8)


def data_location_caption(store: Store) -> None:
    loc = service.store_location()
    st.sidebar.caption(f"Data: `{loc.data_dir.resolve()}` · {store.describe()}")


def concern_text(name: str) -> str:
    """A concern as a person says it ("Acne scars", not acne_scars)."""
    from analyzer.concerns import CONCERN_LABELS, normalize_concern

    try:
        key = normalize_concern(name)
    except Exception:  # noqa: BLE001 - a label only
        key = str(name)
    label = CONCERN_LABELS.get(key) or str(name).replace("_", " ")
    return label[:1].upper() + label[1:]


def concerns_text(names) -> str:
    return ", ".join(concern_text(c) for c in names) or "none recorded"


def confirm_button(key: str, label: str, question: str, *, yes: str = "Yes, delete",
                   help: str | None = None) -> bool:
    """A button that asks first: ``label`` shows ``question`` with "yes" and "Cancel";
    True only in the run where "yes" was clicked. One question open at a time per browser session."""
    state = "_confirm_pending"

    def ask() -> None:
        st.session_state[state] = key

    def cancel() -> None:
        st.session_state.pop(state, None)

    if st.session_state.get(state) != key:
        st.button(label, key=f"{key}_ask", on_click=ask, help=help)
        return False
    st.warning(question, icon=":material/help:")
    row = st.container(horizontal=True)
    ok = row.button(yes, key=f"{key}_yes", type="primary")
    row.button("Cancel", key=f"{key}_no", on_click=cancel)
    if ok:
        cancel()  # asked and answered: the next run shows the plain button again
    return ok


def md_escape(text: str) -> str:
    """Text shown as-is inside markdown (L*, a*, ΔE… keep their asterisks and underscores)."""
    return re.sub(r"([\\`*_{}\[\]<>#|~$])", r"\\\1", str(text))


def show_caveat(c) -> None:
    """One caveat, in plain words, next to the photo, with its remedy."""
    st.warning(f"**{md_escape(c.message)}** {md_escape(c.remedy_text)}", icon=":material/warning:")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")
