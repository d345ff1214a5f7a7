"""Progress charts (Altair) and summary cards, shared by the Progress page and the patient view."""

from __future__ import annotations

import altair as alt
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
            out.append(d)
    return out


def metric_chart(rows: list[dict], metric: str, *, height: int = 220) -> alt.Chart | None:
    """Absolute value (top) and change from baseline in % with the noise band (bottom).

    Vertical ticks mark the treatment sessions; simulated sessions are drawn as triangles.
    """
    if not rows:
        return None
    info = service.metric_info(metric)
    unit = next((r["unit"] for r in rows if r["unit"]), "")
    data = alt.Data(values=[{k: v for k, v in r.items() if k != "reason"} | {"reason": r["reason"] or ""}
                            for r in rows])
    x = alt.X("session_date:T", title="Session date", axis=alt.Axis(format="%d %b %Y", labelAngle=0))
    tip = [alt.Tooltip("session:N", title="Session"), alt.Tooltip("treatment:N", title="Treatment"),
           alt.Tooltip("value:Q", title=f"{info.label} ({unit})", format=".3g"),
           alt.Tooltip("percent:Q", title="Change from baseline (%)", format="+.1f"),
           alt.Tooltip("status:N", title="Status"), alt.Tooltip("reason:N", title="Note")]
    shape = alt.Shape("status:N", title="", scale=alt.Scale(domain=["baseline", "measured", "simulated"],
                                                            range=["square", "circle", "triangle-up"]))
    treat = alt.Chart(data).transform_filter("datum.session_kind == 'treatment'").mark_rule(
        strokeDash=[3, 3], color="#9a9a9a").encode(x=x)
    value = alt.Chart(data).transform_filter("datum.value != null")
    top = alt.layer(
        treat,
        value.mark_line(color="#1f77b4"). encode(x=x, y=alt.Y("value:Q", title=f"{unit or 'value'}",
                                                               scale=alt.Scale(zero=False))),
        value.mark_point(filled=True, size=80, color="#1f77b4").encode(x=x, y="value:Q", shape=shape, tooltip=tip),
    ).properties(height=height, title=f"{info.label}: absolute value")
    nbp = next((r["noise_band_percent"] for r in rows if r["noise_band_percent"] is not None), None)
    pct = alt.Chart(data).transform_filter("datum.percent != null")
    layers = [treat]
    if nbp is not None:
        band = alt.Chart(alt.Data(values=[{"lo": -nbp, "hi": nbp}])).mark_rect(opacity=0.18, color="#888").encode(
            y=alt.Y("lo:Q"), y2="hi:Q")
        layers.append(band)
    zero = alt.Chart(alt.Data(values=[{"z": 0}])).mark_rule(color="#555").encode(y="z:Q")
    layers += [zero,
               pct.mark_line(color="#d62728").encode(x=x, y=alt.Y("percent:Q", title="% from baseline")),
               pct.mark_point(filled=True, size=80, color="#d62728").encode(x=x, y="percent:Q", shape=shape,
                                                                            tooltip=tip)]
    band_txt = f"noise band ±{nbp:.1f}% (grey)" if nbp is not None else "noise band not measured yet"
    bottom = alt.layer(*layers).properties(height=height, title=f"{info.label}: change from baseline, {band_txt}")
    return alt.vconcat(top, bottom).resolve_scale(x="shared")


def show_cards(cards: list[service.SummaryCard], *, columns: int = 3) -> None:
    if not cards:
        st.caption("No summary yet: it appears once a follow-up session is analysed.")
        return
    cols = st.columns(min(columns, len(cards)))
    for i, c in enumerate(cards):
        icon = ("✅" if c.improved else "⚠️" if c.improved is False else "•")
        with cols[i % len(cols)].container(border=True):
            st.markdown(f"{icon} {c.sentence}")
            if c.simulated:
                st.caption(":orange-badge[simulated] demo photos with an injected change")
