"""Progress: the series' concern measures first (acne scars first for an acne-scar series), then one
chart per metric over the series' sessions (value, % change from baseline, noise band, treatment
markers), plain-language summary cards, and the table behind the charts."""

from __future__ import annotations

import streamlit as st

from analyzer import ANALYZER_VERSION, service
from analyzer.concerns import concern_order
from ui.auth import audit_once, authorized_patient_id, patient_scope
from ui.charts import metric_chart, metric_rows, show_cards, show_metric_chart
from ui.common import (
    bump,
    cached_progress_rows,
    concerns_text,
    get_store,
    md_escape,
    need_series,
    series_label,
)
from ui.concerns import render_concern_measures

store = get_store()
patient, series = need_series(store)
authorized_patient_id(store, patient.id)  # demo mode: demo patients only
audit_once(store, "view.progress", patient.id, f"series {series.id}")
st.title("Progress")
demo = " · :orange-badge[demo patient: sessions 3-4 carry simulated changes]" if patient.is_demo else ""
st.markdown(f"**{md_escape(patient.display_name)}** · `{patient.code}` · {md_escape(series_label(series))}{demo}")

rows = cached_progress_rows(series.id)
if not rows:
    pending = service.pending_photos(store, series.id)
    if pending:
        st.info(f"{len(pending)} photo(s) not analysed yet.")
        if st.button("Analyse now", key="progress_analyse", type="primary"):
            bar = st.progress(0.0)
            service.analyze_series(store, series.id,
                                   progress=lambda f, t: bar.progress(min(max(f, 0.0), 1.0), text=t))
            bump()
            st.rerun()
    else:
        st.info("No analysed photos yet: add sessions and photos on the Series & sessions page.")
        st.page_link("app_pages/sessions.py", label="Series & sessions", icon=":material/event:")
    st.stop()

views = sorted({r["view"] for r in rows})
regions = list(dict.fromkeys(r["region"] for r in rows))
metrics = concern_order(series.concerns, [r["metric"] for r in rows])  # the series' concerns lead
c1, c2, c3 = st.columns([1, 1.3, 3])
view = c1.selectbox("View", views, key="pg_view")
region = c2.selectbox("Region", regions, key="pg_region", format_func=service.region_label)
default_metrics = [m for m in service.KEY_METRICS if m in metrics]
chosen = c3.multiselect("Metrics", metrics, default=default_metrics, key="pg_metrics",
                        format_func=lambda m: service.metric_info(m).label,
                        help="The CSV below names each metric by its full key.")

st.caption(f"Concerns of this series: {concerns_text(series.concerns)}. Their own measures come first, then the general metrics.")
render_concern_measures(rows, series.concerns, region=region, view=view)

st.subheader("Summary")
show_cards(service.summary_cards(rows, metrics=chosen or default_metrics, view=view, regions=[region]))

st.subheader("Series verdict (for the practitioner)")
st.caption("Per measure, over the treatment sessions of this view and region: is it still improving, on a plateau, "
           "worse, or not measurably changing, judged against its noise band; the change per session comes with "
           "its 95% range. Only comparable sessions count (a can't-tell session is left out and named). "
           "A description of the measurements to help decide whether to go on, not advice; it is not shown "
           "in the patient view.")
_verdicts = service.series_verdicts(rows, concerns=series.concerns, view=view, region=region)
if _verdicts:
    st.dataframe([{
        "Measure": service.metric_info(v.metric).label,
        "Verdict": v.text + (" (SIMULATED data)" if v.simulated else ""),
        "Change per session (95% range)": v.range_text() + (f" {v.unit}" if v.unit and v.range_text() != "—" else ""),
        "Sessions used": v.n_used,
        "Left out": v.n_left_out,
        "Why left out": "; ".join(f"session {s_}: {why}" for s_, why in v.left_out),
        "Noise band": f"{v.noise_band:.3g}" if v.noise_band == v.noise_band else "—",
    } for v in _verdicts], hide_index=True, width="stretch", key="pg_series_verdict")
else:
    st.caption("No measure to judge yet.")

st.subheader("Charts")
if not chosen:
    st.caption("Pick one or more metrics above.")
