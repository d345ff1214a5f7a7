"""The Streamlit sign-in gate: one call at the top of the app.

>>> user = require_user(store)   # doctest: +SKIP   (renders sign-in and stops until signed in)

What it renders, in order:

* a patient link (``?access=<token>``) in the address: read once, removed from the address,
  redeemed (rate limited), and the patient is signed in read-only to their own series;
* a signed-in session: re-validated on every rerun (revoked or expired link, disabled account,
  idle or too old, OIDC session gone, demo over -> signed out at once);
* OIDC (``st.login``) when ``.streamlit/secrets.toml`` has an ``[auth]`` section;
* demo mode (no sign-in, a marked banner) while the clinic has only demo patients, no
  practitioner account and no OIDC provider;
* otherwise: "create the first practitioner account" (first start), or the sign-in form
  (local accounts) and the patient code entry.

The signed-in principal lives in ``st.session_state`` only as plain values with an HMAC
under a per-process key, so a value planted in session state is not a sign-in. Sign-out
clears the whole session state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib.util
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import streamlit as st

from analyzer import auth
from analyzer.auth import AccessDenied, AuthError, Principal
from analyzer.errors import SkinProgressError
from analyzer.service.scope import PatientScope, scope

if TYPE_CHECKING:
    from analyzer.store import Store

User = Principal

_STATE = "_auth"           # {"p": principal dict, "mac": hex, "seen": iso}
_FLASH = "_auth_flash"     # a message for the sign-in screen (why you were signed out)
_SETUP = "_auth_setup"     # the demo user asked to create the practitioner account
_SID = "_auth_sid"         # random per-browser-session key for rate limiting
_MAC_KEY = secrets.token_bytes(32)  # per server process; sessions don't outlive it anyway
# Live sign-ins of this server process: nonce -> expiry. Signing out removes the nonce, so a
# copy of an old session value is dead (sessions live in this process's memory anyway).
_LIVE: dict[str, dt.datetime] = {}
_LIVE_LOCK = threading.Lock()

DEMO_BANNER = "DEMO MODE — sample data, not for real patients"


# ---- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessConfig:
    """Sign-in settings from ``.streamlit/secrets.toml`` and the environment."""

    oidc_providers: tuple[str | None, ...] = ()
    practitioner_emails: tuple[str, ...] = ()
    practitioner_domains: tuple[str, ...] = ()
    demo_disabled: bool = False
    setup_code: str = ""
    idle: dt.timedelta = auth.DEFAULT_IDLE
    max_age: dt.timedelta = auth.DEFAULT_MAX_AGE
    extra: dict = field(default_factory=dict)

    @property
    def oidc(self) -> bool:
        return bool(self.oidc_providers)


def _secret_section(name: str) -> dict:
    try:
        if name not in st.secrets:
            return {}
        return dict(st.secrets[name])
    except Exception:  # no secrets.toml at all
        return {}


def _split(v) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        v = v.replace(";", ",").split(",")
    return tuple(str(x).strip() for x in v if str(x).strip())


def _flag_off(v) -> bool:
    return str(v).strip().lower() in ("0", "false", "no", "off")


def access_config() -> AccessConfig:
    """Read the ``[auth]`` and ``[access]`` secrets, then ``SKIN_PROGRESS_*`` variables.

    * OIDC: ``[auth]`` with ``client_id`` (one provider, ``st.login()``) or sub-sections
      ``[auth.<name>]`` with ``client_id`` (``st.login("<name>")``).
    * ``[access] practitioner_emails`` / ``practitioner_domains`` (or
      ``SKIN_PROGRESS_PRACTITIONER_EMAILS`` / ``..._DOMAINS``, comma-separated): who among
      the provider's users is a practitioner.
    * ``[access] demo = false`` or ``SKIN_PROGRESS_DEMO=0``: never run as a demo.
    * ``[access] setup_code`` or ``SKIN_PROGRESS_SETUP_CODE``: required to create the first
      practitioner account.
    * ``[access] idle_minutes`` / ``SKIN_PROGRESS_IDLE_MINUTES`` (default 60),
      ``max_hours`` / ``SKIN_PROGRESS_SESSION_HOURS`` (default 12).
    """
    a = _secret_section("auth")
    providers: list[str | None] = []
    if a.get("client_id"):
        providers.append(None)
    for k, v in a.items():
        if isinstance(v, dict) or hasattr(v, "keys"):
            if dict(v).get("client_id"):
                providers.append(k)
    acc = _secret_section("access")
    env = os.environ

    def pick(key: str, env_key: str, default=None):
        return acc.get(key) if acc.get(key) is not None else env.get(env_key, default)

    def minutes(v, default: dt.timedelta, unit: str) -> dt.timedelta:
        try:
            x = float(v)
        except (TypeError, ValueError):
            return default
        return dt.timedelta(**{unit: x}) if x > 0 else default

    return AccessConfig(
        oidc_providers=tuple(providers),
        practitioner_emails=_split(pick("practitioner_emails", "SKIN_PROGRESS_PRACTITIONER_EMAILS")),
        practitioner_domains=_split(pick("practitioner_domains", "SKIN_PROGRESS_PRACTITIONER_DOMAINS")),
        demo_disabled=_flag_off(pick("demo", "SKIN_PROGRESS_DEMO", "1")),
        setup_code=str(pick("setup_code", "SKIN_PROGRESS_SETUP_CODE", "") or ""),
        idle=minutes(pick("idle_minutes", "SKIN_PROGRESS_IDLE_MINUTES"), auth.DEFAULT_IDLE, "minutes"),
        max_age=minutes(pick("max_hours", "SKIN_PROGRESS_SESSION_HOURS"), auth.DEFAULT_MAX_AGE, "hours"),
    )


# ---- the signed session value ----------------------------------------------------------------


def _mac(d: dict) -> str:
    return hmac.new(_MAC_KEY, json.dumps(d, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def _save(p: Principal, now: dt.datetime) -> None:
    """Keep ``p`` as this session's sign-in (same nonce if it is the same sign-in)."""
    same, _ = _load()
    v = st.session_state.get(_STATE)
    nonce = v["p"].get("nonce") if same == p else None
    with _LIVE_LOCK:
        if nonce is None:
            if same is not None:
                _LIVE.pop(str(v["p"].get("nonce")), None)
            nonce = secrets.token_hex(16)
        for k in [k for k, exp in _LIVE.items() if exp < now]:
            del _LIVE[k]
        _LIVE[nonce] = now + auth.DEFAULT_MAX_AGE * 2
    d = {**p.to_dict(), "nonce": nonce}
    st.session_state[_STATE] = {"p": d, "mac": _mac(d), "seen": now.isoformat()}


