"""Streamlit helpers for consultation and sharing (issue 20): a zoom-and-pan photo view, the
findings on one photo (overlays, counts, redness and pigment maps with their colour bars), the
photo's annotations, marketing consent and the before/after export."""

from __future__ import annotations

import html as _html
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from analyzer import ANALYZER_VERSION
from analyzer.concerns.findings import FINDING_KINDS
from analyzer.errors import SkinProgressError
from analyzer.service import consult
from ui.common import (
    _location_key,
    _sha_of,
    data_url,
    get_store,
    jpeg_bytes,
    md_escape,
    revision,
    to_uint8,
)

if TYPE_CHECKING:
    from analyzer.store import Store


# ------------------------------------------------------------------ zoom and pan
def zoomable(img, *, caption: str = "", max_height: int = 560, key: str = "") -> None:
    """A photo the viewer can zoom (wheel, pinch, +/− buttons) and pan (drag), at the column's
    width. Plain HTML/JS (no component to build); double-click or "1:1" resets."""
    arr = np.asarray(img) if not isinstance(img, bytes | bytearray) else None
    src = data_url(img if arr is None else jpeg_bytes(to_uint8(arr)))
    if arr is not None:
        h, w = arr.shape[:2]
    else:
        import io

        from PIL import Image

        w, h = Image.open(io.BytesIO(img)).size
    max_w = int(round(w * max_height / max(h, 1)))
    cap = _html.escape(caption)
    btn = ("background:rgba(0,0,0,.6);color:#fff;border:0;border-radius:4px;padding:4px 9px;margin-left:4px;"
           "font-size:15px;cursor:pointer;")
    page = f"""
<style>html,body{{margin:0;padding:0;font-family:sans-serif;}}</style>
<div id="zv" style="position:relative;width:100%;max-width:{max_w}px;aspect-ratio:{w}/{h};overflow:hidden;
     touch-action:none;cursor:grab;background:#111;" title="Scroll or pinch to zoom, drag to move">
  <img id="im" alt="{cap}" src="{src}" draggable="false"
       style="position:absolute;top:0;left:0;width:100%;height:100%;transform-origin:0 0;user-select:none;">
  <div style="position:absolute;top:6px;right:6px;">
    <button id="zi" style="{btn}" aria-label="zoom in">+</button><button id="zo" style="{btn}"
      aria-label="zoom out">−</button><button id="zr" style="{btn}" aria-label="reset zoom">1:1</button>
  </div>
  <span id="zl" style="position:absolute;left:6px;bottom:6px;color:#fff;font-size:12px;
        text-shadow:0 0 3px #000;">100 %</span>
</div>
{f'<div style="font-size:0.85rem;color:#666;margin-top:4px;">{cap}</div>' if cap else ''}
<script>
const box=document.getElementById('zv'), im=document.getElementById('im'), lab=document.getElementById('zl');
let s=1, x=0, y=0, drag=null, pts=new Map(), pinch=null;
function clamp(){{ const W=box.clientWidth, H=box.clientHeight; x=Math.min(0,Math.max(W-W*s,x));
  y=Math.min(0,Math.max(H-H*s,y)); }}
function show(){{ clamp(); im.style.transform=`translate(${{x}}px,${{y}}px) scale(${{s}})`;
  lab.textContent=Math.round(s*100)+' %'; }}
function zoomAt(f,cx,cy){{ const n=Math.min(8,Math.max(1,s*f)); x=cx-(cx-x)*n/s; y=cy-(cy-y)*n/s; s=n; show(); }}
box.addEventListener('wheel',e=>{{e.preventDefault(); const r=box.getBoundingClientRect();
  zoomAt(e.deltaY<0?1.2:1/1.2,e.clientX-r.left,e.clientY-r.top);}},{{passive:false}});
box.addEventListener('pointerdown',e=>{{box.setPointerCapture(e.pointerId); pts.set(e.pointerId,[e.clientX,e.clientY]);
  if(pts.size===1) drag=[e.clientX-x,e.clientY-y]; else {{ drag=null; const p=[...pts.values()];
  pinch=Math.hypot(p[0][0]-p[1][0],p[0][1]-p[1][1]); }} }});
box.addEventListener('pointermove',e=>{{ if(!pts.has(e.pointerId)) return; pts.set(e.pointerId,[e.clientX,e.clientY]);
  if(pts.size===2 && pinch){{ const p=[...pts.values()], d=Math.hypot(p[0][0]-p[1][0],p[0][1]-p[1][1]);
    const r=box.getBoundingClientRect(); zoomAt(d/pinch,(p[0][0]+p[1][0])/2-r.left,(p[0][1]+p[1][1])/2-r.top); pinch=d; }}
  else if(drag){{ x=e.clientX-drag[0]; y=e.clientY-drag[1]; show(); }} }});
function up(e){{ pts.delete(e.pointerId); if(pts.size<2) pinch=null; if(!pts.size) drag=null; }}
box.addEventListener('pointerup',up); box.addEventListener('pointercancel',up);
box.addEventListener('dblclick',()=>{{s=1;x=0;y=0;show();}});
const c=()=>[box.clientWidth/2,box.clientHeight/2];
document.getElementById('zi').onclick=e=>{{e.stopPropagation(); zoomAt(1.5,...c());}};
document.getElementById('zo').onclick=e=>{{e.stopPropagation(); zoomAt(1/1.5,...c());}};
document.getElementById('zr').onclick=e=>{{e.stopPropagation(); s=1;x=0;y=0;show();}};
['zi','zo','zr'].forEach(i=>document.getElementById(i).addEventListener('pointerdown',e=>e.stopPropagation()));
</script>"""
    st.iframe(page, height="content")


