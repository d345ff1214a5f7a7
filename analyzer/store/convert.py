"""ORM row -> frozen record (:mod:`analyzer.store.records`): the one place a row becomes a record."""

from __future__ import annotations

from analyzer.store.models import (
    AnalysisRow,
    AuditRow,
    ClinicRow,
    PatientRow,
    PatientTokenRow,
    PhotoRow,
    SeriesRow,
    SessionRow,
    UserRow,
)
from analyzer.store.records import (
    AnalysisRec,
    AuditRec,
    Clinic,
    Patient,
    PhotoRec,
    Series,
    SessionRec,
    TokenRec,
    UserRec,
)


def patient_record(r: PatientRow) -> Patient:
    return Patient(
        id=r.id, code=r.code, display_name=r.display_name, birth_year=r.birth_year,
        fitzpatrick=r.fitzpatrick, consent_photos=bool(r.consent_photos),
        consent_reports=bool(r.consent_reports), notes=r.notes or "", screening=r.screening,
        is_demo=bool(r.is_demo), created_at=r.created_at, clinic_id=r.clinic_id,
    )


def series_record(r: SeriesRow) -> Series:
    return Series(
        id=r.id, patient_id=r.patient_id, name=r.name or "", body_area=r.body_area,
        concerns=list(r.concerns or []), baseline_session_id=r.baseline_session_id,
        regions=list(r.regions or []), notes=r.notes or "", created_at=r.created_at,
    )


def session_record(r: SessionRow) -> SessionRec:
    return SessionRec(
        id=r.id, series_id=r.series_id, date=r.date, device=r.device or "",
        needle_depth_mm=r.needle_depth_mm, passes=r.passes, topical=r.topical or "",
        practitioner=r.practitioner or "", notes=r.notes or "", kind=r.kind or "treatment",
        parent_session_id=r.parent_session_id, screening=r.screening, scar_grade=r.scar_grade,
        created_at=r.created_at,
    )


def photo_record(r: PhotoRow) -> PhotoRec:
    return PhotoRec(
        id=r.id, session_id=r.session_id, view=r.view, sha256=r.sha256, filename=r.filename,
        capture_time=r.capture_time, width=r.width, height=r.height, storage_key=r.storage_key,
        created_at=r.created_at, format=r.format, size_bytes=r.size_bytes,
        reference_patch=dict(r.reference_patch) if r.reference_patch else None,
        capture_conditions=dict(r.capture_conditions) if r.capture_conditions else None,
        prekeep_check=dict(r.prekeep_check) if r.prekeep_check else None,
    )


def analysis_record(r: AnalysisRow) -> AnalysisRec:
    return AnalysisRec(
        id=r.id, photo_id=r.photo_id, baseline_photo_id=r.baseline_photo_id,
        transform=r.transform, result=r.result, analyzer_version=r.analyzer_version,
        region=r.region or "", created_at=r.created_at,
    )


def user_record(r: UserRow) -> UserRec:
    return UserRec(
        id=r.id, username=r.username, role=r.role, password_hash=r.password_hash,
        patient_id=r.patient_id, created_at=r.created_at, disabled=r.disabled_at is not None,
        failed_attempts=r.failed_attempts or 0, clinic_id=r.clinic_id, is_admin=bool(r.is_admin),
    )


def token_record(r: PatientTokenRow) -> TokenRec:
    return TokenRec(
        id=r.id, token_hash=r.token_hash, patient_id=r.patient_id, created_at=r.created_at,
        expires_at=r.expires_at, revoked_at=r.revoked_at, label=r.label or "",
        last_used_at=r.last_used_at,
    )


def audit_record(r: AuditRow) -> AuditRec:
    return AuditRec(
        id=r.id, at=r.at, actor=r.actor, action=r.action, patient_id=r.patient_id,
        detail=r.detail or "", clinic_id=r.clinic_id,
    )


def clinic_record(r: ClinicRow) -> Clinic:
    return Clinic(id=r.id, name=r.name, created_at=r.created_at)
