"""The concerns' table: which concerns have a measure, their names and aliases, the measures
of each concern with their labels and noise bands, the general metrics shown with each,
and the analysis scale each concern needs."""

from __future__ import annotations

from typing import Literal

Concern = Literal[
    "acne_scars", "enlarged_pores", "fine_lines", "hyperpigmentation", "stretch_marks", "redness", "hair_loss"
]

#: The concerns with a measure, in the order the app lists them.
CONCERNS: tuple[str, ...] = (
    "acne_scars",
    "enlarged_pores",
    "fine_lines",
    "hyperpigmentation",
    "stretch_marks",
    "redness",
    "hair_loss",
)

#: Plain labels a practitioner and a patient recognise.
CONCERN_LABELS: dict[str, str] = {
    "acne_scars": "Acne scars",
    "enlarged_pores": "Enlarged pores",
    "fine_lines": "Fine lines and wrinkles",
    "hyperpigmentation": "Dark spots (hyperpigmentation)",
    "stretch_marks": "Stretch marks",
    "redness": "Redness and rosacea",
    "hair_loss": "Hair loss (scalp)",
}

#: Other names for a concern (the store's ``KNOWN_CONCERNS`` says ``pigmentation``).
CONCERN_ALIASES: dict[str, str] = {
    "scars": "acne_scars",
    "acne_scar": "acne_scars",
    "pores": "enlarged_pores",
    "wrinkles": "fine_lines",
    "lines": "fine_lines",
    "pigmentation": "hyperpigmentation",
    "dark_spots": "hyperpigmentation",
    "melasma": "hyperpigmentation",
    "striae": "stretch_marks",
    "rosacea": "redness",
    "hair": "hair_loss",
    "scalp": "hair_loss",
    "thinning_hair": "hair_loss",
}

#: Measure keys of each concern (``"<concern>.<key>"``), in display order.
CONCERN_MEASURES: dict[str, tuple[str, ...]] = {
    "acne_scars": ("scar_count", "scar_area", "scar_area_fraction", "clinician_grade"),
    "enlarged_pores": ("pore_density", "pore_count", "mean_pore_area"),
    "fine_lines": ("line_length", "line_depth"),  # + "<region>.line_length" etc. with a face
    "hyperpigmentation": ("spot_area", "spot_area_fraction", "spot_count", "spot_contrast", "tone_unevenness"),
    "stretch_marks": ("striae_area", "striae_area_fraction", "striae_mean_width", "striae_count"),
    "redness": ("cheeks_nose.red_area_fraction", "cheeks_nose.a_star_mean"),  # without a face: the general keys
    "hair_loss": ("scalp_fraction", "hair_strand_density"),
}

#: Plain labels of the measures (for tables and charts); fine-line regions add "forehead" etc.
MEASURE_LABELS: dict[str, str] = {
    "acne_scars.scar_count": "number of scars",
    "acne_scars.scar_area": "scar area (shaded part)",
    "acne_scars.scar_area_fraction": "share of skin with scars",
    "acne_scars.clinician_grade": "clinician's scar grade (Goodman & Baron 1-4)",
    "enlarged_pores.pore_density": "visible pores per cm²",
    "enlarged_pores.pore_count": "number of visible pores",
    "enlarged_pores.mean_pore_area": "mean pore size",
    "fine_lines.line_length": "total length of fine lines",
    "fine_lines.line_depth": "line darkness (depth proxy)",
    "hyperpigmentation.spot_area": "dark-spot area",
    "hyperpigmentation.spot_area_fraction": "share of skin with dark spots",
    "hyperpigmentation.spot_count": "number of dark spots",
    "hyperpigmentation.spot_contrast": "how much darker the spots are",
    "hyperpigmentation.tone_unevenness": "tone unevenness",
    "stretch_marks.striae_area": "stretch-mark area",
    "stretch_marks.striae_area_fraction": "share of skin with stretch marks",
    "stretch_marks.striae_mean_width": "mean stretch-mark width",
    "stretch_marks.striae_count": "number of stretch marks",
    "redness.cheeks_nose.red_area_fraction": "red area on cheeks and nose",
    "redness.cheeks_nose.a_star_mean": "redness (a*) on cheeks and nose",
    "hair_loss.scalp_fraction": "scalp showing",
    "hair_loss.hair_strand_density": "hair strand density (proxy)",
}


#: Concern measures where a higher value is better (every other concern measure: lower is better,
#: fewer scars, less spot area, fewer lines, less redness). Used by the series verdict.
HIGHER_IS_BETTER: frozenset[str] = frozenset({"hair_loss.hair_strand_density"})


def measure_lower_is_better(key: str) -> bool | None:
    """True when a lower value of concern measure ``key`` is better, False when higher is, None
    when ``key`` is not a concern measure of :data:`CONCERN_MEASURES`."""
    parts = key.split(".")
    concern = parts[0]
    short = f"{parts[0]}.{parts[-1]}"
    if concern not in CONCERN_MEASURES:
        return None
    if key in HIGHER_IS_BETTER or short in HIGHER_IS_BETTER:
        return False
    return True


