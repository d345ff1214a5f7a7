"""Access: patient links (create, revoke), practitioner accounts, the audit log, my password;
for the installation admin also the clinics (create, rename, assign accounts).

Practitioners only, each seeing their own clinic's patients, accounts and audit log. A link's token is shown once, right after it is made: only its SHA-256 is
kept, so a lost link is revoked and replaced, never shown again.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analyzer import auth
from analyzer.errors import SkinProgressError
from ui.auth import current_user, keep_signed_in, patient_scope, session_key
from ui.common import confirm_button, current_patient_id, get_store, md_escape

store = get_store()
user = current_user()
st.title("Access")
if user is None or not user.is_practitioner:
    st.error("Practitioners only.")
    st.stop()

patients = patient_scope(store).patients()  # this practitioner's clinic
labels = {p.id: f"{p.display_name} ({p.code})" + (" · demo" if p.is_demo else "") for p in patients}
codes = {p.id: p.code for p in patients}


def _when(t) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t else "—"


# ---- patient links --------------------------------------------------------------------------
st.subheader("Patient links")
st.caption("A link (or its code) lets one patient see their own progress and report, read-only, until it "
           "expires or you revoke it. Send it to the patient only; anyone holding it sees that patient's page.")
# One patient picker: the sidebar's (the patient open on every practitioner page).
pid = current_patient_id()
demo_ids = {p.id for p in patients if p.is_demo}
if not patients:
    st.info("No patients yet.")
elif pid not in labels:
    st.info("Choose a patient in the sidebar to see and make their links.")
elif pid in demo_ids:
    st.info("The demo patient is sample data with simulated changes: it takes no patient links.")
else:
    st.markdown(f"Links of **{md_escape(labels[pid])}** (choose another patient in the sidebar).")
    with st.form("acc_new_link", clear_on_submit=True):
        c1, c2 = st.columns([1, 2])
        days = c1.number_input("Valid for (days)", min_value=1, max_value=auth.MAX_LINK_DAYS,
                               value=auth.DEFAULT_LINK_DAYS, step=1, key="acc_days")
        label = c2.text_input("Note (optional, e.g. 'sent by e-mail')", key="acc_label")
        make = st.form_submit_button("Create a link", type="primary")
    if make:
        try:
            link = auth.issue_patient_link(store, user, pid, days=int(days), label=label)
            short = auth.issue_patient_code(store, user, pid, days=int(days), label=label)
        except SkinProgressError as exc:
            st.error(str(exc))
        else:
            base = (st.context.url or "").split("?")[0].rsplit("/", 1)[0] if st.context.url else ""
            st.success(f"Link for {codes[pid]} created, valid until {_when(link.expires_at)}. "
                       "Copy it now: it is shown only this once.")
            st.code(link.url(base) if base else link.query, language=None)
            st.caption("Or a short code the patient can type on the sign-in page (same expiry; capitals or "
                       "not, the dash is optional):")
            st.code(short.token, language=None)
    links = auth.list_patient_links(store, user, pid)
    for li in links:
        c1, c2 = st.columns([5, 1])
        state = li.state()
        badge = {"active": ":green-badge[active]", "expired": ":gray-badge[expired]",
                 "revoked": ":red-badge[revoked]"}[state]
        kind = "Code" if li.label.startswith(auth.SHORT_CODE_LABEL) else "Link"
        c1.markdown(f"{kind} {li.id} {badge} · made {_when(li.created_at)} · expires {_when(li.expires_at)}"
                    f" · last used {_when(li.last_used_at)}" + (f" · {li.label}" if li.label else ""))
        if state == "active":
            with c2:
                if confirm_button(f"acc_revoke_{li.id}", "Revoke",
                                  f"Revoke {kind.lower()} {li.id}? The patient holding it loses access at once.",
                                  yes="Yes, revoke"):
                    auth.revoke_patient_link(store, user, li.id)
                    st.rerun()
    if any(li.state() == "active" for li in links):
        if confirm_button("acc_revoke_all", "Revoke all links of this patient",
                          f"Revoke every active link of {labels[pid]}? Each holder loses access at once.",
                          yes="Yes, revoke all"):
            n = auth.revoke_all_links(store, user, pid)
            st.toast(f"{n} links revoked")
            st.rerun()

# ---- accounts -------------------------------------------------------------------------------
st.subheader("Practitioner accounts")
accounts = auth.list_accounts(store, user)
if accounts:
    for a in accounts:
        c1, c2 = st.columns([5, 1])
        who = f"**{a.username}** · {a.role}" + (f" of {codes.get(a.patient_id, a.patient_id)}" if a.patient_id else "")
        c1.markdown(who + (" · :red-badge[disabled]" if a.disabled else "") + f" · since {_when(a.created_at)}")
        if a.id != user.user_id and c2.button("Enable" if a.disabled else "Disable", key=f"acc_dis_{a.id}"):
            try:
                auth.set_account_disabled(store, user, a.id, not a.disabled)
            except SkinProgressError as exc:
                st.error(str(exc))
            else:
                st.rerun()
else:
    st.caption("No local accounts: practitioners sign in through the clinic's sign-in provider.")
with st.expander("Add a practitioner account"):
    with st.form("acc_new_user", clear_on_submit=True):
        nu = st.text_input("Username", key="acc_nu")
        npw = st.text_input("Password", type="password", key="acc_npw")
        npw2 = st.text_input("Repeat the password", type="password", key="acc_npw2")
        add = st.form_submit_button("Add account")
    if add:
        try:
            acc = auth.create_account(store, user, nu, npw, npw2)
        except SkinProgressError as exc:
            st.error(str(exc))
        else:
            st.session_state["_acc_added"] = f"Account {acc.username} added."
            st.rerun()  # the list above shows it
    if msg := st.session_state.pop("_acc_added", None):
        st.success(msg)

if user.via == "local":
    with st.expander("Change my password"):
        with st.form("acc_pw", clear_on_submit=True):
            old = st.text_input("Current password", type="password", key="acc_old")
            new = st.text_input("New password", type="password", key="acc_new")
            new2 = st.text_input("Repeat the new password", type="password", key="acc_new2")
            ch = st.form_submit_button("Change password")
        if ch:
            try:
                p2 = auth.change_password(store, user, old, new, new2, session_key=session_key())
            except SkinProgressError as exc:
                st.error(str(exc))
            else:
                keep_signed_in(p2)  # this session goes on; every other session of the account ends
                st.success("Password changed. Your other sessions are signed out.")

# ---- audit log ------------------------------------------------------------------------------
st.subheader("Audit log")
st.caption("Who viewed or exported which patient, and when (sign-ins, links and accounts too). "
           "Entries name patients by code here; the log itself stores only numeric ids.")
scope_opts = ["all"] + (["one"] if pid in labels else [])
scope = st.radio("Entries of", scope_opts, horizontal=True, key="acc_audit_scope",
                 format_func=lambda o: "all patients" if o == "all" else f"{labels[pid]} only")
flt = pid if scope == "one" else None
entries = auth.list_audit(store, user, patient_id=flt, limit=500)
if entries:
    st.dataframe(pd.DataFrame([{
        "when": _when(e.at), "who": e.actor, "what": e.action,
        "patient": codes.get(e.patient_id, e.patient_id) if e.patient_id is not None else "",
        "detail": e.detail} for e in entries]), hide_index=True, width="stretch")
else:
    st.caption("Nothing recorded yet.")

# ---- clinics (the installation admin) ----------------------------------------------------------
if user.is_admin:
    st.subheader("Clinics")
    st.caption("This installation's clinics. Each clinic's practitioners see only its patients, links, exports "
               "and audit log. New patients go to the clinic of the practitioner who creates them.")
    try:
        clinics = auth.list_clinics(store, user)
    except SkinProgressError as exc:
        st.error(str(exc))
        clinics = []
    cnames = {c.id: c.name for c in clinics}
    for c in clinics:
        c1, c2 = st.columns([4, 2])
        mine = " · :green-badge[yours]" if c.id == auth.clinic_of(store, user) else ""
        c1.markdown(f"**{md_escape(c.name)}**{mine} · since {_when(c.created_at)}")
        with c2.popover("Rename"):
            new_name = st.text_input("New name", value=c.name, key=f"acc_cl_name_{c.id}")
            if st.button("Save name", key=f"acc_cl_ren_{c.id}"):
                try:
                    auth.rename_clinic(store, user, c.id, new_name)
                except SkinProgressError as exc:
                    st.error(str(exc))
                else:
                    st.rerun()
    with st.form("acc_new_clinic", clear_on_submit=True):
        cn = st.text_input("New clinic's name", key="acc_cl_new")
        if st.form_submit_button("Create clinic"):
            try:
                made = auth.create_clinic(store, user, cn)
            except SkinProgressError as exc:
                st.error(str(exc))
            else:
                st.session_state["_acc_cl_made"] = f"Clinic {made.name} created."
                st.rerun()
    if msg := st.session_state.pop("_acc_cl_made", None):
        st.success(msg)
    st.markdown("**Practitioner accounts by clinic**")
    st.caption("Moving an account signs it out; its next sign-in shows the new clinic's patients.")
    for a, cid in auth.list_all_accounts(store, user):
        if a.role != "practitioner":
            continue
        c1, c2 = st.columns([3, 3])
        c1.markdown(f"**{a.username}**" + (" · :red-badge[disabled]" if a.disabled else ""))
        ids = list(cnames)
        pick = c2.selectbox("Clinic", ids, index=ids.index(cid) if cid in ids else 0, key=f"acc_cl_of_{a.id}",
                            format_func=lambda i: cnames[i], label_visibility="collapsed",
                            disabled=a.id == user.user_id)
        if pick != cid and a.id != user.user_id:
            try:
                auth.assign_account(store, user, a.id, pick)
            except SkinProgressError as exc:
                st.error(str(exc))
            else:
                st.rerun()
