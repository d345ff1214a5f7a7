"""Patient view: read-only, the patient's own series only.

Before/after with a slider, the progress charts with friendly explanations, the report download.
A patient signed in by their link lands here and sees only their own patient (the gate pins it);
a practitioner opens it from the Patients page. While it is open the navigation holds only this
page, and only this patient's records are loaded here. Views and report downloads are audited.
"""

from __future__ import annotations

import streamlit as st

from analyzer import service
from analyzer.errors import SkinProgressError
from ui.auth import audit, audit_once, authorized_patient_id, current_user
from ui.charts import metric_chart, metric_rows, show_cards, show_metric_chart
from ui.checkin import render_aftercare, render_patient_checkins
from ui.common import (
    before_after_slider,
    cached_progress_rows,
    cached_review,
    cached_status,
    get_store,
    md_escape,
)

store = get_store()
pid = st.session_state.get("patient_mode_id") or st.session_state.get("patient_id")
if pid is None:
    st.title("Patient view")
    st.info("Open a patient on the Patients page, then choose “Patient view”.")
    st.page_link("app_pages/patients.py", label="Patients", icon=":material/group:")
    st.stop()
if st.session_state.get("patient_mode_id") is None:
    st.title("Patient view")
    st.caption("Read-only page for the patient. While it is open, nothing about any other patient can be reached.")
    if st.button("Open the patient view for this patient", type="primary", key="pv_enter"):
        st.session_state["patient_mode_id"] = pid
        st.rerun()
    st.stop()

pid = authorized_patient_id(store, pid)  # a patient: only their own id passes
_user = current_user()
patient = store.get_patient(pid)  # the only patient record this page loads
with st.sidebar:
    st.caption("Patient view (read-only).")
    if not (_user is not None and _user.is_patient) and st.button("Back to the practitioner view", key="pv_exit"):
        st.session_state["patient_mode_id"] = None
        st.session_state.pop("pv_pdf", None)
        st.rerun()

st.title(f"Your progress, {md_escape(patient.display_name)}")
# Between sessions: today's recovery check-in (photo and symptoms) and the aftercare text come first.
render_patient_checkins(store, patient, _user)
render_aftercare(store, patient.id)
all_series = store.list_series(patient.id)
if not all_series:
    st.info("No treatment series yet.")
    st.stop()
names = {s.id: s.name or f"{s.body_area} series" for s in all_series}
sid = st.selectbox("Treatment series", list(names), format_func=lambda i: names[i], key="pv_series")
series = next(s for s in all_series if s.id == sid)
audit_once(store, "view.progress", patient.id, f"series {series.id}")
if patient.is_demo:
    st.info("This is a demo: later sessions contain **simulated** changes added to real photos.")

rows = cached_progress_rows(series.id)
if not rows:
    st.info("Your photos have not been analysed yet. Your practitioner will add them after your sessions.")
    st.stop()

# ---- before / after
st.subheader("Before and after")
status = [a for a in cached_status(series.id) if a.aligned]
if status:
    last = status[-1]
    try:
        r = cached_review(last.photo_id, service.DEFAULT_REGION)
    except LookupError:
        r = None
    if r is not None and r["aligned"] and r.get("f_jpg"):
        before_after_slider(r["b_jpg"], r["f_jpg"], (r["b"].shape[1], r["b"].shape[0]),
                            labels=("First session", "Latest session"))
        st.caption("Drag the slider to compare your first session with the latest one, lined up on the same spot.")
else:
    st.caption("The before/after comparison appears after your first follow-up session.")

# ---- summary and charts
view = sorted({r["view"] for r in rows})[0]
region = service.DEFAULT_REGION if any(r["region"] == service.DEFAULT_REGION for r in rows) else rows[0]["region"]
st.subheader("In short")
show_cards(service.summary_cards(rows, view=view, regions=[region]))

st.subheader("Your charts")
st.caption("Each chart shows the value at every session (top) and the change since your first session in % "
           "(bottom). The grey band is the noise band: a change inside it is no bigger than what re-taking the "
           "same photo gives, so it is not a real change yet. A hollow grey point means we can't tell whether the "
           "skin changed (for example the light differed and there was no colour reference). Dotted lines mark "
           "treatment sessions. The noise bands come from repeat photos of unchanged faces, taken in one session "
           "and across two sessions.")
for m in service.KEY_METRICS:
    info = service.metric_info(m)
    mr = metric_rows(rows, view=view, region=region, metric=m)
    ch = metric_chart(mr, m, height=180, plain=True)
    if ch is None:
        continue
    st.markdown(f"**{info.label[:1].upper() + info.label[1:]}**: {info.explanation}")
    show_metric_chart(ch)
    for r in (r for r in mr if r.get("verdict") == "cant_tell" and r["value"] is not None):
        st.caption(f"Session {r['session_index']} ({r['session_date']}), hollow grey point: {r['verdict_reason']}.")

# ---- report
st.subheader("Your report")
no_report = service.consent_problem(patient, "reports")
if no_report:  # no report without the patient's consent to reports
    if _user is not None and _user.is_patient:
        st.info("No report can be made: your consent to reports is not on file. If you would like one, "
                "ask your practitioner.")
    else:
        st.info(no_report)
elif st.button("Prepare my report (PDF)", key="pv_report"):
    try:
        with st.spinner("Preparing the report…"):
            st.session_state["pv_pdf"] = (patient.id, series.id,
                                          service.patient_report_pdf(store, patient.id, series.id))
        audit(store, "export.report", patient.id, f"series {series.id}")
    except SkinProgressError as exc:
        st.error(str(exc))
pdf = st.session_state.get("pv_pdf")
if pdf and pdf[:2] == (patient.id, series.id):  # never another patient's report
    st.download_button("Download the report", data=pdf[2], mime="application/pdf",
                       file_name=f"{patient.code}-progress-report.pdf", key="pv_download")
