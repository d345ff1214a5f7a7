"""The PDF progress report for one patient's treatment series (fpdf2).

Pages: a cover (patient code, name, treated area, dates), one page per view with the
baseline and the latest session aligned side by side and the measured region outlined, a
progress chart per metric (change from baseline with its noise band), a table of values,
change and percentage, a short plain-language summary, and a methods and caveats section
(calibration used or not, alignment quality, analyzer version).

Photos enter the PDF only as JPEGs re-encoded here from pixel arrays, so no EXIF, GPS or
other metadata of the original files can reach it. Simulated changes are labelled
"simulated" wherever they appear.

Entry point: :func:`build_report` (plain data in, PDF bytes out: the app's download
buttons); the data comes from :mod:`analyzer.report.sources` (store or batch results).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from analyzer import __version__
from analyzer.report.data import (
    METRIC_LABELS,
    SUMMARY_METRICS,
    ReportData,
    ViewImages,
    metric_label,
)
from analyzer.stored import num as _num  # one reading of a stored number: finite float or None


def _fmt(v: Any, nd: int = 2) -> str:
    x = _num(v)
    if x is None:
        return "n/a"
    if x != 0 and abs(x) < 10 ** (-nd):
        return f"{x:.{nd}g}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def _signed(v: Any, nd: int = 2, suffix: str = "") -> str:
    x = _num(v)
    if x is None:
        return "n/a"
    return f"{'+' if x > 0 else '−' if x < 0 else '±'}{_fmt(abs(x), nd)}{suffix}"


def _room(pdf, need_mm: float) -> None:
    """A new page only when less than ``need_mm`` is left on this one (no 2/3-empty pages)."""
    if pdf.get_y() + need_mm > pdf.h - pdf.b_margin:
        pdf.add_page()
    else:
        pdf.ln(4)


def _where(view: str, region: str) -> str:
    from analyzer.regions import region_label

    return f"{view} view, {region_label(region)}"


# --------------------------------------------------------------------------- row helpers


def _primary_region(rows: Sequence[Mapping[str, Any]], view: str) -> str | None:
    regions = [r["region"] for r in rows if r.get("view") == view]
    if not regions:
        return None
    return "face" if "face" in regions else regions[0]


def _views(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out: list[str] = []
    for r in rows:
        if r.get("view") not in out:
            out.append(r.get("view"))
    return out


def _sessions(rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    s = sorted({(int(r["session_index"]), str(r.get("session_date") or "")) for r in rows})
    seen: dict[int, str] = {}
    for i, d in s:
        seen.setdefault(i, d)
    return sorted(seen.items())


def _series(rows, view, region, metric) -> list[Mapping[str, Any]]:
    return sorted(
        (r for r in rows if r.get("view") == view and r.get("region") == region and r.get("metric") == metric),
        key=lambda r: int(r["session_index"]),
    )


def _metrics(rows, view, region) -> list[str]:
    out: list[str] = []
    for r in rows:
        if r.get("view") == view and r.get("region") == region and r["metric"] not in out:
            out.append(r["metric"])
    order = list(METRIC_LABELS)
    return sorted(out, key=lambda m: (order.index(m) if m in order else len(order), m))


def _is_base(r: Mapping[str, Any] | None) -> bool:
    """A view's baseline row: no alignment (it is the reference) and no change."""
    return bool(r) and r.get("alignment_ok") is None and r.get("change") is None and r.get("percent") is None


