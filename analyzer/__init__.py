"""skin-progress analyzer: load, align, calibrate, segment and measure skin photos.

The library never imports streamlit. Every function takes arrays and returns typed,
frozen results. Image convention everywhere past the loader: RGB, (rows, cols, 3),
float32 in [0, 1], sRGB.
"""

__version__ = "0.1.0"

ANALYZER_VERSION = __version__

from analyzer.errors import PhotoError, UsageError  # noqa: E402
from analyzer.io import Photo, load_photo  # noqa: E402

__all__ = ["ANALYZER_VERSION", "Photo", "PhotoError", "UsageError", "__version__", "load_photo"]
