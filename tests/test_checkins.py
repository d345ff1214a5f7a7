"""Recovery check-ins through the patient's link (analyzer.service.checkins), on SQLite and
PostgreSQL: the link adds recovery photos only to its own patient's open check-ins, with the
practitioner path's checks (loader limits and formats, photo consent), every upload and every
refusal audited, nothing half-written, and a revoked or expired link refused at upload time.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

from analyzer import auth, service
from analyzer.errors import PhotoError, UsageError
from analyzer.principal import AccessDenied
from tests.store_fixtures import data_dir, db_url, png_bytes, store  # noqa: F401

T = dt.date(2026, 11, 2)  # treatment day


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    from argon2 import PasswordHasher

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clinic(store):  # noqa: F811
    prac = auth.create_first_practitioner(store, "anna", "correct horse battery", "correct horse battery")
    a, sa_ = service.create_patient_with_series(store, code="P-A", display_name="Ann A", consent_photos=True)
    b, sb = service.create_patient_with_series(store, code="P-B", display_name="Bob B", consent_photos=True)
    ta, _, _ = service.add_session_with_photos(store, sa_.id, date=T, photos=[("front", png_bytes(1), "a.png")])
    tb, _, _ = service.add_session_with_photos(store, sb.id, date=T, photos=[("front", png_bytes(2), "b.png")])
    link = auth.issue_patient_link(store, prac, a.id)
    pa = auth.redeem_patient_link(store, link.token)
    return dict(store=store, prac=prac, a=a, b=b, sa=sa_, sb=sb, ta=ta, tb=tb, link=link, pa=pa)


def n_sessions(st, series_id):
    return len(st.list_sessions(series_id))


def audit_actions(st, prac, patient_id=None):
    return [(e.action, e.actor) for e in auth.list_audit(st, prac, patient_id=patient_id)]


def test_check_in_days_default_and_plan(clinic):
    s, ta = clinic["store"], clinic["ta"]
    pid = clinic["a"].id
    days = {k: [c.day for c in service.checkins_for_patient(s, pid, today=T + dt.timedelta(days=k))]
            for k in range(0, 9)}
    assert days == {0: [], 1: [1], 2: [1], 3: [3], 4: [3], 5: [], 6: [], 7: [7], 8: []}
    plan = service.recovery_plan(s, ta.id)
    assert plan.checkin_days == (1, 3, 7) and plan.is_default and plan.aftercare == service.DEFAULT_AFTERCARE
    service.set_recovery_plan(s, clinic["prac"], ta.id, checkin_days=[2, 5], aftercare="No make-up for 2 days.")
    assert [c.day for c in service.checkins_for_patient(s, pid, today=T + dt.timedelta(days=1))] == []
    assert [c.day for c in service.checkins_for_patient(s, pid, today=T + dt.timedelta(days=5))] == [5]
    assert service.aftercare_for_patient(s, pid, today=T + dt.timedelta(days=1)) == [(T, "No make-up for 2 days.")]
    # only a practitioner sets the plan; a bad day is a one-line error
    with pytest.raises(AccessDenied):
        service.set_recovery_plan(s, clinic["pa"], ta.id, checkin_days=[1], aftercare="")
    with pytest.raises(ValueError, match="1-7"):
        service.set_recovery_plan(s, clinic["prac"], ta.id, checkin_days=[9], aftercare="")


def test_patient_photo_goes_into_a_recovery_visit_marked_sent_by_the_patient(clinic):
    s, ta, pa = clinic["store"], clinic["ta"], clinic["pa"]
    day1 = T + dt.timedelta(days=1)
    r = service.submit_checkin(s, pa, ta.id, 1, symptoms={"redness": 1}, photo=(png_bytes(5), "me.png"),
                               today=day1, analyse=False)
    visit = s.get_session(r.recovery_session_id)
    assert (visit.kind, visit.parent_session_id, visit.date) == ("recovery", ta.id, day1)
    assert "Sent by the patient" in visit.notes
    assert [p.id for p in s.list_photos(visit.id)] == [r.photo_id]
    c = service.sent_by_patient(s, visit.id)
    assert c.sent_by == "patient" and c.day == 1 and c.symptoms["redness"] == 1 and c.actor == f"link:{pa.token_id}"
    assert ("checkin.photo", f"link:{pa.token_id}") in audit_actions(s, clinic["prac"], clinic["a"].id)
    # sent again the same day: the photo is replaced in the same visit, not a second visit
    r2 = service.submit_checkin(s, pa, ta.id, 1, symptoms={}, photo=(png_bytes(6), "me2.png"), today=day1,
                                analyse=False)
    assert r2.recovery_session_id == visit.id and n_sessions(s, clinic["sa"].id) == 2
    assert sum(a == "checkin.photo" for a, _ in audit_actions(s, clinic["prac"])) == 2


def test_the_link_cant_upload_anywhere_else(clinic):
    s, pa = clinic["store"], clinic["pa"]
    day1 = T + dt.timedelta(days=1)
    visit = service.submit_checkin(s, pa, clinic["ta"].id, 1, symptoms={}, photo=(png_bytes(5), "me.png"),
                                   today=day1, analyse=False).recovery_session_id
    before = {sid: n_sessions(s, sid) for sid in (clinic["sa"].id, clinic["sb"].id)}
    photos_before = len(s.list_photos(visit))
    tries = [
        (clinic["tb"].id, 1, day1),  # another patient's treatment session
        (visit, 1, day1),  # a recovery visit, not a treatment session
        (clinic["ta"].id, 3, day1),  # a check-in that is not open today
        (clinic["ta"].id, 1, T + dt.timedelta(days=5)),  # past its window
        (clinic["ta"].id, 2, day1),  # not a planned day
        (10_000, 1, day1),  # no such session
        (str(clinic["ta"].id), 1, day1),  # an id from a URL, as text
    ]
    for tid, day, today in tries:
        with pytest.raises(AccessDenied):
            service.submit_checkin(s, pa, tid, day, symptoms={}, photo=(png_bytes(7), "x.png"), today=today,
                                   analyse=False)
        with pytest.raises(AccessDenied):
            service.check_checkin_photo(s, pa, tid, day, png_bytes(7), "x.png", today=today)
    # the other patient's session and a missing one are refused in the same words
    msgs = set()
    for tid in (clinic["tb"].id, 10_000):
        with pytest.raises(AccessDenied) as e:
            service.submit_checkin(s, pa, tid, 1, symptoms={}, today=day1)
        msgs.add(str(e.value))
    assert len(msgs) == 1
    # a practitioner (or the demo) does not upload through check-ins
    with pytest.raises(AccessDenied):
        service.submit_checkin(s, clinic["prac"], clinic["ta"].id, 1, symptoms={}, today=day1)
    assert {sid: n_sessions(s, sid) for sid in before} == before
    assert len(s.list_photos(visit)) == photos_before and not s.list_checkins(patient_id=clinic["b"].id)
    refused = [a for a, _ in audit_actions(s, clinic["prac"])].count("checkin.refused")
    assert refused == 2 * len(tries) + 3
    # the link's principal is a patient's: the practitioner's scope refuses it everything else
    with pytest.raises(AccessDenied):
        service.scope(s, pa).sessions(clinic["sb"].id)


def test_revoked_or_expired_link_cant_upload(clinic):
    s, pa, ta = clinic["store"], clinic["pa"], clinic["ta"]
    day1 = T + dt.timedelta(days=1)
    short = auth.issue_patient_link(s, clinic["prac"], clinic["a"].id, days=1)
    p_short = auth.redeem_patient_link(s, short.token, now=short.expires_at - dt.timedelta(hours=1))
    with pytest.raises(AccessDenied, match="expired or was withdrawn"):
        service.submit_checkin(s, p_short, ta.id, 1, symptoms={}, photo=(png_bytes(5), "me.png"), today=day1,
                               now=short.expires_at + dt.timedelta(seconds=1))
    auth.revoke_patient_link(s, clinic["prac"], clinic["link"].id)
    with pytest.raises(AccessDenied, match="expired or was withdrawn"):
        service.submit_checkin(s, pa, ta.id, 1, symptoms={}, photo=(png_bytes(5), "me.png"), today=day1)
    with pytest.raises(AccessDenied):
        service.check_checkin_photo(s, pa, ta.id, 1, png_bytes(5), "me.png", today=day1)
    assert n_sessions(s, clinic["sa"].id) == 1 and not s.list_checkins()
    assert [a for a, _ in audit_actions(s, clinic["prac"])].count("checkin.refused") == 3


def test_consent_and_the_practitioner_paths_checks(clinic):
    s, pa, ta = clinic["store"], clinic["pa"], clinic["ta"]
    day1 = T + dt.timedelta(days=1)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 100)).save(buf, format="GIF")
    for data, name in [(buf.getvalue(), "me.gif"), (b"\xff\xd8\xff not a jpeg", "me.jpg"),
                       (png_bytes(3, width=4, height=4), "tiny.png")]:
        with pytest.raises(PhotoError) as e:
            service.submit_checkin(s, pa, ta.id, 1, symptoms={}, photo=(data, name), today=day1)
        assert "\n" not in str(e.value)
    with pytest.raises(UsageError):
        service.submit_checkin(s, pa, ta.id, 1, symptoms={"pain": 7}, photo=(png_bytes(5), "me.png"), today=day1)
    s.update_patient(clinic["a"].id, consent_photos=False)
    with pytest.raises(UsageError, match="photo consent"):
        service.submit_checkin(s, pa, ta.id, 1, symptoms={}, photo=(png_bytes(5), "me.png"), today=day1)
    # nothing half-written: no recovery visit, no photo, no check-in
    assert n_sessions(s, clinic["sa"].id) == 1 and not s.list_checkins()
    assert [a for a, _ in audit_actions(s, clinic["prac"])].count("checkin.refused") == 5
    # symptoms alone need no photo consent
    r = service.submit_checkin(s, pa, ta.id, 1, symptoms={"swelling": "moderate"}, today=day1)
    assert r.photo_id is None and ("checkin.symptoms", f"link:{pa.token_id}") in audit_actions(s, clinic["prac"])


def test_a_symptom_raises_a_flag_and_mild_day_one_redness_does_not(clinic):
    s, pa, ta = clinic["store"], clinic["pa"], clinic["ta"]
    service.submit_checkin(s, pa, ta.id, 1, symptoms={"redness": 1}, today=T + dt.timedelta(days=1))
    assert service.recovery_flags(s, today=T + dt.timedelta(days=1)) == []
    service.submit_checkin(s, pa, ta.id, 3, symptoms={"swelling": 2, "blistering_or_infection": True},
                           today=T + dt.timedelta(days=3))
    flags = service.recovery_flags(s, today=T + dt.timedelta(days=3))
    assert {f.patient_id for f in flags} == {clinic["a"].id} and all(f.kind == "symptom" for f in flags)
    texts = " | ".join(f.text for f in flags)
    assert "day 3: moderate swelling" in texts and "blistering or a sign of infection" in texts
    # mild redness still there at day 7: flagged (it should have settled)
    service.submit_checkin(s, pa, ta.id, 7, symptoms={"redness": 1}, today=T + dt.timedelta(days=7))
    assert any("day 7: redness still there" in f.text for f in service.recovery_flags(s, today=T + dt.timedelta(days=7)))
    # older than the flag window: gone from the list
    assert service.recovery_flags(s, today=T + dt.timedelta(days=30)) == []
