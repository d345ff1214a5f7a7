"""Progress charts (Altair) and summary cards, shared by the Progress page and the patient view."""

from __future__ import annotations

import streamlit as st

from analyzer import service


def metric_rows(rows: list[dict], *, view: str, region: str, metric: str) -> list[dict]:
    out = []
    for r in rows:
        if r["view"] == view and r["region"] == region and r["metric"] == metric:
            d = dict(r)
            d["session"] = f"{r['session_index']}. {r['session_date']}"
            d["status"] = ("baseline" if r["is_baseline"] else
                           "simulated" if r["simulated"] else "measured")
            d["value_text"] = "—" if r["value"] is None else f"{r['value']:.3g}"
            d["verdict"] = r.get("verdict") or ("baseline" if r["is_baseline"] else "")
            d["verdict_text"] = verdict_text(r)
            out.append(d)
    return out


def verdict_text(r: dict) -> str:
    """The plain words of a point's verdict (tooltips, captions)."""
    v = r.get("verdict")
    if r.get("is_baseline") or v == "baseline":
        return "baseline"
    if v == "cant_tell":
        return str(r.get("verdict_reason") or "can't tell")
    if v == "beyond_noise":
        return "beyond the noise band: a measurable change"
    if v == "within_noise":
        return "within the noise band: not a measurable change"
    return str(r.get("reason") or "")


#: A point whose change can't be told is drawn hollow and grey, never in a colour that reads as
#: better or worse.
CANT_TELL_COLOUR = "#9a9a9a"


