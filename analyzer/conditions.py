"""Capture conditions of a photo: light source, polarised light, make-up, colour reference.

Recorded per photo by the practitioner (the camera can't tell them), stored with the photo, and
compared between a photo and its baseline: a difference is said in plain words next to the
numbers, because a redness or pigmentation change across a light-source, polariser or make-up
change may be the conditions, not the skin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analyzer.errors import UsageError

LIGHT_SOURCES: dict[str, str] = {
    "flash": "flash",
    "ring_light": "ring light",
    "lamp": "lamp / LED panel",
    "daylight": "daylight (window)",
    "room": "room lights",
}
REFERENCES: dict[str, str] = {
    "chart": "colour chart (ColorChecker)",
    "grey_card": "grey card",
    "none": "none",
}


@dataclass(frozen=True)
class CaptureConditions:
    """What the practitioner records about how a photo was taken (``None``: not said)."""

    light_source: str | None = None
    polarised: bool | None = None
    makeup: bool | None = None
    reference: str | None = None

    def to_dict(self) -> dict:
        return {"light_source": self.light_source, "polarised": self.polarised, "makeup": self.makeup,
                "reference": self.reference}

    @property
    def empty(self) -> bool:
        return all(x is None for x in self.to_dict().values())


def _flag(d: Mapping[str, Any], key: str) -> bool | None:
    x = d.get(key)
    if x is None or isinstance(x, bool):
        return x
    raise UsageError(f"capture conditions: {key} must be yes, no or not said")


def conditions_from(value: Mapping[str, Any] | CaptureConditions | None) -> CaptureConditions | None:
    """Validate stored or entered conditions (a one-line :class:`UsageError` when unusable)."""
    if value is None or isinstance(value, CaptureConditions):
        return value
    if not isinstance(value, Mapping):
        raise UsageError("capture conditions must be a mapping")
    unknown = set(value) - {"light_source", "polarised", "makeup", "reference"}
    if unknown:
        raise UsageError(f"capture conditions: unknown field(s) {', '.join(sorted(unknown))}")
    light, ref = value.get("light_source"), value.get("reference")
    if light is not None and light not in LIGHT_SOURCES:
        raise UsageError(f"capture conditions: light source {light!r} is not one of {', '.join(LIGHT_SOURCES)}")
    if ref is not None and ref not in REFERENCES:
        raise UsageError(f"capture conditions: reference {ref!r} is not one of {', '.join(REFERENCES)}")
    c = CaptureConditions(light, _flag(value, "polarised"), _flag(value, "makeup"), ref)
    return None if c.empty else c


def _yn(x: bool | None) -> str:
    return "yes" if x else "no"


def differences(a: CaptureConditions | Mapping | None, b: CaptureConditions | Mapping | None) -> list[str]:
    """Plain sentences for each condition recorded on both photos that differs (``a`` = this
    photo, ``b`` = the baseline). A condition not said on either photo is not compared."""
    a, b = conditions_from(a), conditions_from(b)
    if a is None or b is None:
        return []
    out = []
    if a.light_source and b.light_source and a.light_source != b.light_source:
        out.append(f"light: {LIGHT_SOURCES[a.light_source]} here, {LIGHT_SOURCES[b.light_source]} at baseline")
    if a.polarised is not None and b.polarised is not None and a.polarised != b.polarised:
        out.append(f"polarised light: {_yn(a.polarised)} here, {_yn(b.polarised)} at baseline")
    if a.makeup is not None and b.makeup is not None and a.makeup != b.makeup:
        out.append(f"make-up: {_yn(a.makeup)} here, {_yn(b.makeup)} at baseline")
    if a.reference and b.reference and a.reference != b.reference:
        out.append(f"colour reference: {REFERENCES[a.reference]} here, {REFERENCES[b.reference]} at baseline")
    return out


def differences_text(diffs: list[str]) -> str | None:
    if not diffs:
        return None
    return ("Capture conditions differ from the baseline photo (" + "; ".join(diffs)
            + "): a change in colour may be the conditions, not the skin.")
