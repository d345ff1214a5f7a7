"""Issue 17, item 11: the store's input checks raise the project's own error types with one
line. Every public input of the store gets hostile values (huge numbers, NaN, wrong types,
deep nesting, out-of-range dates); nothing but a SkinProgressError may come out, and nothing
is written by a refused call. (Archive import: tests/test_hold_archive.py.)"""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt

from analyzer.errors import SkinProgressError
from tests.store_fixtures import data_dir, db_url, png_bytes, store  # noqa: F401


def _deep(n=5000):
    x: list = []
    for _ in range(n):
        x = [x]
    return x


HOSTILE = [None, True, -1, 10**30, 2**63, -(2**63) - 1, 1e308, float("nan"), float("inf"), -float("inf"),
           "", "x" * 100_000, "\x00", "9999-99-99", [], {}, [1, "a"], {"a": float("nan")}, object(), b"\xff",
           dt.date(1, 1, 1), dt.datetime.max, dt.datetime.min, dt.timedelta(days=1), 10**5000, _deep(), {"a": _deep()}]


def _setup(store):
    p = store.create_patient("P-1", "Anna", consent_photos=True)
    se = store.create_series(p.id, body_area="face", concerns=["redness"])
    ss = store.add_session(se.id, date=dt.date(2026, 1, 1))
    ph = store.add_photo(ss.id, view="front", data=png_bytes(1), filename="a.png")
    return p, se, ss, ph


