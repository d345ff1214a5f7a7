"""The pipeline: photo → align to baseline → calibrate → skin regions → measure.

Two entry points, used by the command line, the batch runner and the app alike:

- :func:`analyze_metrics` measures one photo on its own.
- :func:`compare` aligns a follow-up photo to a baseline photo once, warps it into the
  baseline frame and measures both over the same pixels, for one or more regions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from analyzer import __version__
from analyzer.align import Alignment, align, detect_main_face, warp_to_baseline
from analyzer.calibrate import calibrate, calibrate_pair, reference_patch_lab
from analyzer.face import Face
from analyzer.io import Photo
from analyzer.metrics import (
    EYE_DISTANCE_MM,
    MetricSet,
    analysis_scale,
    change_maps,
    lighting_from_strided,
    lighting_stride,
    measure,
    measure_padding,
    measure_photo,
    reference_region_for,
)
from analyzer.regions import (
    ROI,
    NamedROI,
    face_area_polygon,
    face_region_polygons,
    mask_bbox,
    polygon_mask,
    roi_polygon,
    skin_mask,
)
from analyzer.verdict import change, refused_change

DEFAULT_REGION = "face"


@dataclass(frozen=True)
class PhotoMetrics:
    """Metrics of one photo measured on its own (``python -m analyzer metrics``)."""

    image: dict
    face: Face | None
    region: str
    polygon: np.ndarray | None = field(repr=False)
    metrics: MetricSet = field(repr=False)

    def to_dict(self) -> dict:
        d = {"image": dict(self.image), "region": self.region}
        d.update(self.metrics.to_dict())
        d["analyzer_version"] = __version__
        return d


@dataclass(frozen=True)
class RegionResult:
    """One region measured on the baseline and on the aligned follow-up, over the same pixels."""

    name: str
    polygon: np.ndarray = field(repr=False)
    baseline: MetricSet = field(repr=False)
    followup: MetricSet | None = field(repr=False)
    change: dict | None
    reason: str | None = None

    def to_dict(self) -> dict:
        return {
            "region": self.name,
            "polygon": [[round(float(x), 2), round(float(y), 2)] for x, y in self.polygon],
            "baseline": self.baseline.to_dict(),
            "followup": self.followup.to_dict() if self.followup is not None else None,
            "change": self.change,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Comparison:
    """A follow-up photo aligned to its baseline and measured over the same regions."""

    alignment: Alignment
    image: dict
    regions: dict[str, RegionResult]
    baseline_rgb: np.ndarray | None = field(default=None, repr=False)
    followup_rgb: np.ndarray | None = field(default=None, repr=False)

    @cached_property
    def _warp(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        if not self.alignment.ok or self.followup_rgb is None or self.baseline_rgb is None:
            return None, None
        return warp_to_baseline(self.followup_rgb, self.alignment, self.baseline_rgb.shape[:2])

    @property
    def aligned_rgb(self) -> np.ndarray | None:
        """The follow-up warped into the whole baseline frame (for overlays and sliders), made on
        first use: :func:`compare` itself warps only the regions' box. ``None`` when the
        alignment was refused or the images were not kept."""
        return self._warp[0]

    @property
    def valid_mask(self) -> np.ndarray | None:
        """Where :attr:`aligned_rgb` has follow-up pixels (the rest is outside its frame)."""
        return self._warp[1]

    def maps(self, region: str | None = None) -> dict[str, np.ndarray]:
        """Per-pixel change maps (Δa*, ΔL*, Δroughness) inside a region, in the baseline frame.

        Empty when the alignment was refused or the aligned image was not kept.
        """
        if not self.alignment.ok or self.aligned_rgb is None or self.baseline_rgb is None:
            return {}
        name = region or next(iter(self.regions))
        r = self.regions[name]
        h, w = self.baseline_rgb.shape[:2]
        mask = polygon_mask(r.polygon, (h, w)) & self.valid_mask
        out = {}
        r0, r1, c0, c1 = mask_bbox(mask)
        if r1 <= r0 or c1 <= c0:
            return out
        # On the region's box (plus a margin for the smoothing), each photo in its calibrated colours.
        pad = 48
        r0, r1, c0, c1 = max(0, r0 - pad), min(h, r1 + pad), max(0, c0 - pad), min(w, c1 + pad)
        maps = change_maps(np.ascontiguousarray(self.baseline_rgb[r0:r1, c0:c1]),
                           np.ascontiguousarray(self.aligned_rgb[r0:r1, c0:c1]), mask[r0:r1, c0:c1],
                           baseline_calibration=r.baseline.calibration, followup_calibration=r.followup.calibration)
        for k, v in maps.items():
            full = np.full((h, w), np.nan, np.float32)
            full[r0:r1, c0:c1] = v
            out[k] = full
        return out

    def to_dict(self, region: str | None = None) -> dict:
        name = region or next(iter(self.regions))
        main = self.regions[name].to_dict()
        return {
            "image": self.image,
            "alignment": self.alignment.to_dict(),
            "region": name,
            "baseline": main["baseline"],
            "followup": main["followup"],
            "change": main["change"],
            "reason": main["reason"],
            "regions": {k: v.to_dict() for k, v in self.regions.items()},
            "analyzer_version": __version__,
        }


def _window(masks, pad: int, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The union box (r0, r1, c0, c1) of the masks, grown by ``pad`` and kept inside ``shape``."""
    boxes = [b for b in (mask_bbox(m) for m in masks) if b[1] > b[0] and b[3] > b[2]]
    if not boxes:
        return None
    r0, r1 = min(b[0] for b in boxes), max(b[1] for b in boxes)
    c0, c1 = min(b[2] for b in boxes), max(b[3] for b in boxes)
    return max(0, r0 - pad), min(shape[0], r1 + pad), max(0, c0 - pad), min(shape[1], c1 + pad)


