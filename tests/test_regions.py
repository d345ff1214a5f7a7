"""Regions: ROI parsing, face-region geometry, polygon masks, skin mask (real photos)."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.errors import UsageError
from analyzer.evaluation.metrics import inject_lab_shift, inject_spots
from analyzer.face import Face, detect_face
from analyzer.io import load_photo
from analyzer.regions import (
    FACE_REGIONS,
    NamedROI,
    PolygonROI,
    RectROI,
    face_region_polygons,
    parse_roi,
    polygon_mask,
    roi_polygon,
    skin_mask,
)


def test_parse_roi_rect_and_names():
    assert parse_roi("10,20,300,200") == RectROI(10, 20, 300, 200)
    assert parse_roi(" Left-Cheek ") == NamedROI("left_cheek")
    for name in FACE_REGIONS:
        assert parse_roi(name) == NamedROI(name)


@pytest.mark.parametrize("bad", ["", "1,2,3", "a,b,c,d", "0,0,-5,10", "0,0,10,0", "ear", "1,2,3,4,5", "nan,0,1,1"])
def test_parse_roi_rejects_with_one_line(bad):
    with pytest.raises(UsageError) as e:
        parse_roi(bad)
    assert "\n" not in str(e.value)


def test_polygon_mask_area_and_rect_roi():
    m = polygon_mask(roi_polygon(RectROI(10, 20, 30, 40), face=None, shape=(100, 100)), (100, 100))
    assert 30 * 40 <= int(m.sum()) <= 31 * 41  # edges inclusive (cv2.fillPoly)
    ys, xs = np.nonzero(m)
    assert 9 <= xs.min() <= 11 and 19 <= ys.min() <= 21
    with pytest.raises(UsageError):
        roi_polygon(RectROI(200, 0, 5, 5), face=None, shape=(100, 100))
    with pytest.raises(UsageError):
        roi_polygon(NamedROI("forehead"), face=None, shape=(100, 100))
    with pytest.raises(UsageError):
        roi_polygon(PolygonROI(((0, 0), (1, 1))), face=None, shape=(100, 100))
    whole = roi_polygon(None, face=None, shape=(50, 80))
    assert polygon_mask(whole, (50, 80)).mean() > 0.95


def _synthetic_face(mid=(500.0, 400.0), d=200.0, roll_deg=0.0) -> Face:
    t = np.radians(roll_deg)
    u = np.array([np.cos(t), np.sin(t)])
    v = np.array([-u[1], u[0]])
    m = np.array(mid)
    le, re = m - u * d / 2, m + u * d / 2
    lm = np.array([le - u * 20, le + u * 20, re + u * 20, re - u * 20, m + v * 0.65 * d])
    return Face(box=(mid[0] - d, mid[1] - d, 2 * d, 2 * d), landmarks=lm)


def test_face_regions_follow_scale_and_roll():
    """Known answer: regions of a face scaled x2 and rotated 30 degrees are the scaled, rotated regions."""
    f1 = _synthetic_face()
    f2 = _synthetic_face(mid=(500.0, 400.0), d=400.0, roll_deg=30.0)
    p1, p2 = face_region_polygons(f1), face_region_polygons(f2)
    t = np.radians(30)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    for name in FACE_REGIONS:
        expected = (p1[name] - [500, 400]) @ R.T * 2 + [500, 400]
        np.testing.assert_allclose(p2[name], expected, atol=1e-6)
    # geometry sanity: forehead above the eyes, chin below the nose, left cheek on the image's left
    c = {k: v.mean(axis=0) for k, v in p1.items()}
    assert c["forehead"][1] < 400 < c["nose"][1] < c["chin"][1]
    assert c["left_cheek"][0] < 500 < c["right_cheek"][0]


@pytest.fixture(scope="module")
def london_faces(london_neutral):
    out = {}
    for i in ("021", "061", "081"):
        rgb = load_photo(london_neutral[i]).rgb
        out[i] = (rgb, detect_face(rgb))
    return out


def test_named_regions_are_skin_on_real_faces(london_faces):
    """Every named region on real faces (fair to very dark skin) lies on skin, inside the image."""
    for i, (rgb, face) in london_faces.items():
        for name, poly in face_region_polygons(face).items():
            reg = polygon_mask(poly, rgb.shape[:2])
            assert reg.sum() > 2000, (i, name)
            frac = skin_mask(rgb, region=reg).sum() / reg.sum()
            assert frac > 0.85, (i, name, frac)


def test_skin_mask_excludes_background_eyes_and_keeps_spots_and_redness(london_faces):
    rgb, face = london_faces["081"]
    h, w = rgb.shape[:2]
    bg = polygon_mask(roi_polygon(RectROI(0, 0, 120, 120), face=None, shape=(h, w)), (h, w))
    assert skin_mask(rgb, region=bg).mean() < 0.01  # grey studio background
    # the eyes: small boxes around each eye centre must be mostly not skin
    for eye in (face.left_eye, face.right_eye):
        r = 0.12 * face.eye_distance
        box = RectROI(eye[0] - r, eye[1] - r / 2, 2 * r, r)
        m = polygon_mask(roi_polygon(box, face=None, shape=(h, w)), (h, w))
        assert skin_mask(rgb, region=m)[m].mean() < 0.6
    # simulated spots (L* -12) and a simulated red patch (a* +6) stay in the mask
    reg = polygon_mask(face_region_polygons(face)["left_cheek"], (h, w))
    spotted, _ = inject_spots(rgb, reg, area_fraction=0.04, n_spots=6, dL=-12)
    assert skin_mask(spotted, region=reg).sum() >= 0.98 * skin_mask(rgb, region=reg).sum()
    red = inject_lab_shift(rgb, reg, da=6.0)
    assert skin_mask(red, region=reg).sum() >= 0.98 * skin_mask(rgb, region=reg).sum()
