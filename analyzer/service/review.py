"""Review: the aligned follow-up and the change maps, rebuilt from a stored analysis (for the
review page's overlays and heat maps)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from analyzer import ANALYZER_VERSION
from analyzer.catalog import DEFAULT_REGION
from analyzer.stored import (
    ALL_REGIONS,
)

if TYPE_CHECKING:
    from analyzer.store import Store


@dataclass(frozen=True)
class ReviewImages:
    """Pictures for the review page, all in the baseline photo's frame, float32 RGB in [0, 1]."""

    photo_id: int
    baseline_photo_id: int | None
    region: str
    baseline_rgb: np.ndarray = field(repr=False)
    followup_rgb: np.ndarray | None = field(repr=False)  # aligned into the baseline frame
    polygon: np.ndarray | None = field(repr=False)  # (N, 2) xy, display scale
    maps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # a_star, L_star, roughness
    aligned: bool = False
    reason: str | None = None
    scale: float = 1.0  # display pixels per baseline pixel


def _resize(rgb: np.ndarray, s: float) -> np.ndarray:
    import cv2

    if s >= 1.0:
        return rgb
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def review_images(store: Store, photo_id: int, *, region: str = DEFAULT_REGION, max_side: int = 900,
                  with_maps: bool = True, analyzer_version: str = ANALYZER_VERSION) -> ReviewImages:
    """Rebuild the aligned follow-up and the change maps of a photo from its stored analysis.

    The follow-up is warped with the stored transform (no re-alignment). Maps are computed at
    the baseline's full resolution inside the region and then reduced to ``max_side`` for display.
    Raises ``LookupError`` when the photo has not been analysed for this region.
    """
    import cv2

    a = store.get_analysis(photo_id, analyzer_version=analyzer_version, region=ALL_REGIONS)
    if a is None:
        raise LookupError(f"photo {photo_id} has not been analysed yet")
    res = a.result or {}
    bpid = a.baseline_photo_id or photo_id
    base = store.load_photo(bpid)
    h, w = base.rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    poly = ((res.get("regions") or {}).get(region) or {}).get("polygon")
    polygon = None if poly is None else np.asarray(poly, float) * s
    ok = bool((res.get("alignment") or {}).get("ok", False))
    if bpid == photo_id:
        small = _resize(base.rgb, s)
        return ReviewImages(photo_id, bpid, region, small, small, polygon, {}, True, None, s)
    if not ok or a.transform is None:
        reason = (res.get("alignment") or {}).get("reason") or res.get("reason") or "alignment refused"
        fu = store.load_photo(photo_id)
        return ReviewImages(photo_id, bpid, region, _resize(base.rgb, s),
                            _resize(fu.rgb, min(1.0, max_side / max(fu.rgb.shape[:2]))), polygon, {},
                            False, str(reason), s)
    fu = store.load_photo(photo_id)
    m = np.asarray(a.transform, dtype=np.float64)
    # Display: warp the follow-up straight into the reduced baseline frame (S @ M).
    S = np.diag([s, s, 1.0])
    dw, dh = max(1, round(w * s)), max(1, round(h * s))
    small_warp = cv2.warpPerspective(fu.rgb, S @ m, (dw, dh), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT)
    maps: dict[str, np.ndarray] = {}
    if with_maps and poly is not None:
        from analyzer.calibrate import Calibration
        from analyzer.metrics import change_maps
        from analyzer.regions import polygon_mask

        # Maps at full resolution, computed only on the region's bounding box (plus a margin for
        # the smoothing), then placed in the frame and reduced for display.
        pts = np.asarray(poly, float)
        pad = 48
        x0, y0 = max(0, int(np.floor(pts[:, 0].min())) - pad), max(0, int(np.floor(pts[:, 1].min())) - pad)
        x1, y1 = min(w, int(np.ceil(pts[:, 0].max())) + pad), min(h, int(np.ceil(pts[:, 1].max())) + pad)
        if x1 > x0 and y1 > y0:
            T = np.array([[1.0, 0, -x0], [0, 1.0, -y0], [0, 0, 1.0]])
            cw, ch = x1 - x0, y1 - y0
            warped = cv2.warpPerspective(fu.rgb, T @ m, (cw, ch), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT)
            ones = np.full(fu.rgb.shape[:2], 255, np.uint8)
            valid = cv2.warpPerspective(ones, T @ m, (cw, ch), flags=cv2.INTER_NEAREST, borderValue=0) > 0
            warped[~valid] = 0.0
            mask = polygon_mask(pts - [x0, y0], (ch, cw)) & valid
            crop = np.ascontiguousarray(base.rgb[y0:y1, x0:x1])
            # In each photo's calibrated colours, as the numbers are.
            rr = (res.get("regions") or {}).get(region) or {}
            cals = {side: Calibration.from_dict((rr.get(side) or {}).get("calibration"))
                    for side in ("baseline", "followup")}
            for k, v in change_maps(crop, warped, mask, baseline_calibration=cals["baseline"],
                                    followup_calibration=cals["followup"]).items():
                v = np.asarray(v, np.float32)
                if v.ndim != 2:
                    continue
                full = np.full((h, w), np.nan, np.float32)
                full[y0:y1, x0:x1] = v
                maps[k] = _resize_nan(full, s)
    return ReviewImages(photo_id, bpid, region, _resize(base.rgb, s), small_warp, polygon, maps,
                        True, None, s)


def _resize_nan(v: np.ndarray, s: float) -> np.ndarray:
    """Reduce a map with NaN holes (nearest neighbour keeps NaN edges crisp and values unmixed)."""
    import cv2

    if s >= 1.0:
        return v
    h, w = v.shape
    return cv2.resize(v, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_NEAREST)
