"""The store's consultation records: marketing consent (dated, withdrawable, history kept) and
the annotations stored with a photo (SQL only; the policy lives in the use cases).

:class:`ConsultRecords` is a part of :class:`analyzer.store.Store` (a mixin: it uses the
store's transactions ``_read`` / ``_write`` and ``_get``).
"""

from __future__ import annotations

import math
import numbers

import sqlalchemy as sa

from analyzer.store import validate as v
from analyzer.store.errors import Conflict, InvalidInput
from analyzer.store.models import (
    MarketingConsentRow,
    PatientRow,
    PhotoAnnotationRow,
    PhotoRow,
    utcnow,
)
from analyzer.store.records import AnnotationRec, MarketingConsentRec

ANNOTATION_KINDS = ("arrow", "text", "outline")
_MAX_POINTS = 2000


def _consent(r: MarketingConsentRow) -> MarketingConsentRec:
    return MarketingConsentRec(r.id, r.patient_id, r.given_at, r.given_by, r.withdrawn_at, r.withdrawn_by,
                               r.note or "")


def _annotation(r: PhotoAnnotationRow) -> AnnotationRec:
    return AnnotationRec(r.id, r.photo_id, r.kind, dict(r.data or {}), r.created_by, r.created_at)


def _points(value, kind: str, width: int, height: int) -> list[list[float]]:
    need = {"arrow": (2, 2), "text": (1, 1), "outline": (3, _MAX_POINTS)}[kind]
    if not isinstance(value, list | tuple) or not need[0] <= len(value) <= need[1]:
        want = f"{need[0]}" if need[0] == need[1] else f"{need[0]} to {need[1]}"
        raise InvalidInput(f"an {kind} annotation needs {want} points [x, y], got {v.show(value)}")
    out = []
    for p in value:
        if not isinstance(p, list | tuple) or len(p) != 2 or not all(
                isinstance(c, numbers.Real) and not isinstance(c, bool) and math.isfinite(float(c)) for c in p):
            raise InvalidInput(f"an annotation point must be [x, y] numbers, got {v.show(p)}")
        x, y = float(p[0]), float(p[1])
        if not (0 <= x <= width and 0 <= y <= height):
            raise InvalidInput(f"annotation point ({x:g}, {y:g}) is outside the {width}x{height} photo")
        out.append([round(x, 1), round(y, 1)])
    return out


class ConsultRecords:
    """Marketing consent and photo annotations, stored (methods of the Store)."""

    # ---- marketing consent ----------------------------------------------------------------
    def give_marketing_consent(self, patient_id: int, *, by: str, note: str = "") -> MarketingConsentRec:
        """Record that the patient consents to before/after pictures for the clinic's own use
        (dated now). Raises :class:`Conflict` when a consent is already in force."""
        by = v.text(by, "recorded by", max_len=100, required=True)
        note = v.long_text(note, "note")

        def tx(s):
            self._get(s, PatientRow, patient_id, "patient")
            cur = s.scalars(sa.select(MarketingConsentRow).where(
                MarketingConsentRow.patient_id == patient_id, MarketingConsentRow.withdrawn_at.is_(None))).first()
            if cur is not None:
                raise Conflict("marketing consent is already recorded for this patient")
            row = MarketingConsentRow(patient_id=patient_id, given_at=utcnow(), given_by=by, note=note)
            s.add(row)
            s.flush()
            return _consent(row)

        return self._write(tx)

    def withdraw_marketing_consent(self, patient_id: int, *, by: str) -> MarketingConsentRec | None:
        """Date the withdrawal of the consent in force (None when there was none)."""
        by = v.text(by, "withdrawn by", max_len=100, required=True)

        def tx(s):
            self._get(s, PatientRow, patient_id, "patient")
            cur = s.scalars(sa.select(MarketingConsentRow).where(
                MarketingConsentRow.patient_id == patient_id, MarketingConsentRow.withdrawn_at.is_(None))).first()
            if cur is None:
                return None
            cur.withdrawn_at, cur.withdrawn_by = utcnow(), by
            s.flush()
            return _consent(cur)

        return self._write(tx)

    def marketing_consents(self, patient_id: int) -> list[MarketingConsentRec]:
        """Every grant of marketing consent, newest first (the first is in force if not withdrawn)."""

        def q(s):
            stmt = (sa.select(MarketingConsentRow).where(MarketingConsentRow.patient_id == patient_id)
                    .order_by(MarketingConsentRow.given_at.desc(), MarketingConsentRow.id.desc()))
            return [_consent(r) for r in s.scalars(stmt)]

        return self._read(q)

    def marketing_consent(self, patient_id: int) -> MarketingConsentRec | None:
        """The marketing consent in force, or None."""
        got = [c for c in self.marketing_consents(patient_id) if c.active]
        return got[0] if got else None

    # ---- annotations ------------------------------------------------------------------------
    def add_annotation(self, photo_id: int, *, kind: str, points, text: str = "", by: str) -> AnnotationRec:
        """Store a mark on a photo (points in its upright pixels). Bad input writes nothing."""
        if kind not in ANNOTATION_KINDS:
            raise InvalidInput(f"annotation kind {v.show(kind)}; allowed: {', '.join(ANNOTATION_KINDS)}")
        text = v.text(text, "annotation text", max_len=200, required=kind == "text")
        by = v.text(by, "annotated by", max_len=100, required=True)

        def tx(s):
            photo = self._get(s, PhotoRow, photo_id, "photo")
            pts = _points(points, kind, photo.width, photo.height)
            row = PhotoAnnotationRow(photo_id=photo_id, kind=kind, data={"points": pts, "text": text},
                                     created_by=by)
            s.add(row)
            s.flush()
            return _annotation(row)

        return self._write(tx)

    def list_annotations(self, photo_id: int) -> list[AnnotationRec]:
        """The photo's marks, oldest first."""

        def q(s):
            stmt = (sa.select(PhotoAnnotationRow).where(PhotoAnnotationRow.photo_id == photo_id)
                    .order_by(PhotoAnnotationRow.id))
            return [_annotation(r) for r in s.scalars(stmt)]

        return self._read(q)

    def delete_annotation(self, annotation_id: int) -> None:
        def tx(s):
            s.delete(self._get(s, PhotoAnnotationRow, annotation_id, "annotation"))

        self._write(tx)
