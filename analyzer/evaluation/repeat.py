"""Repeat photos of unchanged faces: how often a comparison calls a change where there is none,
and whether a simulated change survives a real change of light.

Real pairs (``tests/data/photos/faces``, one person per pair, no treatment in between, no chart):

- **within a session**: lisa i -> lisa j, zoom i -> zoom j (same room, same light, other shots),
  London neutral -> smiling (studio flash, 10 people);
- **across sessions**: lisa i <-> zoom j (one person, two days, two rooms, other light and camera).

:func:`eval_repeat_pairs` runs :func:`analyzer.pipeline.compare` on each pair over the face and
both cheeks and returns every metric's change entry (delta, band, verdict). :func:`summarise`
counts the verdicts. :func:`eval_injected_redness` makes a SIMULATED -3 a* change on both cheeks
of each follow-up first. The same figures feed the tests, ``bench/`` and ``docs/metrics.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from analyzer.io import Photo, load_photo

__all__ = ["repeat_pairs", "eval_repeat_pairs", "summarise", "eval_injected_redness", "REGIONS", "LONDON_IDS"]

REGIONS = ("face", "left_cheek", "right_cheek")
LONDON_IDS = ("021", "024", "029", "037", "038", "061", "062", "081", "087", "136")
_ZOOM = ("15cm", "30cm", "45cm", "60cm")


def repeat_pairs(photos_dir: str | Path, *, both_directions: bool = True) -> dict[str, list[tuple[str, Path, Path]]]:
    """The real no-change pairs: ``{"within": [(name, baseline, followup)], "across": [...]}``."""
    root = Path(photos_dir) / "faces"
    lisa = [root / "lisa" / f"lisa{i}.jpg" for i in range(1, 5)]
    zoom = [root / "zoom" / f"{z}.jpg" for z in _ZOOM]
    within: list[tuple[str, Path, Path]] = []
    for series in (lisa, zoom):
        for i in range(len(series)):
            for j in range(i + 1, len(series)):
                within.append((f"{series[i].stem}->{series[j].stem}", series[i], series[j]))
    for pid in LONDON_IDS:
        within.append((f"london{pid} neutral->smiling", root / "london_neutral" / f"{pid}_03.jpg",
                       root / "london_smiling" / f"{pid}_08.jpg"))
    across: list[tuple[str, Path, Path]] = []
    for a in lisa:
        for b in zoom:
            across.append((f"{a.stem}->{b.stem}", a, b))
            if both_directions:
                across.append((f"{b.stem}->{a.stem}", b, a))
    return {"within": within, "across": across}


_CACHE: dict[str, Photo] = {}


def _photo(p: Path) -> Photo:
    k = str(p)
    if k not in _CACHE:
        _CACHE[k] = load_photo(p)
    return _CACHE[k]


def _entries(comp, pair: str, kind: str) -> list[dict]:
    out = []
    for rname, r in comp.regions.items():
        ch = r.change or {}
        for key, rec in ch.items():
            if "." not in key or not isinstance(rec, dict) or "delta" not in rec:
                continue
            out.append({"pair": pair, "kind": kind, "region": rname, "metric": key,
                        "delta": rec.get("delta"), "noise_band": rec.get("noise_band"),
                        "within_noise": rec.get("within_noise"), "reason": rec.get("reason"),
                        "verdict_reason": rec.get("verdict_reason")})
        if not ch:
            out.append({"pair": pair, "kind": kind, "region": rname, "metric": None, "delta": None,
                        "noise_band": None, "within_noise": None, "reason": r.reason, "verdict_reason": r.reason})
    return out


def eval_repeat_pairs(pairs: dict[str, list[tuple[str, Path, Path]]], *, regions: Iterable[str] = REGIONS,
                      followup_edit=None) -> list[dict]:
    """Every metric's change entry over ``regions`` for every pair (``compare``, no chart).

    ``followup_edit(photo) -> Photo`` changes the follow-up first (a SIMULATED change)."""
    from analyzer.pipeline import compare
    from analyzer.regions import NamedROI

    rois = {r: (None if r == "face" else NamedROI(r)) for r in regions}
    rows: list[dict] = []
    for kind, ps in pairs.items():
        for name, b, f in ps:
            fp = _photo(f)
            if followup_edit is not None:
                fp = followup_edit(fp)
            comp = compare(_photo(b), fp, rois=rois, keep_aligned=False)
            rows.extend(_entries(comp, name, kind))
    return rows


def summarise(rows: list[dict], *, groups: tuple[str, ...] = ("redness", "pigmentation", "texture")) -> dict:
    """Per kind of pair: share of metric changes called beyond noise (``within_noise`` False) among
    all metric change entries, the share that could not be compared (null verdict), per group."""
    out: dict = {}
    for kind in sorted({r["kind"] for r in rows}):
        rs = [r for r in rows if r["kind"] == kind and r["metric"]]
        d: dict = {"n": len(rs)}

        def share(sel):
            n = len(sel)
            return {"n": n, "beyond": sum(1 for r in sel if r["within_noise"] is False) / n if n else None,
                    "not_comparable": sum(1 for r in sel if r["within_noise"] is None) / n if n else None}

        d["all"] = share(rs)
        for g in groups:
            d[g] = share([r for r in rs if r["metric"].startswith(g + ".")])
        d["colour_absolute"] = share([r for r in rs if r["metric"].split(".")[-1] in _ABS_COLOUR])
        da = [abs(r["delta"]) for r in rs if r["metric"] == "redness.a_star_mean" and r["delta"] is not None]
        d["median_abs_delta_a_star"] = float(np.median(da)) if da else None
        d["per_metric"] = {}
        for m in sorted({r["metric"] for r in rs}):
            d["per_metric"][m] = share([r for r in rs if r["metric"] == m])
        out[kind] = d
    return out


_ABS_COLOUR = ("a_star_mean", "erythema_index_mean", "red_area_fraction", "L_star_mean", "ita_deg_mean",
               "melanin_index_mean")


def _cheek_shift(da: float):
    """A SIMULATED redness change: a* + ``da`` on the skin of both cheeks of a photo."""
    from analyzer.align import detect_main_face
    from analyzer.evaluation.metrics import inject_lab_shift
    from analyzer.regions import face_region_polygons, polygon_mask, skin_mask

    def edit(photo: Photo) -> Photo:
        rgb = photo.rgb
        face = detect_main_face(rgb)
        if face is None:
            raise ValueError("no face found")
        polys = face_region_polygons(face)
        m = np.zeros(rgb.shape[:2], bool)
        for r in ("left_cheek", "right_cheek"):
            reg = polygon_mask(polys[r], rgb.shape[:2])
            m |= skin_mask(rgb, region=reg) & reg
        new = inject_lab_shift(rgb, m, da=da)
        return replace(photo, rgb=new)

    return edit


#: Redness measures that may carry the verdict of a redness change (absolute and relative).
REDNESS_KEYS = ("redness.a_star_mean", "redness.erythema_index_mean", "redness.red_area_fraction",
                "redness.a_star_vs_reference", "redness.a_star_reference_balanced",
                "redness.erythema_index_vs_reference")


def eval_injected_redness(pairs: list[tuple[str, Path, Path]], *, da: float = -3.0) -> dict:
    """SIMULATED ``da`` a* on both cheeks of each follow-up (real cross-session pairs, no chart).

    Per pair and cheek: "decrease" when some redness measure calls a decrease beyond noise,
    "increase" when some calls an increase beyond noise (both can hold), else "missed"."""
    rows = eval_repeat_pairs({"injected": pairs}, regions=("left_cheek", "right_cheek"),
                             followup_edit=_cheek_shift(da))
    per: dict = {}
    for r in rows:
        if r["metric"] not in REDNESS_KEYS:
            continue
        k = (r["pair"], r["region"])
        p = per.setdefault(k, {"decrease": False, "increase": False, "calls": {}})
        if r["within_noise"] is False and r["delta"] is not None:
            if r["delta"] < 0:
                p["decrease"] = True
            else:
                p["increase"] = True
        p["calls"][r["metric"]] = {"delta": r["delta"], "within_noise": r["within_noise"]}
    n = len(per)
    return {
        "simulated": True,
        "injected_da": da,
        "n": n,
        "decrease_share": sum(p["decrease"] for p in per.values()) / n if n else math.nan,
        "increase_share": sum(p["increase"] for p in per.values()) / n if n else math.nan,
        "per_pair": {f"{a} {b}": v for (a, b), v in per.items()},
    }