def _forget() -> None:
    """Kill this session's sign-in (its nonce) so no copy of it works again."""
    v = st.session_state.get(_STATE)
    if isinstance(v, dict) and isinstance(v.get("p"), dict):
        with _LIVE_LOCK:
            _LIVE.pop(str(v["p"].get("nonce")), None)


def _load() -> tuple[Principal | None, dt.datetime | None]:
    v = st.session_state.get(_STATE)
    if not isinstance(v, dict) or not isinstance(v.get("p"), dict):
        return None, None
    if not hmac.compare_digest(str(v.get("mac", "")), _mac(v["p"])):
        return None, None
    if v["p"].get("nonce") not in _LIVE:
        return None, None
    try:
        p = Principal.from_dict(v["p"])
        seen = dt.datetime.fromisoformat(v["seen"])
    except (KeyError, TypeError, ValueError):
        return None, None
    return p, seen


def _session_key() -> str:
    sid = st.session_state.get(_SID)
    if not isinstance(sid, str) or len(sid) != 32:
        sid = secrets.token_hex(16)
        st.session_state[_SID] = sid
    return sid


def current_user() -> Principal | None:
    """The principal :func:`require_user` signed in (and re-validated) for this session, or None."""
    p, _ = _load()
    return p


# ---- the gate --------------------------------------------------------------------------------


def _oidc_user() -> dict | None:
    try:
        u = st.user
        if not u.get("is_logged_in"):
            return None
        return dict(u.to_dict())
    except Exception:
        return None


