"""Consent that counts: photos are stored, and reports made, only with the patient's consent.

A patient record carries ``consent_photos`` and ``consent_reports`` (store.records.Patient).
The use cases (service.add_photos, add_session_with_photos, patient_report_pdf) and the report
itself (report.report_from_store, which the patient's own download goes through) ask here first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyzer.errors import UsageError

if TYPE_CHECKING:
    from analyzer.store import Store

#: consent -> (its name, what is refused without it, the tick box that records it in the app)
CONSENT_TEXT = {
    "photos": ("photo consent", "photos can't be stored or analysed", "Consents to photos being stored"),
    "reports": ("report consent", "no report can be made", "Consents to reports"),
}


def consent_problem(patient, what: str) -> str | None:
    """None if the patient gave the consent ``what`` ("photos" or "reports"), else one plain line
    saying what is refused and how to record the consent."""
    if what not in CONSENT_TEXT:
        raise ValueError(f"unknown consent {what!r}")
    given = patient.consent_photos if what == "photos" else patient.consent_reports
    if given:
        return None
    name, refused, tick = CONSENT_TEXT[what]
    return (f"{patient.display_name} ({patient.code}) has no {name} recorded, so {refused}. If the patient "
            f"consents, tick “{tick}” under “Edit patient” on the Patients page first.")


def require_consent(store: Store, patient_id: int, what: str) -> None:
    """Raise a one-line UsageError unless the patient gave the consent ``what``."""
    msg = consent_problem(store.get_patient(patient_id), what)
    if msg:
        raise UsageError(msg)


def marketing_consent_problem(store: Store, patient_id: int) -> str | None:
    """None while the patient's marketing consent (its own record, separate from the photo and
    report consents; dated, withdrawable) is in force, else one plain line."""
    if store.marketing_consent(patient_id) is not None:
        return None
    p = store.get_patient(patient_id)
    return (f"{p.display_name} ({p.code}) has no marketing consent in force, so no before/after picture can be "
            "made for the clinic's use. If the patient agrees, record it under “Marketing consent” on the "
            "Patients page first.")


def require_marketing_consent(store: Store, patient_id: int) -> None:
    """Raise a one-line UsageError unless the patient's marketing consent is in force."""
    msg = marketing_consent_problem(store, patient_id)
    if msg:
        raise UsageError(msg)
