"""Who is signed in (:class:`Principal`) and the access errors, with no database in sight.

:mod:`analyzer.auth` (accounts, links, rate limits, authorization) builds on these and
re-exports them; the UI and the use cases may import them from either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from analyzer.errors import SkinProgressError

Role = Literal["practitioner", "patient", "demo"]
Via = Literal["local", "oidc", "link", "demo"]
ROLES: tuple[str, ...] = ("practitioner", "patient", "demo")


# ---- errors ----------------------------------------------------------------------------


class AuthError(SkinProgressError):
    """Sign-in or access refused. The message is one line, safe to show as is."""


class AccessDenied(AuthError, PermissionError):
    """The signed-in principal may not see this (or the sign-in has ended)."""


class InvalidCredentials(AuthError):
    """Wrong username/password or an unknown, expired or revoked patient code."""


class RateLimited(AuthError):
    """Too many failed attempts: wait ``retry_after`` seconds."""

    def __init__(self, retry_after: float):
        self.retry_after = max(1.0, float(retry_after))
        secs = int(round(self.retry_after))
        when = f"{secs} s" if secs < 120 else f"{(secs + 59) // 60} min"
        super().__init__(f"too many failed attempts: try again in {when}")


class AccountError(AuthError, ValueError):
    """A bad username or password for a new account (too short, mismatch...)."""


# ---- principals ------------------------------------------------------------------------


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(now: dt.datetime | None) -> dt.datetime:
    """``now`` as aware UTC (the current time when None); a naive time is refused."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now.astimezone(dt.UTC)


@dataclass(frozen=True)
class Principal:
    """Whoever is signed in. Frozen; rebuilt from the database on every request.

    Attributes
    ----------
    role : {'practitioner', 'patient', 'demo'}
    via : {'local', 'oidc', 'link', 'demo'}
        How they signed in.
    name : str
        Username, e-mail (OIDC), ``link-<id>`` (patient link) or ``demo``. Never a patient name.
    user_id : int or None
        Local account id.
    patient_id : int or None
        The one patient a ``patient`` principal may see.
    clinic_id : int or None
        A practitioner's clinic: they see only its patients, links, exports and audit log.
        None means the installation's default clinic (an OIDC sign-in, or an installation
        that never named a clinic).
    is_admin : bool
        The installation admin: manages clinics (create, rename, assign accounts).
    token_id, token_hash : int/str or None
        The patient link used (its SHA-256, never the token).
    signed_in_at : datetime
        Aware UTC.
    """

    role: Role
    via: Via
    name: str
    signed_in_at: dt.datetime
    user_id: int | None = None
    patient_id: int | None = None
    token_id: int | None = None
    token_hash: str | None = None
    #: Local accounts: a fingerprint of the password hash at sign-in. A password change
    #: changes it, which ends every other session of the account (validate_principal).
    pw_stamp: str | None = None
    clinic_id: int | None = None
    is_admin: bool = False

    @property
    def is_practitioner(self) -> bool:
        return self.role == "practitioner"

    @property
    def is_patient(self) -> bool:
        return self.role == "patient"

    @property
    def is_demo(self) -> bool:
        return self.role == "demo"

    @property
    def actor(self) -> str:
        """How the audit log names this principal (``local:anna``, ``link:12``, ``demo``)."""
        if self.via == "demo":
            return "demo"
        if self.via == "link":
            return f"link:{self.token_id}"
        return f"{self.via}:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for a session store); :meth:`from_dict` reverses it."""
        return {
            "role": self.role, "via": self.via, "name": self.name,
            "signed_in_at": self.signed_in_at.isoformat(), "user_id": self.user_id,
            "patient_id": self.patient_id, "token_id": self.token_id, "token_hash": self.token_hash,
            "pw_stamp": self.pw_stamp, "clinic_id": self.clinic_id, "is_admin": self.is_admin,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Principal:
        role, via = d["role"], d["via"]
        if role not in ROLES or via not in ("local", "oidc", "link", "demo"):
            raise ValueError("not a principal")
        at = dt.datetime.fromisoformat(d["signed_in_at"])
        return cls(role=role, via=via, name=str(d["name"]), signed_in_at=as_utc(at),
                   user_id=d.get("user_id"), patient_id=d.get("patient_id"),
                   token_id=d.get("token_id"), token_hash=d.get("token_hash"),
                   pw_stamp=d.get("pw_stamp"), clinic_id=d.get("clinic_id"),
                   is_admin=d.get("is_admin") is True)


#: Backwards-friendly name used by the UI layer (``require_user(store) -> User``).
User = Principal


def demo_principal(now: dt.datetime | None = None) -> Principal:
    return Principal(role="demo", via="demo", name="demo", signed_in_at=as_utc(now))
