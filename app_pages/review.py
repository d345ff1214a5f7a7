"""Review: a follow-up aligned over its baseline (opacity), a before/after slider, side by side,
change heat maps, and the regions of interest (chosen on the baseline, shown on every session)."""

from __future__ import annotations

import cv2
import streamlit as st

from analyzer import ANALYZER_VERSION, service
from analyzer.errors import SkinProgressError
from analyzer.regions import FACE_REGIONS
from analyzer.render import draw_polygon
from ui.auth import audit_once
from ui.common import (
    before_after_slider,
    bump,
    cached_review,
    cached_status,
    display_bytes,
    get_store,
    md_escape,
    need_series,
    prefetch_reviews,
    series_label,
    show_caveat,
    small_rgb,
)

store = get_store()
patient, series = need_series(store)
audit_once(store, "view.review", patient.id, f"series {series.id}")  # the patient's photos are shown here
st.title("Review")
st.caption(f"{md_escape(patient.display_name)} · `{patient.code}` · {md_escape(series_label(series))}")

sessions = sorted(store.list_sessions(series.id), key=lambda s: (s.date, s.id))
base = service.baseline_session(store, series.id)
if base is None or not store.list_photos(base.id):
    st.info("The baseline session has no photo yet: upload one on the Series & sessions page.")
    st.page_link("app_pages/sessions.py", label="Series & sessions", icon=":material/event:")
    st.stop()
base_photos = {p.view: p for p in store.list_photos(base.id)}
status = {a.photo_id: a for a in cached_status(series.id)}
rois = service.series_rois(series)

