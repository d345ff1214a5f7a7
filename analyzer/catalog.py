"""The metric catalogue: one entry per metric, read by every output (screen, CSV, PDF, CLI).

Each entry says what the metric is called (``label`` in sentences and charts,
``report_label`` in the PDF), what it means to a patient, which way is better, its group and
(through :func:`noise_band_of`) its session-to-session noise band. The measuring code
(:mod:`analyzer.metrics`, :mod:`analyzer.concerns`) owns units, methods and noise bands;
this module is the one place the rest of the project reads them from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analyzer.errors import UsageError

DEFAULT_REGION = "face"


@dataclass(frozen=True)
class MetricInfo:
    """How a metric is named and explained to people."""

    key: str  # "group.name", e.g. "redness.a_star_mean"
    label: str  # short, for chart titles and sentences ("redness")
    explanation: str  # one or two friendly sentences for the patient view
    lower_is_better: bool | None = True  # None: neither direction is "better"
    report_label: str = ""  # the PDF report's name ("Redness: mean a*"); "" = the key

    @property
    def group(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    @property
    def noise_band(self) -> float | None:
        """Session-to-session repeatability in the metric's own unit (None when unknown)."""
        return noise_band_of(self.key)


METRICS: dict[str, MetricInfo] = {
    m.key: m
    for m in [
        MetricInfo("redness.a_star_mean", "redness",
                   "How red the skin looks on average (the a* colour value). Lower means calmer, less red skin.",
                   report_label="Redness: mean a*"),
        MetricInfo("redness.erythema_index_mean", "erythema index",
                   "A dermatology measure of redness from blood under the skin. Lower means less redness.",
                   report_label="Redness: erythema index"),
        MetricInfo("redness.red_area_fraction", "red area",
                   "The share of the area that is noticeably redder than the rest. Lower means fewer red patches.",
                   report_label="Redness: red area share"),
        MetricInfo("redness.a_star_reference_balanced", "redness against untreated skin",
                   "How red the skin looks next to untreated skin in the same photo (the forehead, unless "
                   "another area was chosen), so a change of light cancels out. Lower means less red.",
                   report_label="Redness against untreated skin"),
        MetricInfo("redness.a_star_vs_reference", "redness difference to untreated skin",
                   "The a* redness of this area minus that of untreated skin in the same photo. Lower means "
                   "less red than the untreated skin.",
                   report_label="Redness: a* minus untreated skin"),
        MetricInfo("redness.erythema_index_vs_reference", "erythema index against untreated skin",
                   "The erythema index of this area minus that of untreated skin in the same photo. Lower "
                   "means less redness.",
                   report_label="Redness: EI minus untreated skin"),
        MetricInfo("pigmentation.L_star_vs_reference", "brightness against untreated skin",
                   "How light this area is compared with untreated skin in the same photo. Higher means "
                   "brighter.", lower_is_better=False,
                   report_label="Lightness: L* minus untreated skin"),
        MetricInfo("pigmentation.melanin_index_vs_reference", "pigmentation against untreated skin",
                   "The melanin index of this area minus that of untreated skin in the same photo. Lower "
                   "means lighter pigment.",
                   report_label="Pigment: MI minus untreated skin"),
        MetricInfo("pigmentation.L_star_mean", "brightness",
                   "How light the skin looks (the L* lightness value). Higher means brighter skin.",
                   lower_is_better=False,
                   report_label="Lightness: mean L*"),
        MetricInfo("pigmentation.ita_deg_mean", "skin tone angle (ITA)",
                   "The individual typology angle: a standard number for how light or tanned skin is.",
                   lower_is_better=None,
                   report_label="Skin tone angle (ITA)"),
        MetricInfo("pigmentation.melanin_index_mean", "pigmentation",
                   "How much brown pigment (melanin) the skin shows. Lower means lighter, more even pigment.",
                   report_label="Pigment: melanin index"),
        MetricInfo("pigmentation.spot_area_fraction", "dark-spot area",
                   "The share of the area covered by spots darker than the surrounding skin. Lower is better.",
                   report_label="Dark spots: area share"),
        MetricInfo("pigmentation.spot_count", "dark spots",
                   "How many distinct dark spots were found. Lower is better.",
                   report_label="Dark spots: count"),
        MetricInfo("pigmentation.tone_unevenness", "tone unevenness",
                   "How blotchy the skin tone is. Lower means a more even tone.",
                   report_label="Tone unevenness"),
        MetricInfo("texture.roughness", "texture roughness",
                   "How much fine relief (pores, lines, scars) the skin shows. Lower means smoother skin.",
                   report_label="Texture: roughness"),
        MetricInfo("texture.pore_density", "pore density",
                   "How many visible pores there are per unit of skin. Lower is better.",
                   report_label="Texture: pore density"),
        MetricInfo("texture.wrinkle_density", "fine lines",
                   "How much of the area shows fine lines and wrinkles. Lower is better.",
                   report_label="Texture: fine-line density"),
        MetricInfo("texture.glcm_contrast", "texture contrast",
                   "A texture statistic: how much neighbouring points differ. Lower means smoother skin.",
                   report_label="Texture: GLCM contrast"),
        MetricInfo("texture.glcm_homogeneity", "texture evenness",
                   "A texture statistic: how alike neighbouring points are. Higher means smoother skin.",
                   lower_is_better=False,
                   report_label="Texture: GLCM homogeneity"),
    ]
}

