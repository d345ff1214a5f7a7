"""Validity evaluation of the metrics: the same figures for tests and for ``bench/``.

Every function returns a plain dict of numbers (JSON-safe). Changes injected here are
**simulated** (a known Lab shift, painted spots, blur, relighting, a chart composited into a
face photo) and are labelled so in every dict (``"simulated": True``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import cv2
import numpy as np

from analyzer.calibrate import NO_CALIBRATION, calibrate, calibrate_pair, detect_colorchecker
from analyzer.color import lab_to_rgb, linear_to_srgb, rgb_to_lab, srgb_to_linear
from analyzer.face import Face, detect_face
from analyzer.io import load_photo
from analyzer.metrics import (
    CANONICAL_EYE_DISTANCE_PX,
    CANONICAL_PX_PER_MM,
    METRIC_KEYS,
    measure,
    measure_photo,
)
from analyzer.regions import NamedROI, face_region_polygons, polygon_mask, skin_mask

__all__ = [
    "quantise8",
    "inject_lab_shift",
    "inject_spots",
    "relight",
    "composite_chart",
    "region_setup",
    "eval_lab_shift",
    "eval_spots",
    "eval_blur_roughness",
    "eval_relight",
    "eval_chart_detection",
    "noise_floor",
    "eval_speed",
    "eval_zoom_texture",
]


def quantise8(rgb: np.ndarray) -> np.ndarray:
    """Round to 8-bit levels, as a saved photo would be."""
    return (np.clip(np.round(rgb * 255.0), 0, 255) / 255.0).astype(np.float32)


def inject_lab_shift(rgb: np.ndarray, mask: np.ndarray, *, da: float = 0.0, dL: float = 0.0, db: float = 0.0) -> np.ndarray:
    """SIMULATED change: add (dL, da, db) in CIELAB to the pixels of ``mask``, back to 8-bit sRGB."""
    out = rgb.copy()
    lab = rgb_to_lab(rgb[mask].reshape(-1, 1, 3))
    lab[..., 0] += dL
    lab[..., 1] += da
    lab[..., 2] += db
    out[mask] = lab_to_rgb(lab).reshape(-1, 3)
    return quantise8(out)


def inject_spots(
    rgb: np.ndarray,
    region: np.ndarray,
    *,
    area_fraction: float = 0.04,
    n_spots: int = 8,
    dL: float = -12.0,
    seed: int = 0,
    avoid: np.ndarray | None = None,
    skin: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """SIMULATED pigmented spots: ``n_spots`` discs lowering L* by ``dL`` covering
    ``area_fraction`` of ``region`` in total (of the region's ``skin`` when given: the metric is a
    fraction of skin), placed without overlap inside the eroded region and away from ``avoid``
    (e.g. spots already there, so that each new spot stays distinct).

    Returns the new 8-bit-quantised photo and ``{"n_spots", "area_px", "radius_px"}``.
    """
    rng = np.random.default_rng(seed)
    area_total = area_fraction * (region if skin is None else (region & skin)).sum()
    r = math.sqrt(area_total / n_spots / math.pi)
    inner = cv2.erode(region.astype(np.uint8), np.ones((int(6 * r) | 1,) * 2, np.uint8)).astype(bool)
    if avoid is not None and avoid.any():
        k = np.ones((int(4 * r) | 1,) * 2, np.uint8)
        inner &= ~cv2.dilate(avoid.astype(np.uint8), k).astype(bool)
    ys, xs = np.nonzero(inner)
    if len(ys) == 0:
        raise ValueError("region too small for the spots")
    centres: list[tuple[float, float]] = []
    tries = 0
    while len(centres) < n_spots and tries < 20000:
        tries += 1
        k = rng.integers(len(ys))
        c = (float(xs[k]), float(ys[k]))
        if all((c[0] - q[0]) ** 2 + (c[1] - q[1]) ** 2 > (5 * r) ** 2 for q in centres):
            centres.append(c)
    if len(centres) < n_spots:
        raise ValueError("could not place the spots without overlap")
    # Anti-aliased discs with a one-pixel linear edge centred on the radius: each covers pi r^2
    # (cv2.circle's anti-aliasing adds about 20 % at these radii).
    alpha = np.zeros(region.shape, np.float32)
    yy, xx = np.mgrid[0 : region.shape[0], 0 : region.shape[1]]
    for cx, cy in centres:
        alpha = np.maximum(alpha, np.clip(r + 0.5 - np.hypot(xx - cx, yy - cy), 0, 1).astype(np.float32))
    sel = alpha > 0
    lab = rgb_to_lab(rgb[sel].reshape(-1, 1, 3))
    lab[..., 0] += dL * alpha[sel].reshape(-1, 1)
    out = rgb.copy()
    out[sel] = lab_to_rgb(lab).reshape(-1, 3)
    return quantise8(out), {"n_spots": n_spots, "area_px": float(alpha.sum()), "radius_px": r, "simulated": True}


def relight(rgb: np.ndarray, *, exposure: float = 0.7, gains: tuple[float, float, float] = (0.85, 1.0, 1.2)) -> np.ndarray:
    """SIMULATED relighting: exposure and white-balance gains in linear RGB, back to 8-bit sRGB.

    Default gains make the light cooler (less red, more blue)."""
    lin = srgb_to_linear(rgb) * exposure * np.asarray(gains, np.float32)
    return quantise8(np.clip(linear_to_srgb(lin), 0, 1))


def composite_chart(face_rgb: np.ndarray, chart_rgb: np.ndarray, *, corner: str = "bottom-right", height_frac: float = 0.35) -> np.ndarray:
    """SIMULATED composite: a real chart photo pasted into a real face photo (no real photo shows
    both). The chart is scaled to ``height_frac`` of the face photo's height."""
    H, W = face_rgb.shape[:2]
    h = int(H * height_frac)
    w = int(chart_rgb.shape[1] * h / chart_rgb.shape[0])
    ch = cv2.resize(chart_rgb, (w, h), interpolation=cv2.INTER_AREA)
    out = face_rgb.copy()
    y0 = H - h - 10 if "bottom" in corner else 10
    x0 = W - w - 10 if "right" in corner else 10
    out[y0 : y0 + h, x0 : x0 + w] = ch
    return out


