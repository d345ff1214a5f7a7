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
import re

import streamlit as st

from analyzer import service
from analyzer.concerns import normalize_concern
from analyzer.conditions import differences, differences_text
from analyzer.errors import SkinProgressError
from analyzer.recovery import curves_from_sessions
from analyzer.render import draw_rectangle
from analyzer.screening import validate_screening
from analyzer.views import missing_views, required_views, view_choices, view_label
from ui.auth import audit, audit_once, current_user
from ui.capture import (
    conditions_input,
    ghost_assets,
    ghost_capture,
    record_conditions,
    review_pending,
    show_kept_check,
    stage,
)
from ui.capture.guide import guide_markdown
from ui.checkin import render_plan_editor, render_sent_by_patient
from ui.common import (
    bump,
    cached_progress_rows,
    cached_status,
    concerns_text,
    confirm_button,
    display_bytes,
    drawable_photo_spec,
    get_store,
    md_escape,
    need_series,
    patch_from_selection,
    series_label,
    show_caveat,
    small_rgb,
)
from ui.concerns import render_recovery_chart, render_screening_flags, render_screening_form

store = get_store()
patient, series = need_series(store)
audit_once(store, "view.sessions", patient.id, f"series {series.id}")  # the patient's photos are shown here
st.title("Series & sessions")
st.caption(f"{md_escape(patient.display_name)} · `{patient.code}` · {md_escape(series_label(series))} · "
           f"{md_escape(series.body_area)} · concerns: {concerns_text(series.concerns)}")

sessions = sorted(store.list_sessions(series.id), key=lambda s: (s.date, s.id))
base = service.baseline_session(store, series.id)
base_id = base.id if base else None
status = {a.photo_id: a for a in cached_status(series.id)}
treats_scars = "acne_scars" in {normalize_concern(c) for c in series.concerns}
with_recovery = {s.parent_session_id for s in sessions if s.kind == "recovery" and s.parent_session_id}
# The views each session needs: the baseline session's (else front, left 45°, right 45°).
photos_by_session = {s.id: [p.view for p in store.list_photos(s.id)] for s in sessions}
required = required_views(photos_by_session.get(base_id, []))
base_photos = {p.view: p for p in store.list_photos(base_id)} if base_id is not None else {}


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
    keys = {k: f"ref_{k}_{p.id}" for k in "xywh"}
    if st.toggle("Draw the patch on the photo", key=f"ref_draw_{p.id}",
                 help="Drag a box over the grey card or white headband; the numbers below follow it."):
        ev = st.vega_lite_chart(drawable_photo_spec(small_rgb(p.id, 640), (p.width, p.height)), on_select="rerun",
                                selection_mode="patch", key=f"ref_canvas_{p.id}", width="stretch")
        drawn = patch_from_selection(ev, (p.width, p.height))
        if drawn and st.session_state.get(f"ref_drawn_{p.id}") != drawn:  # a new box: into the numbers
            st.session_state[f"ref_drawn_{p.id}"] = drawn
            for k in "xywh":
                st.session_state[keys[k]] = drawn[k]
    for k in "xywh":  # the numbers start from the stored patch (or a default square)
        st.session_state.setdefault(keys[k], int(dflt[k]))
    c1, c2, c3, c4 = st.columns(4)
    x = c1.number_input("X", min_value=0, max_value=p.width - 1, step=1, key=keys["x"])
    y = c2.number_input("Y", min_value=0, max_value=p.height - 1, step=1, key=keys["y"])
    w = c3.number_input("W", min_value=1, max_value=p.width, step=1, key=keys["w"])
    h = c4.number_input("H", min_value=1, max_value=p.height, step=1, key=keys["h"])
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
        if s.kind == "recovery":
            render_sent_by_patient(store, s)
        if s.scar_grade is not None:
            st.markdown(f"**Acne-scar grade (Goodman & Baron):** {s.scar_grade}")
        if s.notes and not sim:
            st.caption(md_escape(s.notes))
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
                    bp = base_photos.get(p.view)
                    diff = differences_text(differences(p.capture_conditions, bp.capture_conditions)) if (
                        bp is not None and bp.id != p.id) else None
                    if diff:
                        st.warning(diff, icon=":material/tune:")
                    show_kept_check(p)
                    with st.expander("Colour reference", expanded=st.session_state.get("open_ref_photo") == p.id):
                        colour_reference(p, s.id)
                    if confirm_button(f"del_photo_{p.id}", "Delete this photo",
                                      f"Delete the {p.view} photo “{p.filename}” of {label}? Its measurements "
                                      "go with it. This can't be undone."):
                        store.delete_photo(p.id)
                        audit(store, "delete.photo", patient.id, f"photo {p.id}")
                        bump()
                        st.session_state["open_session_id"] = s.id
                        st.toast(f"Photo “{p.filename}” deleted.")
                        st.rerun()
        else:
            st.caption("No photos yet.")
        missing = missing_views(required, [p.view for p in photos])
        if missing:
            st.caption("Views still missing: " + ", ".join(view_label(v) for v in missing) + ".")
        recovery_of = s.id if s.id in with_recovery else (s.parent_session_id if s.kind == "recovery" else None)
        if recovery_of is not None:
            show_recovery(recovery_of)
        if s.kind == "treatment" and not patient.is_demo:
            render_plan_editor(store, s, current_user())
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
        followers = [t for t in sessions if t.parent_session_id == s.id]
        also = f" and its {len(followers)} recovery visit(s)" if followers else ""
        if confirm_button(f"del_session_{s.id}", "Delete this session",
                          f"Delete {label}{also}, with {len(photos)} photo(s) and their measurements? "
                          "This can't be undone."):
            store.delete_session(s.id)
            audit(store, "delete.session", patient.id, f"session {s.id}")
            bump()
            st.toast(f"{label} deleted.")
            st.rerun()

