"""Test app: the real gate in front of the real pages/access.py (via st.navigation)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from ui.auth import require_user  # noqa: E402

# the page folder: pages/ today, app_pages/ if renamed
PAGES = next(d for d in (ROOT / "app_pages", ROOT / "pages") if (d / "access.py").exists())
from ui.common import get_store  # noqa: E402

store = get_store()
user = require_user(store)
st.navigation([st.Page(PAGES / "access.py", title="Access")]).run()