def region_setup(rgb: np.ndarray, region: str, face: Face | None = None) -> dict:
    """Face, region mask, skin mask and face-size texture scale for a named region."""
    face = face or detect_face(rgb)
    if face is None:
        raise ValueError("no face found")
    reg = polygon_mask(face_region_polygons(face)[region], rgb.shape[:2])
    return {
        "face": face,
        "region": reg,
        "skin": skin_mask(rgb, region=reg),
        "texture_scale": CANONICAL_EYE_DISTANCE_PX / face.eye_distance,
    }


def _measure(rgb, setup, **kw):
    return measure(
        rgb, mask=setup["skin"], region_mask=setup["region"], texture_scale=setup["texture_scale"],
        px_per_mm=CANONICAL_PX_PER_MM, **kw,
    )


def eval_lab_shift(rgb: np.ndarray, *, region: str = "left_cheek", da: float = 4.0, dL: float = 0.0, face: Face | None = None) -> dict:
    """Inject a* (and/or L*) shift inside a region's skin, measure the change of the means."""
    s = region_setup(rgb, region, face)
    base = quantise8(rgb)
    shifted = inject_lab_shift(base, s["skin"], da=da, dL=dL)
    b, f = _measure(base, s), _measure(shifted, s)
    return {
        "simulated": True,
        "region": region,
        "injected_da": da,
        "injected_dL": dL,
        "measured_da": f.value("a_star_mean") - b.value("a_star_mean"),
        "measured_dL": f.value("L_star_mean") - b.value("L_star_mean"),
        "baseline_a_star": b.value("a_star_mean"),
    }


def eval_spots(rgb: np.ndarray, *, region: str = "left_cheek", area_fraction: float = 0.04, n_spots: int = 8, dL: float = -12.0, seed: int = 0, face: Face | None = None) -> dict:
    """Paint spots over ``area_fraction`` of a region, measure the change of spot metrics."""
    s = region_setup(rgb, region, face)
    base = quantise8(rgb)
    b = _measure(base, s, keep_maps=True)
    # spots already there, mapped back to the photo's pixels, are avoided (new spots stay distinct)
    r0, c0 = b.maps["offset"]
    sp = b.maps["spots"].astype(np.uint8)
    ts = b.maps["texture_scale"]
    back = cv2.resize(sp, (round(sp.shape[1] / ts), round(sp.shape[0] / ts)), interpolation=cv2.INTER_NEAREST)
    avoid = np.zeros(base.shape[:2], bool)
    hh, ww = min(back.shape[0], avoid.shape[0] - r0), min(back.shape[1], avoid.shape[1] - c0)
    avoid[r0 : r0 + hh, c0 : c0 + ww] = back[:hh, :ww] > 0
    spotted, info = inject_spots(
        base, s["region"], area_fraction=area_fraction, n_spots=n_spots, dL=dL, seed=seed, avoid=avoid,
        skin=s["skin"],
    )
    s2 = dict(s)
    s2["skin"] = skin_mask(spotted, region=s["region"])  # the skin mask must keep spots
    f = _measure(spotted, s2)
    return {
        "simulated": True,
        "region": region,
        "injected_spots": n_spots,
        "injected_area_fraction": area_fraction,
        "skin_kept_fraction": float(s2["skin"].sum() / max(s["skin"].sum(), 1)),
        "delta_spot_area_fraction": f.value("spot_area_fraction") - b.value("spot_area_fraction"),
        "delta_spot_count": f.value("spot_count") - b.value("spot_count"),
        "baseline_spot_count": b.value("spot_count"),
        "baseline_spot_area_fraction": b.value("spot_area_fraction"),
    }


