"""Capture guide: the clinic's set-up for photos that compare across sessions (printable).

Opened from the Photos section before the first upload of a new series, and from the navigation.
The views listed are the current series' (its baseline session's), else the standard face set.
"""

from __future__ import annotations

import streamlit as st

from analyzer import service
from analyzer.views import required_views
from ui.capture.guide import TITLE, guide_html, guide_markdown
from ui.common import current_series_id, get_store

store = get_store()
views = None
sid = current_series_id()
if sid is not None:
    base = service.baseline_session(store, sid)
    if base is not None:
        views = required_views(p.view for p in store.list_photos(base.id))

st.title(TITLE)
st.caption("Print it for the treatment room. The same set-up at every session is what makes the numbers "
           "comparable; each photo is still checked against the baseline before it is kept.")
page = guide_html(views)
c1, c2 = st.columns(2)
c1.download_button("Download the printable guide (HTML)", page.encode("utf-8"), file_name="capture-guide.html",
                   mime="text/html", icon=":material/download:")
st.markdown(guide_markdown(views))
with st.expander("Print preview", expanded=False):
    st.caption("The button in the preview prints the guide alone.")
    st.iframe(page, height=900)
