"""Use cases: recovery check-ins sent by the patient through their link, the practitioner's
check-in plan and aftercare text, and the flags on the practitioner's patient list.

The rules
---------
- A treatment session has check-in days (default 1, 3 and 7 days after it) and an aftercare text
  (default :data:`DEFAULT_AFTERCARE`), set by the practitioner (:func:`set_recovery_plan`).
- A check-in for day *d* is **open** on day *d* after the session and for :data:`GRACE_DAYS`
  more (never past the next check-in day, nor past the store's 7-day limit of a recovery visit).
- Only a signed-in **patient** (their link or their account) sends a check-in, only for their
  own treatment sessions, only while it is open (:func:`submit_checkin`). The sign-in is checked
  against the database at the moment of the upload: a revoked or expired link can't upload.
  Photo consent is required for a photo. The photo goes through the practitioner's path
  (:func:`analyzer.service.patients.add_photos`: the same loader limits and format checks) into a
  recovery visit of that treatment session dated the day it was sent, marked as sent by the
  patient; the visit is analysed so it feeds the recovery chart.
- Every upload, and every refused attempt, is audited (``checkin.photo``, ``checkin.symptoms``,
  ``checkin.refused``).
- A flag (:func:`recovery_flags`) is raised by a reported symptom
  (:func:`analyzer.recovery.symptom_flags`) or by a redness that is not settling (the recovery
  curve of that session does not go down, or settles slower than the patient's earlier sessions).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analyzer.auth import DENIED, AccessDenied, Principal, record_audit, validate_principal
from analyzer.consent import require_consent
from analyzer.errors import PhotoError, SkinProgressError
from analyzer.recovery import (
    compare_recovery,
    curves_from_sessions,
    symptom_flags,
    validate_symptoms,
)
from analyzer.store.checkins import DEFAULT_CHECKIN_DAYS, CheckinRec, RecoveryPlan
from analyzer.store.errors import NotFound, StoreError
from analyzer.store.validate import RECOVERY_MAX_DAYS

if TYPE_CHECKING:
    from analyzer.precheck import Precheck
    from analyzer.store import Store

__all__ = [
    "DEFAULT_AFTERCARE", "DEFAULT_CHECKIN_DAYS", "GRACE_DAYS", "CHECKIN_VIEW", "OpenCheckin", "RecoveryFlag",
    "CheckinResult", "recovery_plan", "set_recovery_plan", "open_day", "checkins_for_patient",
    "aftercare_for_patient", "check_checkin_photo", "submit_checkin", "recovery_flags", "sent_by_patient",
]

#: The aftercare text when the practitioner wrote none (general microneedling aftercare).
DEFAULT_AFTERCARE = (
    "For the first 24 hours: don't wear make-up, don't touch the treated skin, wash only with "
    "lukewarm water and a gentle cleanser.\n"
    "For 3 days: no sauna, swimming pool or hard exercise; no exfoliating acids, retinol or scrubs.\n"
    "For 1 week: stay out of the sun and use a mineral sunscreen (SPF 50) when outside.\n"
    "Redness like a sunburn for 1-3 days is expected. Call the clinic if you see blisters, pus, "
    "spreading warmth or have a fever, or if the redness gets worse instead of better."
)
#: A check-in stays open this many days after its day.
GRACE_DAYS = 1
#: The view of a check-in photo (it is compared with the baseline's front photo).
CHECKIN_VIEW = "front"
#: Check-ins younger than this (days since the treatment) are looked at for flags.
FLAG_WINDOW_DAYS = 14


@dataclass(frozen=True)
class OpenCheckin:
    """A check-in the patient can send today."""

    treatment_session_id: int
    series_id: int
    series_name: str
    treatment_date: dt.date
    day: int
    due: dt.date
    closes: dt.date
    sent: CheckinRec | None  # already sent today's check-in (sending again replaces it)


@dataclass(frozen=True)
class RecoveryFlag:
    """Something the practitioner should look at."""

    patient_id: int
    series_id: int
    treatment_session_id: int
    treatment_date: dt.date
    kind: str  # "symptom" | "redness"
    text: str


@dataclass(frozen=True)
class CheckinResult:
    checkin: CheckinRec
    photo_id: int | None
    recovery_session_id: int | None
    analysed: bool
    message: str


def _today(today: dt.date | None) -> dt.date:
    return today if today is not None else dt.date.today()


def recovery_plan(store: Store, session_id: int) -> RecoveryPlan:
    """The check-in plan of a treatment session with the default aftercare text filled in."""
    p = store.get_recovery_plan(session_id)
    if p.aftercare is None or not p.aftercare.strip():
        from dataclasses import replace

        p = replace(p, aftercare=DEFAULT_AFTERCARE)
    return p


def set_recovery_plan(store: Store, by: Principal, session_id: int, *, checkin_days, aftercare: str) -> RecoveryPlan:
    """The practitioner sets a treatment session's check-in days and aftercare (audited)."""
    if by is None or not by.is_practitioner:
        raise AccessDenied("practitioners only")
    p = store.set_recovery_plan(session_id, checkin_days=list(checkin_days), aftercare=aftercare)
    pid = store.get_series(store.get_session(session_id).series_id).patient_id
    record_audit(store, by, "recovery.plan", pid,
                 detail=f"session {session_id}, days {','.join(map(str, p.checkin_days)) or 'none'}")
    return recovery_plan(store, session_id)


