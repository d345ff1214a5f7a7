"""SIMULATED changes injected into real photos, for the concern-measure tests.

Every function returns a new float32 sRGB image (the input is not modified) and the ground
truth of what it drew. Changes are made in *linear* light (multiplying linear RGB = changing
reflectance or illumination), the way a real change reaches the camera. Nothing here is a real
clinical photo: these are simulated changes, labelled as such.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from analyzer.color import lab_to_rgb, linear_to_srgb, rgb_to_lab, srgb_to_linear


def _apply_gain(rgb: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Multiply linear RGB by ``gain`` (rows, cols) or (rows, cols, 3)."""
    if gain.ndim == 2:
        gain = gain[..., None]
    changed = np.any(gain != 1, axis=-1)
    out = np.array(rgb, dtype=np.float32, copy=True)
    if not changed.any():
        return out
    rows, cols = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1  # only the changed box
    lin = srgb_to_linear(out[r0:r1, c0:c1])
    out[r0:r1, c0:c1] = np.clip(linear_to_srgb(lin * gain[r0:r1, c0:c1]), 0, 1)
    return out


def scar_depressions(rgb, centres_xy, *, radius_px, depth_px, light_elevation_deg=30.0, light_azimuth_deg=135.0):
    """Atrophic scars: smooth bowls (depth profile -D(1-(r/R)^2)^2) lit by a directional light,
    Lambertian shading relative to the flat skin. Returns (image, shading factor map)."""
    h, w = rgb.shape[:2]
    height = np.zeros((h, w), np.float64)
    e = int(math.ceil(radius_px)) + 2
    for cx, cy in centres_xy:
        r0, r1 = max(0, int(cy) - e), min(h, int(cy) + e + 1)
        c0, c1 = max(0, int(cx) - e), min(w, int(cx) + e + 1)
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64)
        r = np.hypot(xx - cx, yy - cy) / radius_px
        height[r0:r1, c0:c1] += np.where(r < 1, -depth_px * (1 - r**2) ** 2, 0.0)
    gy, gx = np.gradient(height)
    el, az = math.radians(light_elevation_deg), math.radians(light_azimuth_deg)
    lx, ly, lz = math.cos(el) * math.cos(az), -math.cos(el) * math.sin(az), math.sin(el)  # image y points down
    nrm = np.sqrt(gx**2 + gy**2 + 1)
    ndotl = (-gx * lx - gy * ly + lz) / nrm
    factor = np.clip(ndotl, 0, None) / lz
    return _apply_gain(rgb, factor.astype(np.float32)), factor


def dark_discs(rgb, centres_xy, *, radius_px, gain=(0.6, 0.6, 0.6), soft_px=0.7):
    """Discs darker by a linear-light gain (pores: neutral; dark spots: brownish gain).
    Returns (image, drawn-area mask)."""
    h, w = rgb.shape[:2]
    alpha = np.zeros((h, w), np.float64)
    e = int(math.ceil(radius_px + soft_px)) + 2
    for cx, cy in centres_xy:  # each disc in its own window (fast on full-size photos)
        r0, r1 = max(0, int(cy) - e), min(h, int(cy) + e + 1)
        c0, c1 = max(0, int(cx) - e), min(w, int(cx) + e + 1)
        yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64)
        r = np.hypot(xx - cx, yy - cy)
        win = alpha[r0:r1, c0:c1]
        np.maximum(win, np.clip((radius_px + soft_px / 2 - r) / soft_px, 0, 1), out=win)
    g = np.asarray(gain, np.float64)
    gmap = 1 - alpha[..., None] * (1 - g)
    return _apply_gain(rgb, gmap.astype(np.float32)), alpha >= 0.5


def dark_line(rgb, p0_xy, p1_xy, *, sigma_px, gain=0.7):
    """A straight line (a wrinkle) with a Gaussian cross-profile, darker by ``gain`` at its
    centre. Returns (image, length_px)."""
    h, w = rgb.shape[:2]
    p0, p1 = np.asarray(p0_xy, float), np.asarray(p1_xy, float)
    e = int(math.ceil(5 * sigma_px)) + 2  # the profile is < 4e-6 beyond 5 sigma: work in a window
    r0, r1 = max(0, int(min(p0[1], p1[1])) - e), min(h, int(max(p0[1], p1[1])) + e + 1)
    c0, c1 = max(0, int(min(p0[0], p1[0])) - e), min(w, int(max(p0[0], p1[0])) + e + 1)
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64)
    d = p1 - p0
    L = float(np.linalg.norm(d))
    t = np.clip(((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1]) / (L * L), 0, 1)
    dist = np.hypot(xx - (p0[0] + t * d[0]), yy - (p0[1] + t * d[1]))
    gain_map = np.ones((h, w), np.float32)
    gain_map[r0:r1, c0:c1] = 1 - np.exp(-0.5 * (dist / sigma_px) ** 2) * (1 - gain)
    return _apply_gain(rgb, gain_map), L