# ------------------------------------------------------------------ regions of interest
with st.expander("Regions of interest (chosen on the baseline)", expanded=False):
    st.caption("Every region is drawn on the baseline photo and measured on the same skin in every session.")
    kind = st.radio("Add a region", ["Named face region", "Rectangle"], horizontal=True, key="roi_kind")
    bview = st.selectbox("Baseline view", list(base_photos), key="roi_view")
    bp = base_photos[bview]
    if kind == "Named face region":
        name = st.selectbox("Face region", [r for r in FACE_REGIONS if r not in rois] or list(FACE_REGIONS),
                            key="roi_named", format_func=service.region_label)
        spec = {"kind": "named", "name": name}
    else:
        c1, c2, c3, c4 = st.columns(4)
        x = c1.number_input("x (px)", 0, bp.width - 1, bp.width // 3, key="roi_x")
        y = c2.number_input("y (px)", 0, bp.height - 1, bp.height // 3, key="roi_y")
        w = c3.number_input("width (px)", 1, bp.width, max(1, bp.width // 4), key="roi_w")
        h = c4.number_input("height (px)", 1, bp.height, max(1, bp.height // 6), key="roi_h")
        rname = st.text_input("Name", value="patch", key="roi_name")
        spec = {"kind": "rect", "name": rname.strip() or "patch", "x": x, "y": y, "w": w, "h": h}
    # Preview: the regions measured now (green) and the one about to be added (orange), on the baseline.
    outlines = service.region_outlines(store, series.id, bview)
    preview = small_rgb(bp.id)
    k = preview.shape[1] / bp.width
    for poly in outlines.values():
        preview = draw_polygon(preview, poly * k)
    if spec["kind"] == "rect":
        x0, y0 = spec["x"] * k, spec["y"] * k
        rect = [[x0, y0], [x0 + spec["w"] * k, y0], [x0 + spec["w"] * k, y0 + spec["h"] * k], [x0, y0 + spec["h"] * k]]
        preview = draw_polygon(preview, rect, colour=(1.0, 0.55, 0.0))
    st.container(width=420).image(preview, width="stretch", clamp=True,
             caption="Baseline: regions measured (green)" + (", new rectangle (orange)" if spec["kind"] == "rect" else "")
             + ". Pixel coordinates are those of the original photo " + f"({bp.width}×{bp.height}).")
    if st.button("Add region and measure it on every session", key="roi_add", type="primary"):
        try:
            added = service.add_region(store, series.id, spec)
            bar = st.progress(0.0, text="Measuring the new region…")
            service.analyze_series(store, series.id,
                                   progress=lambda f, t: bar.progress(min(max(f, 0.0), 1.0), text=t))
        except SkinProgressError as exc:
            st.error(str(exc))
        else:
            bump()
            st.session_state["review_region"] = added
            st.rerun()
    removable = [r for r in rois if r != service.DEFAULT_REGION]
    if removable:
        c1, c2 = st.columns([3, 1])
        rm = c1.selectbox("Remove a region", removable, key="roi_rm", format_func=service.region_label)
        if c2.button("Remove", key="roi_rm_btn"):
            service.remove_region(store, series.id, rm)
            bump()
            st.rerun()

# ------------------------------------------------------------------ which photo
follow = []
for i, s in enumerate(sessions, start=1):
    for p in store.list_photos(s.id):
        follow.append((p, service.session_label(s, i, baseline_id=base.id)))
ids = [p.id for p, _ in follow]
labels = {p.id: f"{lab} · {p.view}" for p, lab in follow}
default = [p.id for p, _ in follow if p.session_id != base.id]
if st.session_state.get("review_photo") not in ids:
    st.session_state["review_photo"] = (default or ids)[-1]
c1, c2 = st.columns([3, 2])
pid = c1.selectbox("Session photo", ids, key="review_photo", format_func=lambda i: labels[i])
region_names = list(rois)
if st.session_state.get("review_region") not in region_names:
    st.session_state["review_region"] = region_names[0]
region = c2.selectbox("Region", region_names, key="review_region", format_func=service.region_label)

a = status.get(pid)
if a is None or not a.regions:
    st.info("This photo has not been analysed yet.")
    if a is not None and a.baseline_photo_id is None:
        st.warning(f"No baseline photo of the {a.view} view: upload one to the baseline session.")
    elif st.button("Analyse now", key="review_analyse"):
        bar = st.progress(0.0)
        service.analyze_series(store, series.id, progress=lambda f, t: bar.progress(min(max(f, 0.0), 1.0), text=t))
        bump()
        st.rerun()
    st.stop()
for c in a.caveats:
    show_caveat(c)

if region not in a.regions:
    st.info(f"{service.region_label(region)} was not measured on this photo.")
    st.stop()

r = cached_review(pid, region)
if not r["aligned"]:
    st.error(f"Alignment refused: {r['reason']}. Only the side-by-side view is available; retake the photo.")
    c1, c2 = st.columns(2)
    c1.image(display_bytes(r["baseline_photo_id"]), caption="Baseline", width="stretch")
    c2.image(display_bytes(pid), caption="Follow-up (not aligned)", width="stretch")
    st.stop()

b_show, f_show = r["b"], r["f"]
t_overlay, t_slider, t_side, t_maps, t_find = st.tabs(["Aligned overlay", "Before / after slider", "Side by side",
                                                       "Change maps", "Findings"])
with t_overlay:
    op = st.slider("Follow-up opacity over the baseline", 0.0, 1.0, 0.5, 0.05, key="overlay_opacity")
    st.image(cv2.addWeighted(b_show, 1.0 - op, f_show, op, 0.0), caption=f"Baseline with the aligned follow-up "
             f"at {op:.0%}", width="stretch", output_format="JPEG")
with t_slider:
    before_after_slider(r["b_jpg"], r["f_jpg"], (b_show.shape[1], b_show.shape[0]),
                        labels=("Before (baseline)", "After"))
with t_side:
    from ui.consult import annotated, zoomable

    c1, c2 = st.columns(2)
    with c1:  # zoom and pan; the practitioner's marks in yellow (never part of the analysis)
        k = b_show.shape[1] / store.get_photo(r["baseline_photo_id"]).width
        zoomable(annotated(store, r["baseline_photo_id"], b_show, scale=k), caption="Baseline", key="rv-b")
    with c2:
        _a = store.get_analysis(pid, analyzer_version=ANALYZER_VERSION, region=service.ALL_REGIONS)
        _m = None if r["same"] or _a is None or _a.transform is None else _a.transform
        zoomable(annotated(store, pid, f_show, scale=k, matrix=_m) if _m is not None or r["same"] else f_show,
                 caption="Follow-up, aligned to the baseline", key="rv-f")
with t_maps:
    if r["same"]:
        st.info("This is the baseline photo itself: there is no change to map. Pick a later session.")
    elif not r["maps"]:
        st.info("No change maps for this region.")
    else:
        cols = st.columns(3)
        for k, (title, legend, jpg, bar) in enumerate(r["maps"]):
            with cols[k % 3]:
                st.image(jpg, caption=f"{title}: {legend}", width="stretch")
                st.html(bar)  # the fixed scale: what each colour means
        st.caption("Colours use a fixed scale in every session, so the same colour means the same change.")

with t_find:
    from ui.auth import current_user
    from ui.consult import annotation_editor, cached_findings, findings_panel

    # Tabs all run: the findings are worked out only when asked for (a few seconds per photo).
    if st.toggle("Show what each measure counted on this photo", key="rv_findings"):
        try:
            with st.spinner("Finding what each measure counted…"):
                _pf = cached_findings(pid, region)
        except (LookupError, SkinProgressError) as exc:
            st.info(str(exc))
        else:
            findings_panel(_pf, key=f"rv-{pid}-{region}")
    with st.expander("Marks on this photo (arrows, text, outlines)", expanded=False):
        annotation_editor(store, store.get_photo(pid), by=current_user() or "unknown", key=f"rv{pid}")

# The other analysed photos of this series: ready before the practitioner switches to them.
prefetch_reviews([i for i in ids if i != pid and status.get(i) is not None and region in status[i].regions], region)
