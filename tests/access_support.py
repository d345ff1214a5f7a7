"""Helpers for app tests that need a signed-in user once app.py calls ui.auth.require_user.

>>> at = AppTest.from_file(APP)                       # doctest: +SKIP
>>> sign_in_practitioner(at, data_dir)                # creates 'anna' if needed, signs in
>>> open_patient_link(at2, data_dir, patient_id)      # a patient session through a link

Demo mode needs none of this: while the data folder holds only demo patients and no
account, the app runs without sign-in.
"""

from __future__ import annotations

from pathlib import Path

USERNAME = "anna"
PASSWORD = "correct horse battery"


def ensure_practitioner(data_dir: str | Path, username: str = USERNAME, password: str = PASSWORD):
    """Create the first practitioner account in that data folder if there is none."""
    from analyzer import auth
    from analyzer.store import Store

    with Store(data_dir=Path(data_dir)) as store:
        if auth.needs_first_account(store):
            auth.create_first_practitioner(store, username, password, password)


def sign_in_practitioner(at, data_dir: str | Path, username: str = USERNAME, password: str = PASSWORD):
    """Sign an AppTest session in through the gate's form (running it first if needed)."""
    ensure_practitioner(data_dir, username, password)
    try:
        at.text_input(key="_auth_user")
    except (KeyError, AttributeError, ValueError):
        at.run()
    at.text_input(key="_auth_user").input(username)
    at.text_input(key="_auth_pw").input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    if at.error:
        raise AssertionError(f"sign-in failed: {at.error[0].value}")
    return at


def open_patient_link(at, data_dir: str | Path, patient_id: int):
    """Make a link for the patient (as the practitioner) and open it in ``at``."""
    from analyzer import auth
    from analyzer.store import Store

    ensure_practitioner(data_dir)
    with Store(data_dir=Path(data_dir)) as store:
        prac = auth.authenticate(store, USERNAME, PASSWORD)
        link = auth.issue_patient_link(store, prac, patient_id)
    at.query_params["access"] = link.token
    return at.run()


def sign_in_browser(page, base_url: str, username: str = USERNAME, password: str = PASSWORD) -> None:
    """Playwright: sign in on the gate's form (the caller waits for what comes next)."""
    page.goto(base_url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
