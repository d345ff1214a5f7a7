"""skin-progress: the Streamlit app (``streamlit run app.py``).

Builds the navigation from one file per page under app_pages/ (not pages/: that folder name
would put Streamlit in its old folder mode, serving a page URL without app.py and its gate).
On first start with an empty data folder it seeds the demo patient from sample_images/ and
opens on its progress chart. Nothing is shown before the sign-in gate (ui.auth.require_user,
docs/access.md): a patient signed in by their link sees only their own read-only view;
practitioners see every page, Access and Settings included; demo mode shows only demo
patients and no Settings.
"""

from __future__ import annotations

import streamlit as st

from analyzer import service
from analyzer.errors import SkinProgressError
from ui.auth import require_user
from ui.common import bump, data_location_caption, default_selection, get_store

st.set_page_config(page_title="skin-progress", page_icon=":material/face:", layout="wide")

try:
    store = get_store(from_app=True)
except SkinProgressError:  # a database that can't be opened: nobody is signed in yet, so say only that
    # No host, port, database name or folder here, and nothing that changes the server's settings
    # without proof of being its administrator: the setup code (docs/access.md), when one is set.
    loc = service.store_location()
    st.error("The database can't be opened, so nobody can sign in right now. Please tell the administrator.")
    st.caption("Administrator: correct the database URL (SKIN_PROGRESS_DATABASE_URL, or the settings file in "
               "the data folder) and reload this page.")
    from ui.auth import access_config

    setup_code = access_config().setup_code
    if loc.source == "settings file" and setup_code:
        import hmac

        with st.form("db_reset_form"):
            code = st.text_input("Setup code", type="password", key="db_reset_code")
            reset = st.form_submit_button("Use the embedded SQLite database in the data folder instead")
        if reset:
            if hmac.compare_digest(str(code).encode(), setup_code.encode()):
                service.write_settings(loc.data_dir, database_url=None)
                st.cache_resource.clear()
                st.rerun()
            st.error("That is not the setup code.")
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

# The pages' addresses: a bookmarked page shows the sign-in screen, then that page once signed in.
PAGE_PATHS = ("patients", "sessions", "review", "consultation", "progress", "patient_view", "access", "settings")
user = require_user(store, page_paths=PAGE_PATHS)  # the sign-in screen, stopping until someone is signed in
patient_mode = user.patient_id if user.is_patient else st.session_state.get("patient_mode_id")
if patient_mode is not None:
    # Read-only patient view: nothing else is reachable from the navigation.
    pg = st.navigation([st.Page("app_pages/patient_view.py", title="My progress", icon=":material/person:")],
                       position="hidden")
else:
    nav = {
        "Practitioner": [
            st.Page("app_pages/patients.py", title="Patients", icon=":material/group:"),
            st.Page("app_pages/sessions.py", title="Series & sessions", icon=":material/event:"),
            st.Page("app_pages/review.py", title="Review", icon=":material/compare:"),
            st.Page("app_pages/consultation.py", title="Consultation", icon=":material/search:"),
            st.Page("app_pages/progress.py", title="Progress", icon=":material/show_chart:", default=True,
                    url_path="home"),
            # The default page is served at the root; its bookmarked address /progress opens it too.
            st.Page("app_pages/progress.py", title="Progress", url_path="progress", visibility="hidden"),
            st.Page("app_pages/capture_guide.py", title="Capture guide", icon=":material/photo_camera:"),
        ],
        "Patient": [st.Page("app_pages/patient_view.py", title="Patient view", icon=":material/person:")],
    }
    if user.is_practitioner:  # not in demo mode: anyone could reach it there (database URL, accounts)
        nav["Settings"] = [
            st.Page("app_pages/access.py", title="Access", icon=":material/lock:"),
            st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:"),
        ]
    pg = st.navigation(nav)
    from ui.common import context_sidebar

    default_selection(store)  # practitioner mode only: the patient view never lists other patients
    context_sidebar(store)
    data_location_caption(store)

pg.run()
