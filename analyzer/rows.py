"""The progress rows: one row per photo, region and metric of a series, from the store.

:func:`progress_table` is what the progress charts, the summary cards and the patient view
show; :func:`rows_to_csv` writes those rows as the page's download.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from analyzer import ANALYZER_VERSION
from analyzer.catalog import (
    DEFAULT_REGION,
    KEY_METRICS,
    metric_info,
    region_label,
)
from analyzer.metric_defs import PERCENT_UNDEFINED_KEYS
from analyzer.stored import (
    ALL_REGIONS,
    caveats_from_result,
    metric_cell,
    metric_keys,
    series_rois,
    simulated_note,
    treatment_text,
)

if TYPE_CHECKING:
    from analyzer.store import Store


def progress_table(store: Store, series_id: int, *, analyzer_version: str = ANALYZER_VERSION) -> list[dict]:
    """The tidy long table behind the progress charts: one row per photo, region and metric.

    Columns: patient, series_id, session_id, session_index, session_date (ISO), session_kind,
    is_baseline, treatment, simulated (text or None), photo_id, view, region, metric (``group.name``),
    group, label, value, unit, baseline_value, change, percent, noise_band, noise_band_percent,
    beyond_noise, reason, caveats (comma-separated caveat kinds of the follow-up photo: lighting,
    blur, highlights, shadows, calibration, alignment...), verdict (``baseline``, ``within_noise``,
    ``beyond_noise``, ``cant_tell``, ``missing``), verdict_reason (plain words when it can't be told:
    absolute colour without a colour reference, a resolution or blur mismatch, a refused alignment),
    noise_band_basis (which repeat photos the band comes from). ``value`` is None (never 0) when not
    computable; ``reason`` says why. ``beyond_noise`` is None whenever the verdict is not a comparison.

    Only stored analyses of ``analyzer_version`` are used, so a chart never mixes methods.
    """
    series = store.get_series(series_id)
    patient = store.get_patient(series.patient_id)
    sessions = sorted(store.list_sessions(series_id), key=lambda s: (s.date, s.id))
    index = {s.id: i + 1 for i, s in enumerate(sessions)}
    by_id = {s.id: s for s in sessions}
    photos = {}
    for s in sessions:
        for p in store.list_photos(s.id):
            photos[p.id] = p
    wanted = set(series_rois(series))
    rows: list[dict] = []
    for a in store.analyses_for_series(series_id, analyzer_version=analyzer_version):
        p = photos.get(a.photo_id)
        if p is None or a.region != ALL_REGIONS:
            continue
        s = by_id[p.session_id]
        res = a.result or {}
        is_base = bool(res.get("is_baseline")) or (a.baseline_photo_id == a.photo_id)
        align_ok = (res.get("alignment") or {}).get("ok") is not False
        caveat_kinds = ",".join(sorted({c.kind for c in caveats_from_result(res)})) if not is_base else ""
        for region, part in (res.get("regions") or {}).items():
            if region not in wanted:
                continue
            bl_side = part.get("baseline")
            fu_side = bl_side if is_base else part.get("followup")
            refused = not align_ok or fu_side is None
            for key in metric_keys(bl_side) or metric_keys(fu_side):
                info = metric_info(key)
                reason = (part.get("reason") or res.get("reason") or "alignment refused") if refused else None
                cell = metric_cell(key, bl_side, None if refused else fu_side, part.get("change"),
                                   is_baseline=is_base, missing_reason=reason)
                v, bv, unit, reason, nb = cell.value, cell.baseline_value, cell.unit, cell.reason, cell.noise_band
                no_pct = key.split(".")[-1] in PERCENT_UNDEFINED_KEYS
                chg, pct = cell.change, cell.percent
                if is_base and v is not None:
                    chg, pct = 0.0, (None if no_pct else 0.0)
                nbp = (100.0 * nb / abs(bv)) if (nb is not None and bv not in (None, 0) and not no_pct) else None
                beyond, verdict_reason = None, None
                if is_base:
                    verdict = "baseline"
                elif chg is None:
                    verdict, verdict_reason = "missing", cell.verdict_reason
                else:
                    beyond = None if cell.within_noise is None else not cell.within_noise
                    verdict_reason = cell.verdict_reason
                    verdict = "cant_tell" if beyond is None else ("beyond_noise" if beyond else "within_noise")
                rows.append({
                    "patient": patient.code,
                    "series_id": series.id,
                    "session_id": s.id,
                    "session_index": index[s.id],
                    "session_date": s.date.isoformat(),
                    "session_kind": s.kind,
                    "is_baseline": is_base,
                    "treatment": treatment_text(s),
                    "simulated": simulated_note(s),
                    "photo_id": p.id,
                    "view": p.view,
                    "region": region,
                    "metric": key,
                    "group": info.group,
                    "label": info.label,
                    "value": v,
                    "unit": unit,
                    "baseline_value": bv,
                    "change": chg,
                    "percent": pct,
                    "noise_band": nb,
                    "noise_band_percent": nbp,
                    "beyond_noise": beyond,
                    "reason": reason,
                    "caveats": caveat_kinds,
                    "verdict": verdict,
                    "verdict_reason": verdict_reason,
                    "noise_band_basis": cell.noise_band_basis,
                })
    rows.sort(key=lambda r: (r["view"], r["region"], r["metric"], r["session_date"], r["session_id"], r["photo_id"]))
    return rows


@dataclass(frozen=True)
class SummaryCard:
    """One plain-language sentence about one metric in one region."""

    metric: str
    region: str
    view: str
    sentence: str
    percent: float | None
    noise_band_percent: float | None
    beyond_noise: bool | None
    improved: bool | None
    simulated: bool = False
    caution: str | None = None
    #: "within_noise", "beyond_noise" or "cant_tell" (then ``beyond_noise`` and ``improved`` are None)
    verdict: str | None = None


def summary_cards(rows: Iterable[Mapping[str, Any]], *, metrics: Iterable[str] = KEY_METRICS,
                  view: str | None = None, regions: Iterable[str] | None = None) -> list[SummaryCard]:
    """Plain-language summaries: the latest measured session against the first, per metric and region.

    Example: ``Left cheek redness down 18% since the first session, beyond the 4% noise band.``
    """
    rows = [r for r in rows if view is None or r["view"] == view]
    want_regions = None if regions is None else set(regions)
    cards: list[SummaryCard] = []
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        if r["metric"] in set(metrics) and (want_regions is None or r["region"] in want_regions):
            groups.setdefault((r["view"], r["region"], r["metric"]), []).append(r)
    order = {m: i for i, m in enumerate(metrics)}

    def latest(rs):
        m = [r for r in rs if not r["is_baseline"] and r.get("change") is not None]
        return max(m, key=lambda r: (r["session_date"], r["session_id"])) if m else None

    def cant_tell(rs) -> bool:  # the comparable measures lead
        last = latest(rs)
        return last is not None and last.get("verdict") == "cant_tell"

    for (v, region, key), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != DEFAULT_REGION,
                                                                      kv[0][1], cant_tell(kv[1]),
                                                                      order.get(kv[0][2], 99))):
        info = metric_info(key)
        subject = f"{region_label(region)} {info.label}"
        follow = [r for r in rs if not r["is_baseline"]]
        measured = [r for r in follow if r["percent"] is not None or r.get("change") is not None]
        if not follow:
            cards.append(SummaryCard(key, region, v, f"{subject}: baseline measured; no follow-up session yet.",
                                     None, None, None, None))
            continue
        if not measured:
            why = next((r["reason"] for r in follow if r["reason"]), "could not be measured")
            cards.append(SummaryCard(key, region, v, f"{subject}: no follow-up value yet ({why}).",
                                     None, None, None, None))
            continue
        last = max(measured, key=lambda r: (r["session_date"], r["session_id"]))
        sim = last["simulated"] is not None
        since = "since the first session"
        if last.get("verdict") == "cant_tell":
            why = str(last.get("verdict_reason") or "can't tell")
            why = why[len("can't tell: "):] if why.startswith("can't tell: ") else why
            text = f"{subject}: can't tell {since}: {why}"
            if sim:
                text += " (simulated change in demo photos)"
            cards.append(SummaryCard(key, region, v, text + ".", None, None, None, None, sim, None, "cant_tell"))
            continue
        pct = None if last["percent"] is None else float(last["percent"])
        chg = float(last["change"]) if last.get("change") is not None else 0.0
        signed = pct if pct is not None else chg
        direction = "down" if signed < 0 else "up"
        nbp = last["noise_band_percent"]
        nb = last.get("noise_band")
        beyond = last["beyond_noise"]
        unit = last.get("unit") or ""
        if pct is not None and abs(pct) < 0.5 or pct is None and chg == 0.0:
            text = f"{subject} unchanged {since}"
        elif pct is not None:
            text = f"{subject} {direction} {abs(pct):.0f}% {since}"
        else:
            text = f"{subject} {direction} {abs(chg):.2g} ({unit}) {since}"
        if nbp is None and (pct is not None or nb is None):
            text += " (its noise band is not measured yet, so treat this as indicative)"
        elif pct is None:
            text += (f", beyond the ±{nb:.2g} noise band" if beyond
                     else f", within the ±{nb:.2g} noise band: not a measurable change yet")
        elif beyond:
            text += f", beyond the {nbp:.0f}% noise band"
        else:
            text += f", within the {nbp:.0f}% noise band: not a measurable change yet"
        kinds = set(filter(None, str(last.get("caveats") or "").split(",")))
        caution = None
        from analyzer.metrics import RELATIVE_COLOUR_KEYS

        if "lighting" in kinds and key.split(".")[-1] in RELATIVE_COLOUR_KEYS:
            caution = None  # relative to skin in the same photo: the light's colour and exposure cancel
        elif "lighting" in kinds:
            caution = "the lighting of that photo differs from the baseline's, so part of this may be lighting"
        elif "highlights" in kinds or "shadows" in kinds:
            caution = "part of that photo is over- or underexposed"
        elif "blur" in kinds and info.group == "texture":
            caution = "that photo is blurred, which makes texture read low"
        if caution:
            text += f" ({caution})"
        improved = None
        if info.lower_is_better is not None and beyond:
            improved = (signed < 0) == info.lower_is_better
        if sim:
            text += " (simulated change in demo photos)"
        verdict = None if beyond is None else ("beyond_noise" if beyond else "within_noise")
        cards.append(SummaryCard(key, region, v, text + ".", pct, nbp, beyond, improved, sim, caution, verdict))
    return cards


PROGRESS_COLUMNS = (
    "patient", "session_index", "session_date", "session_kind", "treatment", "simulated", "view", "region",
    "metric", "label", "value", "unit", "baseline_value", "change", "percent", "noise_band",
    "noise_band_percent", "beyond_noise", "reason", "caveats",
)


def rows_to_csv(rows: Iterable[Mapping[str, Any]], *, columns: Iterable[str] = PROGRESS_COLUMNS) -> str:
    """The progress table as CSV text (empty cell, never 0, for a value that could not be computed)."""
    import csv
    import io

    from analyzer.export import csv_text  # text cells neutralised against formula injection (OWASP)

    cols = list(columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r.get(c) is None else (f"{r[c]:.6g}" if isinstance(r.get(c), float)
                                                 else csv_text(r[c]) if isinstance(r[c], str) else r[c])
                    for c in cols])
    return buf.getvalue()