def bands(rgb, lines_xy, *, width_px, gain=(1.25, 1.2, 1.2), soft_px=1.5):
    """Striae: straight bands of width ``width_px`` (soft edges), lighter (alba) or redder
    (rubra) by a linear-light gain. Returns (image, drawn-area mask)."""
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    alpha = np.zeros((h, w))
    for p0, p1 in lines_xy:
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        d = p1 - p0
        L2 = float(d @ d)
        t = np.clip(((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1]) / L2, 0, 1)
        dist = np.hypot(xx - (p0[0] + t * d[0]), yy - (p0[1] + t * d[1]))
        alpha = np.maximum(alpha, np.clip((width_px / 2 + soft_px / 2 - dist) / soft_px, 0, 1))
    g = np.asarray(gain, np.float64)
    gmap = 1 + alpha[..., None] * (g - 1)
    return _apply_gain(rgb, gmap.astype(np.float32)), alpha >= 0.5


def skin_patch(rgb, box_xywh, size_px):
    """A body-skin stand-in: a real skin crop, mirror-tiled to ``size_px`` (rows, cols).
    Mirror tiling keeps the texture continuous across the seams."""
    x, y, w, h = box_xywh
    crop = np.ascontiguousarray(rgb[y : y + h, x : x + w])
    rows, cols = size_px
    ty, tx = math.ceil(rows / h) + 1, math.ceil(cols / w) + 1
    row = [crop if i % 2 == 0 else crop[:, ::-1] for i in range(tx)]
    strip = np.concatenate(row, axis=1)
    tiles = [strip if j % 2 == 0 else strip[::-1] for j in range(ty)]
    return np.ascontiguousarray(np.concatenate(tiles, axis=0)[:rows, :cols]).astype(np.float32)


def hair_strands(rgb, n, *, seed, length_px=(80, 200), width_px=2.0, colour=(0.12, 0.08, 0.06)):
    """Dark hair strands (gently curved) drawn over a scalp-like patch. The first ``k`` strands
    are the same for every ``n`` with the same seed, so fewer strands = the same hair, thinned.
    Returns (image, coverage alpha in [0, 1], total strand length in px)."""
    h, w = rgb.shape[:2]
    rng = np.random.default_rng(seed)
    params = rng.random((4000, 5))
    ss = 4
    cover = np.zeros((h * ss, w * ss), np.uint8)
    total = 0.0
    for i in range(n):
        px, py, ang, ln, bend = params[i]
        x0, y0 = px * w, py * h
        a = ang * math.pi
        length = length_px[0] + ln * (length_px[1] - length_px[0])
        pts = []
        for t in np.linspace(0, 1, 41):
            aa = a + (bend - 0.5) * 0.8 * t
            pts.append((x0 + math.cos(aa) * length * t, y0 + math.sin(aa) * length * t))
        q = np.array(pts)
        inside = (q[:, 0] >= 0) & (q[:, 0] <= w - 1) & (q[:, 1] >= 0) & (q[:, 1] <= h - 1)
        seg = np.hypot(*np.diff(q, axis=0).T)
        total += float(seg[inside[1:] & inside[:-1]].sum())  # the length inside the frame
        p = np.round(np.array(pts) * ss).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(cover, [p], False, 1, thickness=max(1, round(width_px * ss)), lineType=cv2.LINE_8)
    alpha = cv2.resize(cover.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    col = srgb_to_linear(np.asarray(colour, np.float32))
    lin = srgb_to_linear(rgb)
    out = lin * (1 - alpha[..., None]) + col * alpha[..., None]
    return np.clip(linear_to_srgb(out), 0, 1).astype(np.float32), alpha, total


def shift_a_star(rgb, mask, delta):
    """Add ``delta`` to CIELAB a* inside ``mask`` (a simulated redness change)."""
    lab = rgb_to_lab(rgb).copy()
    lab[..., 1][mask] += delta
    out = rgb.copy()
    out[mask] = lab_to_rgb(lab)[mask]
    return out