for m in chosen:
    mr = metric_rows(rows, view=view, region=region, metric=m)
    ch = metric_chart(mr, m)
    if ch is None:
        st.caption(f"{service.metric_info(m).label}: nothing measured.")
        continue
    show_metric_chart(ch)
    missing = [r for r in mr if r["value"] is None]
    for r in missing:
        st.caption(f"Session {r['session_index']} ({r['session_date']}): no value, {r['reason']}.")
    for r in (r for r in mr if r.get("verdict") == "cant_tell" and r["value"] is not None):
        st.caption(f"Session {r['session_index']} ({r['session_date']}), hollow grey point: {r['verdict_reason']}.")
    basis = next((r["noise_band_basis"] for r in mr if r.get("noise_band_basis")), None)
    if basis:
        st.caption(f"Noise band used: {basis}.")

st.subheader("Table")


def _num(v, fmt: str = ".3g") -> str:
    return "—" if v is None or v != v else format(v, fmt)


def _yes(v) -> str:
    return "—" if v is None else ("yes" if v else "no")


# Plain headers and words (the CSV below keeps the tidy column names and metric keys).
table = [{
    "Session": r["session_index"], "Date": r["session_date"], "Kind": r["session_kind"],
    "Treatment": r["treatment"] or "—", "Simulated": r["simulated"] or "",
    "View": r["view"], "Region": service.region_label(r["region"]),
    "Measure": service.metric_info(r["metric"]).label, "Value": _num(r["value"]), "Unit": r["unit"] or "",
    "Change": _num(r["change"], "+.3g"), "Change (%)": _num(r["percent"], "+.1f"),
    "Noise band (%)": _num(r["noise_band_percent"], ".0f"),
    "Beyond noise": "can't tell" if r.get("verdict") == "cant_tell" else _yes(r["beyond_noise"]),
    "Note": r["reason"] or r.get("verdict_reason") or "", "Photo caveats": (r["caveats"] or "").replace(",", ", "),
} for r in rows if r["view"] == view and r["region"] == region and (not chosen or r["metric"] in chosen)]
st.dataframe(table, hide_index=True, width="stretch", key="pg_table")
# The clinic's CSV: the tidy schema of analyzer.export (same as batch exports), read through the
# signed-in user's scope, which checks the patient and audits the download as export.csv. Built on
# click only (a callable runs when the button is pressed), so a view is not an export.
_scope = patient_scope(store)
_sid = series.id
st.download_button("Download the full table (CSV)", data=lambda: _scope.csv_export(_sid),
                   file_name=f"{patient.code}-series{series.id}-progress.csv", mime="text/csv", key="pg_csv",
                   help="Tidy table (patient, session, view, region, metric, value, unit …), as in batch exports.")
# The patient's PDF report, here too (not only through the patient view): built on click through
# the user's scope (checked and audited as export.report), refused without report consent.
_no_report = service.consent_problem(patient, "reports")
if _no_report:
    st.caption(_no_report)
else:
    st.download_button("Download the patient report (PDF)", data=lambda: _scope.report_pdf(patient.id, _sid),
                       file_name=f"{patient.code}-progress-report.pdf", mime="application/pdf", key="pg_pdf",
                       help="The same report the patient gets from their own page.")
    # The practitioner's report: the patient's PDF plus the clinician-only details (issue 20).
    from ui.auth import current_user

    _me = current_user()
    if _me is not None and not _me.is_patient:
        st.download_button("Report (PDF)", key="pg_pdf_practitioner",
                           data=lambda: service.practitioner_report_pdf(store, patient.id, _sid, by=_me),
                           file_name=f"{patient.code}-practitioner-report.pdf", mime="application/pdf",
                           help="The practitioner's copy: the patient's report plus treatment parameters per "
                                "session, alignment and calibration details, caveats and screening flags.")
st.caption(f"Analyzer version {ANALYZER_VERSION}: only results of this version are charted.")

from ui.consult import before_after_box  # noqa: E402

_views = sorted({r["view"] for r in rows}) or ["front"]
_regions = list(dict.fromkeys(r["region"] for r in rows)) or [service.DEFAULT_REGION]
with st.expander("Before/after picture for the clinic (needs marketing consent)", expanded=False):
    before_after_box(store, patient, series, _views, _regions)
