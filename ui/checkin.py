"""Streamlit pieces of the recovery check-ins: the patient's check-in (aftercare, photo with the
live ghost or an upload, symptoms, the check before keeping), the practitioner's plan editor and
the "sent by the patient" note on a recovery visit, and the flags on the patient list.

Numbers and rules come from :mod:`analyzer.service.checkins`; nothing here decides who may send.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import streamlit as st

from analyzer import service
from analyzer.errors import SkinProgressError
from analyzer.recovery import SYMPTOM_GRADED, SYMPTOM_LABELS, SYMPTOM_LEVELS, SYMPTOM_SIGN
from ui.common import bump, display_bytes, md_escape

if TYPE_CHECKING:
    from analyzer.store import Store

PENDING = "_ci_pending"
SHOT = "_ci_shot"


def _date(d: dt.date) -> str:
    return f"{d.day} {d:%B %Y}"


def render_aftercare(store: Store, patient_id: int) -> None:
    """The aftercare text of the patient's recent treatment sessions."""
    items = service.aftercare_for_patient(store, patient_id)
    if not items:
        return
    st.subheader("Aftercare")
    for date, text in items[:2]:
        st.caption(f"After your session of {_date(date)}")
        st.markdown("  \n".join(md_escape(line) for line in text.splitlines()))


def _ghost(store: Store, series_id: int) -> dict | None:
    from analyzer.service.prekeep import baseline_measure
    from analyzer.stored import baseline_session
    from ui.capture import ghost_assets

    base = baseline_session(store, series_id)
    bphoto = next((p for p in store.list_photos(base.id) if p.view == "front"), None) if base else None
    if bphoto is None:
        return None
    try:
        face = baseline_measure(store, bphoto).face
    except SkinProgressError:
        face = None
    return ghost_assets(display_bytes(bphoto.id), tuple(map(float, face.box)) if face is not None else None,
                        tuple((float(x), float(y)) for x, y in (face.left_eye, face.right_eye))
                        if face is not None else None, (bphoto.width, bphoto.height))


def _symptoms_form(key: str) -> dict:
    out: dict = {}
    for k in SYMPTOM_GRADED:
        out[k] = st.radio(SYMPTOM_LABELS[k].capitalize(), list(range(4)), horizontal=True, key=f"{key}_{k}",
                          format_func=lambda i: SYMPTOM_LEVELS[i])
    out[SYMPTOM_SIGN] = st.checkbox("Blisters, crusts with pus, spreading warmth or fever", key=f"{key}_{SYMPTOM_SIGN}",
                                    help=SYMPTOM_LABELS[SYMPTOM_SIGN])
    return out


def _send(store: Store, user, c, symptoms: dict, photo, prekeep: dict | None) -> None:
    try:
        with st.spinner("Sending…"):
            r = service.submit_checkin(store, user, c.treatment_session_id, c.day, symptoms=symptoms,
                                       photo=photo, prekeep=prekeep)
    except SkinProgressError as exc:
        st.error(str(exc))
        return
    st.session_state.pop(PENDING, None)
    st.session_state.pop(SHOT, None)
    st.session_state["ci_nonce"] = st.session_state.get("ci_nonce", 0) + 1
    st.toast(r.message)
    bump()
    st.rerun()


def render_patient_checkins(store: Store, patient, user) -> None:
    """Today's open check-ins for the signed-in patient (a practitioner sees what the patient sees,
    without the send button)."""
    open_ = service.checkins_for_patient(store, patient.id)
    for c in open_:
        st.subheader(f"Recovery check-in: day {c.day}")
        st.caption(f"{_date(c.due)} is day {c.day} after your session of {_date(c.treatment_date)}. "
                   f"This check-in is open until {_date(c.closes)}.")
        if user is None or not user.is_patient:
            st.info("The patient sees this check-in here on their own link: a photo and a few questions. "
                    "Only the patient's own link can send it.")
            continue
        if c.sent is not None:
            st.success(f"Your day-{c.day} check-in was sent to your practitioner on {_date(c.sent.updated_at.date())}"
                       + (" with your photo" if c.sent.photo_id else "") + ". Thank you.",
                       icon=":material/task_alt:")
            box = st.expander("Send it again (it replaces the one you sent)", expanded=False)
        else:
            box = st.container()
        with box:
            _checkin_form(store, user, c)


