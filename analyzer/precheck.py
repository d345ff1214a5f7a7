"""The check before a photo is kept: a candidate photo measured against the series' baseline.

Right after a capture or an upload, before the photo becomes the session's photo, it is measured
against the baseline photo of the same view, and the verdict names the ONE thing to fix first
("move about 20 cm closer", "turn the face slightly to the left of the picture", "hold still: the
photo is blurred", "the light is warmer than at baseline: ..."). Nothing is stored here; the
caller decides to keep or retake.

What is measured (:func:`measure_capture`, on each photo on its own):

- the main face (5 landmarks): its size in the frame (eye-centre distance / the frame's short
  side), its centre, its turn (yaw: the nose's offset from the eye midpoint along the eye line, in
  eye distances; 0 is frontal) and its in-plane tilt (roll of the eye line);
- the native scale: px/mm from the eye distance (adult mean 63 mm, as everywhere else);
- sharpness: variance of the Laplacian of L* on the central face (eyes to below the nose, cheeks
  included), compared between the two photos at a common scale (the lower of the two, at most
  :data:`SHARPNESS_PX_PER_MM`), so a farther photo is not called blurred;
- exposure on that face crop: mean L*, and the share of clipped pixels (a channel >= 0.99 or
  <= 0.01);
- light: a white-point proxy of the scene around the face (the brightest of the least coloured
  pixels outside the face and hair box) and that scene's mean a*, b*; whether a ColorChecker is
  in the frame (:func:`analyzer.calibrate.detect_colorchecker`; a grey card is not detected
  automatically: it is marked on the photo after keeping, as a reference patch).

:func:`precheck` then compares a candidate with the baseline's measure and orders the findings:
no face, another person, turn, tilt, distance, resolution, position, blur, clipping, exposure, light, chart. The
first failing check is the verdict. Without a face in either photo (a close-up, a body area),
sharpness, clipping and lightness are compared on the centre of the frame at a fixed width, and
the verdict says that pose and scale were not checked. Directions are given as seen on the picture (not mirrored):
"turn the face to the left of the picture" means the nose should point further to the picture's
left; for a patient facing the camera, that is their right.

Camera distance in cm is an estimate from the face size and an assumed field of view of a
phone or tablet main camera (:data:`ASSUMED_SHORT_SIDE_FOV_DEG`); it is rounded to 5 cm and
said as "about". The ratio of face sizes itself is exact.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from analyzer import __version__
from analyzer.color import delta_e_2000, rgb_to_lab
from analyzer.face import Face
from analyzer.metrics import EYE_DISTANCE_MM

__all__ = [
    "CaptureMeasure",
    "Check",
    "Precheck",
    "measure_capture",
    "precheck",
    "required_px_per_mm",
    "ASSUMED_SHORT_SIDE_FOV_DEG",
]

#: Field of view across the frame's short side assumed for the distance estimate: a phone or
#: tablet main camera (about 26 mm full-frame equivalent, 4:3 sensor) sees ~53 degrees across.
ASSUMED_SHORT_SIDE_FOV_DEG = 53.0

#: Face size in the frame (eye distance / short side) may differ from the baseline's by this
#: factor before "move closer / back" (the aligner corrects scale; distance changes perspective
#: and the light's fall-off, and with it the numbers).
SIZE_TOLERANCE = 1.15
#: The photo's px/mm may be this share of the baseline's before "use the full resolution".
RESOLUTION_TOLERANCE = 0.8
#: Turn (yaw index, eye distances) difference before "turn the face": about 10 degrees for a nose
#: base 20 mm in front of the eye corners (0.32 tan(angle)); repeat photos of one setup differ by
#: 0.01-0.02 on the test photos.
YAW_TOLERANCE = 0.06
#: Tilt (roll of the eye line) difference, degrees, before "level the head".
ROLL_TOLERANCE_DEG = 12.0
#: Face centre offset, as a share of the frame, before "centre the face".
POSITION_TOLERANCE = 0.12
#: Sharpness ratio (candidate / baseline, same scale) below which the photo is called blurred.
SHARPNESS_RATIO_MIN = 0.5
#: The scale sharpness is compared at (px/mm, or the lower of the two photos' if less). At
#: 1 px/mm a photo at 60 cm reads 0.65 of one at 30 cm (same camera), a 2 px Gaussian blur of
#: the 30 cm photo 0.47, and 3 px 0.27.
SHARPNESS_PX_PER_MM = 1.0
#: Clipped share of the face crop above which exposure is a fix.
CLIPPED_MAX = 0.02
#: Face lightness difference (L*) before "darker / brighter than at baseline".
EXPOSURE_TOLERANCE_L = 8.0
#: White-point difference (CIEDE2000) before "the light differs from the baseline's".
WHITE_POINT_TOLERANCE = 4.0

#: Native px/mm below which the general measures (redness, pigmentation, texture at the 2 px/mm
#: analysis scale, whose finest band is 0.5 mm) would be read from upsampled pixels.
GENERAL_MIN_PX_PER_MM = 1.5


def required_px_per_mm(concerns: Iterable[str] = ()) -> tuple[float, str | None]:
    """(px/mm needed, the concern that needs it) for a series' concerns: pores, fine lines and
    hair need :data:`analyzer.concerns.MIN_NATIVE_PX_PER_MM` (2.5-4), the rest
    :data:`GENERAL_MIN_PX_PER_MM`."""
    from analyzer.concerns import CONCERN_LABELS, MIN_NATIVE_PX_PER_MM, normalize_concern

    need, who = GENERAL_MIN_PX_PER_MM, None
    for c in concerns:
        try:
            k = normalize_concern(c)
        except Exception:  # noqa: BLE001 - an unknown concern needs nothing special
            continue
        v = MIN_NATIVE_PX_PER_MM.get(k)
        if v is not None and v > need:
            need, who = v, CONCERN_LABELS.get(k, k).lower()
    return need, who


Status = Literal["ok", "fix", "unknown"]


@dataclass(frozen=True)
class Check:
    """One check of the candidate against the baseline."""

    name: str  # face, person, sharpness, distance, resolution, turn, tilt, position, clipping, exposure, light, chart
    status: Status
    message: str  # what was measured, in plain words
    fix: str | None = None  # the instruction, when status == "fix"
    values: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "message": self.message, "fix": self.fix,
                "values": dict(self.values)}


@dataclass(frozen=True)
class Precheck:
    """The verdict on a candidate photo: ``ok`` when nothing needs fixing; else ``fix`` is the
    first thing to fix and ``verdict`` says it in one sentence."""

    ok: bool
    verdict: str
    fix: str | None
    fix_check: str | None
    checks: tuple[Check, ...]
    seconds: float
    size: tuple[int, int]  # candidate (width, height)
    analyzer_version: str = __version__

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "fix")

    def summary(self) -> dict:
        """What is kept with the photo: the verdict and every failed check's fix."""
        return {"ok": self.ok, "verdict": self.verdict,
                "failed": [{"name": c.name, "fix": c.fix} for c in self.failed],
                "size": {"width": self.size[0], "height": self.size[1]},
                "analyzer_version": self.analyzer_version}

    def to_dict(self) -> dict:
        return {"ok": self.ok, "verdict": self.verdict, "fix": self.fix, "fix_check": self.fix_check,
                "checks": [c.to_dict() for c in self.checks], "seconds": round(self.seconds, 3),
                "size": {"width": self.size[0], "height": self.size[1]},
                "method": "pre-keep check against the baseline photo of the same view",
                "analyzer_version": self.analyzer_version}


