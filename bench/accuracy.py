"""Accuracy: the alignment and metric-validity figures, from the same code as the tests.

Every figure here is computed by :mod:`analyzer.evaluation.align` or :mod:`analyzer.evaluation.metrics`
with the inputs and parameters the tests use (``tests/test_align.py``,
``tests/test_metrics.py``, ``tests/test_calibrate.py``); the targets are the bounds those
tests assert. Changes injected into real photos are **simulated** (known warp, known Lab
shift, painted spots, blur, relighting, a chart composited into a face photo).
"""

from __future__ import annotations

import numpy as np

from bench.common import PHOTOS, Config, Section, Target

LONDON_IDS = ["021", "024", "029", "037", "038", "061", "062", "081", "087", "136"]
LANDMARK_RATIO_TARGET = 1.3  # tests/test_align.py
#: Metrics with a noise band the app uses to say "within noise"; the bench re-measures them.
NOISE_KEYS = ("a_star_mean", "L_star_mean", "spot_area_fraction", "roughness")


def _p(rel: str):
    p = PHOTOS / rel
    if not p.exists():
        raise FileNotFoundError(f"real photo missing: {p}")
    return p


def _neutral(i):
    return _p(f"faces/london_neutral/{i}_03.jpg")


def _smiling(i):
    return _p(f"faces/london_smiling/{i}_08.jpg")


def _part_job(name: str, cfg: Config) -> dict:
    """One half (alignment or metrics) in a worker process: its figures, extras, time, error."""
    import time

    part = {"alignment": _alignment, "metrics": _metrics}[name]
    sec = Section("accuracy", name)
    extras: dict = {}
    t0 = time.perf_counter()
    err = None
    try:
        part(cfg, sec, extras)
    except Exception as exc:  # noqa: BLE001 - report, keep the other half
        err = f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return {"figures": sec.figures, "notes": sec.notes, "extras": extras, "seconds": time.perf_counter() - t0,
            "error": err}


