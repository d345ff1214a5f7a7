"""The change between two measurements of the same skin and its verdict: within the noise
band, beyond it, or can't tell (and why), and the warnings of a comparison."""

from __future__ import annotations

import math

from analyzer.metrics import (
    ABSOLUTE_COLOUR_KEYS,
    GROUPS,
    MAX_RESOLUTION_RATIO,
    METRIC_KEYS,
    PERCENT_UNDEFINED_KEYS,
    RELATIVE_COLOUR_KEYS,
    SPOT_SCALE_KEYS,
    TEXTURE_KEYS,
    MetricSet,
    noise_band,
    noise_band_basis,
)
from analyzer.results import finite_or_none

#: What a person is told when absolute colour can't be compared (the issue's plain words).
CANT_TELL_LIGHTING = ("can't tell: the lighting differs and there was no colour reference; "
                      "next time, hold the grey card by the cheek")
CANT_TELL_NO_REFERENCE = ("can't tell: there was no colour reference in the photos, so a change of light "
                          "can't be told from a change of skin; next time, hold the grey card by the cheek")
CANT_TELL_ONE_REFERENCE = ("can't tell: only one of the two photos has a colour reference; "
                           "next time, hold the grey card by the cheek in every session")


def _resolution_reason(key: str, baseline: MetricSet, native: tuple | None) -> str | None:
    """Why a spatial measure can't be compared across a resolution mismatch (None: it can)."""
    if not native or native[0] is None or native[1] is None:
        return None
    spot = key in SPOT_SCALE_KEYS
    analysis = baseline.scale.get("spot_px_per_mm" if spot else "px_per_mm")
    if not analysis:
        return None
    eff = [min(float(n), float(analysis)) for n in native]
    if max(eff) / max(min(eff), 1e-9) <= MAX_RESOLUTION_RATIO:
        return None
    lo = "baseline" if eff[0] < eff[1] else "follow-up"
    return (f"can't tell: the {lo} photo shows the skin at {min(eff):.1f} px/mm against {max(eff):.1f} px/mm "
            f"({'spots are' if spot else 'texture is'} measured at {float(analysis):g} px/mm), so fine detail "
            "differs with the camera, not the skin; next time, take the photo from the same distance")


def _verdict(key: str, delta: float | None, baseline: MetricSet, followup: MetricSet,
             native: tuple | None) -> tuple[bool | None, str | None, float]:
    """(within_noise, reason when it can't be told, band used) of one metric's change."""
    band = noise_band(key)
    if delta is None:
        return None, "a value is missing", band
    if key in ABSOLUTE_COLOUR_KEYS:
        cb, cf = baseline.calibration.method, followup.calibration.method
        if cb == "none" and cf == "none":
            return None, (CANT_TELL_LIGHTING if followup.quality.get("lighting_differs") else CANT_TELL_NO_REFERENCE), band
        if cb == "none" or cf == "none":
            return None, CANT_TELL_ONE_REFERENCE, band
    elif key in RELATIVE_COLOUR_KEYS:
        rb, rf = (baseline.reference or {}).get("region"), (followup.reference or {}).get("region")
        if rb != rf:
            return None, f"can't tell: the reference skin differs ({rb} against {rf})", band
    elif key in SPOT_SCALE_KEYS or key in TEXTURE_KEYS:
        why = _resolution_reason(key, baseline, native)
        if why:
            return None, why, band
        if bool(baseline.quality.get("blurred")) != bool(followup.quality.get("blurred")):
            which = "baseline" if baseline.quality.get("blurred") else "follow-up"
            return None, f"can't tell: the {which} photo is blurred in this region; next time, retake it sharp", band
    if not math.isfinite(band):
        return None, "no noise band measured for this measure", band
    return bool(abs(delta) <= band), None, band