def open_day(days, days_since: int) -> int | None:
    """The check-in day open ``days_since`` days after the session, or None.

    >>> open_day((1, 3, 7), 2), open_day((1, 3, 7), 3), open_day((1, 3, 7), 5), open_day((1, 2), 2)
    (1, 3, None, 2)
    """
    days = sorted(days)
    for i, d in enumerate(days):
        nxt = days[i + 1] if i + 1 < len(days) else None
        last = min(d + GRACE_DAYS, RECOVERY_MAX_DAYS)
        if nxt is not None:
            last = min(last, nxt - 1)
        if d <= days_since <= last:
            return d
    return None


def checkins_for_patient(store: Store, patient_id: int, *, today: dt.date | None = None) -> list[OpenCheckin]:
    """The check-ins open today for this patient (every series; newest treatment first)."""
    today = _today(today)
    sent = {(c.treatment_session_id, c.day): c for c in store.list_checkins(
        patient_id=patient_id, since=today - dt.timedelta(days=RECOVERY_MAX_DAYS))}
    out = []
    for series in store.list_series(patient_id):
        for s in store.list_sessions(series.id):
            since = (today - s.date).days
            if s.kind != "treatment" or not 1 <= since <= RECOVERY_MAX_DAYS:
                continue
            plan = store.get_recovery_plan(s.id)
            d = open_day(plan.checkin_days, since)
            if d is None:
                continue
            closes = s.date + dt.timedelta(days=[x for x in range(d, RECOVERY_MAX_DAYS + 1)
                                                 if open_day(plan.checkin_days, x) == d][-1])
            out.append(OpenCheckin(s.id, series.id, series.name or f"{series.body_area} series", s.date, d,
                                   s.date + dt.timedelta(days=d), closes, sent.get((s.id, d))))
    return sorted(out, key=lambda c: (c.treatment_date, c.treatment_session_id), reverse=True)


def aftercare_for_patient(store: Store, patient_id: int, *,
                          today: dt.date | None = None) -> list[tuple[dt.date, str]]:
    """(treatment date, aftercare text) of the patient's treatment sessions of the last
    :data:`FLAG_WINDOW_DAYS` days (on the treatment day too), newest first."""
    today = _today(today)
    out = []
    for series in store.list_series(patient_id):
        for s in store.list_sessions(series.id):
            if s.kind == "treatment" and 0 <= (today - s.date).days <= FLAG_WINDOW_DAYS:
                out.append((s.date, recovery_plan(store, s.id).aftercare or DEFAULT_AFTERCARE))
    return sorted(out, key=lambda x: x[0], reverse=True)


def sent_by_patient(store: Store, recovery_session_id: int) -> CheckinRec | None:
    """The check-in behind a recovery visit when the patient sent it (else None)."""
    return store.checkin_of_visit(recovery_session_id)


# ---- the patient's upload -------------------------------------------------------------------