def _end_session(store: Store, p: Principal | None, reason: str) -> None:
    """Forget everything of this browser session; keep only the reason to show."""
    if p is not None:
        try:
            auth.record_audit(store, p, "session.ended", p.patient_id if p.is_patient else None)
        except SkinProgressError:
            pass
    _forget()
    st.session_state.clear()
    if reason:
        st.session_state[_FLASH] = reason


def _consume_access_param(store: Store, now: dt.datetime) -> None:
    """Read ``?access=<token>`` once: remove it from the address, redeem it."""
    if "access" not in st.query_params:
        return
    token = st.query_params.get("access", "")
    del st.query_params["access"]
    prev, _ = _load()
    try:
        p = auth.redeem_patient_link(store, token, session_key=_session_key(), now=now)
    except AuthError as exc:
        st.session_state[_FLASH] = str(exc)
        return
    if prev is not None:  # a new link replaces whoever was signed in here
        _forget()
        st.session_state.clear()
    _save(p, now)


def _pin_state(store: Store, p: Principal) -> None:
    """Make the app's own selection keys agree with the principal (nothing planted survives)."""
    ss = st.session_state
    sc = scope(store, p)
    if p.is_patient:
        ss["patient_id"] = p.patient_id
        ss["patient_mode_id"] = p.patient_id
    else:  # demo, and a practitioner (their clinic's patients only): a planted or stale id is refused
        for k in ("patient_id", "patient_mode_id"):
            if ss.get(k) is not None:
                try:
                    sc.check(ss[k])
                except AccessDenied as exc:
                    ss[k] = None
                    if p.is_practitioner:
                        st.error(str(exc))
    if ss.get("series_id") is not None:
        try:
            ser = sc.series(ss["series_id"])  # AccessDenied for another clinic's series too
            if not p.is_practitioner and ser.patient_id != ss.get("patient_id"):
                raise AccessDenied("")
        except (AccessDenied, SkinProgressError):
            own = sc.series_of(ss["patient_id"]) if ss.get("patient_id") is not None else []
            ss["series_id"] = own[0].id if own else None


def require_user(store: Store, *, stop: bool = True, page_paths: tuple[str, ...] = ()) -> Principal | None:
    """The gate. Returns the signed-in principal (practitioner, patient or demo).

    Otherwise renders the sign-in screen and calls ``st.stop()`` (or returns None with
    ``stop=False``). Call it first, before any page or widget that shows patient data.
    ``page_paths``: the app's page addresses (``review``...). A bookmarked page then shows the
    sign-in screen (not "Page not found"), and after signing in the person is on that page.
    """
    now = auth.utcnow()
    cfg = access_config()
    _consume_access_param(store, now)

    p, seen = _load()
    if p is None and st.session_state.get(_STATE) is not None:
        st.session_state.pop(_STATE, None)  # planted or damaged: not a sign-in
    if p is not None:
        try:
            if p.via == "oidc":
                u = _oidc_user()
                if not cfg.oidc or u is None or str(u.get("email", "")).lower() != p.name:
                    raise AccessDenied("your sign-in with the provider has ended")
                auth.oidc_principal(u, allowed_emails=cfg.practitioner_emails,
                                    allowed_domains=cfg.practitioner_domains, now=now)
            demo_ok = None
            if p.is_demo:
                demo_ok = auth.demo_mode_available(store, oidc_configured=cfg.oidc,
                                                   disabled=cfg.demo_disabled)
            p = auth.validate_principal(store, p, now=now, last_seen=seen, idle=cfg.idle,
                                        max_age=cfg.max_age, demo_allowed=demo_ok)
        except AccessDenied as exc:
            _end_session(store, p, str(exc))
            p = None

    if p is None and cfg.oidc:
        u = _oidc_user()
        if u is not None:
            try:
                p = auth.oidc_principal(u, allowed_emails=cfg.practitioner_emails,
                                        allowed_domains=cfg.practitioner_domains, now=now)
            except AccessDenied as exc:
                st.error(str(exc))
                st.button("Sign out of the provider", on_click=st.logout)
                if stop:
                    st.stop()
                return None
            auth.record_audit(store, p, "sign_in.oidc")

    if p is None and not st.session_state.get(_SETUP) and auth.demo_mode_available(
            store, oidc_configured=cfg.oidc, disabled=cfg.demo_disabled):
        p = auth.demo_principal(now)

    if p is not None:
        _save(p, now)
        _pin_state(store, p)
        _sidebar(store, p)
        if p.is_demo:
            st.warning(f"**{DEMO_BANNER}**. Anyone who can open this address sees it. "
                       "Create the practitioner account before adding real patients.",
                       icon=":material/science:")
        return p

    if not stop:
        _sign_in_screen(store, cfg, now)
        return None
    # The sign-in screen is the only page of a hidden navigation: whatever page the address
    # names, nothing else runs. (Calling st.navigation on this run also takes Streamlit out of
    # its "pages/ folder" mode, in which pages/*.py would be served without app.py.)
    def screen() -> None:
        _sign_in_screen(store, cfg, now)

    st.navigation([st.Page(screen, title="Sign in", url_path="sign-in", default=True)]
                  + [st.Page(screen, title="Sign in", url_path=u) for u in page_paths if u and u != "sign-in"],
                  position="hidden").run()
    st.stop()
    return None  # pragma: no cover - st.stop raises


