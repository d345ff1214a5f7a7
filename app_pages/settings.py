"""Settings: where the data lives, and the database URL setting. Practitioners only."""

from __future__ import annotations

import streamlit as st

from analyzer import ANALYZER_VERSION, service
from analyzer.errors import SkinProgressError
from ui.auth import current_user
from ui.common import get_store

store = get_store()
st.title("Settings")
_user = current_user()
if _user is None or not _user.is_practitioner:  # app.py lists it only for practitioners
    st.error("Practitioners only.")
    st.stop()
loc = service.store_location()

st.subheader("Where the data lives")
st.markdown(f"- **Data folder:** `{loc.data_dir.resolve()}` (photos and, by default, the database)\n"
            f"- **Database:** {store.describe()}\n"
            f"- **Chosen by:** {loc.source}\n"
            f"- **Analyzer version:** {ANALYZER_VERSION}")
st.caption("The data folder comes from the environment variable SKIN_PROGRESS_DATA_DIR (default ./data). "
           "The database URL comes from SKIN_PROGRESS_DATABASE_URL, else from the settings file below, else an "
           "embedded SQLite file in the data folder (no set-up).")

st.subheader("Database URL")
env_set = loc.source == "environment"
if env_set:
    st.info("SKIN_PROGRESS_DATABASE_URL is set in the environment: it wins over the settings file.")
current = service.read_settings(loc.data_dir).get("database_url", "")
with st.form("db_settings"):
    url = st.text_input("Database URL (empty = embedded SQLite in the data folder)", value=current,
                        key="set_db_url", placeholder="postgresql://user:password@host/dbname")
    save = st.form_submit_button("Save")
if save:
    url = url.strip()
    try:
        if url:
            from analyzer.store.engine import resolve_url

            resolve_url(url)  # one-line error for an unusable URL; nothing is written then
            with st.spinner("Testing the connection…"):
                what = service.check_database(url, loc.data_dir)  # an unreachable database is not saved
        path = service.write_settings(loc.data_dir, database_url=url or None)
    except (SkinProgressError, OSError) as exc:
        st.error(f"Not saved: {exc}")
    else:
        tested = f" Connection tested: {what}." if url else ""
        st.success(f"Saved to {path}.{tested} The app uses it from the next start (or now, after a reload).")
        st.cache_data.clear()
        st.cache_resource.clear()

st.subheader("Clinic branding")
st.caption("Printed on the patient's and the practitioner's PDF and on before/after pictures. Kept in the "
           "settings file in the data folder (the same settings chain the app and the command line read; "
           "SKIN_PROGRESS_CLINIC_NAME / _ADDRESS / _LOGO win over it).")
brand = service.clinic_branding(loc.data_dir)
with st.form("brand_form"):
    b_name = st.text_input("Clinic name", value=brand.name, key="brand_name", max_chars=200)
    b_addr = st.text_area("Address", value=brand.address, key="brand_address", max_chars=300, height=80)
    b_logo = st.file_uploader("Logo (PNG or JPEG)", type=["png", "jpg", "jpeg"], key="brand_logo")
    b_clear = st.checkbox("Remove the logo", key="brand_logo_clear") if brand.logo else False
    b_save = st.form_submit_button("Save branding")
if b_save:
    try:
        if b_logo is not None:
            service.save_clinic_logo(loc.data_dir, b_logo.getvalue())
        elif b_clear:
            service.save_clinic_logo(loc.data_dir, None)
        service.write_settings(loc.data_dir, clinic_name=b_name.strip() or None,
                               clinic_address=b_addr.strip() or None)
    except (ValueError, OSError) as exc:
        st.error(f"Not saved: {str(exc).splitlines()[0]}")
    else:
        st.success("Branding saved.")
        st.rerun()
if brand.logo:
    st.image(str(brand.logo), width=160, caption="Current logo")