def run(cfg: Config, sec: Section, extras: dict) -> None:
    """The two halves run side by side in two processes (accuracy figures don't depend on time)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futs = {name: pool.submit(_part_job, name, cfg) for name in ("alignment", "metrics")}
        res = {name: f.result() for name, f in futs.items()}
    errors = []
    for r in res.values():
        sec.figures.extend(r["figures"])
        sec.notes.extend(r["notes"])
        extras.setdefault("accuracy", {}).update(r["extras"].get("accuracy", {}))
        if r["error"]:
            errors.append(r["error"])
    sec.notes.append("Computed in two processes side by side: alignment figures in "
                     f"{res['alignment']['seconds']:.0f} s, metric figures in {res['metrics']['seconds']:.0f} s "
                     "(the seconds per pair above are therefore not speed figures).")
    if errors:
        sec.error = "; ".join(errors)


# --------------------------------------------------------------------------- alignment


def _alignment(cfg: Config, sec: Section, extras: dict) -> None:
    from analyzer.evaluation import align as ae

    q = cfg.quick
    synth = [_p("faces/lisa/lisa1.jpg"), _p("faces/zoom/30cm.jpg"), _p("faces/london_neutral/081_03.jpg"),
             _p("faces/london_neutral/061_03.jpg"), _p("faces/lisa/lisa3.jpg"), _p("faces/zoom/60cm.jpg")]
    r = ae.evaluate_synthetic(synth, n_pairs=1 if q else 12, seed=3)
    n = r["n_pairs"]
    sec.add("Align, synthetic warps of real photos (face path): median grid error", r["median_px"], "px",
            Target("<=", 0.3), note=f"{n} pairs: rotation ±15°, scale 0.8-1.25, shift ±8 %, perspective, "
            f"exposure/gamma/WB, noise, JPEG; {r['seconds_per_pair']:.2f} s per pair")
    sec.add("Align, synthetic (face path): pairs within 0.5 % of the diagonal", r["within_diag_fraction"], "",
            Target(">=", 0.98), note=f"refused {r['refused']} of {n}", digits=2)
    rb = ae.evaluate_synthetic(synth[:4], n_pairs=1 if q else 6, seed=5, area="body")
    sec.add("Align, synthetic warps (body path, skin features): median grid error", rb["median_px"], "px",
            Target("<=", 0.3), note=f"{rb['n_pairs']} pairs; within 0.5 % diagonal: {rb['within_diag_fraction']:.2f}; "
            f"refused {rb['refused']}")
    zoom = [_p(f"faces/zoom/{d}cm.jpg") for d in ((15, 30) if q else (15, 30, 45, 60))]
    rz = ae.evaluate_landmark_pairs(zoom)
    sec.add("Align, landmark pairs faces/zoom: worst RMS / similarity floor", rz["max_ratio"], "x",
            Target("<=", LANDMARK_RATIO_TARGET), note=f"{len(rz['pairs'])} ordered pairs, all accepted: {rz['all_ok']}")
    if not q:
        lisa = [_p(f"faces/lisa/lisa{i}.jpg") for i in range(1, 5)]
        rl = ae.evaluate_landmark_pairs(lisa)
        worst = max(rl["pairs"], key=lambda p: p["ratio"])
        sec.add("Align, landmark pairs faces/lisa: worst RMS / similarity floor", rl["max_ratio"], "x",
                Target("<=", LANDMARK_RATIO_TARGET),
                note=f"{len(rl['pairs'])} ordered pairs, all accepted: {rl['all_ok']}; worst "
                f"{worst['baseline']} <- {worst['followup']}")
    ids = LONDON_IDS[:2] if q else LONDON_IDS
    diff = [(_neutral(a), _neutral(b)) for i, a in enumerate(ids) for b in ids[i + 1:]]
    if not q:
        diff += [(_neutral(a), _smiling(b)) for a in ids for b in ids if a != b][::3]
    rd = ae.evaluate_pairs(diff)
    sec.add("Refusal: different people accepted", rd["accepted"], f"of {rd['n_pairs']}", Target("==", 0, "0"),
            note=f"min face distance {rd['min_face_distance']:.2f}")
    sec.add("Refusal: highest confidence given to a different person", rd["max_confidence"], "",
            Target("<=", 0.2), digits=2)
    same = [(_neutral(i), _smiling(i)) for i in ids]
    if not q:
        same += [(_p("faces/lisa/lisa1.jpg"), _p("faces/zoom/30cm.jpg")),
                 (_p("faces/zoom/15cm.jpg"), _p("faces/lisa/lisa3.jpg")),
                 (_p("faces/lisa/lisa4.jpg"), _p("faces/zoom/60cm.jpg"))]
    rs = ae.evaluate_pairs(same)
    sec.add("Same person (other expression / other day) accepted", rs["accepted"] / rs["n_pairs"], "",
            Target(">=", 1.0, "all"), note=f"{rs['accepted']} of {rs['n_pairs']}; max face distance "
            f"{rs['max_face_distance']:.2f}", digits=2)
    low = min(rs["pairs"], key=lambda p: p["confidence"])
    sec.add("Same person: lowest confidence", rs["min_confidence"], "", Target(">", 0.2),
            note=f"{low['baseline']} -> {low['followup']}; a refused pair gets at most 0.2", digits=2)
    extras.setdefault("accuracy", {})["alignment"] = {"synthetic": {k: v for k, v in r.items() if k != "pairs"}}


# --------------------------------------------------------------------------- metrics


def _metrics(cfg: Config, sec: Section, extras: dict) -> None:
    from analyzer.evaluation import metrics as me
    from analyzer.face import detect_face
    from analyzer.io import load_photo
    from analyzer.metrics import NOISE_BANDS

    q = cfg.quick
    people = ("081",) if q else ("081", "021", "061", "062", "087")
    faces = {}
    for pid in people:
        rgb = load_photo(_neutral(pid)).rgb
        faces[pid] = (rgb, detect_face(rgb))

    # SIMULATED a* shift of +4 and -3 inside the left cheek's skin (tests/test_metrics.py).
    errs, dl = [], []
    for rgb, face in faces.values():
        for da in (4.0, -3.0):
            r = me.eval_lab_shift(rgb, da=da, face=face)
            errs.append(abs(r["measured_da"] - da) / abs(da))
            if da > 0:
                dl.append(abs(r["measured_dL"]))
    sec.add("Metrics, simulated a* shift (+4, -3): worst relative error of Δa*", 100 * max(errs), "%",
            Target("<=", 15.0), note=f"{len(errs)} injections on {', '.join(people)}; worst |ΔL*| leak "
            f"{max(dl):.2f} (target < 0.5)")

    # SIMULATED spots: 8 spots, L* -12, over 4 % of a cheek's skin; three placements each.
    area, cnt = [], []
    for rgb, face in faces.values():
        for region, seed in ((("left_cheek", 0),) if q else (("left_cheek", 0), ("right_cheek", 1), ("right_cheek", 2))):
            r = me.eval_spots(rgb, region=region, area_fraction=0.04, n_spots=8, face=face, seed=seed)
            area.append(r["delta_spot_area_fraction"])
            cnt.append(r["delta_spot_count"])
    worst_area = max(abs(a - 0.04) for a in area)
    sec.add("Metrics, simulated spots (4 % area): worst |Δspot_area_fraction - 0.04|", worst_area, "",
            Target("<=", 0.01), note=f"range {min(area):.3f}..{max(area):.3f} over {len(area)} placements", digits=4)
    sec.add("Metrics, simulated spots (8): worst |Δspot_count - 8|", max(abs(c - 8) for c in cnt), "",
            Target("<=", 1.6, "<= 1.6 (20 % of 8)"), note=f"range {min(cnt):.0f}..{max(cnt):.0f}, mean {np.mean(cnt):.1f}")

    # Blur and SIMULATED fine relief: roughness must order them.
    ok_order, relief = [], []
    for pid in [p for p in ("081", "021") if p in faces]:
        rgb, face = faces[pid]
        r = me.eval_blur_roughness(rgb, face=face)
        ok_order.append(r["roughness_original"] > r["roughness_blur_1px"] > r["roughness_blur_2.5px"])
        relief.append(r["roughness_fine_relief"] / r["roughness_original"])
    sec.add("Metrics, roughness falls with blur 1 px then 2.5 px (photos where it does)", float(np.mean(ok_order)), "",
            Target(">=", 1.0, "all"), note=f"{sum(ok_order)} of {len(ok_order)}", digits=2)
    sec.add("Metrics, simulated fine relief: roughness ratio to original", min(relief), "x", Target(">=", 1.05))

    # Calibration under SIMULATED relighting (real chart composited into a real face photo).
    face021 = faces.get("021", (None,))[0]
    if face021 is None:
        face021 = load_photo(_neutral("021")).rgb
    charts = ("colorchecker-classic-mini.jpg",) if q else (
        "calibrite-passport.png", "classic.png", "colorchecker-classic-mini.jpg", "nano.jpeg")
    rel = {n: me.eval_relight(face021, load_photo(_p(f"charts/{n}")).rgb) for n in charts}
    wa = max(rel, key=lambda n: abs(rel[n]["calibrated_delta_a_star"]))
    wl = max(rel, key=lambda n: abs(rel[n]["calibrated_delta_L_star"]))
    found = sum(r["calibration_original"] == r["calibration_relit"] == "colorchecker" for r in rel.values())
    cal_note = f"chart found in both photos for {found} of {len(rel)} charts"
    sec.add("Calibration under relighting: calibrated |Δa*|, worst chart", abs(rel[wa]["calibrated_delta_a_star"]), "a*",
            Target("<=", 1.0),
            note=f"worst {wa}; uncalibrated {min(abs(r['uncalibrated_delta_a_star']) for r in rel.values()):.2f} or more "
            f"(the relight is real when > 2); {cal_note}")
    sec.add("Calibration under relighting: calibrated |ΔL*|, worst chart", abs(rel[wl]["calibrated_delta_L_star"]), "L*",
            Target("<=", 2.0), note=f"worst {wl}; uncalibrated "
            f"{min(abs(r['uncalibrated_delta_L_star']) for r in rel.values()):.2f} or more (real when > 5)")
    names = ("colorchecker-classic-mini.jpg",) if q else (
        "calibrite-passport.png", "classic.png", "colorchecker-classic-mini.jpg", "nano.jpeg")
    det = me.eval_chart_detection([_p(f"charts/{n}") for n in names])
    good = [n for n, d in det.items() if d["method"] == "colorchecker" and (d["residual_de_after"] or 99) < 5.5]
    worst = max((d["residual_de_after"] for d in det.values() if d["residual_de_after"] is not None), default=float("nan"))
    sec.add("Calibration: real chart photos detected and fitted (ΔE2000 < 5.5)", len(good) / len(names), "",
            Target(">=", 1.0, "all"), note=f"{len(good)} of {len(names)}; worst residual ΔE2000 {worst:.2f}", digits=2)

    # Noise floor: same person, same session, neutral vs smiling (forehead).
    ids = LONDON_IDS[:2] if q else LONDON_IDS
    nf = me.noise_floor({i: (_neutral(i), _smiling(i)) for i in ids})
    for k in NOISE_KEYS:
        s = nf["summary"].get(k)
        band = NOISE_BANDS.get(k)
        if s is None or band is None:
            continue
        sec.add(f"Noise floor {k}: p95 |neutral - smiling| re-measured", s["p95"], "",
                Target("<=", band * 1.05, f"<= {band * 1.05:.3g} (app's band {band:.3g} + 5 %)"),
                note=f"{s['n']} people; median {s['median']:.3g}; the app calls a change within this band 'within noise'")
    extras.setdefault("accuracy", {})["noise_floor"] = nf["summary"]
    _verdicts(cfg, sec, extras)


#: Measures whose band the repeat pairs re-measure (the relative colour measures lead).
VERDICT_BAND_KEYS = ("a_star_vs_reference", "a_star_reference_balanced", "erythema_index_vs_reference",
                     "spot_area_fraction", "roughness")


def _verdicts(cfg: Config, sec: Section, extras: dict) -> None:
    """Real no-change pairs without a chart (analyzer.evaluation.repeat, as tests/test_verdict_real.py):
    share of metric changes called beyond noise within a session and across sessions, the noise
    bands re-measured, and a SIMULATED -3 a* on both cheeks of the follow-up of lisa <-> zoom."""
    import numpy as np

    from analyzer.evaluation import repeat as rev
    from analyzer.metrics import NOISE_BANDS_ACROSS, NOISE_BANDS_WITHIN

    pairs = rev.repeat_pairs(PHOTOS)
    if cfg.quick:
        pairs = {"within": pairs["within"][:1] + pairs["within"][6:7], "across": pairs["across"][:2]}
    rows = rev.eval_repeat_pairs(pairs)
    summ = rev.summarise(rows)
    for kind, label in (("within", "within a session"), ("across", "across two sessions")):
        d = summ.get(kind)
        if not d:
            continue
        told = 1.0 - d["all"]["not_comparable"]
        sec.add(f"Verdicts, real no-change pairs {label}: metric changes called beyond noise", 100 * d["all"]["beyond"],
                "%", Target("<=", 5.0),
                note=f"{d['all']['n']} metric changes ({len({r['pair'] for r in rows if r['kind'] == kind})} pairs x face, "
                f"cheeks); {100 * told:.0f} % given a verdict, so {100 * d['all']['beyond'] / max(told, 1e-9):.1f} % of "
                "those; can't tell: absolute colour (no chart), spatial measures across a resolution mismatch")
    ok = [r for r in rows if r["metric"] and r["delta"] is not None and r["verdict_reason"] is None]
    bands = NOISE_BANDS_WITHIN, NOISE_BANDS_ACROSS
    for k in VERDICT_BAND_KEYS:
        for kind, table in zip(("within", "across"), bands, strict=True):
            d = [abs(r["delta"]) for r in ok if r["kind"] == kind and r["metric"].endswith("." + k)]
            if len(d) < 5:
                continue
            p95 = float(np.percentile(d, 95))
            sec.add(f"Noise band {k} {kind} sessions: p95 |change| re-measured", p95, "",
                    Target("<=", table[k] * 1.05, f"<= {table[k] * 1.05:.3g} (app's band {table[k]:.3g} + 5 %)"),
                    note=f"{len(d)} comparable changes on real repeat photos")
    inj = rev.eval_injected_redness(pairs["across"])
    sec.add("Verdicts, SIMULATED -3 a* on both cheeks of a real cross-session follow-up (no chart): called a "
            "decrease beyond noise", 100 * inj["decrease_share"], "%", Target(">=", 80.0),
            note=f"{inj['n']} pair x cheek; by some redness measure (the absolute ones can't tell without a chart)")
    sec.add("Verdicts, same injection: called an increase beyond noise", 100 * inj["increase_share"], "%",
            Target("<=", 0.0))
    extras.setdefault("accuracy", {})["verdicts"] = {k: {kk: vv for kk, vv in v.items() if kk != "per_metric"}
                                                     for k, v in summ.items()}