def _base_of(ser: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The baseline row of a session-ordered series (the first, when it is one)."""
    return ser[0] if ser and _is_base(ser[0]) else None


def _change_of(r: Mapping[str, Any], base: Mapping[str, Any] | None) -> float | None:
    """A row's change from baseline: its ``change``, else value minus the baseline value."""
    if r is base or _is_base(r):
        return 0.0 if _num(r.get("value")) is not None else None
    c = _num(r.get("change"))
    if c is not None:
        return c
    v, b = _num(r.get("value")), _num((base or {}).get("value"))
    return None if v is None or b is None else v - b


def _cant_tell(r: Mapping[str, Any] | None) -> bool:
    """A follow-up row whose change can't be told from re-photographing (it has a reason)."""
    return bool(r) and not _is_base(r) and r.get("within_noise") is None and bool(r.get("verdict_reason")) \
        and _num(r.get("value")) is not None


def _percent_of(r: Mapping[str, Any], base: Mapping[str, Any] | None) -> float | None:
    p = _num(r.get("percent"))
    if p is not None:
        return p
    c, b = _change_of(r, base), _num((base or {}).get("value"))
    if c is None or b is None or b == 0 or r is base or _is_base(r):
        return None
    return 100.0 * c / abs(b)


def summary_lines(rows: Sequence[Mapping[str, Any]], *, max_lines: int = 8) -> list[str]:
    """A short plain-language summary of the latest session against the baseline.

    For each view's main region and each of :data:`SUMMARY_METRICS` that was measured,
    one sentence: higher / lower by how much, and whether that is beyond the metric's noise
    band (the variation between two photos of unchanged skin). A value that could not be
    measured says so. Simulated data is labelled.
    """
    lines: list[str] = []
    sessions = _sessions(rows)
    if not rows:
        return ["No photo of this series has been analysed yet."]
    if len(sessions) < 2:
        return ["Only the baseline session has been analysed so far: there is no change to report yet."]
    sim = any(r.get("simulated") for r in rows)
    for view in _views(rows):
        region = _primary_region(rows, view)
        metrics = [m for m in SUMMARY_METRICS if m in _metrics(rows, view, region)]
        for m in metrics:
            ser = _series(rows, view, region, m)
            if len(ser) < 2:
                continue
            base = _base_of(ser)
            last = ser[-1]
            label = metric_label(m)
            where = _where(view, region) if len(_views(rows)) > 1 or region != "face" else f"{view} view"
            c = _change_of(last, base)
            if c is None:
                why = last.get("reason") or "could not be measured"
                lines.append(f"{label} ({where}): not measured on {last.get('session_date')} ({why}).")
                continue
            if _cant_tell(last):
                lines.append(f"{label} ({where}): {last.get('verdict_reason')}.")
                if len(lines) >= max_lines:
                    break
                continue
            band = _num(last.get("noise_band"))
            unit = str(last.get("unit") or "")
            pct = _percent_of(last, base)
            size = f"{_fmt(abs(c))}{' ' + unit if unit and unit not in ('1', 'fraction') else ''}"
            if pct is not None:
                size += f" ({_fmt(abs(pct), 0)}%)"
            within = last.get("within_noise")
            if within is None:
                within = band is not None and abs(c) <= band
            if within:
                lines.append(
                    f"{label} ({where}): no change beyond the usual photo-to-photo variation "
                    f"(±{_fmt(band)}) since {ser[0].get('session_date')}."
                )
            else:
                direction = "higher" if c > 0 else "lower"
                tail = (
                    f", more than the usual photo-to-photo variation (±{_fmt(band)})"
                    if band is not None
                    else " (no noise band known for this measure)"
                )
                lines.append(f"{label} ({where}): {size} {direction} than at baseline{tail}.")
            if len(lines) >= max_lines:
                break
        if len(lines) >= max_lines:
            break
    if sim:
        lines.insert(0, "SIMULATED: this series contains simulated (injected) changes, not a real treatment result.")
    if any(r.get("alignment_ok") is False for r in rows):
        lines.append("Some photos could not be aligned to the baseline; their values are left out of the charts.")
    return lines or ["No measurement could be compared with the baseline."]


# --------------------------------------------------------------------------- PDF

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts")
_LATIN1_MAP = {
    "−": "-", "±": "+/-", "Δ": "change ", "°": " deg", "–": "-", "—": "-", "’": "'", "“": '"', "”": '"',
    "…": "...", "≤": "<=", "≥": ">=", "×": "x", "∩": "and",
}


def _find_font() -> tuple[str, str] | None:
    for d in _FONT_DIRS:
        reg, bold = Path(d) / "DejaVuSans.ttf", Path(d) / "DejaVuSans-Bold.ttf"
        if reg.exists() and bold.exists():
            return str(reg), str(bold)
    return None


#: The patient's PDF in plain words: each technical term (left) is printed as the right-hand text.
#: Longest first; the practitioner's copy keeps the terms.
PLAIN_WORDS: tuple[tuple[str, str], ...] = (
    ("CIELAB a* (reference-balanced)", "redness units, light-corrected"),
    ("CIELAB a* (D65)", "redness units"),
    ("CIELAB L* (D65)", "lightness units"),
    ("CIELAB L* (RMS)", "lightness units"),
    ("CIELAB a* difference", "redness units"),
    ("CIELAB L* difference", "lightness units"),
    ("CIELAB L*", "lightness units"),
    ("CIELAB a*", "redness units"),
    ("L* (line darker than skin around it)", "lightness units darker than the skin around"),
    ("L* (surrounding skin minus spot)", "lightness units darker than the skin around"),
    ("GLCM contrast (levels^2)", "contrast score"),
    ("GLCM homogeneity (0-1)", "evenness score (0-1)"),
    ("GLCM contrast", "contrast"),
    ("GLCM homogeneity", "evenness"),
    ("Redness (a*)", "Redness"),
    ("Redness: mean a*", "Redness: average"),
    ("a* minus untreated skin", "compared with untreated skin"),
    ("EI minus untreated skin", "index compared with untreated skin"),
    ("L* minus untreated skin", "compared with untreated skin"),
    ("MI minus untreated skin", "index compared with untreated skin"),
    ("mean L*", "average"),
    ("Skin tone angle (ITA)", "Skin tone angle"),
    ("erythema index", "redness index"),
    ("melanin index", "pigment index"),
    ("EI units", "redness index points"),
    ("MI units", "pigment index points"),
    ("redness a*", "redness"),
    ("per cm^2", "per cm²"),
    ("mm^2", "mm²"),
    ("; 95th percentile", ""),
    ("no EXIF, GPS or other file metadata is carried", "no hidden file details (such as where a photo was taken) are carried"),
    (" (D65)", ""),
    (" a*", " redness"),
    (" L*", " lightness"),
)


def plain_words(text: str) -> str:
    """``text`` with the technical terms of :data:`PLAIN_WORDS` replaced (the patient's PDF)."""
    for k, v in PLAIN_WORDS:
        if k in text:
            text = text.replace(k, v)
    return text


def _make_pdf():
    from fpdf import FPDF

    class _PDF(FPDF):
        footer_text = ""
        plain = False  # the patient's copy: technical terms in plain words

        def footer(self):
            self.set_y(-12)
            self.set_font(self._family, "", 7)
            self.set_text_color(120)
            self.cell(0, 5, self._t(f"{self.footer_text}   page {self.page_no()}/{{nb}}"), align="C")
            self.set_text_color(0)

        def _t(self, s: str) -> str:
            if self.plain:
                s = plain_words(s)
            if self._unicode:
                return s
            for k, v in _LATIN1_MAP.items():
                s = s.replace(k, v)
            return s.encode("latin-1", "replace").decode("latin-1")

    pdf = _PDF(orientation="P", unit="mm", format="A4")
    fonts = _find_font()
    if fonts:
        pdf.add_font("DejaVu", "", fonts[0])
        pdf.add_font("DejaVu", "B", fonts[1])
        pdf._family, pdf._unicode = "DejaVu", True
    else:  # pragma: no cover - depends on the system fonts
        pdf._family, pdf._unicode = "Helvetica", False
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_margins(15, 15, 15)
    pdf.alias_nb_pages()
    pdf.set_creator(f"skin-progress analyzer {__version__}")
    pdf.set_title("Skin progress report")
    return pdf


def _jpeg(img: np.ndarray, *, max_side: int = 1000, quality: int = 85) -> io.BytesIO:
    """A metadata-free JPEG re-encoded from pixels (never the original file's bytes)."""
    from PIL import Image

    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        arr = np.clip(arr.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    im = Image.fromarray(np.ascontiguousarray(arr[..., :3]), mode="RGB")
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality, optimize=True)  # no exif=, no icc_profile=
    buf.seek(0)
    return buf


def _outline(img: np.ndarray, polygon: np.ndarray | None) -> np.ndarray:
    import cv2

    out = np.ascontiguousarray(np.asarray(img, np.uint8).copy())
    if polygon is None or len(polygon) < 3:
        return out
    t = max(2, round(max(out.shape[:2]) / 300))
    pts = np.round(np.asarray(polygon, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(out, [pts], True, (40, 255, 90), t, lineType=cv2.LINE_AA)
    return out


def _heading(pdf, text: str, size: float = 14) -> None:
    pdf.set_font(pdf._family, "B", size)
    pdf.cell(0, 8, pdf._t(text), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font(pdf._family, "", 10)


def _para(pdf, text: str, size: float = 10, h: float = 5) -> None:
    pdf.set_font(pdf._family, "", size)
    pdf.multi_cell(0, h, pdf._t(text), new_x="LMARGIN", new_y="NEXT", align="L")


def _clinic_header(pdf, data: ReportData) -> None:
    """The clinic's name and address (left) and logo (right) at the top of the cover."""
    if data.clinic_logo and Path(data.clinic_logo).is_file():
        try:
            pdf.image(str(data.clinic_logo), x=pdf.w - pdf.r_margin - 40, y=10, h=16, keep_aspect_ratio=True, w=40)
        except (OSError, ValueError, RuntimeError):  # pragma: no cover - a broken logo is left out
            pass
    if data.clinic_name or data.clinic_address:
        pdf.set_xy(pdf.l_margin, 10)
        pdf.set_font(pdf._family, "B", 11)
        if data.clinic_name:
            pdf.cell(120, 6, pdf._t(data.clinic_name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(pdf._family, "", 8)
        for line in data.clinic_address.splitlines()[:3]:
            pdf.cell(120, 4, pdf._t(line.strip()), new_x="LMARGIN", new_y="NEXT")


def _cover(pdf, data: ReportData, sim: bool) -> None:
    pdf.add_page()
    _clinic_header(pdf, data)
    pdf.set_y(max(pdf.get_y() + 4, 30))
    pdf.set_font(pdf._family, "B", 24)
    pdf.cell(0, 14, pdf._t("Skin progress report"), new_x="LMARGIN", new_y="NEXT", align="L")
    if data.audience == "practitioner":
        pdf.set_font(pdf._family, "B", 13)
        pdf.cell(0, 8, pdf._t("Practitioner's copy: includes clinician-only details"), new_x="LMARGIN",
                 new_y="NEXT", align="L")
    if sim:
        pdf.set_text_color(200, 0, 0)
        pdf.set_font(pdf._family, "B", 14)
        pdf.cell(0, 9, pdf._t("SIMULATED changes: not a real treatment result"), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_text_color(0)
    pdf.ln(3)
    dates = list(data.dates)
    items = [
        ("Patient code", data.patient_code),
        ("Name", data.patient_name or "-"),
        ("Treated area", data.body_area or "-"),
        ("Series", data.series_name or "-"),
        ("Sessions", f"{len(dates)}" + (f" ({dates[0]} to {dates[-1]})" if len(dates) > 1 else
                                       f" ({dates[0]})" if dates else "")),
        ("Baseline", dates[0] if dates else "-"),
        ("Latest", dates[-1] if dates else "-"),
        ("Views", ", ".join(v.view for v in data.views) or "-"),
        ("Generated", data.generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Analyzer version", data.analyzer_version),
    ]
    for k, v in items:
        pdf.set_font(pdf._family, "B", 10)
        pdf.cell(45, 6, pdf._t(k))
        pdf.set_font(pdf._family, "", 10)
        pdf.multi_cell(0, 6, pdf._t(str(v)), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(4)
    _para(
        pdf,
        "This report compares photos taken at each session with the first (baseline) session. "
        "Each later photo is aligned to the baseline and measured over the same patch of skin. "
        "The measurements describe the photos; they are not a medical diagnosis.",
        9,
    )


def _view_page(pdf, v: ViewImages, sim: bool) -> None:
    w_full = (pdf.w - pdf.l_margin - pdf.r_margin - 6) / 2
    _room(pdf, min(150, v.baseline.shape[0] / v.baseline.shape[1] * w_full) + 40)
    _heading(pdf, f"Photos: {v.view} view")
    if sim:
        pdf.set_text_color(200, 0, 0)
        _para(pdf, "Simulated: the follow-up values contain an injected change.", 9)
        pdf.set_text_color(0)
    w = (pdf.w - pdf.l_margin - pdf.r_margin - 6) / 2
    h_img = v.baseline.shape[0] / v.baseline.shape[1] * w
    max_h = 150
    if h_img > max_h:
        w = w * max_h / h_img
        h_img = max_h
    y = pdf.get_y() + 7
    x0 = pdf.l_margin
    x1 = x0 + w + 6
    pdf.set_font(pdf._family, "B", 10)
    pdf.set_xy(x0, y - 6)
    pdf.cell(w, 5, pdf._t(f"Baseline {v.baseline_label}"))
    pdf.set_xy(x1, y - 6)
    pdf.cell(w, 5, pdf._t(f"Session {v.latest_label} (aligned)" if v.latest is not None else "Latest: not available"))
    pdf.image(_jpeg(_outline(v.baseline, v.polygon)), x=x0, y=y, w=w, h=h_img)
    if v.latest is not None:
        pdf.image(_jpeg(_outline(v.latest, v.polygon)), x=x1, y=y, w=w, h=h_img)
    else:
        pdf.set_draw_color(180)
        pdf.rect(x1, y, w, h_img)
        pdf.set_xy(x1, y + h_img / 2)
        pdf.set_font(pdf._family, "", 9)
        pdf.cell(w, 5, pdf._t("no aligned follow-up photo"), align="C")
    pdf.set_y(y + h_img + 4)
    pdf.set_font(pdf._family, "", 9)
    notes = ["The green outline marks the measured region (the same pixels in both photos)."]
    a = v.alignment
    if a:
        notes.append(_alignment_text(a))
    if v.note:
        notes.append(v.note)
    for n in notes:
        pdf.multi_cell(0, 5, pdf._t(n), new_x="LMARGIN", new_y="NEXT", align="L")


def _alignment_text(a: Mapping[str, Any]) -> str:
    """In plain words for the patient (the method, confidence and residual stay in the CSV)."""
    if a.get("ok"):
        return "The latest photo was lined up with the baseline photo, so the same skin is compared."
    reason = str(a.get("reason") or "").lower()
    if "different person" in reason:
        why = "it looks like another person"
    else:
        why = "the pose, distance or light differ too much"
    return f"The latest photo could not be lined up with the baseline photo ({why}), so it has no values."


def _chart(pdf, x: float, y: float, w: float, h: float, ser: list, sessions: list[tuple[int, str]],
           metric: str, sim: bool) -> None:
    """One small chart: change from baseline per session, with the noise band shaded around 0."""
    base = _base_of(ser)
    unit = next((str(r.get("unit")) for r in ser if r.get("unit")), "")
    band = next((_num(r.get("noise_band")) for r in ser if _num(r.get("noise_band")) is not None), None)
    pts = {int(r["session_index"]): _change_of(r, base) for r in ser}
    sim_pts = {int(r["session_index"]) for r in ser if r.get("simulated")}
    untold = {int(r["session_index"]) for r in ser if _cant_tell(r)}
    title = metric_label(metric) + (f" [{unit}]" if unit else "")
    pdf.set_font(pdf._family, "B", 8)
    room = w - (19 if sim else 0)
    if pdf.get_string_width(pdf._t(title)) > room:  # the unit goes first, then the title is cut
        title = metric_label(metric)
        while len(title) > 4 and pdf.get_string_width(pdf._t(title + "…")) > room:
            title = title[:-1]
        if title != metric_label(metric):
            title += "…" if pdf._unicode else "..."
    pdf.set_xy(x, y)
    pdf.cell(room, 4, pdf._t(title))
    if sim:
        pdf.set_text_color(200, 0, 0)
        pdf.set_xy(x + w - 18, y)
        pdf.cell(18, 4, pdf._t("simulated"), align="R")
        pdf.set_text_color(0)
    # plot box
    px, py, pw, ph = x + 12, y + 5, w - 14, h - 12
    vals = [v for v in pts.values() if v is not None]
    lo = min(vals + [0.0] + ([-band] if band else []))
    hi = max(vals + [0.0] + ([band] if band else []))
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    pad = 0.12 * (hi - lo)
    lo, hi = lo - pad, hi + pad

    def Y(v: float) -> float:
        return py + ph - (v - lo) / (hi - lo) * ph

    n = max(1, len(sessions) - 1)
    inset = 0.06 * pw
    idx_pos = {s: px + inset + (k / n if len(sessions) > 1 else 0.5) * (pw - 2 * inset)
               for k, (s, _) in enumerate(sessions)}
    pdf.set_draw_color(160)
    pdf.set_line_width(0.2)
    pdf.rect(px, py, pw, ph)
    if band:
        pdf.set_fill_color(215, 228, 245)
        pdf.rect(px, Y(band), pw, Y(-band) - Y(band), style="F")
    pdf.set_draw_color(120)
    pdf.set_dash_pattern(dash=1, gap=1)
    pdf.line(px, Y(0), px + pw, Y(0))
    pdf.set_dash_pattern()
    pdf.set_font(pdf._family, "", 6)
    ticks = [0.0] + [t for t in (hi - pad, lo + pad) if abs(Y(t) - Y(0.0)) > 3.0]
    for v in ticks:
        pdf.set_xy(x, Y(v) - 1.5)
        pdf.cell(11, 3, pdf._t(_signed(v) if v else "0"), align="R")
    for k, (s, d) in enumerate(sessions):
        if len(sessions) > 6 and k not in (0, len(sessions) - 1) and k % 2:
            continue
        pdf.set_xy(idx_pos[s] - 9, py + ph + 0.5)
        pdf.cell(18, 3, pdf._t(d[5:] if len(d) == 10 and len(sessions) > 3 else d), align="C")
    # data
    pdf.set_draw_color(30, 80, 160)
    pdf.set_fill_color(30, 80, 160)
    pdf.set_line_width(0.5)
    prev = None
    for s, _ in sessions:
        v = pts.get(s)
        if v is None:
            prev = None
            if s in pts:  # measured row, no value: mark it
                pdf.set_text_color(180, 0, 0)
                pdf.set_xy(idx_pos[s] - 4, py + ph - 4)
                pdf.cell(8, 3, "n/a", align="C")
                pdf.set_text_color(0)
            continue
        cur = (idx_pos[s], Y(v))
        if s in untold:  # can't tell: a hollow grey ring, not joined to the line
            pdf.set_draw_color(150)
            pdf.set_line_width(0.35)
            pdf.ellipse(cur[0] - 1.1, cur[1] - 1.1, 2.2, 2.2, style="D")
            pdf.set_draw_color(30, 80, 160)
            pdf.set_line_width(0.5)
            continue
        if prev is not None:
            pdf.line(prev[0], prev[1], cur[0], cur[1])
        if s in sim_pts:  # a simulated session: red point
            pdf.set_fill_color(200, 0, 0)
            pdf.ellipse(cur[0] - 1.0, cur[1] - 1.0, 2.0, 2.0, style="F")
            pdf.set_fill_color(30, 80, 160)
        else:
            pdf.ellipse(cur[0] - 0.8, cur[1] - 0.8, 1.6, 1.6, style="F")
        prev = cur
    pdf.set_line_width(0.2)
    pdf.set_draw_color(0)


def _charts(pdf, rows, view: str, region: str, sessions, sim: bool) -> None:
    metrics = _metrics(rows, view, region)
    if not metrics:
        return
    _room(pdf, 90)
    _heading(pdf, f"Progress charts: {_where(view, region)}")
    _para(pdf, "Change from baseline per session, in each measure's own unit. The shaded band is the "
               "noise band: the variation seen between two photos of unchanged skin. A point inside it "
               "is not a measurable change. A hollow grey ring: can't tell (for example the light differed "
               "and there was no colour reference); it is neither better nor worse."
               + (" Red points: sessions with a simulated change." if sim else ""),
          8, 4)
    cols, w_gap, h = 2, 6, 52
    w = (pdf.w - pdf.l_margin - pdf.r_margin - w_gap) / cols
    y = pdf.get_y() + 2
    for k, m in enumerate(metrics):
        col = k % cols
        if col == 0 and k > 0:
            y += h + 3
        if y + h > pdf.h - 18:
            pdf.add_page()
            y = pdf.get_y()
        ser = _series(rows, view, region, m)
        _chart(pdf, pdf.l_margin + col * (w + w_gap), y, w, h, ser, sessions, m, sim or any(r.get("simulated") for r in ser))
    pdf.set_y(y + h + 3)


def _table(pdf, rows, view: str, sessions) -> None:
    regions = []
    for r in rows:
        if r.get("view") == view and r["region"] not in regions:
            regions.append(r["region"])
    for region in regions:
        metrics = _metrics(rows, view, region)
        if not metrics:
            continue
        shown = sessions if len(sessions) <= 5 else [sessions[0]] + sessions[-4:]
        if pdf.get_y() > pdf.h - 60:
            pdf.add_page()
        _heading(pdf, f"Values: {_where(view, region)}", 12)
        sim_sessions = {int(r["session_index"]) for r in rows
                        if r.get("view") == view and r.get("region") == region and r.get("simulated")}
        head = (["Measure", "Unit"] + [d + (" (simulated)" if i in sim_sessions else "") for i, d in shown]
                + ["Change", "%", "Noise ±"])
        value_w = max(14, min(22, (pdf.w - pdf.l_margin - pdf.r_margin - 46 - 24 - 38) / max(1, len(shown))))
        widths = [46, 24] + [value_w] * len(shown) + [14, 11, 13]
        pdf.set_font(pdf._family, "", 7)
        pdf.set_fill_color(255)
        pdf.set_draw_color(150)
        pdf.set_text_color(0)
        # min(): the value columns fill the page exactly, and float rounding may exceed it by 1e-12.
        with pdf.table(col_widths=widths, width=min(sum(widths), pdf.epw), text_align="LEFT", line_height=3.8,
                       align="LEFT", repeat_headings=1, headings_style=_heading_style(),
                       padding=0.6) as table:
            hr = table.row()
            for c in head:
                hr.cell(pdf._t(c))
            for m in metrics:
                ordered = _series(rows, view, region, m)
                ser = {int(r["session_index"]): r for r in ordered}
                base = _base_of(ordered)
                last_idx = max(ser)
                last = ser[last_idx]
                row = table.row()
                row.cell(pdf._t(metric_label(m)))
                row.cell(pdf._t(str(last.get("unit") or "")))
                for s, _ in shown:
                    r = ser.get(s)
                    row.cell(pdf._t(_fmt(r.get("value")) if r else "-"))
                if last is base:
                    row.cell("-")
                    row.cell("-")
                elif _cant_tell(last):
                    row.cell(pdf._t("can't tell"))
                    row.cell("-")
                else:
                    row.cell(pdf._t(_signed(_change_of(last, base))))
                    row.cell(pdf._t(_signed(_percent_of(last, base), 1)))
                row.cell(pdf._t(_fmt(last.get("noise_band"))))
        pdf.ln(3)
        _para(pdf, "Change and % compare the latest session with the baseline, measured over the same "
                   "pixels of both aligned photos. n/a: could not be measured (see the CSV export for the reason). "
                   "can't tell: the change can't be told from the light or the camera (the summary says why).",
              7, 3.5)
        pdf.ln(2)


def _heading_style():
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", fill_color=(225, 230, 240))


def _summary(pdf, data: ReportData, rows) -> None:
    """The plain-language summary, right after the cover (what a patient reads first)."""
    _room(pdf, 40)
    _heading(pdf, "Summary")
    lines = list(data.summary) or summary_lines(rows)
    for ln_ in lines:
        _para(pdf, "• " + ln_ if pdf._unicode else "- " + ln_, 10)


def _methods(pdf, data: ReportData, rows, sim: bool) -> None:
    _room(pdf, 70)
    _heading(pdf, "Methods and caveats")
    cals = sorted({str(r.get("calibration_method") or "") for r in rows} - {""})
    if not rows:
        cal = "Colour calibration: nothing has been analysed yet."
    elif not cals or cals == ["none"]:
        cal = ("Colour calibration: not used (no colour chart in the photos). Absolute colour measures "
               "(redness a*, lightness, pigment) follow the light, so their changes are reported as \"can't "
               "tell\"; redness against untreated skin in the same photo cancels the light and is compared. "
               "Next time, hold the grey card by the cheek.")
    else:
        cal = "Colour calibration: " + ", ".join(cals) + "."
    items = [cal]
    for v in data.views:
        if v.alignment:
            items.append(f"View {v.view}, latest photo: " + _alignment_text(v.alignment))
    n_bad = len({(r.get("session_index"), r.get("view")) for r in rows if r.get("alignment_ok") is False})
    if n_bad:
        items.append(f"{n_bad} photo(s) could not be aligned to the baseline; they have no values.")
    items += [
        "Every later photo is aligned to the baseline photo of the same view, then the region is "
        "measured on both over the same pixels (region, skin in both photos, inside the aligned area).",
        "Noise band: for each measure, the difference seen between repeat photos of the same unchanged "
        "face, in one session and across two sessions (other day, room, light and camera; 95th "
        "percentile); absolute colour between two colour-calibrated photos uses the studio repeat photos "
        "of one session. Changes inside it are not measurable.",
        "Texture is measured relative to face size, so camera distance does not change it.",
        "Photos are embedded re-encoded from their pixels: no EXIF, GPS or other file metadata is carried into this report.",
        "These are measurements of photographs, not a medical diagnosis.",
        f"Analyzer version {data.analyzer_version}. Numbers from different analyzer versions are not mixed.",
    ]
    if sim:
        items.insert(0, "SIMULATED: some values contain an injected (simulated) change, used to demonstrate or test the analysis.")
    items += list(data.caveats)
    for it in items:
        _para(pdf, "• " + it if pdf._unicode else "- " + it, 9, 4.6)
    if data.failures:
        pdf.ln(3)
        _heading(pdf, "Photos not analysed", 11)
        for f in data.failures:
            _para(pdf, f, 8, 4)


def _clinician(pdf, data: ReportData) -> None:
    """The clinician-only sections of the practitioner's copy."""
    pdf.add_page()
    _heading(pdf, "For the practitioner (clinician-only details)")
    for title, lines in data.clinician:
        _room(pdf, 20)
        _heading(pdf, title, 11)
        for ln_ in lines or ("none recorded",):
            _para(pdf, ("• " if pdf._unicode else "- ") + ln_, 8.5, 4.4)
        pdf.ln(1)


def build_report(data: ReportData) -> bytes:
    """Build the PDF report.

    Parameters
    ----------
    data : ReportData
        Plain data: patient details, per-view images (uint8 arrays) with the region polygon,
        tidy rows, optional summary lines and caveats.

    Returns
    -------
    bytes
        The PDF. Images are JPEGs re-encoded from the arrays: no photo metadata (EXIF, GPS)
        can be carried into it.

    Examples
    --------
    >>> pdf = build_report(ReportData(patient_code="P-001", rows=rows, views=views))  # doctest: +SKIP
    >>> open("report.pdf", "wb").write(pdf)  # doctest: +SKIP
    """
    rows = [dict(r) for r in data.rows]
    sim = bool(data.simulated or any(r.get("simulated") for r in rows))
    sessions = _sessions(rows)
    if not sessions and data.dates:
        sessions = list(enumerate(data.dates))
    pdf = _make_pdf()
    practitioner = data.audience == "practitioner"
    if data.audience not in ("patient", "practitioner"):
        raise ValueError(f"report audience {data.audience!r}; allowed: patient, practitioner")
    pdf.plain = not practitioner
    pdf.footer_text = (f"{data.clinic_name} · " if data.clinic_name else "") + (
        f"{data.patient_code} · skin progress report" + (" (practitioner's copy)" if practitioner else "")
        + f" · analyzer {data.analyzer_version}" + (" · SIMULATED" if sim else ""))
    _cover(pdf, data, sim)
    _summary(pdf, data, rows)
    view_names = [v.view for v in data.views] + [v for v in _views(rows) if v not in {x.view for x in data.views}]
    images = {v.view: v for v in data.views}
    for view in view_names:
        if view in images:
            _view_page(pdf, images[view], sim)
        region = _primary_region(rows, view)
        if region is None:
            continue
        _charts(pdf, rows, view, region, sessions, sim)
        _room(pdf, 60)
        _table(pdf, rows, view, sessions)
    _methods(pdf, data, rows, sim)
    if practitioner:
        _clinician(pdf, data)
    return bytes(pdf.output())
