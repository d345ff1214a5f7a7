"""Streamlit pieces for concerns, screening and recovery. Pages call these; numbers come from
``analyzer.concerns`` / ``analyzer.screening`` / ``analyzer.recovery`` (which never import
streamlit).

Calls (the lead wires them into the pages):

* ``render_screening_form(key_prefix, context=...) -> dict``: inside the new-patient form
  (``context="intake"``) and the add-session form (``"pre_session"``). Pass the dict to
  ``analyzer.screening.validate_screening`` on submit and store the result.
* ``render_screening_flags(screening, on=session_date)``: at the top of the session page.
* ``render_concern_measures(rows, concerns)``: at the top of the progress page
  (``rows`` = ``service.progress_table``, ``concerns`` = ``series.concerns``).
* ``render_recovery_chart(curves)``: on the session page of a treatment session with recovery
  photos (``curves`` from ``analyzer.recovery.curves_from_sessions(rows, sessions)``, cut after
  the current session so it is last).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import streamlit as st

from analyzer.concerns import (
    CONCERN_LABELS,
    concern_order,
    measure_label,
    normalize_concern,
)
from analyzer.errors import UsageError
from analyzer.recovery import SWELLING_NOTE, RecoveryCurve, compare_recovery
from analyzer.screening import PHYSICIAN_ADVICE, SCREENING_ITEMS, flags

__all__ = [
    "render_screening_form",
    "render_screening_flags",
    "render_concern_measures",
    "render_recovery_chart",
    "SCREENING_DISCLAIMER",
]

SCREENING_DISCLAIMER = (
    "This checklist is documentation to help the practitioner; it is not a diagnosis and does not "
    "decide whether to treat."
)


def render_screening_form(key_prefix: str, *, context: str = "pre_session",
                          initial: Mapping[str, Any] | None = None) -> dict:
    """Draw the screening checklist (works inside or outside an ``st.form``).

    Parameters
    ----------
    key_prefix : str
        Prefix of every widget key (``f"{key_prefix}_{item}"``, dates ``..._date``, notes
        ``..._notes``), unique per page.
    context : {"intake", "pre_session"}
    initial : mapping, optional
        A stored checklist to pre-fill (e.g. the patient's intake before a session).

    Returns
    -------
    dict
        ``{"context", "answers": {key: bool}, "dates": {key: date | None}, "notes": str}`` -
        *not yet validated*: pass it to ``analyzer.screening.validate_screening`` on submit and
        show its one-line ``UsageError`` with ``st.error``.
    """
    init_ans = dict((initial or {}).get("answers") or {})
    init_dates = dict((initial or {}).get("dates") or {})
    title = "Intake screening" if context == "intake" else "Before this session"
    st.markdown(f"**{title}**: tick anything that applies today.")
    answers: dict[str, bool] = {}
    dates: dict[str, _dt.date | None] = {}
    group = None
    for item in SCREENING_ITEMS:
        if item.group != group:
            group = item.group
            st.caption(group)
        if item.needs_date:
            c1, c2 = st.columns([3, 2])
            answers[item.key] = c1.checkbox(item.label, value=bool(init_ans.get(item.key, False)),
                                            key=f"{key_prefix}_{item.key}")
            v = init_dates.get(item.key)
            v = _dt.date.fromisoformat(v) if isinstance(v, str) else v
            dates[item.key] = c2.date_input("Date (if ticked)", value=v, key=f"{key_prefix}_{item.key}_date",
                                            max_value=_dt.date.today(), format="YYYY-MM-DD")
        else:
            answers[item.key] = st.checkbox(item.label, value=bool(init_ans.get(item.key, False)),
                                            key=f"{key_prefix}_{item.key}")
    notes = st.text_input("Screening notes (optional)", value=str((initial or {}).get("notes") or ""),
                          key=f"{key_prefix}_notes")
    st.caption(SCREENING_DISCLAIMER)
    return {"context": context, "answers": answers,
            "dates": {k: v for k, v in dates.items() if v is not None}, "notes": notes}


def render_screening_flags(screening: Mapping[str, Any] | None, *, on: _dt.date | None = None) -> list[str]:
    """Show a warning for every ticked checklist item ("... consult a physician before treatment").

    Parameters
    ----------
    screening : mapping or None
        The session's stored checklist. None: a note that none was recorded.
    on : date, optional
        The session date (dated items then say how many days before).

    Returns
    -------
    list of str
        The warnings shown (empty when nothing is ticked).
    """
    if screening is None:
        st.info("No screening checklist was recorded for this session.")
        return []
    try:
        msgs = flags(screening, on=on)
    except UsageError as e:
        st.error(f"The stored screening checklist can't be read: {e}")
        return []
    if not msgs:
        st.success("Screening: nothing flagged.")
        return []
    body = "\n".join(f"- {m}" for m in msgs)
    st.warning(f"**Screening flags: {PHYSICIAN_ADVICE}.**\n\n{body}", icon="⚠️")
    st.caption(SCREENING_DISCLAIMER)
    return msgs


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if f != f:
        return "—"
    return f"{f:.3g}" if abs(f) < 1000 else f"{f:,.0f}"


def _region_text(name) -> str:
    from analyzer.service import region_label  # ui may use the use-case layer

    return region_label(name) if name else "—"


def _measure_label(key: str) -> str:
    lab = measure_label(key)
    if lab != key:
        return lab
    group, _, name = key.partition(".")
    return f"{CONCERN_LABELS.get(group, group.replace('_', ' ').capitalize())}: {name.replace('_', ' ').replace('.', ' ')}"


def render_concern_measures(rows: Iterable[Mapping[str, Any]], concerns: Sequence[str], *,
                            region: str | None = None, view: str | None = None) -> list[str]:
    """The series' concerns first, then the general metrics behind them.

    Parameters
    ----------
    rows : iterable of mapping
        Tidy rows (``service.progress_table``): ``metric`` (``group.key``), ``value``, ``unit``,
        ``session_index``, ``session_date``, optional ``region``, ``view``, ``label``,
        ``simulated``, ``reason``.
    concerns : sequence of str
        The series' concerns (``series.concerns``), in their order.
    region, view : str, optional
        Show only these rows.

    Returns
    -------
    list of str
        The metric keys in the order shown.
    """
    rows = [r for r in rows if (region is None or r.get("region") == region) and (view is None or r.get("view") == view)]
    if not rows:
        st.info("Nothing measured yet for this series.")
        return []
    order = concern_order(concerns, [r["metric"] for r in rows])
    own = [normalize_concern(c) for c in concerns]
    own_keys = [k for k in order if k.split(".", 1)[0] in own]
    general = [k for k in order if k not in own_keys]
    if any(r.get("simulated") for r in rows):
        st.caption("Some sessions contain SIMULATED changes (labelled in the table).")

    def table(keys: list[str]) -> list[dict]:
        out = []
        for k in keys:
            for r in sorted((r for r in rows if r["metric"] == k),
                            key=lambda r: (r.get("session_index") or 0, str(r.get("session_date")))):
                out.append({
                    # a concern's own measure by its label; a general metric by the label the charts
                    # use (never a second name for the same redness: "Redness and rosacea: a star mean")
                    "Measure": (measure_label(k) if measure_label(k) != k
                                else r.get("label") or _measure_label(k)),
                    "Session": r.get("session_index"),
                    "Date": r.get("session_date"),
                    "Region": _region_text(r.get("region")),
                    "Value": _fmt(r.get("value")),
                    "Unit": r.get("unit") or "",
                    "Note": ("SIMULATED " if r.get("simulated") else "") + (r.get("reason") or "" if r.get("value") is None else ""),
                })
        return out

    for c in own:
        keys = [k for k in own_keys if k.split(".", 1)[0] == c]
        label = CONCERN_LABELS.get(c, c.replace("_", " ").capitalize())
        st.subheader(label)
        if keys:
            st.dataframe(table(keys), hide_index=True, key=f"cm_{c}")
        else:
            st.caption(f"{label}: no measure of its own yet; its general metrics lead below.")
    with st.expander("General metrics", expanded=not own_keys):
        st.dataframe(table(general), hide_index=True, key="cm_general")
    return own_keys + general


def render_recovery_chart(recovery_series: Sequence[RecoveryCurve] | RecoveryCurve) -> str | None:
    """Chart the excess redness after sessions (1-7 days), and say when this one is slower.

    Parameters
    ----------
    recovery_series : RecoveryCurve or sequence of them
        Previous sessions first, the current session **last** (from
        ``analyzer.recovery.recovery_curve``).

    Returns
    -------
    str or None
        The "slower than previous sessions" sentence when shown.
    """
    import altair as alt

    curves = [recovery_series] if isinstance(recovery_series, RecoveryCurve) else list(recovery_series)
    if not curves:
        st.info("No recovery photos yet.")
        return None
    current, previous = curves[-1], curves[:-1]
    simulated = any(c.simulated for c in curves)
    title = "Redness after the session" + (" (SIMULATED)" if simulated else "")
    st.subheader(title)
    data = [r for c in curves for r in c.chart_rows()]
    unit = current.unit
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("day:Q", title="days after the session", scale=alt.Scale(domain=[0, 7.5])),
        y=alt.Y("excess:Q", title=f"excess redness over the pre-session value ({unit})"),
        color=alt.Color("session:N", title="session", legend=alt.Legend(orient="bottom")),  # fits a phone
    )
    pts = base.transform_filter(alt.datum.series == "measured").mark_point(filled=True, size=60)
    line = base.transform_filter(alt.datum.series == "fitted").mark_line(strokeDash=[4, 3])
    st.altair_chart(pts + line, width="stretch")
    for c in curves:
        name = c.label or "this session"
        if c.ok:
            bound = "at most " if c.upper_bound else ""
            st.caption(f"{name}: redness halves in {bound}{c.half_life_days:.1f} days; back within the noise band "
                       f"after about {c.days_to_settle:.0f} days." + (" SIMULATED." if c.simulated else ""))
        else:
            st.caption(f"{name}: {c.reason}." + (" SIMULATED." if c.simulated else ""))
    msg = compare_recovery(current, previous)
    if msg:
        st.warning(msg)
    st.caption(SWELLING_NOTE)
    return msg