def metric_chart(rows: list[dict], metric: str, *, height: int = 220, plain: bool = False) -> dict | None:
    """Vega-Lite spec: absolute value (top) and change from baseline in % with the noise band
    (bottom, grey). Dotted rules mark the treatment sessions; simulated sessions are triangles.

    Written as a plain Vega-Lite dict (no Altair objects): building and validating Altair charts
    took ~0.3 s per chart, over the 0.3 s budget of a metric switch.
    """
    if not rows:
        return None
    info = service.metric_info(metric)
    unit = next((r["unit"] for r in rows if r["unit"]), "")
    if plain:  # the patient's view: no "CIELAB a* (D65)" or "MI units", the measure's own name
        unit = ""
    keep = ("session", "session_date", "session_kind", "treatment", "value", "percent", "change", "status",
            "reason", "simulated", "verdict", "verdict_text")
    text_keys = ("reason", "simulated", "treatment", "verdict", "verdict_text")
    values = [{k: (r.get(k) if r.get(k) is not None or k not in text_keys else "") for k in keep} for r in rows]
    # Differences to the reference skin have no meaningful percent: their change is charted in units.
    by_percent = any(r.get("percent") is not None for r in rows if not r.get("is_baseline"))
    if not by_percent and not any(r.get("change") is not None for r in rows if not r.get("is_baseline")):
        by_percent = True
    x = {"field": "session_date", "type": "temporal", "title": "Session date",
         "axis": {"format": "%d %b %Y", "labelAngle": 0}, "scale": {"padding": 24}}
    shape = {"field": "status", "type": "nominal", "title": "",
             "scale": {"domain": ["baseline", "measured", "simulated"],
                       "range": ["square", "circle", "triangle-up"]}}
    tip = [{"field": "session", "type": "nominal", "title": "Session"},
           {"field": "treatment", "type": "nominal", "title": "Treatment"},
           {"field": "value", "type": "quantitative", "title": f"{info.label} ({unit})" if unit else info.label,
            "format": ".3g"},
           {"field": "percent", "type": "quantitative", "title": "Change from baseline (%)", "format": "+.1f"},
           {"field": "status", "type": "nominal", "title": "Status"},
           {"field": "verdict_text", "type": "nominal", "title": "Verdict"},
           {"field": "simulated", "type": "nominal", "title": "Simulated change"},
           {"field": "reason", "type": "nominal", "title": "Note"}]
    treat = {"transform": [{"filter": "datum.session_kind == 'treatment'"}],
             "mark": {"type": "rule", "strokeDash": [3, 3], "color": "#9a9a9a"}, "encoding": {"x": x}}

    def series(field: str, colour: str, title: str, zero: bool) -> list[dict]:
        y = {"field": field, "type": "quantitative", "title": title, "scale": {"zero": zero}}
        told = [{"filter": f"isValid(datum.{field}) && datum.verdict != 'cant_tell'"}]
        untold = [{"filter": f"isValid(datum.{field}) && datum.verdict == 'cant_tell'"}]
        return [
            # the line joins only the points whose change could be told
            {"transform": told, "mark": {"type": "line", "color": colour}, "encoding": {"x": x, "y": y}},
            {"transform": told, "mark": {"type": "point", "filled": True, "size": 80, "color": colour},
             "encoding": {"x": x, "y": y, "shape": shape, "tooltip": tip}},
            # can't tell: hollow, grey, never a colour that reads as better or worse
            {"transform": untold, "mark": {"type": "point", "filled": False, "size": 140, "strokeWidth": 2.5,
                                           "color": CANT_TELL_COLOUR},
             "encoding": {"x": x, "y": y, "shape": shape, "tooltip": tip}},
        ]

    if by_percent:
        # The noise band of the latest measured session, as the summary card says it (one figure).
        nbp = next((r["noise_band_percent"] for r in reversed(rows) if r["noise_band_percent"] is not None
                    and r.get("percent") is not None), None)
        if nbp is None:
            nbp = next((r["noise_band_percent"] for r in rows if r["noise_band_percent"] is not None), None)
    else:
        nbp = next((r["noise_band"] for r in reversed(rows) if r.get("noise_band") is not None), None)
    bottom_layers = [treat]
    if nbp is not None:
        bottom_layers.append({"data": {"values": [{"lo": -nbp, "hi": nbp}]},
                              "mark": {"type": "rect", "opacity": 0.18, "color": "#888"},
                              "encoding": {"y": {"field": "lo", "type": "quantitative"},
                                           "y2": {"field": "hi"}}})
    bottom_layers.append({"data": {"values": [{"z": 0}]}, "mark": {"type": "rule", "color": "#555"},
                          "encoding": {"y": {"field": "z", "type": "quantitative"}}})
    if by_percent:
        bottom_layers += series("percent", "#4c4c4c", "% from baseline", True)
        band_txt = f"grey band: noise, ±{nbp:.0f} %" if nbp is not None else "noise band not measured yet"
    else:
        bottom_layers += series("change", "#4c4c4c", f"change ({unit})" if unit else "change", True)
        band_txt = f"grey band: noise, ±{nbp:.2g}" if nbp is not None else "noise band not measured yet"
    if any(r.get("verdict") == "cant_tell" for r in rows):
        band_txt += "; hollow grey: can't tell"
    in_units = "" if by_percent else " in " + (unit or "units")
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": values},
        "vconcat": [
            {"title": {"text": _cap(info.label), "subtitle": "value at each session"}, "height": height,
             "width": "container",
             "layer": [treat, *series("value", "#1f77b4", unit or info.label, False)]},
            {"title": {"text": _cap(info.label), "subtitle": f"change from baseline{in_units} ({band_txt})"},
             "height": height, "width": "container",
             "layer": bottom_layers},
        ],
        "resolve": {"scale": {"x": "shared"}},
    }


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def show_metric_chart(spec: dict, *, key: str | None = None) -> None:
    """Draw a metric_chart spec at the width of its column, on a phone as on a wide screen.

    Vega-Lite sizes a concatenated chart ("vconcat") at a fixed width whatever "container" says,
    so each part is drawn as its own chart; both use the same data, hence the same session axis.
    The status legend goes under the plot, so the plot keeps the column's width.
    """
    parts = spec.get("vconcat") or [spec]
    base = {k: v for k, v in spec.items() if k not in ("vconcat", "resolve")}
    for i, part in enumerate(parts):
        one = {**base, **part, "width": "container", "autosize": {"type": "fit-x", "contains": "padding"},
               "config": {"legend": {"orient": "bottom", "direction": "horizontal"},
                          "title": {"anchor": "start", "subtitleFontSize": 11},
                          "axisY": {"titleFontSize": 10}}}
        st.vega_lite_chart(one, width="stretch", key=None if key is None else f"{key}_{i}")


def show_cards(cards: list[service.SummaryCard], *, columns: int = 3) -> None:
    if not cards:
        st.caption("No summary yet: it appears once a follow-up session is analysed.")
        return
    cols = st.columns(min(columns, len(cards)))
    for i, c in enumerate(cards):
        icon = ("❔" if c.verdict == "cant_tell" else "✅" if c.improved else "⚠️" if c.improved is False else "•")
        with cols[i % len(cols)].container(border=True):
            st.markdown(f"{icon} {c.sentence}")
            if c.simulated:
                st.caption(":orange-badge[simulated] demo photos with an injected change")
