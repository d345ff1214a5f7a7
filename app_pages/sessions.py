"""Series & sessions: the timeline, adding a session with its treatment, uploading photos per view
(several at once, or the camera on a tablet with a ghost of the baseline), and the analysis.

Each session opens with its screening flags ("consult a physician before treatment"); the
add-session form carries the pre-session checklist, the kind (treatment, or a recovery visit with
the treatment session it follows) and, for an acne-scar series, the clinician's scar grade. A
treatment session with recovery visits shows its redness recovery chart. Each photo shows its colour
calibration and can carry a neutral reference patch (grey card, white headband) marked by the
practitioner: "Colour reference" under the photo."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from analyzer import service
from analyzer.concerns import normalize_concern
from analyzer.errors import SkinProgressError
from analyzer.recovery import curves_from_sessions
from analyzer.render import draw_rectangle
from analyzer.screening import validate_screening
from ui.auth import current_user
from ui.common import (
    blend,
    bump,
    cached_progress_rows,
    cached_status,
    decode_rgb,
    display_bytes,
    get_store,
    ghost_camera,
    need_series,
    series_label,
    show_caveat,
    small_rgb,
)
from ui.concerns import render_recovery_chart, render_screening_flags, render_screening_form

try:
    from analyzer.store import STANDARD_VIEWS
except ImportError:  # pragma: no cover
    STANDARD_VIEWS = ("front", "left45", "right45")

store = get_store()
patient, series = need_series(store)
st.title("Series & sessions")
st.caption(f"{patient.display_name} · `{patient.code}` · {series_label(series)} · {series.body_area} · "
           f"concerns: {', '.join(series.concerns) or '—'}")

sessions = sorted(store.list_sessions(series.id), key=lambda s: (s.date, s.id))
base = service.baseline_session(store, series.id)
base_id = base.id if base else None
status = {a.photo_id: a for a in cached_status(series.id)}
treats_scars = "acne_scars" in {normalize_concern(c) for c in series.concerns}
with_recovery = {s.parent_session_id for s in sessions if s.kind == "recovery" and s.parent_session_id}


def show_recovery(treatment_id: int) -> None:
    """The redness recovery after this treatment session, earlier sessions' curves for comparison."""
    rows = cached_progress_rows(series.id)
    region = service.DEFAULT_REGION if any(r["region"] == service.DEFAULT_REGION for r in rows) else None
    views = sorted({r["view"] for r in rows})
    view = "front" if "front" in views else (views[0] if views else None)
    curves = curves_from_sessions(rows, sessions, region=region, view=view)
    order = sorted((t for t in sessions if t.id in with_recovery), key=lambda t: (t.date, t.id))
    k = next((i for i, t in enumerate(order) if t.id == treatment_id), None)
    if k is None or k >= len(curves):
        return
    render_recovery_chart(curves[: k + 1])  # this session's curve last


def _retake(session_id: int, view: str) -> None:
    """Point the upload form at this photo, replacing it (runs before the widgets are drawn)."""
    st.session_state["up_session"] = session_id
    st.session_state["up_view"] = view
    st.session_state["up_replace"] = True
    st.session_state["open_session_id"] = session_id


def show_analysis(a: service.PhotoAnalysis, *, key: str = "") -> None:
    """Caveats next to the photo, in plain words, with the remedy (and a Retake button)."""
    if a.baseline_photo_id is not None and a.baseline_photo_id == a.photo_id:
        st.caption("Baseline photo: the reference for this view.")
    elif a.aligned:
        st.caption(":green[Aligned to the baseline and measured.]")
    elif a.aligned is None and a.baseline_photo_id is not None:
        st.caption("Not analysed yet.")
    if a.calibration:
        st.caption(f"Colour calibration: **{CALIBRATION_LABELS.get(a.calibration, a.calibration)}**")
    for c in a.caveats:
        show_caveat(c)
    if any(c.remedy in ("retake", "mark_reference") for c in a.caveats) and key:
        st.button("Retake this photo", key=f"retake_{key}_{a.photo_id}", on_click=_retake,
                  args=(a.session_id, a.view), help="Sets the upload form below to replace this photo.")


CALIBRATION_LABELS = {
    "colorchecker": "ColorChecker chart in the photo",
    "reference-patch": "reference patch marked on the photo",
    "none": "none (changes across sessions may be lighting)",
}