def _open_target(store: Store, principal: Principal, treatment_session_id, day, today: dt.date,
                 now: dt.datetime | None):
    """The treatment session, its series and the open day: every check of the link's reach."""
    if principal is None or not principal.is_patient or principal.patient_id is None:
        raise AccessDenied("check-ins are sent from the patient's own link")
    validate_principal(store, principal, now=now)  # revoked, expired, disabled: refused here
    if isinstance(treatment_session_id, bool) or not isinstance(treatment_session_id, int):
        raise AccessDenied(DENIED)
    try:
        sess = store.get_session(treatment_session_id)
        series = store.get_series(sess.series_id)
    except (NotFound, StoreError):
        raise AccessDenied(DENIED) from None
    if series.patient_id != principal.patient_id:
        raise AccessDenied(DENIED)  # the same words whether it exists or not
    if sess.kind != "treatment":
        raise AccessDenied("photos can be sent only for an open check-in after a treatment session")
    plan = store.get_recovery_plan(sess.id)
    since = (today - sess.date).days
    if isinstance(day, bool) or not isinstance(day, int) or day not in plan.checkin_days \
            or not 1 <= since <= RECOVERY_MAX_DAYS or open_day(plan.checkin_days, since) != day:
        raise AccessDenied("this check-in is not open today; photos can be sent only on the check-in days "
                           "your practitioner set")
    return sess, series


def _refused(store: Store, principal: Principal | None, what: str, exc: BaseException, tid) -> None:
    pid = principal.patient_id if principal is not None and principal.is_patient else None
    try:
        record_audit(store, principal if principal is not None else "unknown", "checkin.refused", pid,
                     detail=f"{what} for session {tid!r}: {str(exc)[:200]}")
    except Exception:  # the refusal stands even when it can't be written down
        pass


def _baseline_front(store: Store, series_id: int):
    from analyzer.stored import baseline_session

    base = baseline_session(store, series_id)
    if base is None:
        return None
    return next((p for p in store.list_photos(base.id) if p.view == CHECKIN_VIEW), None)


def check_checkin_photo(store: Store, principal: Principal, treatment_session_id: int, day: int, data: bytes,
                        filename: str, *, today: dt.date | None = None, now: dt.datetime | None = None) -> Precheck:
    """The check before keeping of a check-in photo (against the series' baseline front photo:
    framing, face, sharpness, light), after the same access checks as :func:`submit_checkin`.
    Nothing is stored."""
    import time
    from dataclasses import replace

    from analyzer.io import load_photo
    from analyzer.precheck import precheck
    from analyzer.service.prekeep import baseline_measure

    today = _today(today)
    try:
        _, series = _open_target(store, principal, treatment_session_id, day, today, now)
    except (SkinProgressError, PermissionError) as exc:
        _refused(store, principal, "photo check", exc, treatment_session_id)
        raise
    t0 = time.perf_counter()
    photo = load_photo(data, name=filename)
    bphoto = _baseline_front(store, series.id)
    bm = baseline_measure(store, bphoto) if bphoto is not None else None
    r = precheck(photo.rgb, bm, concerns=series.concerns)
    return replace(r, seconds=time.perf_counter() - t0)


