"""Patients: list, search, create and open a patient (and start a treatment series)."""

from __future__ import annotations

import streamlit as st

from analyzer import service
from analyzer.errors import SkinProgressError
from analyzer.screening import validate_screening
from ui.auth import audit, patient_scope
from ui.checkin import render_flags
from ui.common import (
    bump,
    concern_text,
    confirm_button,
    current_patient_id,
    get_store,
    md_escape,
    select_patient,
    series_label,
)
from ui.concerns import render_screening_form

store = get_store()
st.title("Patients")
SKIN_TYPES = ["I", "II", "III", "IV", "V", "VI"]


def edit_patient(p) -> None:
    """Details, consents and intake screening of the open patient, editable; its series and the
    patient can be deleted (each after a question)."""
    k = f"ep{p.id}_"
    with st.expander(f"Edit patient: {p.display_name} ({p.code})",
                     expanded=st.session_state.get("_ep_open") == p.id):
        with st.form(f"edit_patient_{p.id}", clear_on_submit=False):
            c1, c2 = st.columns(2)
            code = c1.text_input("Patient code", value=p.code, key=k + "code")
            name = c2.text_input("Display name", value=p.display_name, key=k + "name")
            c3, c4 = st.columns(2)
            birth = c3.number_input("Birth year (0 = not given)", min_value=0, max_value=2100,
                                    value=int(p.birth_year or 0), step=1, key=k + "birth")
            fitz = c4.selectbox("Fitzpatrick skin type", [None, 1, 2, 3, 4, 5, 6],
                                index=[None, 1, 2, 3, 4, 5, 6].index(p.fitzpatrick), key=k + "fitz",
                                format_func=lambda v: "not given" if v is None else SKIN_TYPES[v - 1])
            cp = st.checkbox("Consents to photos being stored", value=p.consent_photos, key=k + "cp")
            cr = st.checkbox("Consents to reports", value=p.consent_reports, key=k + "cr")
            notes = st.text_area("Notes", value=p.notes, key=k + "notes")
            with st.expander("Intake screening (contraindications)", expanded=False):
                raw = render_screening_form(k + "scr", context="intake", initial=p.screening)
            save = st.form_submit_button("Save changes", type="primary")
        if save:
            st.session_state["_ep_open"] = p.id
            try:
                screening = validate_screening(raw)
                store.update_patient(p.id, code=(code or "").strip(), display_name=(name or "").strip(),
                                     birth_year=birth or None, fitzpatrick=fitz, consent_photos=cp,
                                     consent_reports=cr, notes=notes, screening=screening)
            except SkinProgressError as exc:
                st.error(str(exc))
            else:
                audit(store, "edit.patient", p.id, "details and consents")
                bump()
                for key in [x for x in st.session_state if str(x).startswith(k)]:
                    del st.session_state[key]
                st.session_state["_ep_msg"] = "Changes saved."
                st.rerun()
        if msg := st.session_state.pop("_ep_msg", None):
            st.success(msg)
        from ui.consult import marketing_consent_box

        marketing_consent_box(store, p)
        for ser in store.list_series(p.id):
            n = len(store.list_sessions(ser.id))
            if confirm_button(f"del_series_{ser.id}", f"Delete the series “{series_label(ser)}”",
                              f"Delete the series “{series_label(ser)}” with its {n} session(s), their photos "
                              "and measurements? This can't be undone."):
                store.delete_series(ser.id)
                audit(store, "delete.series", p.id, f"series {ser.id}")
                bump()
                select_patient(p.id)
                st.rerun()
        if confirm_button(f"del_patient_{p.id}", f"Delete {p.display_name} ({p.code})",
                          f"Delete {p.display_name} ({p.code}) with every series, session, photo, measurement "
                          "and patient link? This can't be undone."):
            store.delete_patient(p.id)
            audit(store, "delete.patient", p.id, "")
            bump()
            select_patient(None)
            st.toast(f"{p.display_name} ({p.code}) deleted.")
            st.rerun()


CONCERNS = ["redness", "pigmentation", "texture", "acne scars", "fine lines", "pores"]
try:  # the store's own list, when it has one
    from analyzer.store.validate import KNOWN_CONCERNS

    CONCERNS = list(KNOWN_CONCERNS)
except ImportError:  # pragma: no cover
    pass

# Recovery flags from the patients' check-ins (symptoms they reported, redness not settling).
try:
    _flags = service.recovery_flags(store)
except SkinProgressError as exc:  # the list still shows
    _flags = []
    st.error(f"Recovery flags can't be shown: {exc}")
flags_of: dict[int, list] = {}
for _f in _flags:
    flags_of.setdefault(_f.patient_id, []).append(_f)
if flags_of:
    st.warning(f"{len(flags_of)} patient{'s' if len(flags_of) != 1 else ''} with a recovery flag: see below.",
               icon=":material/flag:")
search = st.text_input("Search by name or code", key="patient_search", placeholder="e.g. DEMO or Smith")
patients = patient_scope(store).patients(search)

if not patients:
    st.info("No patient matches." if search else "No patients yet: create the first one below.")