@dataclass(frozen=True)
class CaptureMeasure:
    """What :func:`precheck` needs of one photo (measured once; a baseline's can be cached)."""

    size: tuple[int, int]  # (width, height)
    face: Face | None
    face_frac: float  # eye distance / short side (NaN without a face)
    face_centre: tuple[float, float]  # (x, y) as shares of width and height
    face_box_inside: float  # share of the face box inside the frame
    yaw: float  # nose offset from the eye midpoint along the eye line, eye distances
    roll_deg: float
    px_per_mm: float  # native, from the eye distance (NaN without a face)
    face_L: float  # mean L* of the central face crop
    clipped_hi: float
    clipped_lo: float
    white_point_lab: tuple[float, float, float] | None
    scene_ab: tuple[float, float] | None
    chart: bool | None  # None: not looked for
    crop_L: np.ndarray | None = field(default=None, repr=False, compare=False)  # L* of the face crop
    crop_px_per_mm: float = float("nan")  # scale of crop_L
    #: dlib's face descriptor (None without a face): a different person is caught before keeping
    descriptor: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        def f(x):
            return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x
        return {"size": list(self.size), "face_found": self.face is not None, "face_frac": f(self.face_frac),
                "face_centre": list(self.face_centre), "yaw": f(self.yaw), "roll_deg": f(self.roll_deg),
                "px_per_mm": f(self.px_per_mm), "face_L": f(self.face_L), "clipped_hi": self.clipped_hi,
                "clipped_lo": self.clipped_lo, "white_point_lab": self.white_point_lab,
                "scene_ab": self.scene_ab, "chart": self.chart}