def _checkin_form(store: Store, user, c) -> None:
    key = f"ci_{c.treatment_session_id}_{c.day}"
    nonce = st.session_state.get("ci_nonce", 0)
    st.markdown("**1. A photo of your face, from the front**")
    st.caption("Take it where the light is even (facing a window, no direct sun), without make-up, at arm's "
               "length. Line your face up with the outline of your first photo.")
    tab_cam, tab_up = st.tabs(["Take the photo", "Upload a photo instead"])
    with tab_cam:
        from ui.capture import ghost_capture

        shot = ghost_capture(_ghost(store, c.series_id), facing="user", max_height=520, key=f"{key}_cam")
        if shot is not None and shot.get("nonce") != st.session_state.get(f"{key}_nonce"):
            st.session_state[f"{key}_nonce"] = shot.get("nonce")
            ext = "png" if shot.get("mime") == "image/png" else "jpg"
            st.session_state[SHOT] = (shot["data"], f"checkin-day{c.day}.{ext}")
        if st.session_state.get(SHOT):
            st.image(st.session_state[SHOT][0], caption="Your photo", width=220)
    with tab_up:
        up = st.file_uploader("Photo (JPEG, PNG, WebP, HEIC)", key=f"{key}_up_{nonce}",
                              type=["jpg", "jpeg", "png", "webp", "heic", "heif"])
    st.markdown("**2. How does your skin feel today?**")
    symptoms = _symptoms_form(f"{key}_sym_{nonce}")
    pending = st.session_state.get(PENDING)
    if pending and pending["key"] == key:
        st.warning(f"**Check of your photo:** {pending['verdict']}", icon=":material/warning:")
        b1, b2 = st.columns(2)
        if b1.button("Send it anyway", key=f"{key}_anyway", type="primary"):
            _send(store, user, c, symptoms, pending["photo"], pending["check"])
        if b2.button("Take another photo", key=f"{key}_retake"):
            st.session_state.pop(PENDING, None)
            st.session_state.pop(SHOT, None)
            st.session_state["ci_nonce"] = nonce + 1
            st.rerun()
        return
    if st.button("Send my check-in", key=f"{key}_send", type="primary", width="stretch"):
        photo = (up.getvalue(), up.name) if up is not None else st.session_state.get(SHOT)
        if photo is None:
            _send(store, user, c, symptoms, None, None)
            return
        try:
            with st.spinner("Checking your photo…"):
                chk = service.check_checkin_photo(store, user, c.treatment_session_id, c.day, *photo)
        except SkinProgressError as exc:
            st.error(str(exc))
            return
        if chk.ok:
            _send(store, user, c, symptoms, photo, chk.summary())
        else:
            st.session_state[PENDING] = {"key": key, "photo": photo, "verdict": chk.verdict, "check": chk.summary()}
            st.rerun()


def render_plan_editor(store: Store, session, user) -> None:
    """The practitioner sets a treatment session's check-in days and aftercare text."""
    plan = service.recovery_plan(store, session.id)
    with st.expander("Recovery check-ins and aftercare (patient link)", expanded=False):
        st.caption("On these days after the session the patient's link asks for a photo and a few symptoms; the "
                   "aftercare text is shown in the patient view. No days: no check-ins.")
        with st.form(f"plan_{session.id}"):
            days = st.multiselect("Check-in days after the session", list(range(1, 8)), default=list(plan.checkin_days),
                                  key=f"plan_days_{session.id}")
            text = st.text_area("Aftercare text", value=plan.aftercare or service.DEFAULT_AFTERCARE, height=160,
                                key=f"plan_text_{session.id}")
            ok = st.form_submit_button("Save check-ins and aftercare")
        if ok:
            try:
                service.set_recovery_plan(store, user, session.id, checkin_days=days, aftercare=text)
            except SkinProgressError as exc:
                st.error(str(exc))
            else:
                st.success("Saved.")
        for c in store.list_checkins(treatment_session_id=session.id):
            st.caption(f"Day {c.day}: sent by the patient on {c.updated_at:%Y-%m-%d}; " + symptoms_text(c.symptoms)
                       + ("; with a photo" if c.photo_id else "; no photo"))


def symptoms_text(symptoms: dict | None) -> str:
    if not symptoms:
        return "no symptoms given"
    parts = [f"{SYMPTOM_LABELS[k]} {SYMPTOM_LEVELS[int(symptoms.get(k) or 0)]}" for k in SYMPTOM_GRADED]
    if symptoms.get(SYMPTOM_SIGN):
        parts.append("BLISTERING OR INFECTION SIGN")
    return ", ".join(parts)


def render_sent_by_patient(store: Store, session) -> None:
    """On a recovery visit the patient sent: say so, with the symptoms."""
    c = service.sent_by_patient(store, session.id)
    if c is not None:
        st.markdown(f":blue-badge[sent by the patient] check-in day {c.day}: {symptoms_text(c.symptoms)}")


def render_flags(flags) -> None:
    for f in flags:
        icon = ":material/healing:" if f.kind == "symptom" else ":material/trending_up:"
        st.warning(f"Recovery after the session of {f.treatment_date.isoformat()}: {f.text}", icon=icon)