for p in patients[:100]:
    with st.container(border=True):
        c1, c2, c3 = st.columns([5, 1.2, 1.4])
        badge = " · :orange-badge[demo, simulated changes]" if p.is_demo else ""
        current = " · :green-badge[open]" if p.id == current_patient_id() else ""
        flagged = (f" · :red-badge[:material/flag: {len(flags_of[p.id])} recovery flag"
                   f"{'s' if len(flags_of[p.id]) != 1 else ''}]") if p.id in flags_of else ""
        c1.markdown(f"**{md_escape(p.display_name)}** · `{p.code}`{badge}{current}{flagged}")
        n = len(store.list_series(p.id))
        facts = [f"{n} series"]
        if p.birth_year:
            facts.append(f"born {p.birth_year}")
        if p.fitzpatrick:
            facts.append(f"Fitzpatrick {SKIN_TYPES[p.fitzpatrick - 1]}")
        facts.append("photo consent" if p.consent_photos else "no photo consent")
        c1.caption(" · ".join(facts))
        if p.id in flags_of:
            with c1:
                render_flags(flags_of[p.id])
        if c2.button("Open", key=f"open_{p.id}", width="stretch"):
            select_patient(p.id)
            st.switch_page("app_pages/progress.py")
        if c3.button("Patient view", key=f"pview_{p.id}", width="stretch",
                     help="Read-only page for the patient: only this patient's own series."):
            select_patient(p.id)
            st.session_state["patient_mode_id"] = p.id
            st.switch_page("app_pages/patient_view.py")

st.divider()
with st.expander("New patient", expanded=not patients and not search):
    # Not cleared on submit: after an error (a missing date, a taken code) everything typed stays;
    # after a success the fields are emptied below, before the next run draws them.
    with st.form("new_patient", clear_on_submit=False):
        c1, c2 = st.columns(2)
        code = c1.text_input("Patient code", key="np_code", help="Letters, digits, . _ - (e.g. P-0042)")
        name = c2.text_input("Display name", key="np_name")
        c3, c4 = st.columns(2)
        birth_year = c3.number_input("Birth year (0 = not given)", min_value=0, max_value=2100, value=0,
                                     step=1, key="np_birth")
        fitz = c4.selectbox("Fitzpatrick skin type", [None, 1, 2, 3, 4, 5, 6], key="np_fitz",
                            format_func=lambda v: "not given" if v is None else ["I", "II", "III", "IV", "V", "VI"][v - 1])
        consent_photos = st.checkbox("Consents to photos being stored", key="np_cp")
        consent_reports = st.checkbox("Consents to reports", key="np_cr")
        st.markdown("**First treatment series**")
        c5, c6 = st.columns(2)
        body_area = c5.selectbox("Body area", ["face", "neck", "decolletage", "hands", "abdomen", "back", "scalp"],
                                 key="np_area")
        series_name = c6.text_input("Series name", value="Microneedling", key="np_series")
        concerns = st.multiselect("Concerns", CONCERNS, default=[c for c in ("redness", "texture") if c in CONCERNS],
                                  key="np_concerns", format_func=concern_text)
        notes = st.text_area("Notes", key="np_notes")
        with st.expander("Intake screening (contraindications)", expanded=False):
            raw_screening = render_screening_form("np_scr", context="intake")
        submitted = st.form_submit_button("Create patient", type="primary")
    if submitted:
        try:
            screening = validate_screening(raw_screening)  # one-line UsageError: nothing is stored then
            patient, series = service.create_patient_with_series(
                store, code=code, display_name=name, birth_year=birth_year or None, fitzpatrick=fitz,
                consent_photos=consent_photos, consent_reports=consent_reports, notes=notes,
                body_area=body_area, concerns=concerns, series_name=series_name, screening=screening,
                clinic_id=patient_scope(store).clinic_id)
        except SkinProgressError as exc:  # UsageError of the checklist included
            st.error(str(exc))
        else:
            bump()
            select_patient(patient.id, series.id)
            for k in [k for k in st.session_state if str(k).startswith(("np_", "FormSubmitter:new_patient"))]:
                del st.session_state[k]  # an empty form for the next patient
            st.session_state["_np_created"] = (f"Created {md_escape(patient.display_name)} ({patient.code}) with the series "
                                              f"“{md_escape(series_label(series))}”.")
            st.rerun()  # the list above shows the new patient
created = st.session_state.pop("_np_created", None)
if created:
    st.success(created)
    st.page_link("app_pages/sessions.py", label="Add the first session and photos", icon=":material/event:")

pid = current_patient_id()
if pid is not None:
    p = store.get_patient(pid)
    edit_patient(p)
if pid is not None and p.is_demo:
    st.caption("The demo patient is sample data with simulated changes: it takes no new series and no patient "
               "links. Create a real patient above.")
elif pid is not None:
    with st.expander(f"New series for {md_escape(p.display_name)}"):
        with st.form("new_series", clear_on_submit=False):  # kept after an error, emptied after a success
            body_area = st.selectbox("Body area", ["face", "neck", "decolletage", "hands", "abdomen", "back", "scalp"],
                                     key="ns_area")
            series_name = st.text_input("Series name", key="ns_name")
            concerns = st.multiselect("Concerns", CONCERNS, key="ns_concerns", format_func=concern_text)
            ok = st.form_submit_button("Create series")
        if ok:
            try:
                s = store.create_series(pid, body_area=body_area, concerns=concerns, name=series_name)
            except SkinProgressError as exc:
                st.error(str(exc))
            else:
                bump()
                select_patient(pid, s.id)
                for k in [k for k in st.session_state if str(k).startswith("ns_")]:
                    del st.session_state[k]
                st.session_state["_ns_created"] = f"Series “{md_escape(series_label(s))}” created."
                st.rerun()  # the sidebar's series list shows it
    if msg := st.session_state.pop("_ns_created", None):
        st.success(msg)
