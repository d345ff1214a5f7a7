"""skin-progress analyzer: load, align, calibrate, segment and measure skin photos.

The library never imports streamlit. Every function takes arrays and returns typed,
frozen results. Image convention everywhere past the loader: RGB, (rows, cols, 3),
float32 in [0, 1], sRGB.
"""

#: Part of every measurement. A change that changes what a number means (a metric's definition,
#: the calibration model, the alignment) takes a new version: stored results of another version
#: are recomputed, never mixed into one chart. 0.2.0: spots by hysteresis with shape and
#: surround rules; tone power + matrix calibration fitted on the patches usable in both photos;
#: skin-only, inverse-consistent face alignment.
__version__ = "0.2.0"

ANALYZER_VERSION = __version__

from analyzer.errors import PhotoError, UsageError  # noqa: E402
from analyzer.io import Photo, load_photo  # noqa: E402

__all__ = ["ANALYZER_VERSION", "Photo", "PhotoError", "UsageError", "__version__", "load_photo"]