# ---- screens -------------------------------------------------------------------------------------


def md_escape(text: str) -> str:
    """User text shown as text inside markdown (same rule as ui.common.md_escape)."""
    return re.sub(r"([\\`*_{}\[\]<>#|~$!()])", r"\\\1", str(text))


def _sidebar(store: Store, p: Principal) -> None:
    sb = st.sidebar
    if p.is_demo:
        sb.warning(DEMO_BANNER, icon=":material/science:")
        if sb.button("Set up sign-in", key="_auth_setup_btn",
                     help="Create the practitioner account; demo mode ends."):
            st.session_state[_SETUP] = True
            _forget()
            st.session_state.pop(_STATE, None)
            st.rerun()
        return
    who = "Patient (read-only)" if p.is_patient else f"Signed in as **{md_escape(p.name)}**"
    sb.caption(who)
    if sb.button("Sign out", key="_auth_signout", icon=":material/logout:"):
        sign_out(store)


def sign_out(store: Store) -> None:
    """End this browser session's access now (and the provider's session for OIDC)."""
    p, _ = _load()
    if p is not None:
        try:
            auth.record_audit(store, p, "sign_out", p.patient_id if p.is_patient else None)
        except SkinProgressError:
            pass
    _forget()
    st.session_state.clear()
    st.session_state[_FLASH] = "You are signed out."
    st.query_params.clear()
    if p is not None and p.via == "oidc":
        st.logout()
    st.rerun()


def _sign_in_screen(store: Store, cfg: AccessConfig, now: dt.datetime) -> None:
    st.title("skin-progress")
    flash = st.session_state.pop(_FLASH, None)
    if flash:
        st.info(flash)
    first = auth.needs_first_account(store) and not cfg.oidc
    if first:
        _first_account_form(store, cfg, now)
        return
    tab_pr, tab_pa = st.tabs(["Practitioner sign-in", "Patient code"])
    with tab_pr:
        if cfg.oidc and importlib.util.find_spec("authlib") is None:
            st.error('Sign-in provider configured, but the Authlib package is missing: '
                     'pip install "Authlib>=1.3.2" and restart the app.')
        for prov in cfg.oidc_providers:
            label = f"Sign in with {prov}" if prov else "Sign in with the clinic's account"
            st.button(label, key=f"_auth_oidc_{prov or 'default'}", on_click=st.login,
                      args=(prov,) if prov else (), type="primary")
        if not auth.needs_first_account(store):
            _password_form(store, now)
    with tab_pa:
        _code_form(store, now)


