"""Issue 17, item 8: user text is shown as text. A name planted with Markdown (an image URL
the browser would fetch, bold, a heading) reaches no Markdown element unescaped, on any page;
invisible and right-to-left control characters are stripped from names and notes."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from analyzer import auth, service
from analyzer.store import InvalidInput
from tests.access_support import sign_in_practitioner
from tests.store_fixtures import data_dir, db_url, store  # noqa: F401
from tests.test_app_support import REPO, copy_data, make_small_demo

EVIL = "Eve ![t](http://127.0.0.1:9/track.png) **bold** [link](http://x.example) <b>x</b> $x$"


def test_invisible_and_bidi_controls_are_stripped(store):
    p = store.create_patient("P-1", "\u202eAnna\u200b \u2066Smith\u2069\ufeff\u00ad", notes="a\u202eb\u2028c")
    assert p.display_name == "Anna Smith" and p.notes == "abc"
    se = store.create_series(p.id, body_area="face\u200f", concerns=["redness"], name="\u202dCheeks")
    assert (se.body_area, se.name) == ("face", "Cheeks")
    assert store.update_patient(p.id, display_name="Zoë\u200d\u200c").display_name == "Zoë\u200d\u200c"  # joiners stay
    with pytest.raises(InvalidInput, match="display name is required"):
        store.create_patient("P-2", "\u202e\u200b\u2066")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    demo = make_small_demo(tmp_path_factory.mktemp("demo"))
    data = tmp_path_factory.mktemp("seeded") / "data"
    s = service.open_store(data_dir=data)
    service.ensure_demo(s, sample_dir=demo)
    s.close()
    return data, demo


UNESCAPED = re.compile(r"(?<!\\)!(?<!\\)\[|(?<!\\)\]\(|(?<!\\)\*\*bold|(?<!\\)<b>|(?<!\\)\$x")


def test_planted_markdown_is_shown_as_text_on_every_page(seeded, tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    data_src, demo = seeded
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    monkeypatch.setenv("SKIN_PROGRESS_SAMPLE_DIR", str(demo))
    monkeypatch.chdir(REPO)
    d = copy_data(data_src, tmp_path / "data")
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    with service.open_store(data_dir=d) as s:
        p = s.list_patients()[0]
        s.update_patient(p.id, display_name=EVIL, is_demo=False)
        se = s.list_series(p.id)[0]
        s.update_series(se.id, name=EVIL)
        for sess in s.list_sessions(se.id):
            s.update_session(sess.id, notes=EVIL)
    at = sign_in_practitioner(AppTest.from_file(str(REPO / "app.py"), default_timeout=120), d)
    at.session_state["patient_id"] = p.id  # the planted patient is the open one
    at.session_state["series_id"] = se.id
    seen = 0
    for page in ["app_pages/patients.py", "app_pages/sessions.py", "app_pages/review.py", "app_pages/progress.py",
                 "app_pages/patient_view.py"]:
        at.switch_page(page).run()
        assert not at.exception, page
        for kind in ("markdown", "caption", "title", "header", "subheader", "success", "info", "warning", "error"):
            for el in at.get(kind):
                text = str(getattr(el, "value", "") or "")
                if "track.png" in text or "bold" in text:
                    seen += 1
                    assert not UNESCAPED.search(text), (page, kind, text)
        for ex in at.get("expandable"):
            label = str(getattr(ex, "label", "") or "")
            assert not UNESCAPED.search(label), (page, label)
    assert seen >= 5  # the name really is on those pages
