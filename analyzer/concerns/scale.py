"""Physical scale of a photo (px per mm): from a ruler, a chart or the eye distance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from analyzer.errors import UsageError
from analyzer.face import Face

# ---------------------------------------------------------------------------------------------
# Scale
# ---------------------------------------------------------------------------------------------
ScaleSource = Literal["ruler", "chart", "eye_distance"]
_SCALE_SOURCES = ("ruler", "chart", "eye_distance")

#: Adult mean interpupillary distance, mm (Dodgson 2004: mean 63.4 mm, SD ~3.8 mm).
EYE_DISTANCE_MM = 63.0


@dataclass(frozen=True)
class Scale:
    """Pixels per millimetre of skin, and where that number came from.

    Attributes
    ----------
    px_per_mm : float
        In the image the measures run on (the baseline frame for an aligned series).
    source : {"ruler", "chart", "eye_distance"}
    relative_uncertainty : float
        Honest 1-sigma-ish relative error: ruler 0.02, chart 0.03, eye distance 0.10.
    note : str
        Plain words, shown beside any per-mm or per-cm² number.
    """

    px_per_mm: float
    source: ScaleSource
    relative_uncertainty: float
    note: str

    def __post_init__(self) -> None:
        if self.source not in _SCALE_SOURCES:
            raise ValueError(f"scale source {self.source!r}; allowed: {', '.join(_SCALE_SOURCES)}")
        if not (isinstance(self.px_per_mm, int | float) and math.isfinite(self.px_per_mm) and self.px_per_mm > 0):
            raise UsageError("the scale must be a positive number of pixels per mm")

    @classmethod
    def from_ruler(cls, length_px: float, length_mm: float) -> Scale:
        """A ruler sticker: ``length_px`` pixels measured along ``length_mm`` millimetres."""
        _positive(length_px, "ruler length in pixels")
        _positive(length_mm, "ruler length in mm")
        return cls(length_px / length_mm, "ruler", 0.02, f"ruler in the photo ({length_mm:g} mm = {length_px:.0f} px)")

    @classmethod
    def from_chart(cls, length_px: float, length_mm: float) -> Scale:
        """A chart of known size (e.g. a ColorChecker's printed width) measured in the photo."""
        _positive(length_px, "chart size in pixels")
        _positive(length_mm, "chart size in mm")
        return cls(length_px / length_mm, "chart", 0.03, f"chart of known size ({length_mm:g} mm = {length_px:.0f} px)")

    @classmethod
    def from_eye_distance(cls, eye_distance_px: float, *, eye_distance_mm: float = EYE_DISTANCE_MM) -> Scale:
        """Approximate scale from the distance between the eye centres (``Face.eye_distance``).

        Assumes the adult average of 63 mm (Dodgson 2004); a given person differs by about
        ±6 % (1 SD) and the landmarks add a few %: about ±10 % in all. Fine for following one
        patient (the error is the same in every session), not for comparing patients.
        """
        _positive(eye_distance_px, "eye distance in pixels")
        return cls(
            eye_distance_px / eye_distance_mm,
            "eye_distance",
            0.10,
            f"approximate (±10 %): eye distance assumed {eye_distance_mm:g} mm (adult average)",
        )

    @classmethod
    def from_face(cls, face: Face) -> Scale:
        """:meth:`from_eye_distance` of a detected face."""
        return cls.from_eye_distance(face.eye_distance)

    def to_dict(self) -> dict:
        return {
            "px_per_mm": float(self.px_per_mm),
            "source": self.source,
            "relative_uncertainty": self.relative_uncertainty,
            "note": self.note,
        }


def _positive(x, what: str) -> None:
    try:
        ok = math.isfinite(float(x)) and float(x) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UsageError(f"{what} must be a positive number, got {x!r}")
