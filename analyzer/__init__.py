"""skin-progress analyzer: load, align, calibrate, segment and measure skin photos.

The library never imports streamlit. Every function takes arrays and returns typed,
frozen results. Image convention everywhere past the loader: RGB, (rows, cols, 3),
float32 in [0, 1], sRGB.
"""

#: Part of every measurement. A change that changes what a number means (a metric's definition,
#: the calibration model, the alignment) takes a new version: stored results of another version
#: are recomputed, never mixed into one chart. 0.2.0: spots by hysteresis with shape and
#: surround rules; tone power + matrix calibration fitted on the patches usable in both photos;
#: skin-only, inverse-consistent face alignment. 0.3.0: colour relative to reference skin in the
#: same photo (new keys, a reference region per region); a verdict per change (within_noise null
#: with a reason when it can't be told: absolute colour needs a colour reference in both photos);
#: noise bands from real repeat photos within and across sessions.
__version__ = "0.3.0"

ANALYZER_VERSION = __version__

from analyzer.errors import PhotoError, UsageError  # noqa: E402
from analyzer.io import Photo, load_photo  # noqa: E402

__all__ = ["ANALYZER_VERSION", "Photo", "PhotoError", "UsageError", "__version__", "load_photo"]