def eval_blur_roughness(rgb: np.ndarray, *, region: str = "forehead", face: Face | None = None, relief_amplitude: float = 0.02, seed: int = 0) -> dict:
    """Roughness of a region as is, blurred (Gaussian sigma 1 px, then 2.5 px, at the photo's
    pixels) and with added fine relief (band-limited noise, grain sigma 0.4 mm, simulated)."""
    s = region_setup(rgb, region, face)
    base = quantise8(rgb)
    out = {"simulated": True, "region": region}
    out["roughness_original"] = _measure(base, s).value("roughness")
    for sig in (1.0, 2.5):
        bl = quantise8(cv2.GaussianBlur(base, (0, 0), sig))
        out[f"roughness_blur_{sig:g}px"] = _measure(bl, s).value("roughness")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(base.shape[:2]).astype(np.float32)
    px_mm = s["face"].eye_distance / 63.0
    noise = cv2.GaussianBlur(noise, (0, 0), 0.4 * px_mm)  # grain sigma 0.4 mm: inside the 0.5-2 mm band
    noise /= noise.std() + 1e-9
    relief = quantise8(np.clip(base * (1 + relief_amplitude * noise[..., None]), 0, 1))
    out["roughness_fine_relief"] = _measure(relief, s).value("roughness")
    return out


def eval_relight(
    face_rgb: np.ndarray, chart_rgb: np.ndarray, *, region: str = "left_cheek", exposure: float = 0.7,
    gains=(0.85, 1.0, 1.2), paired: bool = True,
) -> dict:
    """SIMULATED composite (real chart pasted into a real face photo), relit; metrics with and
    without calibration, original vs relit.

    ``calibrated_*``: each photo calibrated on its own (:func:`calibrate`, as a photo is when it
    is measured); ``paired_*`` (when ``paired``): both fitted on the chart patches usable in both
    (:func:`calibrate_pair`). ``n_patches_*``: patches in each independent fit."""
    comp = quantise8(composite_chart(face_rgb, chart_rgb))
    relit = relight(comp, exposure=exposure, gains=gains)
    s = region_setup(comp, region)
    cal0, cal1 = calibrate(comp), calibrate(relit)
    res = {"simulated": True, "region": region, "exposure": exposure, "gains": list(gains),
           "calibration_original": cal0.method, "calibration_relit": cal1.method,
           "residual_de_original": cal0.residual_delta_e, "residual_de_relit": cal1.residual_delta_e,
           "n_patches_original": cal0.n_patches, "n_patches_relit": cal1.n_patches}
    runs = [("uncalibrated", NO_CALIBRATION, NO_CALIBRATION), ("calibrated", cal0, cal1)]
    if paired:
        p0, p1 = calibrate_pair(comp, relit)
        res["n_patches_paired"] = p1.n_patches if p0.patches_used == p1.patches_used else None
        runs.append(("paired", p0, p1))
    for tag, c0, c1 in runs:
        m0 = _measure(comp, s, calibration=c0)
        m1 = _measure(relit, s, calibration=c1)
        res[f"{tag}_delta_a_star"] = m1.value("a_star_mean") - m0.value("a_star_mean")
        res[f"{tag}_delta_L_star"] = m1.value("L_star_mean") - m0.value("L_star_mean")
    return res


def eval_chart_detection(paths) -> dict:
    """Per chart photo: detected?, used for calibration?, residual ΔE2000 before/after."""
    out = {}
    for p in paths:
        rgb = load_photo(p).rgb
        det = detect_colorchecker(rgb)
        cal = calibrate(rgb)
        out[Path(p).name] = {
            "detected": det is not None,
            "attempt": None if det is None else det.attempt,
            "method": cal.method,
            "residual_de_before": cal.residual_delta_e_before,
            "residual_de_after": cal.residual_delta_e,
        }
    return out


