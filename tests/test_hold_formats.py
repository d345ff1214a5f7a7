"""Issue 17, item 2: only the formats the README names are decoded (JPEG, PNG, WebP, TIFF,
HEIC); multi-frame files cost the first frame only; degenerate shapes and all-NaN float TIFFs
are refused. Every refusal is one PhotoError line and writes nothing."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import io
import struct
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from analyzer.errors import PhotoError
from analyzer.io import load_photo
from tests.store_fixtures import data_dir, db_url, store  # noqa: F401


def _rgb(w=64, h=48, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def _encode(fmt: str, **kw) -> bytes:
    img = _rgb()
    if fmt in ("GIF", "PCX", "IM"):
        img = img.convert("P")
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Pillow's IM writer is deprecated
        img.save(buf, fmt, **kw)
    return buf.getvalue()


REFUSED = ["BMP", "GIF", "ICO", "PCX", "TGA", "PPM", "SGI", "DDS", "IM", "QOI", "JPEG2000", "EPS", "AVIF"]


@pytest.mark.parametrize("fmt", REFUSED)
def test_other_pillow_formats_are_refused_before_decoding(fmt, monkeypatch):
    if fmt == "EPS":
        data = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 48\n" + b"showpage\n" * 4
    else:
        data = _encode(fmt)
    opened = []
    from PIL import BmpImagePlugin, EpsImagePlugin

    for cls in (EpsImagePlugin.EpsImageFile, BmpImagePlugin.BmpImageFile):
        orig = cls._open
        monkeypatch.setattr(cls, "_open", lambda self, _o=orig: (opened.append(type(self).__name__), _o(self))[1])
    with pytest.raises(PhotoError) as e:
        load_photo(data, name=f"x.{fmt.lower()}")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"x.{fmt.lower()}: ")
    assert "JPEG, PNG, WebP, TIFF or HEIC" in msg
    assert opened == []  # no other decoder (EPS runs Ghostscript) ever looked at the bytes


@pytest.mark.parametrize("fmt,kw", [("JPEG", {}), ("PNG", {}), ("WEBP", {"lossless": True}), ("TIFF", {})])
def test_the_named_formats_still_load(fmt, kw):
    assert load_photo(_encode(fmt, **kw), name="ok").rgb.shape == (48, 64, 3)


def _many_page_tiff(pages: int, side: int = 16) -> bytes:
    """A little-endian TIFF of ``pages`` grey pages (side x side) sharing one strip, written
    directly (Pillow's writer is quadratic in the page count)."""
    strip = bytes([(i * 7) % 256 for i in range(side * side)])
    n_entries = 8
    ifd_size = 2 + 12 * n_entries + 4
    head = 8
    strip_off = head
    first_ifd = strip_off + len(strip)
    out = bytearray(b"II*\x00" + struct.pack("<I", first_ifd))
    out += strip
    for k in range(pages):
        off = first_ifd + k * ifd_size
        nxt = off + ifd_size if k < pages - 1 else 0
        entries = [(256, 3, 1, side), (257, 3, 1, side), (258, 3, 1, 8), (259, 3, 1, 1),
                   (262, 3, 1, 1), (273, 4, 1, strip_off), (278, 3, 1, side), (279, 4, 1, len(strip))]
        out += struct.pack("<H", n_entries)
        for tag, typ, cnt, val in entries:
            out += struct.pack("<HHII", tag, typ, cnt, val) if typ == 4 else struct.pack("<HHIHH", tag, typ, cnt, val, 0)
        out += struct.pack("<I", nxt)
    return bytes(out)


def test_many_page_tiff_reads_the_first_page_in_bounded_time():
    data = _many_page_tiff(40_000)
    assert len(data) > 3.5 * 2**20
    t0 = time.perf_counter()
    photo = load_photo(data, name="pages.tif")
    elapsed = time.perf_counter() - t0
    assert photo.rgb.shape == (16, 16, 3)
    assert round(float(photo.rgb[0, 1, 0]) * 255) == 7  # the first page's pixels
    assert elapsed < 1.5, f"{elapsed:.1f} s for a 40,000-page TIFF"


def test_animated_webp_is_its_first_frame():
    a, b = _rgb(seed=1), _rgb(seed=2)
    buf = io.BytesIO()
    a.save(buf, "WEBP", save_all=True, append_images=[b], lossless=True, duration=100)
    photo = load_photo(buf.getvalue(), name="anim.webp")
    assert np.array_equal(photo.to_uint8(), np.asarray(a))


@pytest.mark.parametrize("w,h", [(1, 100_000), (100_000, 1), (4, 400), (2000, 40)])
def test_degenerate_shapes_are_refused(w, h):
    buf = io.BytesIO()
    Image.new("L", (w, h), 128).save(buf, "PNG")
    with pytest.raises(PhotoError, match=r"not a photo"):
        load_photo(buf.getvalue(), name="strip.png")


def test_all_nan_float_tiff_is_refused():
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32), np.nan, np.float32), mode="F").save(buf, "TIFF")
    with pytest.raises(PhotoError, match=r"^nan\.tif: .*NaN"):
        load_photo(buf.getvalue(), name="nan.tif")


def test_store_refuses_a_bmp_and_keeps_nothing(store):
    p = store.create_patient("P-1", "A")
    se = store.create_series(p.id, body_area="face", concerns=["acne_scars"])
    ss = store.add_session(se.id, date=dt.date(2025, 1, 2))
    with pytest.raises(PhotoError, match="BMP files are not accepted"):
        store.add_photo(ss.id, view="front", data=_encode("BMP"), filename="x.bmp")
    assert store.list_photos(ss.id) == []
    assert not any(p.is_file() for p in store.files.root.rglob("*"))
