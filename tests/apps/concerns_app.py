"""A tiny session page for the AppTest of ui.concerns: the pre-session checklist form, the
stored checklist's flags, a recovery chart and the concern-led measures.

What the real session page does with these calls (the lead wires them):
the form's dict goes through analyzer.screening.validate_screening and is stored with the
session; the page then shows render_screening_flags(session.screening, on=session.date).

Inputs the tests plant in ``st.session_state`` before a run:
``stored_screening`` (a checklist already stored with the session), ``recovery_curves``
(RecoveryCurve list, current last), ``rows`` and ``concerns`` (progress rows, series concerns).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analyzer.errors import UsageError  # noqa: E402
from analyzer.screening import validate_screening  # noqa: E402
from ui.concerns import (  # noqa: E402
    render_concern_measures,
    render_recovery_chart,
    render_screening_flags,
    render_screening_form,
)

SESSION_DATE = dt.date(2026, 11, 20)

st.title("Session 3")
with st.form("pre_session"):
    raw = render_screening_form("scr", context="pre_session")
    save = st.form_submit_button("Save checklist")
if save:
    try:
        st.session_state["stored_screening"] = validate_screening(raw, today=SESSION_DATE)
    except UsageError as e:
        st.error(str(e))

shown = render_screening_flags(st.session_state.get("stored_screening"), on=SESSION_DATE)
st.session_state["flags_shown"] = shown

if st.session_state.get("recovery_curves"):
    st.session_state["recovery_message"] = render_recovery_chart(st.session_state["recovery_curves"])
if st.session_state.get("rows"):
    st.session_state["order_shown"] = render_concern_measures(st.session_state["rows"],
                                                              st.session_state.get("concerns", []))