# ------------------------------------------------------------------ findings
@st.cache_resource(show_spinner=False, max_entries=16)  # shared, read-only
def _findings(loc: tuple[str, str], photo_id: int, sha256: str, region: str, version: str, rev: int):
    return consult.photo_findings(get_store(), photo_id, region=region, analyzer_version=version)


def cached_findings(photo_id: int, region: str):
    """The findings of a photo's region (raises LookupError when there is nothing measured)."""
    return _findings(_location_key(), photo_id, _sha_of(photo_id), region, ANALYZER_VERSION, revision())


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None or not np.isfinite(v):
        return "—"
    txt = f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return f"{txt} {unit}".strip()


def findings_panel(pf, *, key: str) -> None:
    """Overlays of what each measure counted, the counts and areas behind the numbers, and the
    redness and pigment maps with their colour bars."""
    from analyzer.concerns import normalize_concern

    if pf.simulated:
        st.warning(f"SIMULATED session: {md_escape(pf.simulated)}. These findings are of a simulated change, "
                   "not a real treatment result.")
    if not pf.exact:
        st.caption("A follow-up is shown aligned to its baseline and recounted from the stored alignment: a "
                   "count can differ by a pixel's worth from the stored number, which is shown beside it.")
    ours = {normalize_concern(c) for c in pf.series_concerns}
    kinds = [k for k in FINDING_KINDS if FINDING_KINDS[k][1] in ours] + \
            [k for k in FINDING_KINDS if FINDING_KINDS[k][1] not in ours]
    rows = []
    for k in kinds:
        f = pf.findings[k]
        label, concern, key_, _ = FINDING_KINDS[k]
        stored = pf.stored_value(key_ if k != "red" else "redness.cheeks_nose.red_area_fraction") \
            if concern in ours else None
        if k == "lines":
            shown, what = f.area, f"{_fmt(f.area, f.area_unit)} of lines ({f.count} line{'s' if f.count != 1 else ''})" \
                if f.mask is not None else "—"
        elif k == "red":
            share = (f.mask.sum() / max(f.skin.sum(), 1)) if f.mask is not None else None
            shown, what = share, f"{_fmt(100 * share if share is not None else None, '%')} of the skin"
        else:
            shown, what = f.count, f"{f.count} found" if f.mask is not None else "—"
        rows.append({
            "Finding": label + ("" if concern in ours else " (not a concern of this series)"),
            "What the measure counted": what if f.mask is not None else f"not measured: {f.reason}",
            "Area": _fmt(f.area, f.area_unit) if f.mask is not None and k != "lines" else "",
            "Skin measured": _fmt(f.skin_area, "mm²" if f.px_per_mm else "px²"),
            "Stored number": "" if stored is None else (_fmt(100 * stored, "%") if k == "red" else _fmt(stored)),
        })
        _ = shown
    st.dataframe(rows, hide_index=True, width="stretch")
    tabs = st.tabs([FINDING_KINDS[k][0] for k in kinds] + ["Redness map", "Pigment map"])
    for t, k in zip(tabs, kinds, strict=False):
        f = pf.findings[k]
        with t:
            if f.mask is None:
                st.info(f"Nothing to show: {f.reason}")
                continue
            col = "rgb({},{},{})".format(*(int(255 * c) for c in f.colour))
            st.html(f'<div style="font-size:0.85rem"><span style="display:inline-block;width:12px;height:12px;'
                    f'background:{col};border:1px solid #555;vertical-align:middle"></span> the pixels this measure '
                    f'counted, drawn from the very mask its number came from (the analysis crop at '
                    f'{_fmt(f.px_per_mm)} px/mm).</div>' if f.px_per_mm else
                    f'<div style="font-size:0.85rem"><span style="display:inline-block;width:12px;height:12px;'
                    f'background:{col};border:1px solid #555"></span> the pixels this measure counted.</div>')
            zoomable(f.overlay(), caption=f"{FINDING_KINDS[k][0]}: {md_escape(str(f.count) + ' found') if f.count is not None else ''}",
                     key=f"{key}-{k}")
            if k == "lines" and f.parts:
                st.caption(" · ".join(f"{n.replace('_', ' ')}: {_fmt(v, f.area_unit)}" for n, v in f.parts.items()))
    for t, mk in zip(tabs[len(kinds):], ("haemoglobin", "melanin"), strict=True):
        m = pf.maps[mk]
        with t:
            st.markdown(f"**{m.title}**: average {_fmt(m.mean)} {m.unit.split(' (')[0]}")
            zoomable(m.figure(pf.map_background), caption=f"{m.title}. Units: {m.unit}; {m.higher}. "
                     "Same colours mean the same value in every photo.", key=f"{key}-{mk}")


