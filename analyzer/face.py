"""Face detection and 5-point landmarks, offline.

Uses dlib's HOG frontal-face detector and dlib's public-domain 5-point shape predictor
(shipped in the ``face-recognition-models`` package; the 68-point model is *not* used:
its training data restricts commercial use).

Coordinates are (x, y) = (column, row) pixel positions in the image passed in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from analyzer.io import to_uint8

#: Longest side the detector works at (faces in clinic photos fill a good part of the frame).
DETECT_MAX_SIDE = 640

_lock = threading.Lock()  # dlib objects are not documented as thread-safe


@lru_cache(maxsize=1)
def _models():
    import dlib
    import face_recognition_models as frm

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    return detector, predictor


#: Face-descriptor distance above which two faces are taken as different people (dlib's ResNet
#: model). Measured on the real test photos: same person <= 0.45 (lisa vs zoom, across
#: sessions), different people >= 0.63 (London set); dlib's own threshold is 0.6.
SAME_PERSON_MAX_DISTANCE = 0.55


@lru_cache(maxsize=1)
def _face_recognizer():
    import dlib
    import face_recognition_models as frm

    return dlib.face_recognition_model_v1(frm.face_recognition_model_location())


def face_descriptor(rgb8: np.ndarray, face: Face) -> np.ndarray:
    """dlib's 128-D face descriptor of ``face`` (coordinates of ``rgb8``, a uint8 RGB image).

    Two descriptors further apart than :data:`SAME_PERSON_MAX_DISTANCE` are different people.
    """
    import dlib

    x, y, bw, bh = face.box
    rect = dlib.rectangle(round(x), round(y), round(x + bw), round(y + bh))
    # Face orders landmarks by image side; dlib's 5-point model order is
    # (right-side eye outer, inner, left-side eye outer, inner, nose).
    pts = face.landmarks[[2, 3, 0, 1, 4]]
    shape = dlib.full_object_detection(rect, [dlib.point(round(px), round(py)) for px, py in pts])
    with _lock:
        d = _face_recognizer().compute_face_descriptor(np.ascontiguousarray(rgb8), shape)
    return np.asarray(d, dtype=np.float64)


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes
    ----------
    box : tuple of float
        (x, y, width, height) in pixels of the image searched.
    landmarks : ndarray, shape (5, 2)
        (x, y) of: the eye on the image's left (outer corner, inner corner), the eye on the
        image's right (outer corner, inner corner), and the base of the nose. Sorted by image
        side, not by dlib's index order.
    score : float
        Detector confidence (HOG SVM margin; > 0 is a detection).
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray = field(repr=False)
    score: float = 0.0

    @property
    def left_eye(self) -> np.ndarray:
        """Centre of the eye on the image's left (the subject's right eye in a selfie)."""
        return self.landmarks[0:2].mean(axis=0)

    @property
    def right_eye(self) -> np.ndarray:
        """Centre of the eye on the image's right."""
        return self.landmarks[2:4].mean(axis=0)

    @property
    def nose(self) -> np.ndarray:
        return self.landmarks[4]

    @property
    def eye_distance(self) -> float:
        """Distance between the eye centres, pixels (the face's scale)."""
        return float(np.linalg.norm(self.right_eye - self.left_eye))

    @property
    def roll_deg(self) -> float:
        """In-plane rotation of the eye line, degrees (image y points down)."""
        d = self.right_eye - self.left_eye
        return float(np.degrees(np.arctan2(d[1], d[0])))

    def scaled(self, s: float) -> Face:
        x, y, w, h = self.box
        return Face(box=(x * s, y * s, w * s, h * s), landmarks=self.landmarks * s, score=self.score)


def _order_landmarks(pts: np.ndarray) -> np.ndarray:
    """dlib 5-point order is (eye A outer, eye A inner, eye B outer, eye B inner, nose).
    Reorder so the first eye pair is the one on the image's left."""
    a, b = pts[0:2], pts[2:4]
    if a.mean(axis=0)[0] > b.mean(axis=0)[0]:
        a, b = b, a
    # outer corner first: on the left eye the outer corner has the smaller x.
    a = a[np.argsort(a[:, 0])]
    b = b[np.argsort(-b[:, 0])]
    return np.vstack([a, b, pts[4:5]]).astype(np.float64)


def detect_faces(rgb: np.ndarray, *, max_side: int = DETECT_MAX_SIDE, upsample: int = 1) -> list[Face]:
    """Detect frontal faces and their 5 landmarks.

    Parameters
    ----------
    rgb : ndarray
        (rows, cols, 3) float32 in [0, 1] (or uint8) RGB.
    max_side : int
        The image is reduced to this longest side for detection; landmarks are then
        fitted at up to twice that resolution and mapped back to full resolution.
    upsample : int
        dlib upsampling passes (1 finds faces down to ~40 px at the reduced size).

    Returns
    -------
    list of Face
        Largest face first. Empty when none is found.
    """
    detector, predictor = _models()
    img8 = rgb if rgb.dtype == np.uint8 else to_uint8(rgb)
    rows, cols = img8.shape[:2]
    s = min(1.0, max_side / max(rows, cols))
    small = cv2.resize(img8, (round(cols * s), round(rows * s)), interpolation=cv2.INTER_AREA) if s < 1 else img8
    # Landmarks on a finer image than detection: up to 2x max_side.
    s2 = min(1.0, 2 * max_side / max(rows, cols))
    fine = cv2.resize(img8, (round(cols * s2), round(rows * s2)), interpolation=cv2.INTER_AREA) if s2 < 1 else img8
    import dlib

    with _lock:
        dets, scores, _ = detector.run(np.ascontiguousarray(small), upsample, 0.0)
        faces = []
        for d, sc in zip(dets, scores, strict=False):
            k = s2 / s
            r = dlib.rectangle(
                round(d.left() * k), round(d.top() * k), round(d.right() * k), round(d.bottom() * k)
            )
            shape = predictor(np.ascontiguousarray(fine), r)
            pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            face = Face(
                box=(d.left() * k, d.top() * k, d.width() * k, d.height() * k),
                landmarks=_order_landmarks(pts),
                score=float(sc),
            )
            faces.append(face.scaled(1.0 / s2))
    faces.sort(key=lambda f: -f.box[2] * f.box[3])
    return faces


def main_face(faces: list[Face]) -> Face | None:
    """The most confident detection among the large ones, or None.

    A weak false detection on the background can be as large as the face, so largest-first
    alone is not enough: among detections at least a quarter the area of the largest, the one
    with the highest detector score wins.
    """
    if not faces:
        return None
    big = max(f.box[2] * f.box[3] for f in faces)
    return max((f for f in faces if f.box[2] * f.box[3] >= 0.25 * big), key=lambda f: f.score)


def detect_face(rgb: np.ndarray, **kw) -> Face | None:
    """The main face in the image (see :func:`main_face`), or None."""
    return main_face(detect_faces(rgb, **kw))
