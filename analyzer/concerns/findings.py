"""Findings on one photo: what each measure counted, drawn from the masks that made its number.

A first consultation asks "what is there to treat?". :func:`concern_findings` runs the concern
measures of :mod:`analyzer.concerns.measures` once, asking each for the pixels it counted (the
same masks its numbers were computed from, never a second detector), and returns per kind
(dark spots, pores, fine lines, scars, stretch marks, red areas) the analysis crop the detector
saw, the skin it measured, the counted pixels, the count and the area behind the number.
:func:`index_maps` gives a redness (haemoglobin) and a pigment (melanin) map of the region, per
pixel, with the same formulas as the stored means, and a colour bar with its units in plain
words.

Arrays in (float32 sRGB [0, 1], already colour-corrected like the stored numbers), frozen
dataclasses out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from analyzer.color import srgb_to_linear
from analyzer.concerns.catalog import CONCERN_LABELS
from analyzer.concerns.measures import (
    acne_scars,
    enlarged_pores,
    fine_lines,
    hyperpigmentation,
    redness,
    stretch_marks,
)
from analyzer.concerns.scale import Scale
from analyzer.face import Face
from analyzer.results import Measurement

#: kind -> (label in plain words, concern, the stored key its count or share is, overlay colour)
FINDING_KINDS: dict[str, tuple[str, str, str, tuple[float, float, float]]] = {
    "spots": ("Dark spots", "hyperpigmentation", "hyperpigmentation.spot_count", (1.0, 0.5, 0.0)),
    "pores": ("Visible pores", "enlarged_pores", "enlarged_pores.pore_count", (0.0, 0.9, 1.0)),
    "lines": ("Fine lines", "fine_lines", "fine_lines.line_length", (1.0, 0.0, 1.0)),
    "scars": ("Acne scars (shaded dips)", "acne_scars", "acne_scars.scar_count", (0.25, 0.35, 1.0)),
    "striae": ("Stretch marks", "stretch_marks", "stretch_marks.striae_count", (0.55, 1.0, 0.0)),
    "red": ("Red areas", "redness", "redness.red_area_fraction", (1.0, 1.0, 0.0)),
}


@dataclass(frozen=True)
class Finding:
    """What one measure counted on one region of one photo.

    ``mask`` is exactly the set of pixels the measure's number was computed from, on ``image``
    (the crop the detector saw, at its analysis scale): the overlay colours those pixels and no
    others.
    """

    kind: str
    label: str
    concern: str
    measures: dict[str, Measurement] = field(repr=False)
    image: np.ndarray | None = field(default=None, repr=False)  # float32 RGB, the analysis crop
    skin: np.ndarray | None = field(default=None, repr=False)  # bool, the skin measured
    mask: np.ndarray | None = field(default=None, repr=False)  # bool, the counted pixels
    count: int | None = None  # separate things counted (None for red areas: a share)
    area: float | None = None  # counted area (mm² or px²); for lines, their length (mm or px)
    area_unit: str = ""
    skin_area: float | None = None  # area of skin measured, same unit as ``area`` (lines: area unit)
    px_per_mm: float | None = None  # of ``image``; None: scale unknown
    parts: dict[str, float] = field(default_factory=dict)  # line length per line region
    reason: str | None = None  # why there is nothing to show

    @property
    def colour(self) -> tuple[float, float, float]:
        return FINDING_KINDS[self.kind][3]

    def overlay(self, *, alpha: float = 0.7) -> np.ndarray | None:
        """``image`` with the counted pixels coloured (and only them); None without an image."""
        if self.image is None or self.mask is None:
            return None
        out = np.array(self.image, np.float32, copy=True)
        col = np.array(self.colour, np.float32)
        out[self.mask] = (1 - alpha) * out[self.mask] + alpha * col
        return out

    def stored_value(self) -> float | None:
        """The value of the stored key this finding explains, from the measures of this run."""
        key = red_key(self.measures) if self.kind == "red" else FINDING_KINDS[self.kind][2]
        m = self.measures.get(key)
        return None if m is None or not math.isfinite(m.value) else float(m.value)


def _components(mask: np.ndarray) -> int:
    n, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return max(int(n) - 1, 0)


def _finding(kind: str, measures: dict, keep: dict, mask_name: str, *, count: int | None = None,
             why: str | None = None) -> Finding:
    label, concern, key, _ = FINDING_KINDS[kind]
    prep = keep.get("prep")
    masks = keep.get("masks") or {}
    if prep is None or mask_name not in masks:
        m = measures.get(key)
        reason = why or (m.reason if m is not None else None) or "not measured"
        return Finding(kind, label, concern, measures, reason=reason)
    mask = np.asarray(masks[mask_name], bool)
    skin = np.asarray(keep["skin"], bool)
    ppm = prep.px_per_mm
    a = (lambda px: px / ppm**2) if ppm else (lambda px: float(px))
    unit = "mm²" if ppm else "px² (scale unknown)"
    return Finding(kind, label, concern, measures, image=prep.rgb, skin=skin, mask=mask,
                   count=_components(mask) if count is None else int(count), area=a(int(mask.sum())),
                   area_unit=unit, skin_area=a(int(skin.sum())), px_per_mm=ppm)


def concern_findings(
    rgb: np.ndarray,
    mask: np.ndarray,
    *,
    scale: Scale | None = None,
    face: Face | None = None,
    region: str = "roi",
    kinds: tuple[str, ...] = tuple(FINDING_KINDS),
) -> dict[str, Finding]:
    """Run the measures of ``kinds`` once over ``mask`` of ``rgb`` and keep what each counted.

    Same parameters as :func:`analyzer.concerns.measure_concern` (``rgb`` colour-corrected,
    ``mask`` = region ∩ skin, the baseline's scale and face): the measures returned in each
    :class:`Finding` are the numbers the stored analysis holds for the same inputs.
    """
    out: dict[str, Finding] = {}
    for kind in kinds:
        keep: dict = {}
        if kind == "spots":
            ms = hyperpigmentation(rgb, mask, scale=scale, region=region, _keep=keep)
            cnt = keep.get("spot_components")
            out[kind] = _finding(kind, ms, keep, "spots", count=cnt)
        elif kind == "pores":
            ms = enlarged_pores(rgb, mask, scale=scale, region=region, _keep=keep)
            out[kind] = _finding(kind, ms, keep, "pores")
        elif kind == "scars":
            ms = acne_scars(rgb, mask, scale=scale, region=region, _keep=keep)
            out[kind] = _finding(kind, ms, keep, "scars")
        elif kind == "striae":
            ms = stretch_marks(rgb, mask, scale=scale, region=region, _keep=keep)
            out[kind] = _finding(kind, ms, keep, "striae")
        elif kind == "lines":
            ms = fine_lines(rgb, mask, scale=scale, face=face, region=region, _keep=keep)
            f = _finding(kind, ms, keep, "lines")
            if f.mask is not None:
                from analyzer.concerns.measures import _skeleton_length

                along = keep["line_along"]
                ppm = f.px_per_mm
                def ln(px: float, ppm=ppm) -> float:
                    return px / ppm if ppm else px

                parts = {n: ln(_skeleton_length(f.mask & sub, along)) for n, sub in keep["sub_regions"].items()}
                f = Finding(f.kind, f.label, f.concern, ms, f.image, f.skin, f.mask, f.count,
                            ln(_skeleton_length(f.mask, along)), "mm" if ppm else "px (scale unknown)",
                            f.skin_area, ppm, parts)
            out[kind] = f
        elif kind == "red":
            ms = redness(rgb, mask, scale=scale, face=face, region=region, _keep=keep)
            maps = keep.get("red_maps") or {}
            if "red" not in maps:
                m = next(iter(ms.values()), None)
                out[kind] = Finding(kind, FINDING_KINDS[kind][0], "redness", ms,
                                    reason=(m.reason if m is not None else None) or "not measured")
                continue
            cs = float(maps.get("colour_scale", 1.0))
            ppm = scale.px_per_mm * cs if scale is not None else None
            def a(px: int, ppm=ppm) -> float:
                return px / ppm**2 if ppm else float(px)

            red, skin = np.asarray(maps["red"], bool), np.asarray(maps["colour_skin"], bool)
            # the redness concern's key is the cheeks-and-nose one when there is a face
            label, concern, _, colour = FINDING_KINDS[kind]
            out[kind] = Finding(kind, label, concern, ms, image=np.asarray(maps["colour_rgb"], np.float32),
                                skin=skin, mask=red, count=None, area=a(int(red.sum())),
                                area_unit="mm²" if ppm else "px² (scale unknown)", skin_area=a(int(skin.sum())),
                                px_per_mm=ppm)
        else:
            raise ValueError(f"unknown finding {kind!r}; allowed: {', '.join(FINDING_KINDS)}")
    return out


def red_key(measures: dict[str, Measurement]) -> str:
    """The stored key of the red-area share in a redness run (cheeks and nose with a face)."""
    return "redness.cheeks_nose.red_area_fraction" if "redness.cheeks_nose.red_area_fraction" in measures \
        else "redness.red_area_fraction"


# ---------------------------------------------------------------------------------------------
# Redness (haemoglobin) and pigment (melanin) maps
# ---------------------------------------------------------------------------------------------
#: kind -> title, unit in plain words, what higher means, fixed limits, colour stops (low -> high)
INDEX_MAPS: dict[str, dict] = {
    "haemoglobin": {
        "title": "Redness map (haemoglobin)",
        "unit": "redness index points (0 = no redness; skin is usually 20 to 50)",
        "higher": "higher = redder skin (more blood in the skin)",
        "limits": (0.0, 60.0),
        "stops": ((1.0, 1.0, 1.0), (0.98, 0.65, 0.55), (0.7, 0.0, 0.05)),
        "stored": "erythema_index_mean",
    },
    "melanin": {
        "title": "Pigment map (melanin)",
        "unit": "pigment index points (light skin is usually 20 to 40, dark skin 60 to 110)",
        "higher": "higher = darker, more pigmented skin",
        "limits": (0.0, 120.0),
        "stops": ((1.0, 0.97, 0.9), (0.8, 0.6, 0.4), (0.25, 0.12, 0.05)),
        "stored": "melanin_index_mean",
    },
}


def _ramp(t: np.ndarray, stops) -> np.ndarray:
    t = np.clip(np.nan_to_num(t), 0.0, 1.0)[..., None].astype(np.float32)
    s = [np.array(c, np.float32) for c in stops]
    lo = s[0] + (s[1] - s[0]) * np.clip(2 * t, 0, 1)
    hi = s[1] + (s[2] - s[1]) * np.clip(2 * t - 1, 0, 1)
    return np.where(t <= 0.5, lo, hi).astype(np.float32)


@dataclass(frozen=True)
class IndexMap:
    """A per-pixel index over the skin of a region, on a fixed scale, with its colour bar."""

    kind: str
    title: str
    unit: str  # in plain words
    higher: str  # what a higher value means, in plain words
    values: np.ndarray = field(repr=False)  # float32, NaN off the skin
    limits: tuple[float, float] = (0.0, 1.0)
    mean: float = float("nan")  # over the skin: the stored mean for the same pixels

    def picture(self, background: np.ndarray | None = None, *, alpha: float = 0.85) -> np.ndarray:
        """The map coloured on the fixed scale over the (greyed) photo; off the skin, the photo."""
        lo, hi = self.limits
        col = _ramp((self.values - lo) / (hi - lo), INDEX_MAPS[self.kind]["stops"])
        if background is None:
            bg = np.full(col.shape, 0.5, np.float32)
        else:
            g = cv2.cvtColor(np.asarray(background, np.float32), cv2.COLOR_RGB2GRAY)
            bg = np.repeat(g[..., None], 3, axis=2)
        have = np.isfinite(self.values)[..., None]
        return np.clip(np.where(have, (1 - alpha) * bg + alpha * col, bg), 0, 1).astype(np.float32)

    def colour_bar(self, width: int, *, height: int = 22) -> np.ndarray:
        """The colour bar (low on the left) with its end values and unit written under it."""
        width = max(int(width), 160)
        lo, hi = self.limits
        t = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :].repeat(height, axis=0)
        bar = _ramp(t, INDEX_MAPS[self.kind]["stops"])
        fs = max(0.35, min(0.6, width / 1200))
        lh = int(round(26 * fs / 0.5))
        text = np.full((lh * 3 + 6, width, 3), 255, np.uint8)  # cv2 writes text on 8-bit pictures
        ink = (25, 25, 25)
        cv2.putText(text, f"{lo:g}", (2, lh), cv2.FONT_HERSHEY_SIMPLEX, fs, ink, 1, cv2.LINE_AA)
        (tw, _), _ = cv2.getTextSize(f"{hi:g}", cv2.FONT_HERSHEY_SIMPLEX, fs, 1)
        cv2.putText(text, f"{hi:g}", (width - tw - 2, lh), cv2.FONT_HERSHEY_SIMPLEX, fs, ink, 1, cv2.LINE_AA)
        cv2.putText(text, _fit(self.unit, width, fs), (2, 2 * lh), cv2.FONT_HERSHEY_SIMPLEX, fs, ink, 1,
                    cv2.LINE_AA)
        cv2.putText(text, _fit(self.higher, width, fs), (2, 3 * lh), cv2.FONT_HERSHEY_SIMPLEX, fs, ink, 1,
                    cv2.LINE_AA)
        return np.vstack([bar, text.astype(np.float32) / 255.0])

    def figure(self, background: np.ndarray | None = None) -> np.ndarray:
        """The map with its colour bar and units under it: one picture that can't lose its legend."""
        pic = self.picture(background)
        return np.vstack([pic, np.ones((6, pic.shape[1], 3), np.float32), self.colour_bar(pic.shape[1])]) \
            if pic.shape[1] >= 160 else self._narrow(pic)

    def _narrow(self, pic: np.ndarray) -> np.ndarray:
        bar = self.colour_bar(160)
        pad = np.ones((pic.shape[0], 160 - pic.shape[1], 3), np.float32)
        return np.vstack([np.hstack([pic, pad]), bar])


def _fit(text: str, width: int, fs: float) -> str:
    """``text`` cut (with ...) to fit ``width`` px at font scale ``fs`` (cv2 writes ASCII only)."""
    text = text.encode("ascii", "replace").decode()
    while len(text) > 3 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)[0][0] > width - 4:
        text = text[:-4] + "..."
    return text


