"""A small app for the access tests: the real gate (ui.auth.require_user) in front of a patient
page that reads the real store only through analyzer.service.scope.PatientScope.

Like a careless page, it also *accepts* identifiers from the URL (``?patient=``, ``?photo=``,
``?series=``) and from session state (``patient_id``, ``series_id``): the tests plant other
patients' ids there and check nothing of theirs is shown.

Data folder: ``$SKIN_PROGRESS_DATA_DIR``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analyzer.auth import AccessDenied, issue_patient_link, list_patient_links, revoke_patient_link  # noqa: E402
from analyzer.store import Store  # noqa: E402
from ui import auth as ui_auth  # noqa: E402


@st.cache_resource
def _store(data_dir: str) -> Store:
    return Store(data_dir=Path(data_dir))


store = _store(os.environ["SKIN_PROGRESS_DATA_DIR"])
user = ui_auth.require_user(store)
scope = ui_auth.patient_scope(store)
st.caption(f"role: {user.role}")
st.button("Refresh", key="refresh")


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return v


# -- which patient: from the URL, then session state, then the principal's own / first visible
qp = st.query_params
wanted = _int(qp.get("patient")) if "patient" in qp else st.session_state.get("patient_id")
if wanted is None:
    visible = scope.patients()
    wanted = user.patient_id if user.is_patient else (visible[0].id if visible else None)

if user.is_practitioner:
    pats = scope.patients()
    st.selectbox("Patient", [p.id for p in pats], key="pick",
                 format_func=lambda i: next(p.code for p in pats if p.id == i))
    if "pick" in st.session_state and "patient" not in qp:
        wanted = st.session_state["pick"]

try:
    patient = scope.patient(wanted)
except AccessDenied as exc:
    st.error(f"denied: {exc}")
    st.stop()

ui_auth.audit_once(store, "view.progress", patient.id)
st.header(f"{patient.display_name} ({patient.code})")
for s in scope.series_of(patient.id):
    st.subheader(f"series {s.name or s.body_area}")
    for sess in scope.sessions(s.id):
        for ph in scope.photos(sess.id):
            st.image(scope.photo_display_bytes(ph.id), caption=f"{sess.date} {ph.view}", width=120)

# -- id planted in the URL / session state for a series or photo of someone else
for key, fn in (("series", scope.series), ("photo", scope.photo)):
    raw = qp.get(key) if key in qp else st.session_state.get(f"{key}_id")
    if raw is None:
        continue
    try:
        rec = fn(_int(raw))
    except AccessDenied as exc:
        st.error(f"denied {key}: {exc}")
    else:
        owner = getattr(rec, "patient_id", None)
        st.write(f"{key} {rec.id} ok" + (f" (patient {owner})" if owner else ""))

# -- practitioner: patient links
if user.is_practitioner:
    with st.expander("Patient link", expanded=True):
        if st.button("Create link", key="mk_link"):
            link = issue_patient_link(store, user, patient.id, days=30)
            st.session_state["new_token"] = link.token
        if st.session_state.get("new_token"):
            st.code(st.session_state["new_token"])
        for li in list_patient_links(store, user, patient.id):
            c1, c2 = st.columns([3, 1])
            c1.write(f"link {li.id}: {li.state()}")
            if li.state() == "active" and c2.button("Revoke", key=f"rv_{li.id}"):
                revoke_patient_link(store, user, li.id)
                st.rerun()
