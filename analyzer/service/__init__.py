"""The use cases the app and the command line call: glue between the store and the pipeline.

Pages call these functions and render what comes back; nothing here imports streamlit, and
nothing here caches across calls (the pages cache). Where things are:

- :mod:`analyzer.service.patients`: :func:`open_store` (the settings chain of
  :mod:`analyzer.config`), patients, series, sessions, photos and regions.
- :mod:`analyzer.service.analysis`: :func:`analyze_session` / :func:`analyze_series` compare
  each photo with the baseline session's photo of the same view, for every region of the
  series, and store the results (keyed by analyzer version and region; a stored result is
  never recomputed); the colour reference patch; what is stored and what is pending.
- :mod:`analyzer.service.review`: :func:`review_images` rebuilds the aligned follow-up and
  the change maps from a stored analysis.
- :mod:`analyzer.service.demo`: :func:`ensure_demo` seeds the demo patient from
  ``sample_images/series.json`` when the database has no patients, and analyses it.

The names below are re-exported so that ``from analyzer import service; service.X`` keeps
working; the progress rows (:mod:`analyzer.rows`), the metric catalogue
(:mod:`analyzer.catalog`), the stored-analysis reader (:mod:`analyzer.stored`) and the
settings (:mod:`analyzer.config`) live below this package.
"""

from __future__ import annotations

from analyzer.catalog import (
    DEFAULT_REGION,
    KEY_METRICS,
    METRIC_GROUPS,
    METRICS,
    MetricInfo,
    metric_info,
    noise_band_basis,  # noqa: E402
    noise_band_of,
    region_label,
)
from analyzer.config import (
    REPO_DIR,
    SAMPLE_DIR,
    SETTINGS_FILE,
    Branding,
    StoreLocation,
    clinic_branding,
    demo_dir,
    read_settings,
    save_clinic_logo,
    store_location,
    write_settings,
)
from analyzer.consent import (
    consent_problem,  # noqa: E402
    marketing_consent_problem,  # noqa: E402
    require_consent,  # noqa: E402
)
from analyzer.rows import (
    PROGRESS_COLUMNS,
    SummaryCard,
    progress_table,
    rows_to_csv,
    series_verdict_rows,
    series_verdicts,
    summary_cards,
)
from analyzer.service.analysis import (
    PhotoAnalysis,
    Progress,
    analyze_photo,
    analyze_series,
    analyze_session,
    measured_concerns,
    pending_photos,
    reference_roi,
    region_outlines,
    series_status,
    set_reference_patch,
)
from analyzer.service.checkins import (
    DEFAULT_AFTERCARE,
    DEFAULT_CHECKIN_DAYS,
    CheckinResult,
    OpenCheckin,
    RecoveryFlag,
    aftercare_for_patient,
    check_checkin_photo,
    checkins_for_patient,
    recovery_flags,
    recovery_plan,
    sent_by_patient,
    set_recovery_plan,
    submit_checkin,
)
from analyzer.service.consult import (
    EXPORT_KINDS,
    ExportFile,
    PhotoFindings,
    add_annotation,
    before_after_export,
    give_marketing_consent,
    photo_annotations,
    photo_findings,
    practitioner_report_pdf,
    withdraw_marketing_consent,
)
from analyzer.service.demo import demo_patient, ensure_demo, load_manifest
from analyzer.service.patients import (
    add_photos,
    add_region,
    add_session_with_photos,
    assign_views,  # noqa: E402
    check_database,  # noqa: E402
    create_patient_with_series,
    open_store,
    patient_report_pdf,
    remove_region,
)
from analyzer.service.review import ReviewImages, review_images
from analyzer.service.scope import PatientScope, scope
from analyzer.stored import (
    ALL_REGIONS,
    SIMULATED_TAG,
    Caveat,
    Remedy,
    baseline_session,
    caveats_from_result,
    region_to_roi,
    region_to_roi_name,
    series_rois,
    session_label,
    simulated_note,
    treatment_text,
)

__all__ = [
    "Branding", "clinic_branding", "save_clinic_logo", "EXPORT_KINDS", "ExportFile", "PhotoFindings",
    "add_annotation", "before_after_export", "give_marketing_consent", "photo_annotations", "photo_findings",
    "practitioner_report_pdf", "withdraw_marketing_consent", "marketing_consent_problem",
    "DEFAULT_AFTERCARE", "DEFAULT_CHECKIN_DAYS", "CheckinResult", "OpenCheckin", "RecoveryFlag",
    "aftercare_for_patient", "check_checkin_photo", "checkins_for_patient", "recovery_flags", "recovery_plan",
    "sent_by_patient", "set_recovery_plan", "submit_checkin", "series_verdict_rows", "series_verdicts",
    "noise_band_basis",
    "require_consent",
    "consent_problem",
    "check_database",
    "assign_views",
    "ALL_REGIONS", "DEFAULT_REGION", "KEY_METRICS", "METRICS", "METRIC_GROUPS", "PROGRESS_COLUMNS",
    "REPO_DIR", "SAMPLE_DIR", "SETTINGS_FILE", "SIMULATED_TAG", "Caveat", "MetricInfo", "PatientScope", "PhotoAnalysis",
    "Progress", "Remedy", "ReviewImages", "StoreLocation", "SummaryCard", "add_photos", "add_region",
    "add_session_with_photos", "analyze_photo", "analyze_series", "analyze_session", "baseline_session",
    "caveats_from_result", "create_patient_with_series", "demo_dir", "demo_patient", "ensure_demo",
    "load_manifest", "measured_concerns", "metric_info", "noise_band_of", "open_store",
    "patient_report_pdf", "pending_photos", "progress_table", "read_settings", "reference_roi",
    "region_label", "region_outlines", "region_to_roi", "region_to_roi_name", "remove_region",
    "review_images", "scope", "rows_to_csv", "series_rois", "series_status", "session_label",
    "set_reference_patch", "simulated_note", "store_location", "summary_cards", "treatment_text",
    "write_settings",
]
