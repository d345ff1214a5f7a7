"""Test app: the real gate in front of the real pages/access.py (via st.navigation)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pages._common import get_store  # noqa: E402
from ui.auth import require_user  # noqa: E402

store = get_store()
user = require_user(store)
st.navigation([st.Page(ROOT / "pages" / "access.py", title="Access")]).run()
