"""Access: patient links (create, revoke), practitioner accounts, the audit log, my password.

Practitioners only. A link's token is shown once, right after it is made: only its SHA-256 is
kept, so a lost link is revoked and replaced, never shown again.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analyzer import auth
from analyzer.errors import SkinProgressError
from ui.auth import current_user
from ui.common import get_store

store = get_store()
user = current_user()
st.title("Access")
if user is None or not user.is_practitioner:
    st.error("Practitioners only.")
    st.stop()

patients = store.list_patients()
labels = {p.id: f"{p.display_name} ({p.code})" + (" · demo" if p.is_demo else "") for p in patients}
codes = {p.id: p.code for p in patients}


def _when(t) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t else "—"


# ---- patient links --------------------------------------------------------------------------
st.subheader("Patient links")
st.caption("A link (or its code) lets one patient see their own progress and report, read-only, until it "
           "expires or you revoke it. Send it to the patient only; anyone holding it sees that patient's page.")
if not patients:
    st.info("No patients yet.")
else:
    cur = st.session_state.get("patient_id")
    ids = list(labels)
    pid = st.selectbox("Patient", ids, index=ids.index(cur) if cur in ids else 0,
                       format_func=lambda i: labels[i], key="acc_patient")
    with st.form("acc_new_link", clear_on_submit=True):
        c1, c2 = st.columns([1, 2])
        days = c1.number_input("Valid for (days)", min_value=1, max_value=auth.MAX_LINK_DAYS,
                               value=auth.DEFAULT_LINK_DAYS, step=1, key="acc_days")
        label = c2.text_input("Note (optional, e.g. 'sent by e-mail')", key="acc_label")
        make = st.form_submit_button("Create a link", type="primary")
    if make:
        try:
            link = auth.issue_patient_link(store, user, pid, days=int(days), label=label)
        except SkinProgressError as exc:
            st.error(str(exc))
        else:
            base = (st.context.url or "").split("?")[0].rsplit("/", 1)[0] if st.context.url else ""
            st.success(f"Link for {codes[pid]} created, valid until {_when(link.expires_at)}. "
                       "Copy it now: it is shown only this once.")
            st.code(link.url(base) if base else link.query, language=None)
            st.caption("Code to type instead of the link:")
            st.code(link.token, language=None)
    links = auth.list_patient_links(store, user, pid)
    for li in links:
        c1, c2 = st.columns([5, 1])
        state = li.state()
        badge = {"active": ":green-badge[active]", "expired": ":gray-badge[expired]",
                 "revoked": ":red-badge[revoked]"}[state]
        c1.markdown(f"Link {li.id} {badge} · made {_when(li.created_at)} · expires {_when(li.expires_at)}"
                    f" · last used {_when(li.last_used_at)}" + (f" · {li.label}" if li.label else ""))
        if state == "active" and c2.button("Revoke", key=f"acc_revoke_{li.id}"):
            auth.revoke_patient_link(store, user, li.id)
            st.rerun()
    if any(li.state() == "active" for li in links):
        if st.button("Revoke all links of this patient", key="acc_revoke_all"):
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
            st.success(f"Account {acc.username} added.")

if user.via == "local":
    with st.expander("Change my password"):
        with st.form("acc_pw", clear_on_submit=True):
            old = st.text_input("Current password", type="password", key="acc_old")
            new = st.text_input("New password", type="password", key="acc_new")
            new2 = st.text_input("Repeat the new password", type="password", key="acc_new2")
            ch = st.form_submit_button("Change password")
        if ch:
            try:
                auth.change_password(store, user, old, new, new2)
            except SkinProgressError as exc:
                st.error(str(exc))
            else:
                st.success("Password changed.")

# ---- audit log ------------------------------------------------------------------------------
st.subheader("Audit log")
st.caption("Who viewed or exported which patient, and when (sign-ins, links and accounts too). "
           "Entries name patients by code here; the log itself stores only numeric ids.")
flt = st.selectbox("Patient", [None, *labels], format_func=lambda i: "all patients" if i is None else labels[i],
                   key="acc_audit_patient")
entries = auth.list_audit(store, user, patient_id=flt, limit=500)
if entries:
    st.dataframe(pd.DataFrame([{
        "when": _when(e.at), "who": e.actor, "what": e.action,
        "patient": codes.get(e.patient_id, e.patient_id) if e.patient_id is not None else "",
        "detail": e.detail} for e in entries]), hide_index=True, width="stretch")
else:
    st.caption("Nothing recorded yet.")