# ------------------------------------------------------------------ annotations
def annotation_editor(store: Store, photo, *, by, key: str) -> None:
    """Add and remove the photo's marks (in its own pixels). They are drawn for people only."""
    marks = store.list_annotations(photo.id)
    with st.form(f"ann-{key}", clear_on_submit=True):
        st.caption(f"Mark the photo ({photo.width}×{photo.height} px, x to the right, y down). The marks are "
                   "shown here and in the PDF; the analysis never reads them.")
        c1, c2 = st.columns([1, 2])
        kind = c1.selectbox("Mark", ["arrow", "text", "outline"], key=f"ann-kind-{key}",
                            format_func={"arrow": "Arrow", "text": "Text", "outline": "Freehand outline"}.get)
        text = c2.text_input("Label (optional for arrows and outlines)", key=f"ann-text-{key}", max_chars=200)
        pts = st.text_input("Points as x,y pairs separated by ';' (arrow: tail; head — text: one point — "
                            "outline: three or more)", key=f"ann-pts-{key}", placeholder="420,610; 520,700")
        if st.form_submit_button("Add mark"):
            try:
                points = [[float(v) for v in p.split(",")] for p in pts.split(";") if p.strip()]
                consult.add_annotation(store, photo.id, kind=kind, points=points, text=text, by=by)
            except (ValueError, SkinProgressError) as exc:
                st.error(str(exc).splitlines()[0] if str(exc) else "points must be numbers: x,y; x,y")
            else:
                st.rerun()
    for m in marks:
        c1, c2 = st.columns([5, 1])
        c1.caption(f"{m.kind}: {md_escape(m.data.get('text') or '')} at "
                   f"{'; '.join(f'{x:g},{y:g}' for x, y in m.data.get('points') or [])}")
        if c2.button("Remove", key=f"ann-rm-{key}-{m.id}"):
            store.delete_annotation(m.id)
            st.rerun()


