"""Photo loading: the only way a photo enters the system.

Every photo, whatever its container (JPEG, PNG, WebP, TIFF, HEIC/HEIF), colour mode
(grey, palette, alpha, CMYK, 16-bit) or embedded ICC profile, comes out as upright
8-bit-precision sRGB, RGB order, shape (rows, cols, 3), float32 in [0, 1].

EXIF orientation is applied exactly once, here, with Pillow's ``ImageOps.exif_transpose``.
Nothing downstream rotates again.

Every unusable file raises :class:`analyzer.errors.PhotoError` with one line naming the
file and what is wrong with it. No Pillow or OpenCV exception escapes.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from analyzer.errors import PhotoError

try:  # HEIC/HEIF from phones.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except Exception:  # pragma: no cover - pillow-heif is a hard dependency
    HEIF_SUPPORTED = False

#: Default limit on decoded pixels (decompression-bomb guard): 100 megapixels.
DEFAULT_MAX_PIXELS = int(os.environ.get("SKIN_PROGRESS_MAX_PIXELS", 100_000_000))
#: Default limit on file size: 60 MiB.
DEFAULT_MAX_BYTES = int(os.environ.get("SKIN_PROGRESS_MAX_BYTES", 60 * 1024 * 1024))

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "HEIF", "MPO")
_FORMAT_HELP = "JPEG, PNG, WebP, TIFF or HEIC"
# The Pillow plug-ins tried (an MPO comes through the JPEG one).
_OPENERS = ["JPEG", "PNG", "WEBP", "TIFF", "HEIF"]
#: Smallest side, pixels, and the longest ratio of the sides, of a usable photo.
MIN_SIDE = 8
MAX_ASPECT = 20

# Formats Pillow could read but we refuse before any decoder runs (named in the message). Only
# the _OPENERS plug-ins are ever tried: EPS (which runs Ghostscript), BMP, GIF...
# are never opened.
_REFUSED_MAGIC = (
    (b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"BM", "BMP"), (b"%!PS", "EPS/PostScript"),
    (b"\xc5\xd0\xd3\xc6", "EPS"), (b"\x00\x00\x01\x00", "ICO"), (b"\x00\x00\x02\x00", "CUR"),
    (b"DDS ", "DDS"), (b"qoif", "QOI"), (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"), (b"\x01\xda", "SGI"), (b"Image type:", "IM"),
    (b"8BPS", "PSD"), (b"%PDF", "PDF"), (b"\x0a\x05\x01", "PCX"),
    (b"P1", "PBM/PPM"), (b"P2", "PBM/PPM"), (b"P3", "PBM/PPM"), (b"P4", "PBM/PPM"),
    (b"P5", "PBM/PPM"), (b"P6", "PBM/PPM"), (b"P7", "PAM"), (b"Pf", "PFM"), (b"PF", "PFM"),
)


def _refused_format(data: bytes) -> str | None:
    for magic, name in _REFUSED_MAGIC:
        if data.startswith(magic):
            return name
    return None

_EXIF_IFD = 0x8769
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004
_TAG_DATETIME = 0x0132
_TAG_ORIENTATION = 0x0112

# Pillow's own bomb guard is replaced by ours (we check before decoding).
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False

_SRGB_PROFILE = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class Photo:
    """A loaded photo.

    Attributes
    ----------
    rgb : ndarray, float32, shape (rows, cols, 3)
        Upright sRGB, values in [0, 1].
    name : str
        The file name it came from (for messages; no directories).
    format : str
        The container format Pillow identified (``JPEG``, ``PNG``, ``HEIF``...).
    capture_time : datetime or None
        EXIF DateTimeOriginal (or DateTime) when present, naive local camera time.
    orientation : int
        The EXIF orientation tag that was applied (1 = none).
    source_mode : str
        Pillow mode of the decoded file before conversion (``RGB``, ``CMYK``, ``I;16``...).
    icc_converted : bool
        True when an embedded ICC profile was converted to sRGB.
    """

    rgb: np.ndarray = field(repr=False)
    name: str
    format: str
    capture_time: datetime | None = None
    orientation: int = 1
    source_mode: str = "RGB"
    icc_converted: bool = False

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def size(self) -> dict:
        """``{"width": w, "height": h}``: the upright size in pixels (the CLI's ``image``)."""
        return {"width": self.width, "height": self.height}

    def to_uint8(self) -> np.ndarray:
        """The photo as uint8 RGB (for OpenCV, PNG writing, display)."""
        return to_uint8(self.rgb)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """float [0, 1] → uint8 with rounding."""
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _read_bytes(source: str | os.PathLike | bytes, name: str | None, max_bytes: int) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = name or "uploaded photo"
    else:
        path = Path(source)
        label = name or path.name
        if not path.exists():
            raise PhotoError(f"{label}: file not found ({path})")
        if path.is_dir():
            raise PhotoError(f"{label}: is a folder, not a photo file")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise PhotoError(f"{label}: can't be read ({exc.strerror or exc})") from None
        if size > max_bytes:
            raise PhotoError(
                f"{label}: file is too large ({size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB)"
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PhotoError(f"{label}: can't be read ({exc.strerror or exc})") from None
    if len(data) == 0:
        raise PhotoError(f"{label}: file is empty (0 bytes)")
    if len(data) > max_bytes:
        raise PhotoError(
            f"{label}: file is too large ({len(data) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB)"
        )
    return data, label


def _parse_exif_time(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    value = str(value).strip().strip("\x00")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value[:19], fmt)
        except ValueError:
            continue
    return None


def read_capture_time(img: Image.Image) -> datetime | None:
    """EXIF DateTimeOriginal, else DateTimeDigitized, else DateTime; None when absent."""
    try:
        exif = img.getexif()
    except Exception:
        return None
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:
        sub = {}
    for tag in (_TAG_DATETIME_ORIGINAL, _TAG_DATETIME_DIGITIZED):
        t = _parse_exif_time(sub.get(tag))
        if t:
            return t
    return _parse_exif_time(exif.get(_TAG_DATETIME))


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite an image with alpha over white (a transparent photo border reads as white)."""
    rgba = img.convert("RGBA")
    bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(bg, rgba).convert("RGB")


def _high_bit_to_rgb(img: Image.Image) -> Image.Image:
    """Grey 16-bit / 32-bit int / float modes → 8-bit RGB, keeping the full tonal range."""
    arr = np.asarray(img)
    if img.mode == "F":
        a = arr.astype(np.float64)
        if not np.isfinite(a).any():
            raise PhotoError("image has no finite pixel values (every pixel is NaN or infinite)")
        scale = 1.0 if np.nanmax(a) <= 1.0 else (255.0 if np.nanmax(a) <= 255.0 else 65535.0)
        a8 = np.clip(np.nan_to_num(a / scale) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    else:
        a = arr.astype(np.float64)
        top = 255.0 if a.max() <= 255 and img.mode not in ("I;16", "I;16B", "I;16L", "I;16N") else 65535.0
        a8 = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(a8, mode="L").convert("RGB")


def _to_srgb(img: Image.Image, label: str) -> tuple[Image.Image, bool]:
    """Convert any Pillow image to 8-bit sRGB ``RGB`` mode. Returns (image, icc_converted)."""
    icc = img.info.get("icc_profile")
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _high_bit_to_rgb(img), False
    if mode == "1":
        img = img.convert("L")
        mode = "L"
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        img = _flatten_alpha(img)
        mode = "RGB"
    if icc and mode in ("RGB", "L", "CMYK"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(
                img, src, _SRGB_PROFILE, outputMode="RGB", renderingIntent=ImageCms.Intent.PERCEPTUAL
            )
            if out is not None:
                return out, True
        except Exception:
            # A broken or mismatched profile: fall back to treating the pixels as sRGB.
            warnings.warn(f"{label}: embedded colour profile unusable; assumed sRGB", stacklevel=3)
    if mode != "RGB":
        img = img.convert("RGB")
    return img, False


def load_photo(
    source: str | os.PathLike | bytes,
    *,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Photo:
    """Load a photo file into upright sRGB float32.

    Parameters
    ----------
    source : path or bytes
        A file path, or the file's bytes (an upload).
    name : str, optional
        Name to use in messages (defaults to the file's name).
    max_pixels : int
        Refuse images with more decoded pixels than this (decompression bombs).
    max_bytes : int
        Refuse files larger than this.

    Returns
    -------
    Photo
        ``photo.rgb`` is (rows, cols, 3) float32 in [0, 1], sRGB, upright.

    Raises
    ------
    PhotoError
        For every unusable file, with one line naming the file and the problem.

    Examples
    --------
    >>> photo = load_photo("sample_images/session-1/front.jpg")  # doctest: +SKIP
    >>> photo.rgb.shape, photo.rgb.dtype  # doctest: +SKIP
    ((800, 600, 3), dtype('float32'))
    """
    data, label = _read_bytes(source, name, max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the supported plug-ins are tried: no other decoder ever sees the bytes.
            img = Image.open(io.BytesIO(data), formats=_OPENERS)
    except UnidentifiedImageError:
        other = _refused_format(data)
        if other:
            raise PhotoError(f"{label}: {other} files are not accepted; use {_FORMAT_HELP}") from None
        raise PhotoError(f"{label}: not an image file, or not a supported format ({_FORMAT_HELP})") from None
    except Exception as exc:  # noqa: BLE001 - never let a decoder exception escape
        raise PhotoError(f"{label}: can't be opened as a photo ({type(exc).__name__})") from None

    fmt = (img.format or "").upper()
    w, h = img.size
    if w <= 0 or h <= 0:
        raise PhotoError(f"{label}: image has no pixels")
    if min(w, h) < MIN_SIDE or max(w, h) > MAX_ASPECT * min(w, h):
        raise PhotoError(f"{label}: a {w}×{h} image is not a photo (each side needs at least {MIN_SIDE} "
                         f"pixels, and the long side at most {MAX_ASPECT} times the short one)")
    if w * h > max_pixels:
        raise PhotoError(
            f"{label}: image is too large ({w}×{h} = {w * h / 1e6:.1f} megapixels; "
            f"the limit is {max_pixels / 1e6:.0f} megapixels)"
        )
    try:
        capture_time = read_capture_time(img)
        try:
            orientation = int(img.getexif().get(_TAG_ORIENTATION, 1) or 1)
        except Exception:
            orientation = 1
        # Multi-frame files (multi-page TIFF, MPO, animated WebP): the first frame is the photo.
        # It is the current frame after open; asking for n_frames would walk every frame
        # (80,000 tiny TIFF pages took 30 s), so the other frames are never looked at.
        img.load()
        source_mode = img.mode
        upright = ImageOps.exif_transpose(img)
        if upright is None:  # pragma: no cover - older Pillow returned None in-place
            upright = img
        # exif_transpose drops nothing we need, but keep the ICC profile explicitly.
        if "icc_profile" in img.info and "icc_profile" not in upright.info:
            upright.info["icc_profile"] = img.info["icc_profile"]
        rgb_img, icc_converted = _to_srgb(upright, label)
        arr = np.asarray(rgb_img, dtype=np.uint8)
    except PhotoError as exc:
        raise PhotoError(f"{label}: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        msg = str(exc).lower()
        if "truncated" in msg or "broken" in msg or "premature" in msg or "incomplete" in msg:
            raise PhotoError(f"{label}: file is truncated or damaged (incomplete {fmt or 'image'} data)") from None
        raise PhotoError(f"{label}: image data can't be decoded ({fmt or 'unknown format'} is damaged)") from None
    except MemoryError:
        raise PhotoError(f"{label}: image is too large to decode in memory") from None
    except Exception as exc:  # noqa: BLE001
        raise PhotoError(f"{label}: image data can't be decoded ({type(exc).__name__})") from None

    if arr.ndim != 3 or arr.shape[2] != 3:
        raise PhotoError(f"{label}: unexpected pixel layout {arr.shape}")
    del img, upright, rgb_img  # the decoded Pillow images: released before the float copy
    rgb = arr.astype(np.float32)
    rgb *= 1.0 / 255.0
    return Photo(
        rgb=rgb,
        name=label,
        format=fmt,
        capture_time=capture_time,
        orientation=orientation if orientation in range(1, 9) else 1,
        source_mode=source_mode,
        icc_converted=icc_converted,
    )


def save_png(rgb: np.ndarray, path: str | os.PathLike) -> None:
    """Write float [0, 1] RGB as an 8-bit sRGB PNG with no metadata."""
    Image.fromarray(to_uint8(rgb), mode="RGB").save(path, format="PNG")


def encode_jpeg(rgb: np.ndarray, *, quality: int = 90, max_side: int | None = None) -> bytes:
    """Encode float [0, 1] RGB as a JPEG with no EXIF, GPS or other metadata (display derivative)."""
    img = Image.fromarray(to_uint8(rgb), mode="RGB")
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()
