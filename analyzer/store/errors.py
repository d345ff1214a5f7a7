"""Store errors: one line each, fit to show to a practitioner as they are."""

from __future__ import annotations

from analyzer.errors import SkinProgressError


class StoreError(SkinProgressError):
    """Anything the store refuses or can't do. The message is one line."""


class NotFound(StoreError, LookupError):
    """A patient, series, session, photo, user or token id that does not exist."""


class InvalidInput(StoreError, ValueError):
    """A bad value (unknown view, negative needle depth...). Nothing was written."""


class Conflict(StoreError):
    """The request clashes with what is stored (a patient code already taken...)."""


class LastPractitioner(Conflict):
    """Disabling this account would leave no enabled practitioner (:mod:`analyzer.auth` words it)."""