def annotated(store: Store, photo_id: int, rgb: np.ndarray, *, scale: float = 1.0, matrix=None) -> np.ndarray:
    """``rgb`` with the photo's marks drawn (a copy)."""
    from analyzer.render import draw_annotations

    marks = store.list_annotations(photo_id)
    return draw_annotations(rgb, marks, scale=scale, matrix=matrix) if marks else rgb


# ------------------------------------------------------------------ marketing consent
def marketing_consent_box(store: Store, patient) -> None:
    """Marketing consent: its own record (not the photo consent), dated, withdrawable."""
    from ui.auth import current_user

    st.markdown("**Marketing consent** (before/after pictures for the clinic's website, social media, "
                "case presentations; separate from the consent to photos being stored)")
    cur = store.marketing_consent(patient.id)
    k = f"mk{patient.id}"
    if cur is not None:
        st.caption(f"Given {cur.given_at:%Y-%m-%d %H:%M} UTC, recorded by {md_escape(cur.given_by)}"
                   + (f" — {md_escape(cur.note)}" if cur.note else ""))
        if st.button("Withdraw marketing consent", key=k + "w"):
            consult.withdraw_marketing_consent(store, patient.id, by=current_user() or "unknown")
            st.rerun()
    else:
        past = store.marketing_consents(patient.id)
        if past:
            st.caption(f"Withdrawn {past[0].withdrawn_at:%Y-%m-%d %H:%M} UTC: no later before/after picture "
                       "includes this patient.")
        else:
            st.caption("Not given: no before/after picture can be made for the clinic's use.")
        note = st.text_input("What the patient agreed to (optional)", key=k + "n", max_chars=300)
        if st.button("Record marketing consent (dated now)", key=k + "g"):
            consult.give_marketing_consent(store, patient.id, by=current_user() or "unknown", note=note)
            st.rerun()


# ------------------------------------------------------------------ before/after export
def before_after_box(store: Store, patient, series, views: list[str], regions: list[str]) -> None:
    """Options, the refusal without marketing consent, and the download."""
    from analyzer.service import marketing_consent_problem
    from ui.auth import current_user

    st.caption("For the clinic's own use (website, social media, case presentations): the aligned photos "
               "cropped to the region, with the clinic's name or logo and the dates. Needs the patient's "
               "marketing consent; every export is written to the audit log.")
    c1, c2, c3 = st.columns(3)
    kind = c1.selectbox("Picture", list(consult.EXPORT_KINDS), key="ba_kind",
                        format_func={"side_by_side": "Side by side (PNG)", "slider": "Slider still (PNG)",
                                     "animation": "Animation of the series (GIF)"}.get)
    view = c2.selectbox("View", views, key="ba_view")
    region = c3.selectbox("Region", regions, key="ba_region")
    deid = st.radio("De-identify", ["none", "mask_eyes", "below_eyes"], horizontal=True, key="ba_deid",
                    format_func={"none": "No", "mask_eyes": "Mask the eyes", "below_eyes": "Crop below the eyes"}.get)
    if st.button("Make before/after picture", key="ba_make"):
        st.session_state.pop("ba_file", None)
        problem = marketing_consent_problem(store, patient.id)
        if problem:
            st.error(problem)
        else:
            try:
                with st.spinner("Making the picture…"):
                    st.session_state["ba_file"] = consult.before_after_export(
                        store, patient.id, series.id, by=current_user() or "unknown", kind=kind, view=view,
                        region=region, deidentify=deid)
            except SkinProgressError as exc:
                st.error(str(exc).splitlines()[0])
    f = st.session_state.get("ba_file")
    if f is not None:
        if f.simulated:
            st.warning("SIMULATED: this series contains a simulated change; the picture is labelled so.")
        st.image(f.data, caption=f"{f.filename} · {', '.join(f.dates)}", width="stretch")
        st.download_button("Download before/after picture", f.data, file_name=f.filename, mime=f.mime,
                           key="ba_download")