def colour_reference(p, session_id: int) -> None:
    """Mark a neutral patch (grey card, white headband) on the photo: X, Y, W, H in its pixels,
    a preview with the rectangle, Save / Clear. Saving re-analyses what depends on the photo."""
    cur = p.reference_patch
    st.caption(f"Photo size: {p.width} × {p.height} pixels (upright). Mark something neutral in the same light "
               "as the skin: a grey card, a white headband, a white-balance card.")
    if cur:
        st.caption("Marked: x {x:g}, y {y:g}, {w:g} × {h:g} px.".format(**cur))
    else:
        st.caption("No reference patch marked.")
    side = max(8, min(p.width, p.height) // 10)
    dflt = cur or {"x": 0, "y": 0, "w": side, "h": side}
    c1, c2, c3, c4 = st.columns(4)
    x = c1.number_input("X", min_value=0, max_value=p.width - 1, value=int(dflt["x"]), step=1, key=f"ref_x_{p.id}")
    y = c2.number_input("Y", min_value=0, max_value=p.height - 1, value=int(dflt["y"]), step=1, key=f"ref_y_{p.id}")
    w = c3.number_input("W", min_value=1, max_value=p.width, value=int(dflt["w"]), step=1, key=f"ref_w_{p.id}")
    h = c4.number_input("H", min_value=1, max_value=p.height, value=int(dflt["h"]), step=1, key=f"ref_h_{p.id}")
    preview = draw_rectangle(small_rgb(p.id, 640), (x, y, w, h), photo_size=(p.width, p.height), max_side=640)
    st.image(preview, caption="Reference patch (magenta outline)", width=320, clamp=True)
    b1, b2 = st.columns(2)
    save = b1.button("Save reference patch", key=f"ref_save_{p.id}", type="primary")
    clear = cur is not None and b2.button("Clear", key=f"ref_clear_{p.id}")
    if not (save or clear):
        return
    patch = {"x": int(x), "y": int(y), "w": int(w), "h": int(h)} if save else None
    try:
        with st.spinner("Re-analysing with the new colour reference…"):
            out = service.set_reference_patch(store, p.id, patch, user=current_user())
    except SkinProgressError as exc:
        st.error(str(exc))
        return
    bump()
    mine = next((a for a in out if a.photo_id == p.id), None)
    method = CALIBRATION_LABELS.get(mine.calibration, "not measured") if mine and mine.calibration else "not measured"
    st.session_state["ref_msg"] = (p.id, ("Reference patch saved" if save else "Reference patch cleared")
                                   + f"; {len(out)} photo(s) re-analysed. Colour calibration: {method}.")
    st.session_state["open_session_id"] = session_id
    st.session_state["open_ref_photo"] = p.id
    st.rerun()


def run_analysis(session_id: int) -> list[service.PhotoAnalysis]:
    bar = st.progress(0.0, text="Analysing…")
    out = service.analyze_session(store, session_id,
                                  progress=lambda f, t: bar.progress(min(max(f, 0.0), 1.0), text=t))
    bump()
    return out


# ------------------------------------------------------------------ timeline
st.subheader("Timeline")
if not sessions:
    st.info("No sessions yet. Add the first one below: it becomes the baseline.")
if sessions:
    n_photos = {s.id: len(store.list_photos(s.id)) for s in sessions}
    st.dataframe(
        [{"#": i, "date": s.date, "kind": s.kind + (" (baseline)" if s.id == base_id else ""),
          "device": s.device, "needle depth (mm)": s.needle_depth_mm, "passes": s.passes, "topical": s.topical,
          "photos": n_photos[s.id], "simulated": service.simulated_note(s) or ""}
         for i, s in enumerate(sessions, start=1)],
        hide_index=True, width="stretch", key="timeline_table")
for i, s in enumerate(sessions, start=1):
    sim = service.simulated_note(s)
    label = service.session_label(s, i, baseline_id=base_id)
    with st.expander(label, expanded=(s.id == st.session_state.get("open_session_id"))):
        render_screening_flags(s.screening, on=s.date)  # at the top: "consult a physician before treatment"
        tt = service.treatment_text(s)
        st.markdown(f"**Treatment:** {tt or '—'}")
        if s.kind == "recovery" and s.parent_session_id:
            parent = next((t for t in sessions if t.id == s.parent_session_id), None)
            if parent is not None:
                st.caption(f"Recovery visit, {(s.date - parent.date).days} day(s) after the session of "
                           f"{parent.date.isoformat()}.")
        if s.scar_grade is not None:
            st.markdown(f"**Acne-scar grade (Goodman & Baron):** {s.scar_grade}")
        if s.notes and not sim:
            st.caption(s.notes)
        if sim:
            st.markdown(f":orange-badge[simulated] {sim}")
        photos = store.list_photos(s.id)
        if photos:
            cols = st.columns(min(len(photos), 3))
            for j, p in enumerate(photos):
                with cols[j % len(cols)]:
                    st.image(display_bytes(p.id), caption=f"{p.view} · {p.filename}", width=260)
                    msg = st.session_state.get("ref_msg")
                    if msg and msg[0] == p.id:
                        st.success(st.session_state.pop("ref_msg")[1])
                    if p.id in status:
                        show_analysis(status[p.id], key="tl")
                    with st.expander("Colour reference", expanded=st.session_state.get("open_ref_photo") == p.id):
                        colour_reference(p, s.id)
        else:
            st.caption("No photos yet.")
        recovery_of = s.id if s.id in with_recovery else (s.parent_session_id if s.kind == "recovery" else None)
        if recovery_of is not None:
            show_recovery(recovery_of)
        c1, c2 = st.columns(2)
        if s.id != base_id and c1.button("Make this the baseline session", key=f"mkbase_{s.id}"):
            store.set_baseline_session(series.id, s.id)
            bump()
            st.rerun()
        if photos and c2.button("Analyse this session", key=f"analyse_{s.id}"):
            for a in run_analysis(s.id):
                if a.caveats:
                    show_analysis(a)
            st.rerun()

# ------------------------------------------------------------------ add a session
st.subheader("Add a session")
with st.form("add_session", clear_on_submit=True):
    c1, c2, c3 = st.columns(3)
    date = c1.date_input("Date", value=dt.date.today(), key="as_date")
    kind = c2.selectbox("Kind", ["treatment", "recovery"], key="as_kind",
                        help="A recovery visit is a check 0-7 days after a treatment session.")
    device = c3.text_input("Device", value=sessions[-1].device if sessions else "", key="as_device")
    c4, c5, c6 = st.columns(3)
    depth = c4.number_input("Needle depth (mm, 0 = none)", min_value=0.0, max_value=3.0, step=0.25,
                            value=float(sessions[-1].needle_depth_mm or 0.0) if sessions else 0.5, key="as_depth")
    passes = c5.number_input("Passes (0 = none)", min_value=0, max_value=20, step=1,
                             value=int(sessions[-1].passes or 0) if sessions else 2, key="as_passes")
    topical = c6.text_input("Topical", value=sessions[-1].topical if sessions else "", key="as_topical")
    treatments = [s for s in sessions if s.kind == "treatment"]
    t_labels = {s.id: f"{s.date.isoformat()}" + (f" · {s.device}" if s.device else "") for s in treatments}
    c7, c8 = st.columns(2)
    parent_pick = c7.selectbox("Follows the treatment session (recovery visits only)", [None, *t_labels],
                               key="as_parent",
                               format_func=lambda i: "the latest one before this date" if i is None else t_labels[i])
    grade = None
    if treats_scars:
        grade = c8.selectbox("Acne-scar grade (Goodman & Baron)", [None, 1, 2, 3, 4], key="as_scar_grade",
                             format_func=lambda g: "not graded" if g is None else
                             {1: "1 macular", 2: "2 mild", 3: "3 moderate", 4: "4 severe"}[g],
                             help="The clinician's global grade today (Goodman & Baron 2006).")
    practitioner = st.text_input("Practitioner", key="as_pract")
    notes = st.text_area("Notes", key="as_notes")
    with st.expander("Screening before this session (contraindications)", expanded=False):
        raw_screening = render_screening_form("as_scr", context="pre_session", initial=patient.screening)
    add_ok = st.form_submit_button("Add session", type="primary")
if add_ok:
    parent = None
    if kind == "recovery":
        earlier = [s for s in treatments if s.date <= date]
        parent = parent_pick if parent_pick is not None else (earlier[-1].id if earlier else None)
    try:
        screening = validate_screening(raw_screening)  # a one-line UsageError: nothing is stored then
        rec, _, _ = service.add_session_with_photos(
            store, series.id, date=date, kind=kind, device=device, needle_depth_mm=depth or None,
            passes=passes or None, topical=topical, practitioner=practitioner, notes=notes,
            parent_session_id=parent, screening=screening, scar_grade=grade)
    except SkinProgressError as exc:
        st.error(str(exc))
    else:
        bump()
        st.session_state["open_session_id"] = rec.id
        st.session_state["upload_session_id"] = rec.id
        st.session_state["up_session"] = rec.id  # upload to the new session next
        st.success(f"Session of {rec.date.isoformat()} added. Upload its photos below.")
        st.rerun()

# ------------------------------------------------------------------ photos
if sessions:
    st.subheader("Photos")
    ids = [s.id for s in sessions]
    labels = {s.id: service.session_label(s, i, baseline_id=base_id) for i, s in enumerate(sessions, start=1)}
    want = st.session_state.get("upload_session_id")
    if want not in ids:
        want = ids[-1]
    if st.session_state.get("up_session") not in ids:
        st.session_state["up_session"] = want
    sid = st.selectbox("Session", ids, key="up_session", format_func=lambda i: labels[i])
    views = list(STANDARD_VIEWS)
    view = st.selectbox("View", views, key="up_view",
                        help="One photo per view and session. Several files: they are given the views in order "
                             "(front, left45, right45) unless you pick one view for a single file.")
    if st.session_state.pop("_reset_replace", False):
        st.session_state["up_replace"] = False
    replace = st.checkbox("Replace the existing photo of this view (retake)", key="up_replace")
    tab_files, tab_cam = st.tabs(["Upload files (desktop)", "Camera (tablet)"])

    def store_and_analyse(items: list[tuple[str, bytes, str]]) -> None:
        added, errors = [], []
        for v, data, name in items:
            try:
                added.append(store.add_photo(sid, view=v, data=data, filename=name, replace=replace))
            except SkinProgressError as exc:
                errors.append(str(exc))
        if not added:
            for e in errors:
                st.error(e)
            return
        bump()
        results = run_analysis(sid)
        ids = {p.id for p in added}
        # Rerun so that the timeline above shows the new photos; the outcome is shown below.
        st.session_state["last_upload"] = {"ids": [a.photo_id for a in results if a.photo_id in ids],
                                           "errors": errors, "sid": sid}
        st.session_state["open_session_id"] = sid
        st.session_state["_reset_replace"] = True
        st.rerun()

    last = st.session_state.pop("last_upload", None)
    if last:
        for e in last["errors"]:
            st.error(e)
        done = [a for a in cached_status(series.id) if a.photo_id in set(last["ids"])]
        st.success(f"{len(done)} photo{'s' if len(done) != 1 else ''} stored and analysed.")
        for a in done:
            c1, c2 = st.columns([1, 2])
            c1.image(display_bytes(a.photo_id), caption=f"{a.view} · {a.filename}", width=220)
            with c2:
                show_analysis(a, key="up")

    with tab_files:
        nonce = st.session_state.get("uploader_nonce", 0)
        with st.form("upload_form", clear_on_submit=True):
            files = st.file_uploader("Photos (JPEG, PNG, WebP, TIFF, HEIC)", accept_multiple_files=True,
                                     type=["jpg", "jpeg", "png", "webp", "tif", "tiff", "heic", "heif"],
                                     key=f"uploader_{nonce}")
            go = st.form_submit_button("Upload and analyse", type="primary")
        if go:
            if not files:
                st.error("Choose one or more photo files first.")
            else:
                if len(files) == 1:
                    items = [(view, files[0].getvalue(), files[0].name)]
                else:
                    order = [view] + [v for v in views if v != view]
                    if len(files) > len(order):
                        st.error(f"{len(files)} files but only {len(order)} views: upload one file per view.")
                        files = files[: len(order)]
                    items = [(order[k], f.getvalue(), f.name) for k, f in enumerate(files)]
                store_and_analyse(items)

    with tab_cam:
        bphoto = None
        if base is not None:
            bphoto = next((p for p in store.list_photos(base.id) if p.view == view), None)
        opacity = st.slider("Ghost of the baseline (opacity)", 0.0, 1.0, 0.35, 0.05, key="ghost_opacity",
                            help="Match the pose to the baseline: line up the face with its ghost.")
        ghost = decode_rgb(display_bytes(bphoto.id)) if bphoto is not None else None
        if ghost is None:
            st.caption(f"No baseline {view} photo yet: nothing to line up with.")
        with st.expander("Live framing guide (camera with the baseline ghost)", expanded=False):
            ghost_camera(ghost, opacity)
        shot = st.camera_input("Take the photo", key=f"camera_{nonce}")
        if shot is not None:
            data = shot.getvalue()
            if ghost is not None:
                try:
                    cam = decode_rgb(data)
                    g = decode_rgb(display_bytes(bphoto.id), size=(cam.shape[1], cam.shape[0]))
                    st.image(blend(cam, g, opacity), caption="Your shot with the baseline ghost", width=420)
                except Exception:  # noqa: BLE001 - a preview only; the store checks the file properly
                    pass
            if st.button("Use this photo", key="use_camera", type="primary"):
                stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
                store_and_analyse([(view, data, f"camera-{view}-{stamp}.jpg")])
                st.session_state["uploader_nonce"] = nonce + 1
