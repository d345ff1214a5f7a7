"""skin-progress: the Streamlit app (``streamlit run app.py``).

Builds the navigation from one file per page under pages/. On first start with an empty
data folder it seeds the demo patient from sample_images/ and opens on its progress chart.
The patient view is a separate, read-only mode: while it is open only that patient's page is
in the navigation.
"""

from __future__ import annotations

import streamlit as st

from analyzer import service
from analyzer.errors import SkinProgressError
from pages._common import bump, data_location_caption, default_selection, get_store

st.set_page_config(page_title="skin-progress", page_icon=":material/face:", layout="wide")

try:
    store = get_store(from_app=True)
except SkinProgressError as exc:  # a database URL that can't be opened: say so, offer the way back
    loc = service.store_location()
    st.error(f"The database can't be opened: {exc}")
    st.markdown(f"Database chosen by **{loc.source}**. Data folder: `{loc.data_dir}`.")
    if loc.source == "settings file":
        def _reset() -> None:
            service.write_settings(loc.data_dir, database_url=None)
            st.cache_resource.clear()

        st.button("Use the embedded SQLite database in the data folder instead", key="db_reset", on_click=_reset)
    st.stop()

# First run: an empty database gets the demo patient (embedded SQLite, no set-up).
if not st.session_state.get("_demo_checked"):
    if not store.list_patients() and (service.demo_dir() / "series.json").exists():
        with st.status("First start: setting up the demo patient from sample_images/ …", expanded=True) as status:
            bar = st.progress(0.0)

            def _progress(frac: float, text: str) -> None:
                bar.progress(min(max(frac, 0.0), 1.0), text=text)

            service.ensure_demo(store, progress=_progress)
            bump()
            status.update(label="Demo patient ready", state="complete", expanded=False)
    st.session_state["_demo_checked"] = True

patient_mode = st.session_state.get("patient_mode_id")
if patient_mode is not None:
    # Read-only patient view: nothing else is reachable from the navigation.
    pg = st.navigation([st.Page("pages/patient_view.py", title="My progress", icon=":material/person:")],
                       position="hidden")
else:
    pg = st.navigation(
        {
            "Practitioner": [
                st.Page("pages/patients.py", title="Patients", icon=":material/group:"),
                st.Page("pages/sessions.py", title="Series & sessions", icon=":material/event:"),
                st.Page("pages/review.py", title="Review", icon=":material/compare:"),
                st.Page("pages/progress.py", title="Progress", icon=":material/show_chart:", default=True),
            ],
            "Patient": [st.Page("pages/patient_view.py", title="Patient view", icon=":material/person:")],
            "Settings": [st.Page("pages/settings.py", title="Settings", icon=":material/settings:")],
        }
    )
    from pages._common import context_sidebar

    default_selection(store)  # practitioner mode only: the patient view never lists other patients
    context_sidebar(store)
    data_location_caption(store)

pg.run()