def _skin_in_region(rgb: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Skin mask classified within a region (thresholds relative to the region's own skin),
    computed on the region's bounding box only (12 MP photos)."""
    out = np.zeros(region.shape, bool)
    r0, r1, c0, c1 = mask_bbox(region)
    if r1 > r0 and c1 > c0:
        sub = region[r0:r1, c0:c1]
        out[r0:r1, c0:c1] = skin_mask(np.ascontiguousarray(rgb[r0:r1, c0:c1]), region=sub) & sub
    return out


def _with_basis(ms: MetricSet, basis: dict) -> MetricSet:
    """The metric set with the scale's basis (eye distance used, or none) recorded in ``scale``."""
    return replace(ms, scale={**ms.scale, **basis})


def analyze_metrics(
    photo: Photo, *, roi: ROI | None = None, face: Face | None = None, reference: ROI | None = None
) -> PhotoMetrics:
    """Measure one photo on its own.

    Parameters
    ----------
    photo : Photo
        From :func:`analyzer.io.load_photo`.
    roi : ROI, optional
        A rectangle, polygon or named face region in the photo's upright pixels. Default:
        the face area when a face is found, else the whole image.
    face : Face, optional
        A face already detected on this photo (saves detecting it again).
    reference : RectROI or PolygonROI, optional
        A neutral reference patch the user marked (a grey card, a white headband): used for
        ``"reference-patch"`` calibration when no ColorChecker is found.

    Returns
    -------
    PhotoMetrics
        Texture is normalised by face size when there is a face; ``metrics.scale`` says how.
    """
    if face is None:
        face = detect_main_face(photo.rgb)
    polygon = roi_polygon(roi, face=face, shape=photo.rgb.shape[:2])
    metrics = measure_photo(photo.rgb, roi=roi, face=face, calibration=calibrate(photo.rgb, reference_patch=reference))
    return PhotoMetrics(
        image=photo.size,
        face=face,
        region=metrics.region,
        polygon=polygon,
        metrics=metrics,
    )


def compare(
    baseline: Photo,
    followup: Photo,
    *,
    rois: Mapping[str, ROI | None] | None = None,
    baseline_face: Face | None = None,
    followup_face: Face | None = None,
    keep_aligned: bool = True,
    baseline_quality: dict | None = None,
    baseline_reference: ROI | None = None,
    followup_reference: ROI | None = None,
    reference_region: str | None = None,
) -> Comparison:
    """Align ``followup`` to ``baseline`` and measure both over the same skin.

    Parameters
    ----------
    baseline, followup : Photo
        The baseline session's photo and a later one of the same view.
    rois : mapping of name → ROI, optional
        Regions chosen on the baseline (upright baseline pixels). ``None`` as a value, or no
        mapping at all, means the whole face area (or whole image when there is no face).
    baseline_face, followup_face : Face, optional
        Faces already detected on these photos.
    keep_aligned : bool
        Keep the warped follow-up in the result (for overlays and change maps).
    baseline_reference, followup_reference : RectROI or PolygonROI, optional
        A neutral reference patch marked on each photo, in that photo's own upright pixels
        (the same grey card or white object in both): ``"reference-patch"`` calibration when
        no ColorChecker is found. Without a chart or a patch, calibration is ``"none"``.
    reference_region : str, optional
        The series' reference skin region (one of the named face regions, untreated) for the
        relative colour measures; default :func:`analyzer.metrics.reference_region_for` each
        region (the forehead; the chin for the forehead). Needs a face on the baseline.

    Returns
    -------
    Comparison
        When the alignment is refused, each region's ``followup`` is ``None`` and ``reason``
        says why: a refused photo never enters a chart.
    """
    rois = dict(rois) if rois else {DEFAULT_REGION: None}
    if baseline_face is None:
        baseline_face = detect_main_face(baseline.rgb)
    if followup_face is None:
        followup_face = detect_main_face(followup.rgb)
    alignment = align(baseline.rgb, followup.rgb, baseline_face=baseline_face, followup_face=followup_face)
    shape = baseline.rgb.shape[:2]

    # The same neutral object marked in both photos: the follow-up is corrected to the
    # baseline's white-balanced patch lightness, so exposure is matched as well as colour.
    ref_lab = None
    if baseline_reference is not None and followup_reference is not None:
        ref_lab = (reference_patch_lab(baseline.rgb, baseline_reference)[0], 0.0, 0.0)
    cal_f = None
    if alignment.ok and baseline_reference is None and followup_reference is None:
        # A chart in both photos is fitted on the patches usable in both (a patch clipped in one
        # session only would pull the two corrections apart).
        cal_b, cal_f = calibrate_pair(baseline.rgb, followup.rgb)
    else:
        cal_b = calibrate(baseline.rgb, reference_patch=baseline_reference, reference_lab=ref_lab)
        if alignment.ok:
            cal_f = calibrate(followup.rgb, reference_patch=followup_reference, reference_lab=ref_lab)
    # Texture at the face-normalised scale of the baseline (the follow-up is in its frame).
    ts, px_mm, basis = analysis_scale(baseline_face)
    polygons = {name: roi_polygon(roi, face=baseline_face, shape=shape) for name, roi in rois.items()}
    # The reference skin of each region's relative colour measures (same photo, untreated skin).
    ref_names: dict[str, str | None] = {}
    ref_polys: dict[str, np.ndarray] = {}
    if baseline_face is not None:
        named = face_region_polygons(baseline_face)
        for name, roi in rois.items():
            label = roi.name if isinstance(roi, NamedROI) else name
            ref = reference_region_for(label, reference_region)
            ref_names[name] = ref if ref in named else None
            if ref in named:
                ref_polys[ref] = named[ref]
    native = None
    if baseline_face is not None and followup_face is not None:
        native = (baseline_face.eye_distance / EYE_DISTANCE_MM, followup_face.eye_distance / EYE_DISTANCE_MM)
    regions: dict[str, RegionResult] = {}
    if not alignment.ok:
        reason = f"alignment refused: {alignment.reason}"
        for name, polygon in polygons.items():
            region_mask = polygon_mask(polygon, shape)
            ref = ref_names.get(name)
            ref_mask = None if ref is None else _skin_in_region(baseline.rgb, polygon_mask(ref_polys[ref], shape))
            b = measure(baseline.rgb, mask=_skin_in_region(baseline.rgb, region_mask), calibration=cal_b,
                        region=name, texture_scale=ts, px_per_mm=px_mm, region_mask=region_mask,
                        reference_mask=ref_mask, reference_region=ref)
            regions[name] = RegionResult(name, polygon, _with_basis(b, basis), None, refused_change(reason), reason)
    else:
        # Lighting is judged on the same scene pixels in both photos: covered by the warp, not
        # the face; from a strided warp of the whole frame (the estimate's own sampling).
        k = lighting_stride(shape)
        warped_sub, valid_sub = warp_to_baseline(followup.rgb, alignment, shape, stride=k)
        scene = valid_sub
        if baseline_face is not None:
            scene = valid_sub & ~polygon_mask(face_area_polygon(baseline_face), shape)[::k, ::k]
        light_b = lighting_from_strided(baseline.rgb[::k, ::k], scene, cal_b)
        light_f = lighting_from_strided(warped_sub, scene, cal_f)
        del warped_sub, valid_sub
        # The follow-up is warped only over the regions' box and the context measure() reads
        # around it: the numbers are those of the full warp, without a full-frame copy.
        masks = {name: polygon_mask(polygon, shape) for name, polygon in polygons.items()}
        ref_masks = {ref: polygon_mask(poly, shape) for ref, poly in ref_polys.items()}
        window = _window([*masks.values(), *ref_masks.values()], measure_padding(ts), shape)
        if window is None:  # regions entirely outside the frame: measured as empty
            window = (0, 1, 0, 1)
        r0, r1, c0, c1 = window
        base_w = baseline.rgb[r0:r1, c0:c1]
        warped_w, valid_w = warp_to_baseline(followup.rgb, alignment, shape, box=window)
        ref_common = {}
        for ref, m in ref_masks.items():
            cov = m[r0:r1, c0:c1] & valid_w
            ref_common[ref] = _skin_in_region(base_w, cov) & _skin_in_region(warped_w, cov)
        for name, polygon in polygons.items():
            # The same pixels in both photos: region ∩ skin in both ∩ covered by the warp.
            covered = masks[name][r0:r1, c0:c1] & valid_w
            common = _skin_in_region(base_w, covered) & _skin_in_region(warped_w, covered)
            ref = ref_names.get(name)
            ref_mask = None if ref is None else ref_common[ref]
            b = measure(base_w, mask=common, calibration=cal_b, region=name,
                        texture_scale=ts, px_per_mm=px_mm, region_mask=covered, lighting=light_b,
                        reference_mask=ref_mask, reference_region=ref)
            f = measure(warped_w, mask=common, calibration=cal_f, region=name,
                        texture_scale=ts, px_per_mm=px_mm, region_mask=covered, lighting=light_f,
                        baseline_quality=b.quality if baseline_quality is None else baseline_quality,
                        reference_mask=ref_mask, reference_region=ref)
            regions[name] = RegionResult(name, polygon, _with_basis(b, basis), _with_basis(f, basis),
                                         change(b, f, native_px_per_mm=native), None)
        del warped_w, valid_w

    return Comparison(
        alignment=alignment,
        image={"baseline": baseline.size, "followup": followup.size},
        regions=regions,
        baseline_rgb=baseline.rgb if keep_aligned else None,
        followup_rgb=followup.rgb if keep_aligned and alignment.ok else None,
    )