# ------------------------------------------------------------------ add a session
st.subheader("Add a session")
with st.form("add_session", clear_on_submit=False):  # kept after an error, emptied after a success
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
    # A dated item after this session's date (the intake's "recent Botox" of a later day, pre-filled
    # above) did not happen before this session: it is not carried onto it.
    later = {k for k, d in (raw_screening.get("dates") or {}).items() if d is not None and d > date}
    if later:
        raw_screening = {**raw_screening,
                         "answers": {k: (v and k not in later) for k, v in raw_screening["answers"].items()},
                         "dates": {k: d for k, d in raw_screening["dates"].items() if k not in later}}
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
        for k in [k for k in st.session_state if str(k).startswith("as_")]:
            del st.session_state[k]
        st.toast(f"Session of {rec.date.isoformat()} added. Upload its photos below.")
        st.rerun()

# ------------------------------------------------------------------ photos
if sessions:
    st.subheader("Photos")
    if not any(photos_by_session.values()):  # the first upload of a new series: the guide first
        with st.expander("Capture guide: read before the first photos of this series", expanded=True):
            st.markdown(guide_markdown(required))
            st.page_link("app_pages/capture_guide.py", label="Open the printable capture guide",
                         icon=":material/print:")
    ids = [s.id for s in sessions]
    labels = {s.id: service.session_label(s, i, baseline_id=base_id) for i, s in enumerate(sessions, start=1)}
    want = st.session_state.get("upload_session_id")
    if want not in ids:
        want = ids[-1]
    if st.session_state.get("up_session") not in ids:
        st.session_state["up_session"] = want
    sid = st.selectbox("Session", ids, key="up_session", format_func=lambda i: labels[i])
    no_consent = service.consent_problem(patient, "photos")
    if no_consent:  # nothing can be uploaded: say why and how to change it, once, in plain words
        st.warning(no_consent, icon=":material/no_photography:")
        st.page_link("app_pages/patients.py", label="Edit the patient on the Patients page", icon=":material/group:")
        st.stop()
    views = view_choices(v for ps in photos_by_session.values() for v in ps)
    view = st.selectbox("View", views, key="up_view", format_func=view_label,
                        help="One photo per view and session. Several files: a file whose name says its view "
                             "(…front…, …left45…, …right45…) gets that view; the others get this view first, "
                             "then the remaining views in order. Each photo's view is shown after the upload.")
    if st.session_state.pop("_reset_replace", False):
        st.session_state["up_replace"] = False
    replace = st.checkbox("Replace the existing photo of this view (retake)", key="up_replace")
    last_cond = next((p.capture_conditions for s_ in reversed(sessions) for p in store.list_photos(s_.id)
                      if p.capture_conditions), None)
    conditions = conditions_input(last_cond)
    base_photo = base_photos.get(view)
    cond_note = differences_text(differences(conditions, base_photo.capture_conditions)) if (
        base_photo is not None and sid != base_id) else None
    tab_files, tab_cam = st.tabs(["Upload files (desktop)", "Camera (tablet)"])

    def _page_words(msg: str) -> str:
        """An error names the session as this page does (Session 4 · date), not by its record id."""
        return re.sub(rf"\bsession {sid}\b", labels[sid], msg)

    def store_and_analyse(items: list[tuple[str, bytes, str]]) -> None:
        try:
            added, errors = service.add_photos(store, sid, items, replace=replace)
        except SkinProgressError as exc:  # no photo consent: nothing stored
            st.error(_page_words(str(exc)))
            return
        errors = [_page_words(e) for e in errors]
        record_conditions(store, added, conditions)
        if not added:
            for e in errors:
                st.error(md_escape(e))  # names the uploaded file: shown as text
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

    def keep_passed(session_id: int) -> None:
        """Keep the uploads that passed the check before keeping (the others wait below)."""
        from ui.capture import PENDING_KEY

        pending = st.session_state.get(PENDING_KEY) or []
        ok = [p for p in pending if p["ok"] and p["source"] == "upload" and p["session_id"] == session_id]
        if ok:
            st.session_state[PENDING_KEY] = [p for p in pending if p not in ok]
            store_and_analyse([(p["view"], p["data"], p["filename"]) for p in ok])

    last = st.session_state.pop("last_upload", None)
    if last:
        for e in last["errors"]:
            st.error(md_escape(e))
        done = [a for a in cached_status(series.id) if a.photo_id in set(last["ids"])]
        good = [a for a in done if a.ok]
        other = [a for a in done if not a.ok]
        if good:
            st.success(f"{len(good)} photo{'s' if len(good) != 1 else ''} stored and analysed.")
        if other:  # never green: these are not in the charts
            st.warning(f"{len(other)} photo{'s' if len(other) != 1 else ''} stored but left out of the charts: "
                       "see below.")
        for a in done:
            c1, c2 = st.columns([1, 2])
            c1.image(display_bytes(a.photo_id), caption=f"{a.view} · {a.filename}", width="stretch")
            with c2:
                show_analysis(a, key="up")
                if not a.ok and confirm_button(f"del_up_{a.photo_id}", "Delete this photo",
                                               f"Delete the {a.view} photo “{a.filename}”? This can't be undone."):
                    store.delete_photo(a.photo_id)
                    audit(store, "delete.photo", patient.id, f"photo {a.photo_id}")
                    bump()
                    st.toast(f"Photo “{a.filename}” deleted.")
                    st.rerun()
                elif not a.ok:  # keep the outcome on screen while the question is asked
                    st.session_state["last_upload"] = last

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
                if len(files) > len(views):
                    st.error(f"{len(files)} files but only {len(views)} views: upload one file per view.")
                    files = files[: len(views)]
                given = service.assign_views([f.name for f in files], view, views)
                items = [(v, f.getvalue(), f.name) for v, f in zip(given, files, strict=True)]
                # The check before keeping: photos that pass are kept at once, the others wait
                # for "Keep" / "Retake" below with the one thing to fix.
                with st.spinner("Checking the photos against the baseline…"):
                    stage(store, sid, items, source="upload")
                keep_passed(sid)

    with tab_cam:
        from analyzer.service.prekeep import baseline_measure, baseline_photo_for

        bphoto = baseline_photo_for(store, sid, view)
        assets = None
        if bphoto is not None:
            bface = baseline_measure(store, bphoto).face  # cached: also makes the first check quicker
            assets = ghost_assets(display_bytes(bphoto.id),
                                  tuple(map(float, bface.box)) if bface is not None else None,
                                  tuple((float(x), float(y)) for x, y in (bface.left_eye, bface.right_eye))
                                  if bface is not None else None, (bphoto.width, bphoto.height))
        else:
            st.caption(f"No baseline {view} photo to line up with: this photo is checked on its own.")
        st.caption("Line the face up with the ghost of the baseline and its outline, then take the photo: it is "
                   "taken at the camera's full resolution and checked before it is kept.")
        shot = ghost_capture(assets, key="ghost_capture")
        if shot is not None and shot["nonce"] != st.session_state.get("_ghost_nonce"):
            st.session_state["_ghost_nonce"] = shot["nonce"]
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            ext = "png" if shot.get("mime") == "image/png" else "jpg"
            with st.spinner("Checking the photo against the baseline…"):
                stage(store, sid, [(view, shot["data"], f"camera-{view}-{stamp}.{ext}")], source="camera",
                      shot_at_ms=shot.get("shot_at_ms"),
                      meta={k: shot.get(k) for k in ("width", "height", "method", "track_width", "track_height",
                                                     "capture_ms", "mime")})

    review_pending(store_and_analyse, session_id=sid, note=cond_note)
