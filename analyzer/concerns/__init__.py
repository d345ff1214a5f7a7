"""One measure per treatment concern, on the aligned region of a photo.

Practitioners treat *concerns* (acne scars, enlarged pores, fine lines, dark spots, stretch marks,
redness, thinning hair), and patients ask about exactly those. Each concern here has one function
that takes the photo (project convention: RGB, (rows, cols, 3), float32 sRGB in [0, 1]) and a bool
mask of the skin to measure, and returns ``{"<concern>.<measure>": Measurement}``.

How to use it on a series: measure the baseline photo and the follow-up *warped into the baseline
frame* (``analyzer.pipeline.compare(...).aligned_rgb``) with the **same** mask (region ∩ skin ∩
valid warp) and the **same** :class:`Scale` (the baseline's), so that both numbers come from the
same patch of skin at the same analysis resolution.

Scale
-----
Sizes in mm and densities per cm² need a physical scale. :class:`Scale` carries ``px_per_mm`` and
where it came from: a ruler sticker or a chart of known size in the frame (about ±2-3 %), or the
distance between the eyes (an *approximation*: adult interpupillary distance is 63 mm on average
with a standard deviation of about 3.5-4 mm, Dodgson 2004, so a single face is known to about
±10 % once landmark error is added). Without a scale, spatial measures are computed at the photo's
own pixels and their unit says so (``px``, ``px^2``, ``per 10^4 px^2 (scale unknown)``): they
are then comparable only between photos of the same framing (an aligned series), never across
patients.

Every spatial measure is computed after resampling the region to a fixed *analysis scale* in
px/mm (per concern, :data:`ANALYSIS_PX_PER_MM`), so filter sizes mean the same skin size in every
session. Upsampling is capped at :data:`MAX_UPSAMPLE` (never invent more than 3x detail).

A value that can't be computed is NaN with a reason, never 0. Definitions, units, references and
the tolerances measured on injected changes are in ``docs/concerns.md``.

References
----------
Goodman GJ, Baron JA (2006). Postacne scarring: a qualitative global scarring grading system.
Dermatol Surg 32(12):1458-1466.
Dodgson NA (2004). Variation and extrema of human interpupillary distance. Proc SPIE 5291:36-46.
Frangi AF et al. (1998). Multiscale vessel enhancement filtering. MICCAI (Hessian ridge measure).
Chardon A et al. (1991). Skin colour typology and suntanning pathways. Int J Cosmet Sci 13:191-208.
"""

from analyzer.concerns.catalog import (
    ANALYSIS_PX_PER_MM,
    CONCERN_ALIASES,
    CONCERN_GENERAL_METRICS,
    CONCERN_LABELS,
    CONCERN_MEASURES,
    CONCERNS,
    HIGHER_IS_BETTER,
    MAX_UPSAMPLE,
    MEASURE_LABELS,
    MIN_NATIVE_PX_PER_MM,
    NOISE_BANDS,
    Concern,
    measure_label,
    measure_lower_is_better,
    noise_band,
)
from analyzer.concerns.dispatch import (
    concern_order,
    concern_regions,
    measure_comparison,
    measure_concern,
    measure_concerns,
    normalize_concern,
    to_metrics_dict,
)
from analyzer.concerns.measures import (  # the tuning constants
    HAIR_MIN_LENGTH_MM,
    HAIR_MIN_SEPARATION_L,
    HAIR_SIGMA_MM,
    HAIR_STRENGTH,
    LINE_BACKGROUND_MM,
    LINE_MIN_LENGTH_MM,
    LINE_REGIONS,
    LINE_SIGMA_MM,
    LINE_STRENGTH,
    PORE_LOG_CONTRAST,
    PORE_MAX_AREA_MM2,
    PORE_MIN_AREA_MM2,
    PORE_MIN_AXIS_RATIO,
    PORE_SIGMA_MM,
    PORE_SURROUND_MM,
    SCAR_BACKGROUND_MM,
    SCAR_DELTA_L,
    SCAR_MAX_AREA_MM2,
    SCAR_MAX_DELTA_B,
    SCAR_MIN_AREA_MM2,
    SCAR_MIN_AXIS_RATIO,
    SCAR_SMOOTH_MM,
    STRIAE_BACKGROUND_MM,
    STRIAE_CLOSE_MM,
    STRIAE_DELTA,
    STRIAE_MIN_ELONGATION,
    STRIAE_MIN_LENGTH_MM,
    STRIAE_SMOOTH_MM,
    acne_scars,
    enlarged_pores,
    fine_lines,
    hair_loss,
    hyperpigmentation,
    line_region_polygons,
    redness,
    stretch_marks,
)
from analyzer.concerns.scale import EYE_DISTANCE_MM, Scale, ScaleSource

__all__ = [
    "PORE_MAX_AREA_MM2",
    "PORE_MIN_AREA_MM2",
    "SCAR_MAX_AREA_MM2",
    "SCAR_MIN_AREA_MM2",
    "Concern",
    "EYE_DISTANCE_MM",
    "MAX_UPSAMPLE",
    "MIN_NATIVE_PX_PER_MM",
    "ScaleSource",
    "HAIR_MIN_LENGTH_MM",
    "HAIR_MIN_SEPARATION_L",
    "HAIR_SIGMA_MM",
    "HAIR_STRENGTH",
    "LINE_BACKGROUND_MM",
    "LINE_MIN_LENGTH_MM",
    "LINE_SIGMA_MM",
    "LINE_STRENGTH",
    "PORE_LOG_CONTRAST",
    "PORE_MIN_AXIS_RATIO",
    "PORE_SIGMA_MM",
    "PORE_SURROUND_MM",
    "SCAR_BACKGROUND_MM",
    "SCAR_DELTA_L",
    "SCAR_MAX_DELTA_B",
    "SCAR_MIN_AXIS_RATIO",
    "SCAR_SMOOTH_MM",
    "STRIAE_BACKGROUND_MM",
    "STRIAE_CLOSE_MM",
    "STRIAE_DELTA",
    "STRIAE_MIN_ELONGATION",
    "STRIAE_MIN_LENGTH_MM",
    "STRIAE_SMOOTH_MM",
    "CONCERNS",
    "CONCERN_LABELS",
    "CONCERN_ALIASES",
    "CONCERN_MEASURES",
    "CONCERN_GENERAL_METRICS",
    "MEASURE_LABELS",
    "measure_label",
    "NOISE_BANDS",
    "noise_band",
    "ANALYSIS_PX_PER_MM",
    "LINE_REGIONS",
    "Scale",
    "normalize_concern",
    "HIGHER_IS_BETTER",
    "measure_lower_is_better",
    "measure_concern",
    "measure_concerns",
    "measure_comparison",
    "to_metrics_dict",
    "concern_order",
    "concern_regions",
    "line_region_polygons",
    "acne_scars",
    "enlarged_pores",
    "fine_lines",
    "hyperpigmentation",
    "stretch_marks",
    "redness",
    "hair_loss",
]
