"""How the concern measures' noise bands were measured (re-run to re-measure).

Same person, same session, neutral vs smiling (London set): the smiling photo is aligned to the
neutral one with :func:`analyzer.pipeline.compare` and both are measured over the same pixels with
:func:`analyzer.concerns.measure_comparison` (whole-face region, eye-distance scale). The 95th
percentile of the absolute difference over the people is the noise band: a change smaller than
that is indistinguishable from re-photographing (with a changed expression). Results are in
``analyzer.concerns.NOISE_BANDS`` and ``docs/concerns.md``.

Usage: ``python -m analyzer.evaluation.concerns /path/to/shared/photos`` (about 20 s per person).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from analyzer.concerns import measure_comparison
from analyzer.face import detect_face
from analyzer.io import load_photo
from analyzer.pipeline import compare

LONDON_IDS = ("021", "024", "029", "037", "038", "061", "062", "081", "087", "136")
FACE_CONCERNS = ("acne_scars", "enlarged_pores", "fine_lines", "hyperpigmentation", "redness")


def noise_floor(photos_dir: str | Path, *, ids=LONDON_IDS, concerns=FACE_CONCERNS) -> dict:
    """``{"per_person": {id: {key: follow - base}}, "summary": {key: {"median", "p95", "max", "n"}}}``
    (absolute differences; people whose alignment is refused are listed under ``"refused"``)."""
    root = Path(photos_dir)
    per: dict = {}
    refused = {}
    for pid in ids:
        base = load_photo(root / "faces" / "london_neutral" / f"{pid}_03.jpg")
        fol = load_photo(root / "faces" / "london_smiling" / f"{pid}_08.jpg")
        face = detect_face(base.rgb)
        cmp = compare(base, fol, baseline_face=face)
        if not cmp.alignment.ok:
            refused[pid] = cmp.alignment.reason
            continue
        r = measure_comparison(cmp, concerns, face=face)["face"]
        per[pid] = {k: float(r["followup"][k].value) - float(m.value) for k, m in r["baseline"].items()}
    summary = {}
    keys = sorted({k for d in per.values() for k in d})
    for k in keys:
        d = np.abs([per[p][k] for p in per if k in per[p] and math.isfinite(per[p][k])])
        if len(d):
            summary[k] = {"median": float(np.median(d)), "p95": float(np.percentile(d, 95)),
                          "max": float(d.max()), "n": int(len(d))}
    return {"per_person": per, "summary": summary, "refused": refused}


if __name__ == "__main__":  # pragma: no cover
    out = noise_floor(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "photos")
    print(json.dumps(out["summary"], indent=1))
