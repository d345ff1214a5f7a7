"""The short code a patient can type (issue 18): same patient, expiry, revocation and rate limits
as a link; only its hash is kept."""

# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from analyzer import auth
from analyzer.auth import InvalidCredentials, RateLimited
from tests.store_fixtures import data_dir, db_url, store  # noqa: F401
from tests.test_auth import T0, fast_hasher, practitioner, two_patients  # noqa: F401


def test_short_code_signs_the_patient_in_like_a_link(store):
    pats = two_patients(store)
    prac = practitioner(store)
    pid = pats["P-A"][0].id
    code = auth.issue_patient_code(store, prac, pid, days=7, now=T0)
    assert len(code.token) == 11 and code.token[5] == "-"
    assert set(code.token.replace("-", "")) <= set(auth.SHORT_CODE_ALPHABET)
    # typed loosely: lower case, spaces, no dash
    typed = " ".join(code.token.replace("-", "").lower()[i:i + 5] for i in (0, 5))
    p = auth.redeem_patient_link(store, typed, session_key="t", now=T0 + dt.timedelta(days=1))
    assert p.is_patient and p.patient_id == pid
    # only a hash is stored, never the code
    with store.session_factory()() as s:
        stored = [r[0] for r in s.execute(sa.text("SELECT token_hash FROM patient_tokens"))]
    assert code.token.replace("-", "") not in " ".join(stored)
    # listed as a code, with the same expiry rule
    li = next(x for x in auth.list_patient_links(store, prac, pid) if x.id == code.id)
    assert li.label.startswith(auth.SHORT_CODE_LABEL) and li.expires_at - li.created_at == dt.timedelta(days=7)
    with pytest.raises(InvalidCredentials):  # expired
        auth.redeem_patient_link(store, code.token, session_key="t2", now=T0 + dt.timedelta(days=8))
    # revoked like a link
    t = T0 + dt.timedelta(days=9)
    code2 = auth.issue_patient_code(store, prac, pid, now=t)
    auth.revoke_patient_link(store, prac, code2.id, now=t)
    with pytest.raises(InvalidCredentials):
        auth.redeem_patient_link(store, code2.token, session_key="t3", now=t)


def test_short_code_guessing_meets_the_same_rate_limits(store):
    pats = two_patients(store)
    prac = practitioner(store)
    code = auth.issue_patient_code(store, prac, pats["P-A"][0].id, now=T0)
    for i in range(5):
        with pytest.raises(InvalidCredentials):
            auth.redeem_patient_link(store, f"ABCDE-FGH{'JK'[i % 2]}{i + 2}"[:11], session_key="g", now=T0)
    with pytest.raises(RateLimited):  # even the right code waits while this session is locked
        auth.redeem_patient_link(store, code.token, session_key="g", now=T0)
    assert auth.redeem_patient_link(store, code.token, session_key="other", now=T0).is_patient