# ------------------------------------------------------------------ measuring one photo
_CROP_MAX_PX_PER_MM = 4.0
_NOFACE_CROP_WIDTH = 400  # px: without a face, the frame's centre is compared at this width
_MIN_SCENE_SHARE = 0.15  # of the frame, outside the face and hair, for a light estimate  # the face crop is kept at most at this scale (enough to compare at <= 2)


def _face_crop_box(face: Face, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(r0, r1, c0, c1): the eyes' outer corners widened by 0.3 eye distances, from the eye line
    to 0.8 eye distances below the nose: cheeks, nose and under-eye skin, few hairs."""
    ed = face.eye_distance
    xs = face.landmarks[:, 0]
    mid_y = float((face.left_eye[1] + face.right_eye[1]) / 2)
    c0, c1 = xs.min() - 0.3 * ed, xs.max() + 0.3 * ed
    r0, r1 = mid_y + 0.1 * ed, face.nose[1] + 0.8 * ed
    h, w = shape
    return (int(max(0, r0)), int(min(h, r1)), int(max(0, c0)), int(min(w, c1)))


def _scene_light(rgb: np.ndarray, face: Face | None) -> tuple[tuple | None, tuple | None]:
    """(white point Lab, scene mean (a*, b*)) of the pixels outside the face-and-hair box.

    The white point is the mean Lab of the brightest tenth of those pixels (not clipped). On the
    test photos, same light and framing within the distance tolerance: ΔE2000 0.1-3.3; the
    "cooler" and the "warmer" room of the same person (zoom vs lisa): 18."""
    h, w = rgb.shape[:2]
    s = min(1.0, 256 / max(h, w))
    small = cv2.resize(np.ascontiguousarray(rgb, np.float32), (max(1, round(w * s)), max(1, round(h * s))),
                       interpolation=cv2.INTER_AREA)
    lab = rgb_to_lab(small)
    keep = np.ones(lab.shape[:2], bool)
    if face is not None:
        x, y, bw, bh = (v * s for v in face.box)
        x0, x1 = int(max(0, x - 0.3 * bw)), int(min(keep.shape[1], x + 1.3 * bw))
        y0, y1 = int(max(0, y - 0.6 * bh)), int(min(keep.shape[0], y + 1.3 * bh))
        keep[y0:y1, x0:x1] = False
    px = lab[keep]
    px = px[(px[:, 0] > 15) & (px[:, 0] < 97)]  # neither black nor clipped
    if len(px) < _MIN_SCENE_SHARE * keep.size:  # the face fills the frame: too little scene
        return None, None
    scene_ab = (float(px[:, 1].mean()), float(px[:, 2].mean()))
    top = px[px[:, 0] >= np.percentile(px[:, 0], 90)]  # the brightest tenth: walls, tiles, a backdrop
    wp = tuple(float(v) for v in top.mean(axis=0)) if len(top) >= 10 else None
    return wp, scene_ab


def measure_capture(rgb: np.ndarray, *, face: Face | None = None, detect: bool = True,
                    find_chart: bool = True) -> CaptureMeasure:
    """Measure one photo for the pre-keep check (float RGB [0, 1], upright).

    ``face``: a face already detected on this photo. ``find_chart``: look for a ColorChecker
    (about a second on a 12 MP photo; reduced to 1000 px first).
    """
    from analyzer.align import detect_main_face

    rgb = np.asarray(rgb, np.float32)
    h, w = rgb.shape[:2]
    if face is None and detect:
        face = detect_main_face(rgb)
    nan = float("nan")
    face_frac = yaw = roll = ppm = face_L = nan
    centre = (nan, nan)
    inside = nan
    hi = lo = 0.0
    crop_L, crop_ppm = None, nan
    if face is not None:
        ed = face.eye_distance
        face_frac = ed / min(w, h)
        ppm = ed / EYE_DISTANCE_MM
        bx, by, bw, bh = face.box
        centre = ((bx + bw / 2) / w, (by + bh / 2) / h)
        ix = max(0.0, min(w, bx + bw) - max(0.0, bx))
        iy = max(0.0, min(h, by + bh) - max(0.0, by))
        inside = float(ix * iy / max(bw * bh, 1e-6))
        u = (face.right_eye - face.left_eye) / max(ed, 1e-6)
        mid = (face.left_eye + face.right_eye) / 2
        yaw = float(np.dot(face.nose - mid, u) / max(ed, 1e-6))
        roll = face.roll_deg
        r0, r1, c0, c1 = _face_crop_box(face, (h, w))
        if r1 - r0 >= 8 and c1 - c0 >= 8:
            crop = np.ascontiguousarray(rgb[r0:r1, c0:c1])
            hi = float(np.mean(crop.max(axis=2) >= 0.99))
            lo = float(np.mean(crop.min(axis=2) <= 0.01))
            k = min(1.0, _CROP_MAX_PX_PER_MM / ppm)
            if k < 1.0:
                crop = cv2.resize(crop, (max(1, round(crop.shape[1] * k)), max(1, round(crop.shape[0] * k))),
                                  interpolation=cv2.INTER_AREA)
            crop_L = rgb_to_lab(crop)[..., 0]
            crop_ppm = ppm * k
            face_L = float(crop_L.mean())
    else:  # a close-up or a body area: the centre of the frame, at a fixed width (no scale known)
        crop = np.ascontiguousarray(rgb[int(0.2 * h):int(0.8 * h), int(0.2 * w):int(0.8 * w)])
        if crop.shape[0] >= 8 and crop.shape[1] >= 8:
            hi = float(np.mean(crop.max(axis=2) >= 0.99))
            lo = float(np.mean(crop.min(axis=2) <= 0.01))
            k = min(1.0, _NOFACE_CROP_WIDTH / crop.shape[1])
            if k < 1.0:
                crop = cv2.resize(crop, (max(1, round(crop.shape[1] * k)), max(1, round(crop.shape[0] * k))),
                                  interpolation=cv2.INTER_AREA)
            crop_L = rgb_to_lab(crop)[..., 0]
            face_L = float(crop_L.mean())
    wp, scene_ab = _scene_light(rgb, face)
    chart = None
    if find_chart:
        from analyzer.calibrate import MAX_ACCEPTED_RESIDUAL, _judge, detect_colorchecker

        det = detect_colorchecker(rgb, max_side=1000)
        chart = bool(det is not None and _judge(det.patches_rgb) < MAX_ACCEPTED_RESIDUAL)
    descriptor = None
    if face is not None:
        from analyzer.face import face_descriptor

        descriptor = face_descriptor(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8), face)
    return CaptureMeasure(size=(w, h), face=face, face_frac=face_frac, face_centre=centre,
                          face_box_inside=inside, yaw=yaw, roll_deg=roll, px_per_mm=ppm, face_L=face_L,
                          clipped_hi=hi, clipped_lo=lo, white_point_lab=wp, scene_ab=scene_ab, chart=chart,
                          crop_L=crop_L, crop_px_per_mm=crop_ppm, descriptor=descriptor)


def _sharpness(L: np.ndarray, ppm: float, target_ppm: float) -> float:
    """Variance of the Laplacian of L* (lightly smoothed) at ``target_ppm`` px/mm."""
    k = target_ppm / ppm
    if k < 0.999:
        L = cv2.resize(L, (max(1, round(L.shape[1] * k)), max(1, round(L.shape[0] * k))),
                       interpolation=cv2.INTER_AREA)
    lap = cv2.Laplacian(cv2.GaussianBlur(L, (0, 0), 0.5), cv2.CV_32F)
    m = 2  # border
    return float(lap[m:-m, m:-m].var()) if lap.shape[0] > 2 * m and lap.shape[1] > 2 * m else float("nan")


def _distance_cm(m: CaptureMeasure) -> float:
    """Camera-to-face distance estimate (cm) from the face size and the assumed field of view."""
    if not math.isfinite(m.face_frac) or m.face_frac <= 0:
        return float("nan")
    f_short = 0.5 / math.tan(math.radians(ASSUMED_SHORT_SIDE_FOV_DEG) / 2)  # focal length / short side
    return f_short * EYE_DISTANCE_MM / m.face_frac / 10.0


def _cm(x: float) -> int:
    return max(5, int(5 * round(abs(x) / 5)))


# ------------------------------------------------------------------ the comparison
def precheck(candidate: np.ndarray | CaptureMeasure, baseline: np.ndarray | CaptureMeasure | None, *,
             concerns: Iterable[str] = (), candidate_face: Face | None = None) -> Precheck:
    """Check a candidate photo against the baseline photo of the same view, before keeping it.

    Parameters
    ----------
    candidate, baseline : ndarray or CaptureMeasure
        Float RGB [0, 1] photos, or their :func:`measure_capture` (a baseline's can be cached).
        ``baseline=None``: this photo would become the baseline; it is checked on its own
        (face, resolution for the series' concerns, clipping).
    concerns : iterable of str
        The series' concerns: pores, fine lines and hair need a finer scale (2.5-4 px/mm).

    Returns
    -------
    Precheck
        ``ok`` with a "good to keep" verdict, or the first thing to fix.
    """
    t0 = time.perf_counter()
    c = candidate if isinstance(candidate, CaptureMeasure) else measure_capture(candidate, face=candidate_face)
    b = baseline if isinstance(baseline, CaptureMeasure) or baseline is None else measure_capture(baseline)
    checks: list[Check] = []
    need, need_who = required_px_per_mm(concerns)

    # -- face
    if c.face is None:
        if b is not None and b.face is None:
            checks.append(Check("face", "unknown", "No face in this photo or the baseline: pose and scale "
                                "can't be checked from a face (a close-up or body area)."))
        else:
            checks.append(Check("face", "fix", "No face found in the photo.",
                                "Face the camera with the whole face in the frame, hair back, and take it again."))
    else:
        checks.append(Check("face", "ok", "Face found.", values={"eye_distance_px": round(c.face.eye_distance, 1)}))

    have_pair = b is not None and c.face is not None and b.face is not None
    no_face_pair = b is not None and c.face is None and b.face is None

    # -- the same person (dlib face descriptor, the limit alignment refuses at): checked first,
    # since no retake fixes another person's photo
    if have_pair and c.descriptor is not None and b.descriptor is not None:
        from analyzer.face import SAME_PERSON_MAX_DISTANCE

        dist = float(np.linalg.norm(c.descriptor - b.descriptor))
        vals = {"descriptor_distance": round(dist, 3), "limit": SAME_PERSON_MAX_DISTANCE}
        if dist > SAME_PERSON_MAX_DISTANCE:
            checks.append(Check("person", "fix", "The face does not match the baseline photo's face.",
                                "This looks like another person than in the baseline photo: check the "
                                "patient before keeping it.", vals))
        else:
            checks.append(Check("person", "ok", "The same person as in the baseline photo.", values=vals))

    # -- turn (yaw) and tilt (roll)
    if have_pair:
        dy = c.yaw - b.yaw
        vals = {"yaw": round(c.yaw, 3), "baseline_yaw": round(b.yaw, 3)}
        if abs(dy) > YAW_TOLERANCE:
            side = "left" if dy > 0 else "right"
            checks.append(Check("turn", "fix", f"The face is turned to the picture's {'right' if dy > 0 else 'left'} "
                                "compared with the baseline.",
                                f"Turn the face slightly to the {side} of the picture, to face the camera as in "
                                "the baseline photo.", vals))
        else:
            checks.append(Check("turn", "ok", "Turned as in the baseline.", values=vals))
        dr = c.roll_deg - b.roll_deg
        vals = {"roll_deg": round(c.roll_deg, 1), "baseline_roll_deg": round(b.roll_deg, 1)}
        if abs(dr) > ROLL_TOLERANCE_DEG:
            way = "clockwise" if dr > 0 else "anticlockwise"
            checks.append(Check("tilt", "fix", f"The head is tilted {abs(dr):.0f}° {way} compared with the baseline.",
                                f"Level the head: it is tilted {abs(dr):.0f}° {way} on the picture compared with "
                                "the baseline.", vals))
        else:
            checks.append(Check("tilt", "ok", "Head level as in the baseline.", values=vals))

    # -- distance (face size in the frame)
    turned = any(ch.name == "turn" and ch.status == "fix" for ch in checks)
    if have_pair and turned:
        checks.append(Check("distance", "unknown", "Distance not judged: a turned face looks narrower."))
    elif have_pair:
        r = c.face_frac / b.face_frac
        dc, db = _distance_cm(c), _distance_cm(b)
        vals = {"face_size_ratio": round(r, 3), "distance_cm_estimate": round(dc, 1),
                "baseline_distance_cm_estimate": round(db, 1)}
        if r < 1 / SIZE_TOLERANCE:
            checks.append(Check("distance", "fix", f"The face is {1 - r:.0%} smaller in the frame than at baseline.",
                                f"Move about {_cm(dc - db)} cm closer (the face is {1 - r:.0%} smaller "
                                "than in the baseline photo).", vals))
        elif r > SIZE_TOLERANCE:
            checks.append(Check("distance", "fix", f"The face is {r - 1:.0%} larger in the frame than at baseline.",
                                f"Move about {_cm(db - dc)} cm back (the face is {r - 1:.0%} larger "
                                "than in the baseline photo).", vals))
        else:
            checks.append(Check("distance", "ok", "Same distance as the baseline.", values=vals))

    # -- resolution (px/mm): enough for the concern, and not far below the baseline's
    if c.face is not None:
        vals = {"px_per_mm": round(c.px_per_mm, 2), "needed_px_per_mm": need,
                "baseline_px_per_mm": round(b.px_per_mm, 2) if b is not None and b.face is not None else None}
        low_vs_base = (b is not None and b.face is not None and c.px_per_mm < RESOLUTION_TOLERANCE * b.px_per_mm)
        same_size = b is not None and b.face is not None and (
            1 / SIZE_TOLERANCE <= c.face_frac / b.face_frac <= SIZE_TOLERANCE)
        full_res = Check("resolution", "fix",
                         f"{c.px_per_mm:.1f} px/mm on the face against {b.px_per_mm:.1f} at baseline." if low_vs_base
                         else "", "Take the photo at the camera's full resolution: it has fewer pixels on the face "
                         f"than the baseline ({c.px_per_mm:.1f} against "
                         f"{b.px_per_mm if b is not None and b.face is not None else float('nan'):.1f} px/mm).", vals)
        if low_vs_base and same_size:  # same framing, fewer pixels: a reduced copy or a low setting
            checks.append(full_res)
        elif c.px_per_mm < need:
            what = need_who or "the skin measures"
            dc = _distance_cm(c)
            closer = dc * (1 - c.px_per_mm / need)
            checks.append(Check("resolution", "fix",
                                f"{c.px_per_mm:.1f} px/mm on the face; {what} need at least {need:g} px/mm.",
                                f"Move about {_cm(closer)} cm closer, or use the camera's full resolution: "
                                f"{what} need {need:g} px/mm, this photo has {c.px_per_mm:.1f}.", vals))
        elif low_vs_base:
            checks.append(full_res)
        else:
            checks.append(Check("resolution", "ok", f"{c.px_per_mm:.1f} px/mm on the face (enough).", values=vals))

    # -- position in the frame
    if have_pair:
        dx = c.face_centre[0] - b.face_centre[0]
        dyp = c.face_centre[1] - b.face_centre[1]
        vals = {"offset_x": round(dx, 3), "offset_y": round(dyp, 3), "face_box_inside": round(c.face_box_inside, 3)}
        if c.face_box_inside < 0.97 or max(abs(dx), abs(dyp)) > POSITION_TOLERANCE:
            if abs(dx) >= abs(dyp):
                move = "left" if dx < 0 else "right"
            else:
                move = "up" if dyp < 0 else "down"
            checks.append(Check("position", "fix", "The face is not where it was in the baseline frame.",
                                f"Centre the face as in the baseline: move the camera slightly {move}.", vals))
        else:
            checks.append(Check("position", "ok", "Face placed as in the baseline.", values=vals))

    # -- sharpness (at a common scale, so a farther photo is not called blurred)
    if have_pair and c.crop_L is not None and b.crop_L is not None:
        common = min(c.crop_px_per_mm, b.crop_px_per_mm, SHARPNESS_PX_PER_MM)
        sc, sb = _sharpness(c.crop_L, c.crop_px_per_mm, common), _sharpness(b.crop_L, b.crop_px_per_mm, common)
        ratio = sc / sb if sb > 0 else float("nan")
        vals = {"laplacian_var": round(sc, 3), "baseline_laplacian_var": round(sb, 3),
                "ratio": round(ratio, 3) if math.isfinite(ratio) else None, "at_px_per_mm": round(common, 2)}
        if math.isfinite(ratio) and ratio < SHARPNESS_RATIO_MIN:
            checks.append(Check("sharpness", "fix", f"The face is blurred: {ratio:.0%} of the baseline's sharpness.",
                                "Hold still and let the camera focus on the face: the photo is blurred.", vals))
        else:
            checks.append(Check("sharpness", "ok", "As sharp as the baseline." if math.isfinite(ratio)
                                else "Sharpness not measured.", values=vals))
    elif no_face_pair and c.crop_L is not None and b.crop_L is not None:
        sc = _sharpness(c.crop_L, 1.0, 1.0)
        sb = _sharpness(cv2.resize(b.crop_L, (c.crop_L.shape[1], c.crop_L.shape[0]), interpolation=cv2.INTER_AREA)
                        if b.crop_L.shape[1] > c.crop_L.shape[1] else b.crop_L, 1.0, 1.0)
        ratio = sc / sb if sb > 0 else float("nan")
        vals = {"laplacian_var": round(sc, 3), "baseline_laplacian_var": round(sb, 3),
                "ratio": round(ratio, 3) if math.isfinite(ratio) else None, "basis": "centre of the frame"}
        if math.isfinite(ratio) and ratio < SHARPNESS_RATIO_MIN:
            checks.append(Check("sharpness", "fix", f"The photo is blurred: {ratio:.0%} of the baseline's sharpness.",
                                "Hold still and let the camera focus on the skin: the photo is blurred.", vals))
        else:
            checks.append(Check("sharpness", "ok", "As sharp as the baseline (centre of the frame).", values=vals))

    # -- exposure: clipping on the face (or the frame's centre), then lightness against the baseline
    where = "the face" if c.face is not None else "the centre of the photo"
    if c.face is not None or (no_face_pair and c.crop_L is not None):
        vals = {"clipped_highlights": round(c.clipped_hi, 4), "clipped_shadows": round(c.clipped_lo, 4)}
        if c.clipped_hi > CLIPPED_MAX:
            checks.append(Check("clipping", "fix", f"{c.clipped_hi:.0%} of {where} is overexposed (clipped).",
                                f"Too bright on {where}: move the lamp back or turn the flash down, "
                                "and avoid direct reflections.", vals))
        elif c.clipped_lo > CLIPPED_MAX:
            checks.append(Check("clipping", "fix", f"{c.clipped_lo:.0%} of {where} is underexposed (clipped).",
                                f"Too dark on {where}: add light from the front.", vals))
        else:
            checks.append(Check("clipping", "ok", f"No clipping on {where}.", values=vals))
    if (have_pair or no_face_pair) and math.isfinite(c.face_L) and math.isfinite(b.face_L):
        dL = c.face_L - b.face_L
        vals = {"face_L": round(c.face_L, 1), "baseline_face_L": round(b.face_L, 1), "delta_L": round(dL, 1)}
        if abs(dL) > EXPOSURE_TOLERANCE_L:
            word = "darker" if dL < 0 else "brighter"
            checks.append(Check("exposure", "fix", f"{where[0].upper() + where[1:]} is {abs(dL):.0f} L* {word} than at baseline.",
                                f"{where[0].upper() + where[1:]} is {word} than at baseline ({dL:+.0f} L*): use the same lamp, "
                                "distance and camera settings as at baseline.", vals))
        else:
            checks.append(Check("exposure", "ok", "Lightness as at baseline.", values=vals))

    # -- light colour (white point of the scene around the face)
    if b is not None and c.white_point_lab is not None and b.white_point_lab is not None:
        wc, wb = np.array(c.white_point_lab), np.array(b.white_point_lab)
        de = float(delta_e_2000(wc, wb))
        dbs, das = float(wc[2] - wb[2]), float(wc[1] - wb[1])
        vals = {"white_point_lab": [round(x, 1) for x in c.white_point_lab],
                "baseline_white_point_lab": [round(x, 1) for x in b.white_point_lab],
                "delta_e2000": round(de, 2)}
        if de > WHITE_POINT_TOLERANCE:
            if abs(dbs) >= abs(das):
                word = "warmer" if dbs > 0 else "cooler"
            else:
                word = "pinker" if das > 0 else "greener"
            card = ("hold the same chart beside the face as at baseline" if b.chart
                    else "or hold the grey card by the cheek")
            checks.append(Check("light", "fix", f"The light is {word} than at baseline (white point ΔE2000 {de:.1f}).",
                                f"The light is {word} than at baseline: use the same lamp, {card}.", vals))
        else:
            checks.append(Check("light", "ok", "Light colour as at baseline.", values=vals))
    elif b is not None:
        checks.append(Check("light", "unknown", "Light colour not compared (no neutral background found)."))

    # -- colour reference in the frame
    if c.chart is not None:
        if c.chart:
            checks.append(Check("chart", "ok", "A colour chart is in the frame: colours will be calibrated."))
        elif b is not None and b.chart:
            checks.append(Check("chart", "fix", "The baseline had a colour chart in the frame; this photo has none.",
                                "Hold the colour chart beside the face, as at baseline.", {}))
        else:
            checks.append(Check("chart", "unknown", "No colour chart in the frame: colours are compared without "
                                "calibration (a grey card can be marked on the photo after keeping it)."))

    fixes = [ch for ch in checks if ch.status == "fix"]
    if fixes:
        first = fixes[0]
        verdict = first.fix
        more = len(fixes) - 1
        if more:
            verdict += f" (then {more} more check{'s' if more > 1 else ''} to look at)"
        ok, fix, fix_check = False, first.fix, first.name
    else:
        if b is None:
            verdict = "Good to keep as the baseline photo of this view."
        elif no_face_pair:
            verdict = ("Good to keep: sharpness, exposure and light match the baseline (without a face, pose "
                       "and scale are not checked: line it up with the ghost).")
        else:
            verdict = "Good to keep: it matches the baseline's pose, distance, sharpness and light."
        ok, fix, fix_check = True, None, None
    return Precheck(ok=ok, verdict=verdict, fix=fix, fix_check=fix_check, checks=tuple(checks),
                    seconds=time.perf_counter() - t0, size=c.size)
