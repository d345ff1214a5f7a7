"""Time of the check before keeping (analyzer.precheck), from the photo's bytes to the verdict.

Standalone (not part of ``python -m bench``): ``python -m bench.precheck_speed [--runs 5]``.
The baseline's measure is cached in the app (analyzer.service.prekeep), so each figure is the candidate's
own cost: decode + face + crop measures + ColorChecker search + the comparison. Inputs: the real
zoom 30 cm photo (1152x1536 JPEG) as baseline and zoom 45 cm as candidate, and both upscaled to
3000x4000 (12 MP, JPEG q92) as a tablet's full-resolution photo would be.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time

import cv2
import numpy as np
from PIL import Image

from analyzer.io import load_photo
from analyzer.precheck import measure_capture, precheck

PHOTOS = os.environ.get("SKIN_PROGRESS_PHOTOS") or os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                                                 "photos")


def _jpeg(rgb8: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb8).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    base_b = open(os.path.join(PHOTOS, "faces/zoom/30cm.jpg"), "rb").read()
    cand_b = open(os.path.join(PHOTOS, "faces/zoom/45cm.jpg"), "rb").read()
    cases = {"1152x1536": (base_b, cand_b)}
    big = []
    for b in (base_b, cand_b):
        rgb8 = load_photo(b, name="x.jpg").to_uint8()
        big.append(_jpeg(cv2.resize(rgb8, (3000, 4000), interpolation=cv2.INTER_CUBIC)))
    cases["3000x4000 (12 MP)"] = tuple(big)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| candidate | bytes to verdict (median) | min | max | verdict |")
    print("|---|---|---|---|---|")
    for name, (bb, cb) in cases.items():
        bm = measure_capture(load_photo(bb, name="b.jpg").rgb)  # cached in the app
        times, verdict = [], ""
        for _ in range(a.runs):
            t0 = time.perf_counter()
            r = precheck(load_photo(cb, name="c.jpg").rgb, bm)
            times.append(time.perf_counter() - t0)
            verdict = r.verdict
        print(f"| {name} | {statistics.median(times):.2f} s | {min(times):.2f} s | {max(times):.2f} s | {verdict} |")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
