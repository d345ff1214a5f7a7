"""Before/after pictures for the clinic's own use (website, social media, case presentations):
the aligned photos cropped to the region, optionally de-identified, with the clinic's name or
logo and the dates; encoded from pixels only, so no EXIF, GPS or other metadata can leak.

Arrays in (float32 RGB [0, 1], all in the baseline's frame), bytes or arrays out. Whether a
patient may appear in one (marketing consent) is the use case's business
(:mod:`analyzer.service.showcase`), never this module's.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from analyzer.errors import UsageError
from analyzer.face import Face

DEIDENTIFY = ("none", "mask_eyes", "below_eyes")
#: The eye band (both eyes and brows), in eye distances around the eye line.
_BAND_HALF_WIDTH = 1.05
_BAND_ABOVE = 0.55
_BAND_BELOW = 0.38


def region_box(polygon: np.ndarray | None, shape: tuple[int, int], *, pad: float = 0.08) -> tuple[int, int, int, int]:
    """(r0, r1, c0, c1) of the region's bounding box with ``pad`` of its size around it (the
    whole frame without a polygon)."""
    h, w = int(shape[0]), int(shape[1])
    if polygon is None or len(polygon) < 3:
        return 0, h, 0, w
    p = np.asarray(polygon, float)
    x0, x1, y0, y1 = p[:, 0].min(), p[:, 0].max(), p[:, 1].min(), p[:, 1].max()
    px, py = pad * (x1 - x0), pad * (y1 - y0)
    r0, r1 = max(0, int(math.floor(y0 - py))), min(h, int(math.ceil(y1 + py)))
    c0, c1 = max(0, int(math.floor(x0 - px))), min(w, int(math.ceil(x1 + px)))
    if r1 - r0 < 8 or c1 - c0 < 8:
        raise UsageError("the region is too small to show")
    return r0, r1, c0, c1


def eye_band(face: Face) -> np.ndarray:
    """The four corners (x, y) of a band over both eyes and brows, turned with the eye line."""
    le, re = np.asarray(face.left_eye, float), np.asarray(face.right_eye, float)
    d = float(np.linalg.norm(re - le))
    if not math.isfinite(d) or d < 4:
        raise UsageError("the face's eyes could not be placed, so they can't be masked")
    ux = (re - le) / d
    vy = np.array([-ux[1], ux[0]])
    mid = (le + re) / 2
    hw = _BAND_HALF_WIDTH * d
    return np.array([mid - hw * ux - _BAND_ABOVE * d * vy, mid + hw * ux - _BAND_ABOVE * d * vy,
                     mid + hw * ux + _BAND_BELOW * d * vy, mid - hw * ux + _BAND_BELOW * d * vy])


def deidentify_box(box: tuple[int, int, int, int], face: Face | None, mode: str) -> tuple[int, int, int, int]:
    """The crop box, cut below the eye band for ``below_eyes``."""
    if mode not in DEIDENTIFY:
        raise UsageError(f"de-identification {mode!r}; allowed: {', '.join(DEIDENTIFY)}")
    if mode != "below_eyes":
        return box
    if face is None:
        raise UsageError("no face was found on the baseline photo, so the crop below the eyes can't be placed")
    r0, r1, c0, c1 = box
    bottom = int(math.ceil(eye_band(face)[:, 1].max()))
    if bottom >= r1 - 8:
        raise UsageError("the region lies above the eyes: nothing is left below them to show")
    return max(r0, bottom), r1, c0, c1


def mask_eyes(rgb: np.ndarray, face: Face | None) -> np.ndarray:
    """A copy with the eye band painted solid dark grey (``face`` in the same frame as ``rgb``)."""
    if face is None:
        raise UsageError("no face was found on the baseline photo, so the eyes can't be masked")
    out = np.ascontiguousarray(np.array(rgb, np.float32, copy=True))
    pts = np.round(eye_band(face) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(out, [pts], (0.12, 0.12, 0.12), lineType=cv2.LINE_8, shift=4)
    return out


def _u8(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb)
    if a.dtype == np.uint8:
        return a
    return np.clip(a.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _font(size: int):
    from PIL import ImageFont

    for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts"):
        p = Path(d) / "DejaVuSans.ttf"
        if p.exists():
            return ImageFont.truetype(str(p), size)
    return ImageFont.load_default(size=size)


def _label(img, text: str, xy: tuple[int, int], size: int, *, anchor: str = "la") -> None:
    from PIL import ImageDraw

    dr = ImageDraw.Draw(img)
    f = _font(size)
    x0, y0, x1, y1 = dr.textbbox(xy, text, font=f, anchor=anchor)
    dr.rectangle((x0 - 4, y0 - 3, x1 + 4, y1 + 3), fill=(0, 0, 0))
    dr.text(xy, text, font=f, fill=(255, 255, 255), anchor=anchor)


def _brand(img, clinic_name: str, logo: Path | None, *, simulated: bool) -> None:
    """The clinic's logo (or name) at the top right (the dates sit at the bottom), the logo half
    transparent; SIMULATED at the top left."""
    from PIL import Image

    w, h = img.size
    if logo is not None:
        lg = Image.open(logo).convert("RGBA")
        side = max(24, int(0.18 * min(w, h)))
        lg.thumbnail((side, side))
        a = lg.getchannel("A").point(lambda v: int(v * 0.6))
        lg.putalpha(a)
        img.paste(lg, (w - lg.size[0] - 8, 8), lg)
    elif clinic_name:
        _label(img, clinic_name, (w - 10, 10), max(12, int(0.03 * min(w, h) + 6)), anchor="ra")
    if simulated:
        _label(img, "SIMULATED change: not a real treatment result", (10, 10 + int(0.06 * min(w, h))),
               max(12, int(0.03 * min(w, h) + 6)))


def _panel(rgb: np.ndarray, caption: str, *, clinic_name: str, logo: Path | None, simulated: bool):
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(_u8(rgb)[..., :3]), mode="RGB")
    _label(img, caption, (10, img.size[1] - 10), max(12, int(0.035 * min(img.size) + 8)), anchor="ld")
    _brand(img, clinic_name, logo, simulated=simulated)
    return img


def side_by_side(before: np.ndarray, after: np.ndarray, *, before_label: str, after_label: str,
                 clinic_name: str = "", logo: Path | None = None, simulated: bool = False) -> np.ndarray:
    """Before and after next to each other (same size, baseline frame), each captioned with its
    date, the clinic's mark on the after panel. uint8 RGB."""
    from PIL import Image

    if before.shape != after.shape:
        raise UsageError("before and after must be the same size (the aligned photos)")
    a = _panel(before, before_label, clinic_name="", logo=None, simulated=simulated)
    b = _panel(after, after_label, clinic_name=clinic_name, logo=logo, simulated=simulated)
    gap = max(4, a.size[0] // 100)
    out = Image.new("RGB", (a.size[0] * 2 + gap, a.size[1]), (255, 255, 255))
    out.paste(a, (0, 0))
    out.paste(b, (a.size[0] + gap, 0))
    return np.asarray(out)


def split_view(before: np.ndarray, after: np.ndarray, *, before_label: str, after_label: str, at: float = 0.5,
               clinic_name: str = "", logo: Path | None = None, simulated: bool = False) -> np.ndarray:
    """The slider as a still: the before photo left of ``at`` (share of the width), the after
    photo right of it, a white divider between. uint8 RGB."""
    from PIL import Image, ImageDraw

    if before.shape != after.shape:
        raise UsageError("before and after must be the same size (the aligned photos)")
    if not 0.05 <= at <= 0.95:
        raise UsageError("the divider must be between 5 % and 95 % of the width")
    b, a = _u8(before), _u8(after)
    cut = int(round(at * b.shape[1]))
    out = np.concatenate([b[:, :cut], a[:, cut:]], axis=1)
    img = Image.fromarray(np.ascontiguousarray(out[..., :3]), mode="RGB")
    dr = ImageDraw.Draw(img)
    lw = max(2, img.size[0] // 250)
    dr.line((cut, 0, cut, img.size[1]), fill=(255, 255, 255), width=lw)
    size = max(12, int(0.035 * min(img.size) + 8))
    _label(img, before_label, (10, img.size[1] - 10), size, anchor="ld")
    _label(img, after_label, (cut + 10, 10), size, anchor="la")
    _brand(img, clinic_name, logo, simulated=simulated)
    return np.asarray(img)


def frames(images: Sequence[np.ndarray], labels: Sequence[str], *, clinic_name: str = "", logo: Path | None = None,
           simulated: Sequence[bool] = ()) -> list[np.ndarray]:
    """The series as captioned, branded frames (uint8 RGB), one per session."""
    if len(images) != len(labels) or len(images) < 2:
        raise UsageError("an animation needs at least two aligned photos, each with its date")
    sims = list(simulated) + [False] * (len(images) - len(simulated))
    return [np.asarray(_panel(im, lab, clinic_name=clinic_name, logo=logo, simulated=s))
            for im, lab, s in zip(images, labels, sims, strict=True)]


def fit(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Reduced (never enlarged) so the longest side is at most ``max_side``."""
    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG from pixels only: no EXIF, GPS, text chunks or colour profile."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(_u8(rgb)[..., :3]), mode="RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def encode_gif(frames_rgb: Sequence[np.ndarray], *, seconds_per_frame: float = 1.2) -> bytes:
    """An endlessly looping GIF (Pillow) from pixels only: no metadata."""
    from PIL import Image

    ims = [Image.fromarray(np.ascontiguousarray(_u8(f)[..., :3]), mode="RGB").quantize(colors=255, dither=0)
           for f in frames_rgb]
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=int(seconds_per_frame * 1000),
                loop=0, optimize=False)
    return buf.getvalue()
