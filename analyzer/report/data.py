"""What a report shows, as plain data: :class:`ReportData` (with its :class:`ViewImages`) and
the metric labels and summary metrics it uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyzer import __version__
from analyzer.catalog import METRICS

# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ViewImages:
    """One view's images for the report.

    Attributes
    ----------
    view : str
        ``front``, ``left45``...
    baseline : ndarray, uint8, (rows, cols, 3)
        The baseline photo (RGB).
    latest : ndarray, uint8, (rows, cols, 3), or None
        The latest session's photo aligned into the baseline frame (same size as
        ``baseline``); None when it could not be aligned.
    polygon : ndarray (N, 2) or None
        The measured region as (x, y) points in the pixels of ``baseline``.
    baseline_label, latest_label : str
        The sessions' dates (or names).
    alignment : dict or None
        ``Alignment.to_dict()`` of the latest photo (method, confidence, residual_px, ok...).
    note : str
        A plain-words note printed under the images.
    """

    view: str
    baseline: np.ndarray = field(repr=False)
    latest: np.ndarray | None = field(default=None, repr=False)
    polygon: np.ndarray | None = field(default=None, repr=False)
    baseline_label: str = ""
    latest_label: str = ""
    alignment: Mapping[str, Any] | None = None
    note: str = ""


@dataclass(frozen=True)
class ReportData:
    """Everything the PDF shows, as plain data.

    Attributes
    ----------
    patient_code : str
    patient_name : str
    body_area : str
        The treated area (``face``, ``neck``...).
    series_name : str
    dates : tuple of str
        The sessions' dates in order (first = baseline).
    views : tuple of ViewImages
    rows : tuple of dict
        Tidy rows (:data:`analyzer.export.TIDY_COLUMNS`): values, change, percent and noise
        band per session, view, region and metric. Charts, table and summary come from them.
    summary : tuple of str
        Plain-language summary lines; empty = generated from ``rows`` (:func:`summary_lines`).
    caveats : tuple of str
        Extra caveats added to the standard ones.
    simulated : bool
        The series contains simulated changes (also detected from ``rows``).
    failures : tuple of str
        Photos that could not be analysed (one line each).
    analyzer_version : str
    generated_at : str, optional
        ISO time printed on the cover (default: now, UTC).
    """

    patient_code: str
    patient_name: str = ""
    body_area: str = ""
    series_name: str = ""
    dates: tuple[str, ...] = ()
    views: tuple[ViewImages, ...] = ()
    rows: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    summary: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    simulated: bool = False
    failures: tuple[str, ...] = ()
    analyzer_version: str = __version__
    generated_at: str | None = None
    #: "patient" (plain words only: :func:`analyzer.report.pdf.plain_words`) or "practitioner"
    #: (the patient's report plus ``clinician``).
    audience: str = "patient"
    #: The clinic's branding (analyzer.config.clinic_branding): printed on the cover and footer.
    clinic_name: str = ""
    clinic_address: str = ""
    clinic_logo: str | None = None
    #: Clinician-only sections, (title, lines): treatment per session, alignment and
    #: calibration, caveats, screening flags. Printed only when ``audience`` is "practitioner".
    clinician: tuple[tuple[str, tuple[str, ...]], ...] = ()


#: Plain names of the contract's metrics (others print as their key).
#: The PDF's names of the contract's metrics (others print as their key): the catalogue's
#: report_label (analyzer.catalog, the one table per metric).
METRIC_LABELS: dict[str, str] = {k: m.report_label for k, m in METRICS.items() if m.report_label}

#: The metrics the plain-language summary talks about (when measured).
SUMMARY_METRICS = (
    "redness.a_star_reference_balanced",  # needs no colour chart: leads
    "redness.a_star_mean",
    "pigmentation.melanin_index_mean",
    "pigmentation.spot_area_fraction",
    "pigmentation.tone_unevenness",
    "texture.roughness",
    "texture.wrinkle_density",
)


def metric_label(metric: str) -> str:
    """A measure's plain name; a concern's own measure by its label (never a raw key)."""
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    from analyzer.concerns import measure_label

    lab = measure_label(metric)
    if lab != metric:
        return lab[:1].upper() + lab[1:]
    return metric.rsplit(".", 1)[-1].replace("_", " ").capitalize()