#: The metrics shown first (one per concern).
#: Redness against untreated skin in the same photo leads: it needs no colour chart, so it can be
#: compared across sessions where the absolute a* (next, hollow and grey without a chart) can't.
KEY_METRICS = ("redness.a_star_reference_balanced", "redness.a_star_mean", "pigmentation.melanin_index_mean",
               "texture.roughness")

METRIC_GROUPS = ("redness", "pigmentation", "texture")


def metric_info(key: str) -> MetricInfo:
    """The catalogue entry of ``key`` (a fallback entry for a metric not in the catalogue)."""
    if key in METRICS:
        return METRICS[key]
    from analyzer.concerns import measure_label

    lab = measure_label(key)  # a concern measure ("number of scars" ...)
    if lab != key:
        return MetricInfo(key, lab, f"The {lab} measurement (docs/concerns.md).", None)
    name = key.split(".", 1)[-1].replace("_", " ")
    return MetricInfo(key, name, f"The {name} measurement.", None)


def region_label(name: str) -> str:
    """``left_cheek`` (image left) → ``Patient's right cheek`` (analyzer.regions.region_label)."""
    from analyzer.regions import region_label as _label

    return "Face" if name == DEFAULT_REGION else _label(name)


def noise_band_of(key: str) -> float | None:
    """The metric's repeatability (absolute units): analyzer.metrics, else analyzer.concerns
    (the concern measures' bands); None when unknown."""
    from analyzer.concerns import MEASURE_LABELS, NOISE_BANDS
    from analyzer.concerns import noise_band as concern_band

    if key in NOISE_BANDS or key in MEASURE_LABELS or key.count(".") > 1:  # a concern measure: its own band
        v = concern_band(key)
        return float(v) if math.isfinite(v) else None
    try:
        from analyzer.metrics import noise_band

        v = noise_band(key)
    except (ImportError, KeyError, ValueError, UsageError):
        return None
    return float(v) if v is not None and math.isfinite(float(v)) else None


def noise_band_basis(key: str) -> str | None:
    """Plain words on the repeat photos a metric's band was measured on (None when unknown)."""
    from analyzer.concerns import MEASURE_LABELS, NOISE_BANDS

    if key in NOISE_BANDS or key in MEASURE_LABELS or key.count(".") > 1:
        return ("95th percentile of |change| on real repeat photos within one studio-flash session "
                "(London neutral/smiling; docs/concerns.md)") if key in NOISE_BANDS else None
    from analyzer.metrics import noise_band_basis as metric_basis

    return metric_basis(key)