def index_maps(rgb: np.ndarray, mask: np.ndarray) -> dict[str, IndexMap]:
    """The redness (haemoglobin) and pigment (melanin) index of every skin pixel of ``mask``.

    Redness index = 100·log10(R/G), pigment index = 100·log10(1/R), on linearised sRGB R, G
    (Dawson 1980; the formulas of ``redness.erythema_index_mean`` and
    ``pigmentation.melanin_index_mean``): the mean of a map over the skin is that stored mean.
    Fixed limits (:data:`INDEX_MAPS`): the same colour is the same value in every photo.
    """
    rgb = np.asarray(rgb, np.float32)
    m = np.asarray(mask, bool)
    lin = srgb_to_linear(rgb)
    R = np.clip(lin[..., 0], 1e-4, 1)
    G = np.clip(lin[..., 1], 1e-4, 1)
    vals = {"haemoglobin": 100 * np.log10(R / G), "melanin": 100 * np.log10(1.0 / R)}
    out = {}
    for kind, v in vals.items():
        v = v.astype(np.float32)
        v[~m] = np.nan
        info = INDEX_MAPS[kind]
        mean = float(np.nanmean(v)) if m.any() else float("nan")
        out[kind] = IndexMap(kind, info["title"], info["unit"], info["higher"], v, info["limits"], mean)
    return out


__all__ = ["FINDING_KINDS", "INDEX_MAPS", "Finding", "IndexMap", "concern_findings", "index_maps", "red_key",
           "CONCERN_LABELS"]