def measure_label(key: str) -> str:
    """Plain label of a concern measure key (``fine_lines.forehead.line_length`` -> "total length
    of fine lines, forehead"); the key itself when unknown."""
    if key in MEASURE_LABELS:
        return MEASURE_LABELS[key]
    parts = key.split(".")
    if len(parts) == 3 and f"{parts[0]}.{parts[2]}" in MEASURE_LABELS:
        return f"{MEASURE_LABELS[parts[0] + '.' + parts[2]]}, {parts[1].replace('_', ' ')}"
    return key


#: Noise bands (absolute, the measure's unit): 95th percentile of |smiling - neutral| over the
#: 10 London people, smiling aligned to neutral, whole-face region, eye-distance scale
#: (``analyzer.evaluation.concerns.noise_floor``). A change smaller than this is re-photographing noise.
NOISE_BANDS: dict[str, float] = {
    "acne_scars.scar_count": 13.3,
    "acne_scars.scar_area": 231.0,
    "acne_scars.scar_area_fraction": 0.0208,
    "enlarged_pores.pore_density": 1.38,
    "enlarged_pores.pore_count": 159.0,
    "enlarged_pores.mean_pore_area": 0.135,
    "fine_lines.line_length": 305.0,
    "fine_lines.line_depth": 0.489,
    "fine_lines.forehead.line_length": 78.8,
    "fine_lines.forehead.line_depth": 0.594,
    "fine_lines.crows_feet.line_length": 9.17,
    "fine_lines.nasolabial.line_length": 36.8,
    "fine_lines.nasolabial.line_depth": 1.83,
    "hyperpigmentation.spot_area": 39.3,
    "hyperpigmentation.spot_area_fraction": 0.00315,
    "hyperpigmentation.spot_count": 19.3,
    "hyperpigmentation.spot_contrast": 0.805,
    "hyperpigmentation.tone_unevenness": 0.37,
    "redness.cheeks_nose.red_area_fraction": 0.159,
    "redness.cheeks_nose.a_star_mean": 0.93,
}


def noise_band(key: str) -> float:
    """Noise band of a concern measure key (NaN when not measured, e.g. stretch marks and hair:
    no real body or scalp photo pairs exist)."""
    return float(NOISE_BANDS.get(key, float("nan")))


#: General metrics (``analyzer.metrics`` keys) that belong with each concern; they follow the
#: concern's own measures on a progress page.
CONCERN_GENERAL_METRICS: dict[str, tuple[str, ...]] = {
    "acne_scars": ("texture.roughness", "texture.glcm_contrast", "texture.glcm_homogeneity"),
    "enlarged_pores": ("texture.pore_density", "texture.roughness"),
    "fine_lines": ("texture.wrinkle_density", "texture.roughness"),
    "hyperpigmentation": (
        "pigmentation.spot_area_fraction",
        "pigmentation.spot_count",
        "pigmentation.tone_unevenness",
        "pigmentation.melanin_index_mean",
        "pigmentation.ita_deg_mean",
        "pigmentation.L_star_mean",
    ),
    "stretch_marks": ("pigmentation.tone_unevenness", "texture.roughness"),
    "redness": ("redness.a_star_mean", "redness.red_area_fraction", "redness.erythema_index_mean"),
    "hair_loss": (),
    # concerns the store knows that have no measure of their own: their general metrics lead
    "texture": ("texture.roughness", "texture.glcm_contrast", "texture.glcm_homogeneity", "texture.pore_density"),
    "surgical_scars": ("texture.roughness", "pigmentation.tone_unevenness", "redness.a_star_mean"),
    "laxity": ("texture.wrinkle_density",),
}

_GENERAL_ORDER: tuple[str, ...] = (
    "redness.a_star_mean",
    "redness.erythema_index_mean",
    "redness.red_area_fraction",
    "pigmentation.L_star_mean",
    "pigmentation.ita_deg_mean",
    "pigmentation.melanin_index_mean",
    "pigmentation.spot_area_fraction",
    "pigmentation.spot_count",
    "pigmentation.tone_unevenness",
    "texture.roughness",
    "texture.pore_density",
    "texture.wrinkle_density",
    "texture.glcm_contrast",
    "texture.glcm_homogeneity",
)

#: Analysis scale of each concern, px per mm of skin (filter sizes below are in these pixels).
ANALYSIS_PX_PER_MM: dict[str, float] = {
    "acne_scars": 4.0,  # scars 1-5 mm across
    "enlarged_pores": 8.0,  # visible pores 0.2-1.2 mm across
    "fine_lines": 8.0,  # lines 0.2-1 mm wide
    "hyperpigmentation": 4.0,  # = analyzer.metrics.CANONICAL_PX_PER_MM
    "stretch_marks": 4.0,  # striae 1-10 mm wide
    "hair_loss": 8.0,  # strands are sub-mm; see docs for the resolution limit
}
#: Never upsample more than this (more would invent detail the photo does not have).
MAX_UPSAMPLE = 3.0
#: Photos below this native resolution can't show the concern's detail: NaN with a reason.
MIN_NATIVE_PX_PER_MM: dict[str, float] = {"enlarged_pores": 2.5, "fine_lines": 2.5, "hair_loss": 4.0}