def _first_account_form(store: Store, cfg: AccessConfig, now: dt.datetime) -> None:
    st.subheader("Create the first practitioner account")
    st.caption(f"First start: choose a username and a password of at least "
               f"{auth.MIN_PASSWORD_LENGTH} characters. The password is stored only as an Argon2 hash.")
    with st.form("_auth_first", clear_on_submit=True):
        username = st.text_input("Username", key="_auth_first_user", autocomplete="username")
        pw = st.text_input("Password", type="password", key="_auth_first_pw", autocomplete="new-password")
        pw2 = st.text_input("Repeat the password", type="password", key="_auth_first_pw2",
                            autocomplete="new-password")
        code = st.text_input("Setup code", type="password", key="_auth_first_code") if cfg.setup_code else ""
        ok = st.form_submit_button("Create account and sign in", type="primary")
    if st.session_state.get(_SETUP) and auth.demo_mode_available(
            store, oidc_configured=cfg.oidc, disabled=cfg.demo_disabled):
        if st.button("Back to the demo", key="_auth_back_demo"):
            st.session_state.pop(_SETUP, None)
            st.rerun()
    if not ok:
        return
    if cfg.setup_code:
        try:  # through the rate limiter, like a password
            auth.check_setup_code(store, str(code), cfg.setup_code, session_key=_session_key(), now=now)
        except AuthError as exc:
            st.error(str(exc))
            return
    try:
        p = auth.create_first_practitioner(store, username, pw, pw2, now=now)
    except SkinProgressError as exc:
        st.error(str(exc))
        return
    _forget()
    st.session_state.clear()
    _save(p, now)
    st.rerun()


def _password_form(store: Store, now: dt.datetime) -> None:
    with st.form("_auth_login", clear_on_submit=True):
        username = st.text_input("Username", key="_auth_user", autocomplete="username")
        pw = st.text_input("Password", type="password", key="_auth_pw", autocomplete="current-password")
        ok = st.form_submit_button("Sign in", type="primary")
    if not ok:
        return
    try:
        p = auth.authenticate(store, username, pw, session_key=_session_key(), now=now)
    except AuthError as exc:
        st.error(str(exc))
        return
    _start_session(p, now)


def _start_session(p, now: dt.datetime) -> None:
    """Begin a signed-in session for principal ``p``: nothing from before sign-in is carried over
    (the whole session state is cleared, keeping only the browser-session id), then rerun."""
    sid = st.session_state.get(_SID)
    _forget()
    st.session_state.clear()
    if sid:
        st.session_state[_SID] = sid
    _save(p, now)
    st.rerun()


def session_key() -> str:
    """This browser session's rate-limit key (see :func:`analyzer.auth.login_keys`)."""
    return _session_key()


def keep_signed_in(p: Principal) -> None:
    """Replace this session's principal (after a password change made a new one)."""
    _save(p, auth.utcnow())


def _code_form(store: Store, now: dt.datetime) -> None:
    st.caption("Patients: type the short code (like K7QMX-R2PTA) or paste the whole link your practitioner "
               "gave you.")
    with st.form("_auth_code", clear_on_submit=True):
        code = st.text_input("Access code", type="password", key="_auth_code_input")
        ok = st.form_submit_button("Open my progress")
    if not ok:
        return
    try:
        p = auth.redeem_patient_link(store, code, session_key=_session_key(), now=now)
    except AuthError as exc:
        st.error(str(exc))
        return
    _start_session(p, now)


# ---- helpers for pages ------------------------------------------------------------------------


def patient_scope(store: Store) -> PatientScope:
    """The store as the signed-in principal may read it (every call authorized)."""
    p = current_user()
    if p is None:
        st.error("Not signed in.")
        st.stop()
    return scope(store, p)


def authorized_patient_id(store: Store, patient_id) -> int:
    """``patient_id`` if the signed-in principal may see it; else an error and ``st.stop()``."""
    try:
        return auth.authorize(current_user(), patient_id, store)
    except AccessDenied as exc:
        st.error(str(exc))
        st.stop()
        raise  # pragma: no cover - st.stop raises


def audit(store: Store, action: str, patient_id: int | None, detail: str = "") -> None:
    """Record that the signed-in principal did ``action`` (``view.progress``, ``export.report``...)
    on ``patient_id``. Never pass a name or photo content in ``detail``."""
    auth.record_audit(store, current_user() or "unknown", action, patient_id, detail=detail)


def audit_once(store: Store, action: str, patient_id: int | None, detail: str = "") -> None:
    """Like :func:`audit`, but once per browser session and (action, patient, detail): for views,
    which rerun on every click."""
    key = f"_audit_seen:{action}:{patient_id}:{detail}"
    if st.session_state.get(key):
        return
    audit(store, action, patient_id, detail)
    st.session_state[key] = True
