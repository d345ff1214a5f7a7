"""Photo loading: every format and awkward case, against known answers."""

from __future__ import annotations

import io
import struct
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from analyzer.errors import PhotoError
from analyzer.io import encode_jpeg, load_photo


@pytest.fixture(scope="module")
def lisa_rgb8(lisa_paths):
    """A real photo, reduced to keep the tests quick: (rows, cols, 3) uint8."""
    img = Image.open(lisa_paths[0]).convert("RGB")
    return np.asarray(img.resize((300, 400), Image.Resampling.LANCZOS))


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference in 8-bit levels."""
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("fmt", "kw", "tol"),
    [
        ("JPEG", {"quality": 95}, 2.0),
        ("PNG", {}, 0.0),
        ("WEBP", {"lossless": True}, 0.0),
        ("TIFF", {}, 0.0),
        ("HEIF", {"quality": 95}, 3.0),
    ],
)
def test_each_format_loads_as_srgb_float(lisa_rgb8, fmt, kw, tol):
    data = _save(Image.fromarray(lisa_rgb8), fmt, **kw)
    photo = load_photo(data, name=f"photo.{fmt.lower()}")
    assert photo.rgb.dtype == np.float32
    assert photo.rgb.shape == lisa_rgb8.shape
    assert 0.0 <= photo.rgb.min() and photo.rgb.max() <= 1.0
    assert photo.size == {"width": 300, "height": 400}
    assert photo.format in (fmt, "HEIF")
    assert _mad(photo.to_uint8(), lisa_rgb8) <= tol


def test_real_photo_file_loads(lisa_paths):
    photo = load_photo(lisa_paths[0])
    assert photo.size == {"width": 600, "height": 800}
    assert photo.name == "lisa1.jpg"


# ---------------------------------------------------------------- orientation


def _exif_with(orientation: int | None = None, when: str | None = None, gps: bool = False) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if when is not None:
        exif[0x0132] = "2001:01:01 00:00:00"  # DateTime (modification), must lose to DateTimeOriginal
        exif.get_ifd(0x8769)[0x9003] = when
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 30.0, 0.0), 3: "W", 4: (1.0, 54.0, 0.0)})
    return exif


# Orientation tag → the transpose that *stores* an upright image so the tag undoes it.
_STORE = {
    1: None,
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,  # tag 6 = rotate 90° clockwise to view
    8: Image.Transpose.ROTATE_270,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
}


@pytest.mark.parametrize("orientation", [1, 2, 3, 6, 8])
@pytest.mark.parametrize("fmt", ["JPEG", "HEIF"])
def test_exif_orientation_applied_exactly_once(lisa_rgb8, orientation, fmt):
    upright = Image.fromarray(lisa_rgb8)
    stored = upright if _STORE[orientation] is None else upright.transpose(_STORE[orientation])
    # For HEIF, pillow-heif may turn the tag into the container's own transform; either way
    # the result must be upright, rotated once.
    data = _save(stored, fmt, quality=95, exif=_exif_with(orientation).tobytes())
    photo = load_photo(data, name=f"rotated.{fmt.lower()}")
    assert photo.size == {"width": 300, "height": 400}, "not upright"
    assert _mad(photo.to_uint8(), lisa_rgb8) < 3.5, "upright but wrong rotation/flip"


def test_capture_time_from_exif(lisa_rgb8):
    data = _save(Image.fromarray(lisa_rgb8), "JPEG", exif=_exif_with(when="2026:03:11 14:05:09").tobytes())
    assert load_photo(data).capture_time == datetime(2026, 3, 11, 14, 5, 9)


def test_capture_time_absent_is_none(lisa_rgb8):
    assert load_photo(_save(Image.fromarray(lisa_rgb8), "PNG")).capture_time is None


# ---------------------------------------------------------------- colour modes and bit depth


def test_grey_8bit(lisa_rgb8):
    grey = Image.fromarray(lisa_rgb8).convert("L")
    photo = load_photo(_save(grey, "PNG"))
    g = np.asarray(grey)
    assert photo.rgb.shape == lisa_rgb8.shape
    for c in range(3):
        assert _mad(photo.to_uint8()[..., c], g) == 0.0


def test_grey_16bit_keeps_full_range():
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    data = _save(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    photo = load_photo(data)
    expected = np.round(ramp / 257.0).astype(np.uint8)
    assert np.abs(photo.to_uint8()[..., 0].astype(int) - expected).max() <= 1


def test_rgb_16bit_png_and_tiff():
    import cv2

    rng = np.random.default_rng(1)
    rgb16 = rng.integers(0, 65536, size=(20, 30, 3), dtype=np.uint16)
    for ext in (".png", ".tiff"):
        ok, buf = cv2.imencode(ext, rgb16[..., ::-1])  # OpenCV writes BGR
        assert ok
        photo = load_photo(buf.tobytes(), name=f"deep{ext}")
        assert np.abs(photo.to_uint8().astype(int) - (rgb16 >> 8).astype(int)).max() <= 1, ext


def test_alpha_is_flattened_over_white(lisa_rgb8):
    rgba = np.dstack([lisa_rgb8, np.full(lisa_rgb8.shape[:2], 255, np.uint8)])
    rgba[:50, :, 3] = 0  # a fully transparent band
    photo = load_photo(_save(Image.fromarray(rgba, "RGBA"), "PNG"))
    out = photo.to_uint8()
    assert (out[:50] == 255).all()
    assert _mad(out[50:], lisa_rgb8[50:]) == 0.0


def test_palette_image(lisa_rgb8):
    pal = Image.fromarray(lisa_rgb8).quantize(colors=64)
    photo = load_photo(_save(pal, "PNG"))
    assert _mad(photo.to_uint8(), np.asarray(pal.convert("RGB"))) == 0.0


def test_palette_with_transparency():
    img = Image.new("P", (8, 8), 0)
    img.putpalette([10, 20, 30] + [200, 100, 50] * 255)
    img.info["transparency"] = 0
    photo = load_photo(_save(img, "PNG", transparency=0))
    assert (photo.to_uint8() == 255).all()


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_without_profile(lisa_rgb8, fmt):
    cmyk = Image.fromarray(lisa_rgb8).convert("CMYK")
    photo = load_photo(_save(cmyk, fmt))
    assert photo.source_mode == "CMYK"
    assert _mad(photo.to_uint8(), np.asarray(cmyk.convert("RGB"))) < 3.0


# ---------------------------------------------------------------- ICC profile → sRGB


def _icc_matrix_trc(colorants, gamma: float, desc: str = "Test wide-gamut RGB") -> bytes:
    """A minimal ICC v2 display profile (matrix/TRC), written from the ICC.1:2001 layout."""

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x, y, z) -> bytes:
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    curv = b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", round(gamma * 256)) + b"\0\0"
    d = desc.encode("ascii") + b"\0"
    desc_tag = b"desc" + b"\0" * 4 + struct.pack(">I", len(d)) + d + b"\0" * 4 + b"\0" * 4 + b"\0" * 2 + b"\0" + b"\0" * 67
    cprt = b"text" + b"\0" * 4 + b"public domain\0"
    tags = [
        (b"desc", desc_tag),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(*colorants[0])),
        (b"gXYZ", xyz(*colorants[1])),
        (b"bXYZ", xyz(*colorants[2])),
        (b"rTRC", curv),
        (b"gTRC", curv),
        (b"bTRC", curv),
        (b"cprt", cprt),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        while (offset + len(body)) % 4:
            body += b"\0"
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    while len(body) % 4:
        body += b"\0"
    size = offset + len(body)
    header = (
        struct.pack(">I", size) + b"none" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"APPL" + b"\0" * 4 + b"none" + b"\0" * 4
        + b"\0" * 8 + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249) + b"none" + b"\0" * 16
        + b"\0" * 28
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


# Adobe RGB (1998): D50-adapted colorants as in Adobe's own profile, gamma 563/256.
_ADOBE_COLORANTS = [(0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446)]
_ADOBE_GAMMA = 563 / 256
_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_XYZ_TO_ADOBE = np.array([[2.04159, -0.56501, -0.34473], [-0.96924, 1.87597, 0.04156], [0.01344, -0.11836, 1.01517]])


def _srgb_to_adobe8(rgb8: np.ndarray) -> np.ndarray:
    c = rgb8.astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    adobe_lin = np.clip(lin @ _SRGB_TO_XYZ.T @ _XYZ_TO_ADOBE.T, 0, 1)
    return np.round(255.0 * adobe_lin ** (1 / _ADOBE_GAMMA)).astype(np.uint8)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_embedded_icc_profile_is_converted_to_srgb(lisa_rgb8, fmt):
    # Known answer: encode sRGB pixels as Adobe RGB numbers, embed the Adobe RGB profile,
    # and the loader must give back the sRGB numbers.
    swatches = np.array(
        [[200, 40, 40], [40, 160, 60], [50, 60, 190], [220, 180, 150], [128, 128, 128], [90, 60, 40]], np.uint8
    )
    src = np.concatenate([lisa_rgb8[:40, :60].reshape(-1, 3), np.repeat(swatches, 100, axis=0)])
    src = src.reshape(-1, 60, 3)
    adobe = _srgb_to_adobe8(src)
    icc = _icc_matrix_trc(_ADOBE_COLORANTS, _ADOBE_GAMMA)
    kw = {"quality": 100, "subsampling": 0} if fmt == "JPEG" else {}
    photo = load_photo(_save(Image.fromarray(adobe), fmt, icc_profile=icc, **kw))
    assert photo.icc_converted
    err_with = _mad(photo.to_uint8(), src)
    err_without = _mad(adobe, src)
    assert err_with < 1.5, err_with
    assert err_without > 4 * err_with  # the profile really mattered


def test_broken_icc_profile_falls_back_to_srgb(lisa_rgb8):
    with pytest.warns(UserWarning, match="colour profile"):
        photo = load_photo(_save(Image.fromarray(lisa_rgb8), "PNG", icc_profile=b"not a profile at all"))
    assert not photo.icc_converted
    assert _mad(photo.to_uint8(), lisa_rgb8) == 0.0


# ---------------------------------------------------------------- unusable input: one error type


def test_missing_file(tmp_path):
    with pytest.raises(PhotoError, match=r"nothere\.jpg: file not found"):
        load_photo(tmp_path / "nothere.jpg")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(PhotoError, match=r"empty\.jpg: file is empty"):
        load_photo(p)


def test_truncated_jpeg(tmp_path, lisa_rgb8):
    data = _save(Image.fromarray(lisa_rgb8), "JPEG", quality=90)
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(PhotoError, match=r"cut\.jpg: file is truncated or damaged"):
        load_photo(p)


def test_not_an_image(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("patient notes, not a photo\n" * 20)
    with pytest.raises(PhotoError, match=r"notes\.jpg: not an image file"):
        load_photo(p)


def test_folder_is_not_a_photo(tmp_path):
    with pytest.raises(PhotoError, match="is a folder"):
        load_photo(tmp_path)


def test_too_many_pixels(lisa_rgb8):
    data = _save(Image.fromarray(lisa_rgb8), "PNG")
    with pytest.raises(PhotoError, match=r"too large \(300×400 = 0\.1 megapixels"):
        load_photo(data, name="big.png", max_pixels=100_000)


def test_decompression_bomb_refused_before_decoding():
    # A 30000x30000 grey PNG compresses to a few hundred kB; it must be refused on its header.
    import zlib

    w = h = 30000
    raw = zlib.compress(b"".join(b"\0" + b"\0" * w for _ in range(64)), 9)
    # Build only the header + a partial stream: enough for Pillow to read the size.
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", raw)
    with pytest.raises(PhotoError, match="too large"):
        load_photo(png, name="bomb.png")


def test_file_size_limit(tmp_path, lisa_rgb8):
    p = tmp_path / "big.png"
    p.write_bytes(_save(Image.fromarray(lisa_rgb8), "PNG"))
    with pytest.raises(PhotoError, match=r"big\.png: file is too large"):
        load_photo(p, max_bytes=1000)


def test_errors_are_value_errors_not_pil_or_cv2(tmp_path):
    p = tmp_path / "x.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(PhotoError) as info:
        load_photo(p)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("x.png: ")


# ---------------------------------------------------------------- derivatives carry no metadata


def test_display_derivative_has_no_exif(lisa_rgb8):
    data = _save(Image.fromarray(lisa_rgb8), "JPEG", exif=_exif_with(6, "2026:01:01 10:00:00", gps=True).tobytes())
    photo = load_photo(data)
    out = encode_jpeg(photo.rgb)
    img = Image.open(io.BytesIO(out))
    assert len(img.getexif()) == 0
    assert b"Exif" not in out