def noise_floor(pairs: dict, *, region: str = "forehead") -> dict:
    """Same person, same session, neutral vs smiling: per-metric absolute differences.

    ``pairs``: ``{person_id: (neutral_path, smiling_path)}``. Each photo is measured on its own
    (``measure_photo``: own face, own region, own face-size scale), as the app would.

    Returns ``{"per_person": {id: {key: diff}}, "summary": {key: {"median": .., "p95": .., "max": ..}}}``.
    """
    per: dict = {}
    for pid, (pn, ps) in pairs.items():
        mn = measure_photo(load_photo(pn).rgb, roi=NamedROI(region))
        msm = measure_photo(load_photo(ps).rgb, roi=NamedROI(region))
        per[pid] = {k: msm.value(f"{g}.{k}") - mn.value(f"{g}.{k}") for g, ks in METRIC_KEYS.items() for k in ks}
    summary = {}
    for ks in METRIC_KEYS.values():
        for k in ks:
            d = np.abs([per[p][k] for p in per if math.isfinite(per[p][k])])
            if len(d):
                summary[k] = {"median": float(np.median(d)), "p95": float(np.percentile(d, 95)), "max": float(d.max()), "n": int(len(d))}
    return {"region": region, "per_person": per, "summary": summary}


def eval_speed(path, *, repeats: int = 3, upscale_to_mp: float | None = 12.0) -> dict:
    """Time decoding a photo vs measuring all metrics (face region, no chart search and with).

    If ``upscale_to_mp`` is set and the photo is smaller, it is upscaled to that many megapixels
    first (saved as JPEG in memory) so the figure is for a 12 MP photo.
    """
    import io

    from PIL import Image

    data = Path(path).read_bytes()
    ph = load_photo(data)
    if upscale_to_mp and ph.width * ph.height < upscale_to_mp * 1e6 * 0.95:
        k = math.sqrt(upscale_to_mp * 1e6 / (ph.width * ph.height))
        big = cv2.resize(ph.to_uint8(), (round(ph.width * k), round(ph.height * k)), interpolation=cv2.INTER_CUBIC)
        buf = io.BytesIO()
        Image.fromarray(big).save(buf, format="JPEG", quality=92)
        data = buf.getvalue()

    def best(fn):
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            r = fn()
            ts.append(time.perf_counter() - t)
        return min(ts), r

    t_dec, ph = best(lambda: load_photo(data))
    rgb = ph.rgb
    t_face, face = best(lambda: detect_face(rgb))
    t_cal, _ = best(lambda: calibrate(rgb))
    t_meas, _ = best(lambda: measure_photo(rgb, face=face, calibration=NO_CALIBRATION))
    t_all, _ = best(lambda: measure_photo(rgb))
    return {
        "megapixels": ph.width * ph.height / 1e6,
        "decode_s": t_dec,
        "face_detect_s": t_face,
        "chart_search_s": t_cal,
        "metrics_s": t_meas,
        "metrics_over_decode": t_meas / t_dec,
        "full_measure_photo_s": t_all,
        "full_over_decode": t_all / t_dec,
    }


def eval_zoom_texture(paths, *, region: str = "forehead") -> dict:
    """Texture of the same skin photographed from several camera distances, with face-size
    normalisation (``measure_photo``) and without it (photo pixels): the normalised values should
    spread less. Returns per-photo values and the relative spread (max/min - 1) of roughness."""
    from analyzer.regions import roi_polygon

    rows = {}
    for p in paths:
        rgb = load_photo(p).rgb
        face = detect_face(rgb)
        norm = measure_photo(rgb, roi=NamedROI(region), face=face, calibration=NO_CALIBRATION)
        reg = polygon_mask(roi_polygon(NamedROI(region), face=face, shape=rgb.shape[:2]), rgb.shape[:2])
        raw = measure(rgb, mask=skin_mask(rgb, region=reg), region_mask=reg, texture_scale=1.0)
        rows[Path(p).name] = {
            "eye_distance_px": face.eye_distance,
            "roughness_normalised": norm.value("roughness"),
            "roughness_photo_pixels": raw.value("roughness"),
            "glcm_contrast_normalised": norm.value("glcm_contrast"),
            "glcm_contrast_photo_pixels": raw.value("glcm_contrast"),
        }

    def spread(key):
        v = [r[key] for r in rows.values()]
        return max(v) / min(v) - 1.0

    return {
        "region": region,
        "photos": rows,
        "roughness_spread_normalised": spread("roughness_normalised"),
        "roughness_spread_photo_pixels": spread("roughness_photo_pixels"),
        "glcm_contrast_spread_normalised": spread("glcm_contrast_normalised"),
        "glcm_contrast_spread_photo_pixels": spread("glcm_contrast_photo_pixels"),
    }