def submit_checkin(store: Store, principal: Principal, treatment_session_id: int, day: int, *,
                   symptoms: dict, photo: tuple[bytes, str] | None = None, prekeep: dict | None = None,
                   today: dt.date | None = None, now: dt.datetime | None = None,
                   analyse: bool = True) -> CheckinResult:
    """The patient sends today's check-in: symptoms, and a photo when given.

    Raises :class:`AccessDenied` (not their session, not open today, the link revoked or
    expired, not a patient), :class:`UsageError` (no photo consent, bad symptoms) or
    :class:`PhotoError` (an unusable file: same loader and limits as the practitioner's
    upload). Nothing is kept when it raises; every refusal is audited as ``checkin.refused``.
    """
    from analyzer.service.patients import add_photos

    today = _today(today)
    created = None
    try:
        sess, series = _open_target(store, principal, treatment_session_id, day, today, now)
        sym = validate_symptoms(symptoms)
        photo_id = rec_id = None
        if photo is not None:
            data, filename = photo
            require_consent(store, series.patient_id, "photos")
            prior = next((c for c in store.list_checkins(treatment_session_id=sess.id) if c.day == day), None)
            visit = None
            if prior is not None and prior.recovery_session_id is not None:
                try:
                    visit = store.get_session(prior.recovery_session_id)
                except NotFound:
                    visit = None
                if visit is not None and visit.date != today:
                    visit = None  # sent again on another day: a new visit dated today
            if visit is None:
                visit = created = store.add_session(
                    series.id, date=today, kind="recovery", parent_session_id=sess.id, device="patient's phone",
                    notes=f"Sent by the patient through their link (check-in day {day}).")
            added, errors = add_photos(store, visit.id, [(CHECKIN_VIEW, data, filename)], replace=True)
            if not added:
                raise PhotoError(errors[0] if errors else "the photo could not be stored")
            photo_id, rec_id = added[0].id, visit.id
            if prekeep is not None:
                store.set_prekeep_check(photo_id, prekeep)
        rec = store.save_checkin(sess.id, day, symptoms=sym, recovery_session_id=rec_id, photo_id=photo_id,
                                 sent_by="patient", actor=principal.actor)
    except (SkinProgressError, PermissionError) as exc:
        if created is not None:  # no half-written visit
            try:
                store.delete_session(created.id)
            except StoreError:
                pass
        _refused(store, principal, "check-in", exc, treatment_session_id)
        raise
    record_audit(store, principal, "checkin.photo" if photo_id else "checkin.symptoms", series.patient_id,
                 detail=f"session {sess.id}, day {day}" + (f", photo {photo_id}, visit {rec_id}" if photo_id else ""))
    analysed = False
    if photo_id is not None and analyse:
        from analyzer.service.analysis import analyze_session

        try:
            res = analyze_session(store, rec_id)
            analysed = any(a.photo_id == photo_id and a.ok for a in res)
        except SkinProgressError:
            analysed = False
    msg = "Thank you: your check-in was sent to your practitioner." if photo_id is None else (
        "Thank you: your photo and answers were sent to your practitioner.")
    return CheckinResult(rec, photo_id, rec_id, analysed, msg)


# ---- flags for the practitioner --------------------------------------------------------------


def recovery_flags(store: Store, *, patient_id: int | None = None, today: dt.date | None = None) -> list[RecoveryFlag]:
    """Flags from the check-ins of the last :data:`FLAG_WINDOW_DAYS` days: symptoms the patient
    reported, and a redness that is not settling (from the recovery curve of the photos)."""
    from analyzer.catalog import DEFAULT_REGION
    from analyzer.rows import progress_table

    today = _today(today)
    checkins = store.list_checkins(patient_id=patient_id, since=today - dt.timedelta(days=FLAG_WINDOW_DAYS))
    flags: list[RecoveryFlag] = []
    for c in checkins:
        for text in symptom_flags(c.symptoms, c.day):
            flags.append(RecoveryFlag(c.patient_id, c.series_id, c.treatment_session_id, c.treatment_date,
                                      "symptom", text))
    with_photos = {c.series_id: c.patient_id for c in checkins if c.photo_id is not None}
    for series_id, pid in with_photos.items():
        try:
            rows = progress_table(store, series_id)
            sessions = store.list_sessions(series_id)
        except SkinProgressError:
            continue
        region = DEFAULT_REGION if any(r["region"] == DEFAULT_REGION for r in rows) else None
        curves = curves_from_sessions(rows, sessions, region=region, view=CHECKIN_VIEW)
        children = {s.parent_session_id for s in sessions if s.kind == "recovery" and s.parent_session_id}
        treated = sorted((s for s in sessions if s.kind != "recovery" and s.id in children),
                         key=lambda s: (s.date, s.id))
        recent = {c.treatment_session_id for c in checkins if c.series_id == series_id and c.photo_id is not None}
        for i, (t, curve) in enumerate(zip(treated, curves, strict=False)):
            if t.id not in recent:
                continue
            msg = compare_recovery(curve, curves[:i])
            if curve.settling is False and msg is None:
                msg = f"the redness after the session of {t.date.isoformat()} is not going down"
            if msg:
                flags.append(RecoveryFlag(pid, series_id, t.id, t.date, "redness", msg))
    return flags
