"""Consultation: what one session's photo shows today. Overlays of what each measure counted
(dark spots, pores, fine lines, scars, stretch marks, red areas), the counts and areas behind the
numbers, a redness (haemoglobin) and a pigment (melanin) map, and the practitioner's marks."""

from __future__ import annotations

import streamlit as st

from analyzer import service
from analyzer.errors import SkinProgressError
from ui.auth import audit_once, current_user
from ui.common import cached_status, get_store, md_escape, need_series, series_label, small_rgb
from ui.consult import annotated, annotation_editor, cached_findings, findings_panel, zoomable

store = get_store()
patient, series = need_series(store)
audit_once(store, "view.consultation", patient.id, f"series {series.id}")
st.title("Consultation")
st.caption(f"{md_escape(patient.display_name)} · `{patient.code}` · {md_escape(series_label(series))}")

sessions = sorted(store.list_sessions(series.id), key=lambda s: (s.date, s.id))
base = service.baseline_session(store, series.id)
photos = []
for i, s in enumerate(sessions, start=1):
    for p in store.list_photos(s.id):
        photos.append((p, f"{service.session_label(s, i, baseline_id=base.id if base else None)} · {p.view}"))
if not photos:
    st.info("This series has no photo yet: upload one on the Series & sessions page.")
    st.stop()
labels = {p.id: lab for p, lab in photos}
c1, c2 = st.columns([3, 2])
pid = c1.selectbox("Session photo", list(labels), key="consult_photo", format_func=labels.get)
status = {a.photo_id: a for a in cached_status(series.id)}
a = status.get(pid)
if a is None or not a.regions:
    st.info("This photo has not been analysed yet: analyse it on the Series & sessions or Review page.")
    st.stop()
region = c2.selectbox("Region", list(a.regions), key="consult_region", format_func=service.region_label)
photo = store.get_photo(pid)

with st.expander("The photo and its marks", expanded=False):
    rgb = small_rgb(pid, 1200)
    zoomable(annotated(store, pid, rgb, scale=rgb.shape[1] / photo.width), caption="Scroll or pinch to zoom, drag "
             "to move. Yellow: the practitioner's marks (they never change a number).", key="consult-photo")
    annotation_editor(store, photo, by=current_user() or "unknown", key=f"c{pid}")

try:
    with st.spinner("Finding what each measure counted…"):
        pf = cached_findings(pid, region)
except (LookupError, SkinProgressError) as exc:
    st.info(str(exc))
    st.stop()
findings_panel(pf, key=f"consult-{pid}-{region}")
