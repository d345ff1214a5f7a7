"""What a practitioner meets in the app (issue 18), through Streamlit's AppTest: forms that keep
what was typed after an error, consent that counts, settings out of reach before sign-in.

Same fixtures as tests/test_app.py: a half-size demo, a private data folder per test.
"""

from __future__ import annotations

import datetime as dt

from analyzer import service
from tests.access_support import sign_in_practitioner
from tests.test_app import (  # noqa: F401 - fixtures
    data,
    demo_dir,
    env,
    fast_hasher,
    new_app,
    seeded,
    texts,
)


def _store(d):
    return service.open_store(data_dir=d)


def test_new_patient_form_keeps_what_was_typed_after_a_validation_error(data):  # noqa: F811 - the fixture
    at = sign_in_practitioner(new_app(), data)
    at.switch_page("app_pages/patients.py").run()
    at.text_input(key="np_code").input("P-0777")
    at.text_input(key="np_name").input("Kept Input")
    at.number_input(key="np_birth").set_value(1984)
    at.selectbox(key="np_fitz").set_value(3)
    at.checkbox(key="np_cp").check()
    at.checkbox(key="np_cr").check()
    at.text_area(key="np_notes").input("prefers mornings")
    at.checkbox(key="np_scr_keloid_history").check()
    at.checkbox(key="np_scr_recent_botox").check()  # ticked, but no date: a validation error
    at.button(key="FormSubmitter:new_patient-Create patient").click().run()
    assert not at.exception
    assert [e.value for e in at.error] and "give the date" in at.error[0].value
    assert not any(p.code == "P-0777" for p in _store(data).list_patients())  # nothing stored
    # everything typed is still there
    assert at.text_input(key="np_code").value == "P-0777"
    assert at.text_input(key="np_name").value == "Kept Input"
    assert at.number_input(key="np_birth").value == 1984
    assert at.selectbox(key="np_fitz").value == 3
    assert at.checkbox(key="np_cp").value and at.checkbox(key="np_cr").value
    assert at.text_area(key="np_notes").value == "prefers mornings"
    assert at.checkbox(key="np_scr_keloid_history").value and at.checkbox(key="np_scr_recent_botox").value

    # the missing date given: the patient is created, the list shows it at once, the form is empty
    at.date_input(key="np_scr_recent_botox_date").set_value(dt.date.today() - dt.timedelta(days=3))
    at.button(key="FormSubmitter:new_patient-Create patient").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    p = next(p for p in _store(data).list_patients() if p.code == "P-0777")
    assert p.birth_year == 1984 and p.fitzpatrick == 3 and p.consent_photos and p.consent_reports
    assert "Created Kept Input (P-0777)" in texts(at)
    assert "Kept Input" in "\n".join(m.value for m in at.markdown)  # the list above, same run
    assert at.text_input(key="np_code").value == "" and not at.checkbox(key="np_cp").value