def change(baseline: MetricSet, followup: MetricSet, *, native_px_per_mm: tuple | None = None) -> dict:
    """Follow-up minus baseline per metric, with a verdict.

    ``native_px_per_mm``: (baseline, follow-up) resolution of the skin in each photo as taken
    (face eye distance / 63 mm); spatial measures are not compared across a larger mismatch
    than :data:`MAX_RESOLUTION_RATIO` of their effective resolution.

    Returns
    -------
    dict
        Keyed like ``meta``: ``{"redness.a_star_mean": {"delta": f-b | None,
        "percent": 100*(f-b)/|b| | None, "reason": str | None, "noise_band": float | None,
        "within_noise": bool | None, "verdict": "within_noise" | "beyond_noise" | "cant_tell",
        "verdict_reason": str | None, "noise_band_basis": str | None}, ...}`` for every key of
        :data:`METRIC_KEYS`. ``within_noise`` is ``None`` when the change can't be told (absolute
        colour without a colour reference in both photos, a spatial measure across a resolution
        or blur mismatch, a missing value) and ``verdict_reason`` says why in plain words. The
        same records are also reachable by group (``d["redness"]["a_star_mean"]``). Warnings
        about the comparison itself come from :func:`change_warnings`.
    """
    out: dict = {}
    nested: dict = {}
    for g in GROUPS:
        for k in METRIC_KEYS[g]:
            b = baseline.groups.get(g, {}).get(k)
            f = followup.groups.get(g, {}).get(k)
            bv = float("nan") if b is None else float(b.value)
            fv = float("nan") if f is None else float(f.value)
            rec: dict = {"delta": None, "percent": None, "reason": None}
            if not (math.isfinite(bv) and math.isfinite(fv)):
                why = "; ".join(r for r in ((b.reason if b else None), (f.reason if f else None)) if r)
                rec["reason"] = "baseline or follow-up value missing" + (f": {why}" if why else "")
            else:
                d = fv - bv
                rec["delta"] = d
                if k in PERCENT_UNDEFINED_KEYS:
                    rec["reason"] = "percent not meaningful: a difference to the reference skin (see delta)"
                elif abs(bv) > 1e-9:
                    rec["percent"] = 100.0 * d / abs(bv)
                else:
                    rec["reason"] = "percent undefined: baseline value is 0"
            within, why, nb = _verdict(k, rec["delta"], baseline, followup, native_px_per_mm)
            if rec["delta"] is None:
                why = rec["reason"]
            rec["noise_band"] = finite_or_none(nb)
            rec["within_noise"] = within
            rec["verdict"] = "cant_tell" if within is None else ("within_noise" if within else "beyond_noise")
            rec["verdict_reason"] = why
            rec["noise_band_basis"] = noise_band_basis(k) if rec["noise_band"] is not None else None
            out[f"{g}.{k}"] = rec
            nested.setdefault(g, {})[k] = rec
    out.update(nested)
    return out


def stored_verdict(key: str, entry, delta: float | None, band: float | None,
                   baseline_side=None, followup_side=None) -> tuple[bool | None, str | None]:
    """(within_noise, reason it can't be told) of a stored change, for the progress table and
    the exports. A change entry written by :func:`change` carries its verdict; other measures
    (the concern measures, stored without one) are judged here by the same rules: absolute
    colour (a key ending in an absolute colour name) only between two calibrated photos."""
    if isinstance(entry, dict) and "verdict" in entry:
        return entry.get("within_noise"), entry.get("verdict_reason")
    if delta is None:
        return None, "a value is missing"
    if key.split(".")[-1] in ABSOLUTE_COLOUR_KEYS:
        def method(side):
            cal = (side or {}).get("calibration") if isinstance(side, dict) else None
            return (cal or {}).get("method", "none") if isinstance(cal, dict) else (cal or "none")

        cb, cf = method(baseline_side), method(followup_side)
        if cb == "none" and cf == "none":
            differs = ((followup_side or {}).get("quality") or {}).get("lighting_differs")
            return None, CANT_TELL_LIGHTING if differs else CANT_TELL_NO_REFERENCE
        if cb == "none" or cf == "none":
            return None, CANT_TELL_ONE_REFERENCE
    if band is None or not math.isfinite(band):
        return None, "no noise band measured for this measure"
    return bool(abs(delta) <= band), None


def refused_change(reason: str) -> dict:
    """The change of a refused comparison: every metric's entry null, with the reason."""
    out: dict = {}
    nested: dict = {}
    for g in GROUPS:
        for k in METRIC_KEYS[g]:
            nb = noise_band(k)
            rec = {"delta": None, "percent": None, "reason": reason, "noise_band": finite_or_none(nb),
                   "within_noise": None, "verdict": "cant_tell", "verdict_reason": f"can't tell: {reason}",
                   "noise_band_basis": noise_band_basis(k) if math.isfinite(nb) else None}
            out[f"{g}.{k}"] = rec
            nested.setdefault(g, {})[k] = rec
    out.update(nested)
    return out


def change_warnings(baseline: MetricSet, followup: MetricSet) -> list[str]:
    """Plain-words warnings about a comparison: calibration missing or different, lighting."""
    warnings = []
    if baseline.calibration.method != followup.calibration.method:
        warnings.append(
            f"Calibration differs (baseline {baseline.calibration.method}, follow-up {followup.calibration.method}): "
            "colour changes may be partly lighting."
        )
    elif baseline.calibration.method == "none":
        warnings.append("Neither photo is colour-calibrated: changes across sessions may be lighting.")
    if followup.quality.get("lighting_differs"):
        warnings.append("The follow-up's lighting differs from the baseline's.")
    return warnings