def _calls(store, p, se, ss, ph):
    """(label, function of one hostile value) for every input the store checks."""
    aware = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    return [
        ("create_patient.code", lambda x: store.create_patient(x, "A")),
        ("create_patient.name", lambda x: store.create_patient("P-9", x)),
        ("create_patient.birth_year", lambda x: store.create_patient("P-9", "A", birth_year=x)),
        ("create_patient.fitzpatrick", lambda x: store.create_patient("P-9", "A", fitzpatrick=x)),
        ("create_patient.consent", lambda x: store.create_patient("P-9", "A", consent_photos=x)),
        ("create_patient.notes", lambda x: store.create_patient("P-9", "A", notes=x)),
        ("create_patient.screening", lambda x: store.create_patient("P-9", "A", screening=x)),
        ("update_patient.id", lambda x: store.update_patient(x, notes="n")),
        ("update_patient.birth_year", lambda x: store.update_patient(p.id, birth_year=x)),
        ("get_patient", lambda x: store.get_patient(x)),
        ("get_patient_by_code", lambda x: store.get_patient_by_code(x)),
        ("list_patients", lambda x: store.list_patients(x)),
        ("create_series.body_area", lambda x: store.create_series(p.id, body_area=x, concerns=[])),
        ("create_series.concerns", lambda x: store.create_series(p.id, body_area="face", concerns=x)),
        ("create_series.patient", lambda x: store.create_series(x, body_area="face", concerns=[])),
        ("update_series.name", lambda x: store.update_series(se.id, name=x)),
        ("set_regions", lambda x: store.set_regions(se.id, x)),
        ("set_regions.item", lambda x: store.set_regions(se.id, [x])),
        ("set_regions.rect", lambda x: store.set_regions(se.id, [{"kind": "rect", "name": "r", "x": x, "y": 1,
                                                                   "w": 5, "h": 5}])),
        ("set_baseline_session", lambda x: store.set_baseline_session(se.id, x)),
        ("add_session.date", lambda x: store.add_session(se.id, date=x)),
        ("add_session.depth", lambda x: store.add_session(se.id, date=dt.date(2026, 2, 1), needle_depth_mm=x)),
        ("add_session.passes", lambda x: store.add_session(se.id, date=dt.date(2026, 2, 1), passes=x)),
        ("add_session.scar_grade", lambda x: store.add_session(se.id, date=dt.date(2026, 2, 1), scar_grade=x)),
        ("add_session.kind", lambda x: store.add_session(se.id, date=dt.date(2026, 2, 1), kind=x)),
        ("add_session.parent", lambda x: store.add_session(se.id, date=dt.date(2026, 1, 2), kind="recovery",
                                                           parent_session_id=x)),
        ("update_session.date", lambda x: store.update_session(ss.id, date=x)),
        ("get_session", lambda x: store.get_session(x)),
        ("list_sessions", lambda x: store.list_sessions(x)),
        ("add_photo.view", lambda x: store.add_photo(ss.id, view=x, data=png_bytes(2), filename="b.png")),
        ("add_photo.data", lambda x: store.add_photo(ss.id, view="left45", data=x, filename="b.png")),
        ("add_photo.filename", lambda x: store.add_photo(ss.id, view="left45", data=png_bytes(2), filename=x)),
        ("add_photo.session", lambda x: store.add_photo(x, view="left45", data=png_bytes(2), filename="b.png")),
        ("get_photo", lambda x: store.get_photo(x)),
        ("set_reference_patch", lambda x: store.set_reference_patch(ph.id, x)),
        ("set_reference_patch.x", lambda x: store.set_reference_patch(ph.id, {"x": x, "y": 1, "w": 5, "h": 5})),
        ("save_analysis.result", lambda x: store.save_analysis(ph.id, baseline_photo_id=None, transform=None,
                                                               result=x, analyzer_version="1")),
        ("save_analysis.transform", lambda x: store.save_analysis(ph.id, baseline_photo_id=None, transform=x,
                                                                  result={}, analyzer_version="1")),
        ("save_analysis.version", lambda x: store.save_analysis(ph.id, baseline_photo_id=None, transform=None,
                                                                result={}, analyzer_version=x)),
        ("save_analysis.region", lambda x: store.save_analysis(ph.id, baseline_photo_id=None, transform=None,
                                                               result={}, analyzer_version="1", region=x)),
        ("save_analysis.baseline", lambda x: store.save_analysis(ph.id, baseline_photo_id=x, transform=None,
                                                                 result={}, analyzer_version="1")),
        ("get_analysis", lambda x: store.get_analysis(ph.id, analyzer_version=x, region=x)),
        ("analyses_for_series", lambda x: store.analyses_for_series(se.id, analyzer_version=x)),
        ("create_user.name", lambda x: store.create_user(x, role="practitioner", password_hash="h")),
        ("create_user.role", lambda x: store.create_user("u", role=x, password_hash="h")),
        ("create_user.patient", lambda x: store.create_user("u", role="patient", password_hash="h", patient_id=x)),
        ("get_user", lambda x: store.get_user(x)),
        ("update_user", lambda x: store.update_user(x, disabled=True)),
        ("add_patient_token.expiry", lambda x: store.add_patient_token(p.id, token_hash="t", expires_at=x)),
        ("add_patient_token.patient", lambda x: store.add_patient_token(x, token_hash="t", expires_at=aware)),
        ("find_patient_token", lambda x: store.find_patient_token(x)),
        ("revoke_patient_token", lambda x: store.revoke_patient_token(x)),
        ("audit.patient", lambda x: store.audit("local:a", "view", patient_id=x)),
        ("audit.detail", lambda x: store.audit("local:a", "view", detail=x)),
        ("list_audit.patient", lambda x: store.list_audit(patient_id=x)),
        ("list_audit.limit", lambda x: store.list_audit(limit=x)),
        ("record_auth_failure", lambda x: store.record_auth_failure(x)),
        ("count_auth_failures.key", lambda x: store.count_auth_failures(x, since=aware)),
        ("count_auth_failures.since", lambda x: store.count_auth_failures("k", since=x)),
        ("clear_auth_failures.before", lambda x: store.clear_auth_failures("k", before=x)),
        ("delete_photo", lambda x: store.delete_photo(x)),
        ("delete_session", lambda x: store.delete_session(x)),
        ("delete_series", lambda x: store.delete_series(x)),
        ("delete_patient", lambda x: store.delete_patient(x)),
    ]


def _counts(store):
    import sqlalchemy as sa

    from analyzer.store.models import Base

    with store.engine.connect() as c:
        return {t.name: c.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in Base.metadata.sorted_tables}


def test_hostile_inputs_raise_only_one_line_store_errors(store):
    p, se, ss, ph = _setup(store)
    escaped = []
    for label, call in _calls(store, p, se, ss, ph):
        for x in HOSTILE:
            before = _counts(store)
            try:
                call(x)
            except SkinProgressError as exc:
                if "\n" in str(exc) or len(str(exc)) > 500:
                    escaped.append(f"{label}({type(x).__name__}): message of {len(str(exc))} chars")
                if _counts(store) != before:
                    escaped.append(f"{label}({type(x).__name__}): refused but wrote rows")
            except Exception as exc:  # noqa: BLE001
                escaped.append(f"{label}({type(x).__name__}): {type(exc).__name__}: {str(exc)[:80]}")
            else:
                # accepted: undo anything it made so the next call starts from the same state
                pass
    assert escaped == [], "\n".join(escaped)
