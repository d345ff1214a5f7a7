"""What each metric is: the contract's keys by group and the noise bands (the
session-to-session repeatability a change must exceed). :mod:`analyzer.metrics` measures them
and re-exports these names; :mod:`analyzer.catalog` reads them for every output."""

from __future__ import annotations

GROUPS = ("redness", "pigmentation", "texture")

#: The fixed JSON keys per group.
METRIC_KEYS: dict[str, tuple[str, ...]] = {
    "redness": ("a_star_mean", "erythema_index_mean", "red_area_fraction",
                "a_star_vs_reference", "a_star_reference_balanced", "erythema_index_vs_reference"),
    "pigmentation": (
        "L_star_mean",
        "ita_deg_mean",
        "melanin_index_mean",
        "spot_area_fraction",
        "spot_count",
        "tone_unevenness",
        "L_star_vs_reference",
        "melanin_index_vs_reference",
    ),
    "texture": ("roughness", "pore_density", "wrinkle_density", "glcm_contrast", "glcm_homogeneity"),
}

#: Absolute colour: follows the light unless both photos are colour-calibrated.
ABSOLUTE_COLOUR_KEYS = ("a_star_mean", "erythema_index_mean", "red_area_fraction", "L_star_mean",
                        "ita_deg_mean", "melanin_index_mean")

#: Colour relative to reference skin in the same photo: a per-photo constant (exposure, a
#: per-channel illuminant gain) cancels, so they need no chart (docs/metrics.md says what does not).
RELATIVE_COLOUR_KEYS = ("a_star_vs_reference", "a_star_reference_balanced", "erythema_index_vs_reference",
                        "L_star_vs_reference", "melanin_index_vs_reference")

#: Spatial measures at the spot scale (4 px/mm on a face) and at the texture scale (2 px/mm).
SPOT_SCALE_KEYS = ("spot_area_fraction", "spot_count", "tone_unevenness")

TEXTURE_KEYS = ("roughness", "pore_density", "wrinkle_density", "glcm_contrast", "glcm_homogeneity")

#: The reference skin region of a named region when the series names none: the forehead (untreated
#: when the cheeks are), the chin for the forehead itself.
DEFAULT_REFERENCE_REGION = "forehead"

#: Linear sRGB of a typical skin colour (CIELAB D65 65, 12, 16): ``a_star_reference_balanced``
#: white-balances the region on the reference skin and reads it as if the reference were this.
_CANONICAL_SKIN_LAB = (65.0, 12.0, 16.0)

#: Effective resolutions of two photos further apart than this ratio: spatial measures not compared.
MAX_RESOLUTION_RATIO = 1.25

#: Differences to the reference skin sit near 0: a percent of them means nothing.
PERCENT_UNDEFINED_KEYS = ("a_star_vs_reference", "erythema_index_vs_reference", "L_star_vs_reference",
                          "melanin_index_vs_reference")

# ---------------------------------------------------------------------------------------------
# Noise bands. A change smaller than the band is indistinguishable from re-photographing.
#
# Absolute colour (a*, EI, red area, L*, ITA, MI) is judged only between two colour-calibrated
# photos; its band is the London set's (same person, neutral vs smiling, studio flash, forehead,
# 10 people; analyzer.evaluation.metrics.noise_floor), the only repeat photos with a controlled light.
# Every other measure's band is measured on real repeat photos of unchanged faces through
# compare (analyzer.evaluation.repeat, face and both cheeks, no chart): within a session (lisa i/j,
# zoom i/j, London neutral/smiling) and across two sessions (lisa <-> zoom), over the pairs
# whose change the verdict compares; 95th percentile of |change|. The band used is the larger
# of the two (a follow-up is another session). bench/ re-measures them.
# ---------------------------------------------------------------------------------------------
#: Calibrated absolute colour: London set, same session (the bands of analyzer 0.2.0).
_CALIBRATED_COLOUR_BANDS: dict[str, float] = {
    "a_star_mean": 0.8142,
    "erythema_index_mean": 1.502,
    "red_area_fraction": 0.1438,
    "L_star_mean": 3.839,
    "ita_deg_mean": 10.44,
    "melanin_index_mean": 8.932,
}

#: 95th percentile of |change| on real repeat photos within one session (analyzer.evaluation.repeat).
NOISE_BANDS_WITHIN: dict[str, float] = {
    "a_star_vs_reference": 1.415,
    "a_star_reference_balanced": 1.672,
    "erythema_index_vs_reference": 3.74,
    "L_star_vs_reference": 7.531,
    "melanin_index_vs_reference": 17.45,
    "spot_area_fraction": 0.01131,
    "spot_count": 9.0,
    "tone_unevenness": 0.7197,
    "roughness": 0.3106,
    "pore_density": 0.357,
    "wrinkle_density": 0.06396,
    "glcm_contrast": 2.079,
    "glcm_homogeneity": 0.06959,
}

#: 95th percentile of |change| on real repeat photos across two sessions (lisa <-> zoom).
NOISE_BANDS_ACROSS: dict[str, float] = {
    "a_star_vs_reference": 2.354,
    "a_star_reference_balanced": 2.719,
    "erythema_index_vs_reference": 5.544,
    "L_star_vs_reference": 15.52,
    "melanin_index_vs_reference": 31.76,
    "spot_area_fraction": 0.00653,
    "spot_count": 13.85,
    "tone_unevenness": 0.9924,
    "roughness": 0.6106,
    "pore_density": 0.1718,
    "wrinkle_density": 0.06982,
    "glcm_contrast": 2.44,
    "glcm_homogeneity": 0.07625,
}

#: The band used for a comparison (absolute units of the metric).
NOISE_BANDS: dict[str, float] = {
    **_CALIBRATED_COLOUR_BANDS,
    **{k: max(NOISE_BANDS_WITHIN.get(k, 0.0), NOISE_BANDS_ACROSS.get(k, 0.0))
       for k in set(NOISE_BANDS_WITHIN) | set(NOISE_BANDS_ACROSS)},
}

_REPEAT_BASIS = ("95th percentile of |change| on real repeat photos of unchanged faces, the larger of within a "
                 "session (lisa, zoom, London neutral/smiling) and across two sessions (lisa <-> zoom), no chart")

_CALIBRATED_BASIS = ("95th percentile of |change| on real repeat photos within one studio-flash session (London "
                     "neutral/smiling, 10 people); used only between two colour-calibrated photos")

def noise_band(metric_key: str) -> float:
    """The noise band of a metric (``"a_star_mean"`` or ``"redness.a_star_mean"``), NaN if unknown.

    Measured on real repeat photos (see :data:`NOISE_BANDS` and ``docs/metrics.md``)."""
    k = metric_key.split(".")[-1]
    return float(NOISE_BANDS.get(k, float("nan")))

def noise_band_basis(metric_key: str) -> str | None:
    """Plain words on which repeat photos the metric's band was measured (None if unknown)."""
    k = metric_key.split(".")[-1]
    if k in _CALIBRATED_COLOUR_BANDS:
        return _CALIBRATED_BASIS
    return _REPEAT_BASIS if k in NOISE_BANDS else None
