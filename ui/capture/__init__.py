"""Capture that makes sessions comparable: the ghost-capture component and the pre-keep step.

- :func:`ghost_capture`: a custom component (plain HTML/JS in ``frontend/``, no build step) with
  the live camera, the baseline's ghost and face outline over it, capturing at the camera's full
  resolution; returns the shot's bytes.
- :func:`stage` / :func:`review_pending`: every candidate photo (camera or upload) is checked
  against the baseline (:func:`analyzer.service.prekeep.check_before_keep`) before it is kept; the
  verdict is shown with "Keep" and "Retake". A kept photo that failed a check keeps its caveats
  (the analysis reports them as before).
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import streamlit as st
import streamlit.components.v1 as components
from PIL import Image

from analyzer.errors import SkinProgressError

if TYPE_CHECKING:
    from analyzer.store import Store

_FRONTEND = Path(__file__).parent / "frontend"
_component = components.declare_component("ghost_capture", path=str(_FRONTEND))

GHOST_MAX_SIDE = 960
PENDING_KEY = "_prekeep_pending"
CHECKS_KEY = "_prekeep_by_sha"  # sha256 of a checked photo's bytes -> its verdict summary


def _data_url(img: Image.Image, fmt: str = "JPEG") -> str:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    mime = "image/jpeg" if fmt == "JPEG" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@st.cache_data(show_spinner=False, max_entries=32)
def ghost_assets(display_jpeg: bytes, face_box: tuple | None, eyes: tuple | None,
                 photo_size: tuple[int, int]) -> dict:
    """The baseline as the component's ghost: a reduced JPEG, its edges (white on transparent)
    and the face outline (an ellipse around the face box, the eye centres), in the reduced
    image's pixels. ``face_box``/``eyes`` are in the photo's own upright pixels."""
    img = Image.open(io.BytesIO(display_jpeg)).convert("RGB")
    img.thumbnail((GHOST_MAX_SIDE, GHOST_MAX_SIDE), Image.Resampling.LANCZOS)
    w, h = img.size
    g = cv2.GaussianBlur(cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY), (0, 0), 1.5)
    e = cv2.Canny(g, 30, 80)
    e = cv2.dilate(e, np.ones((2, 2), np.uint8))
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = e
    out = {"ghost": _data_url(img), "edges": _data_url(Image.fromarray(rgba, "RGBA"), "PNG"),
           "ghost_size": [w, h], "outline": None}
    if face_box is not None:
        s = w / photo_size[0]
        x, y, bw, bh = (float(v) * s for v in face_box)
        out["outline"] = {"cx": x + bw / 2, "cy": y + bh * 0.45, "rx": bw * 0.62, "ry": bh * 0.85,
                          "eyes": [[float(px) * s, float(py) * s] for px, py in (eyes or ())],
                          "stroke": max(1.5, w / 320)}
    return out


def ghost_capture(assets: dict | None, *, opacity: float = 0.35, facing: str = "environment",
                  max_height: int = 640, key: str) -> dict | None:
    """Render the component; the last shot as a dict (``data`` bytes, ``width``, ``height``,
    ``method``, ``track_width``/``track_height``, ``shot_at_ms``, ``nonce``) or None."""
    a = assets or {}
    v = _component(ghost=a.get("ghost"), edges=a.get("edges"), ghost_size=a.get("ghost_size"),
                   outline=a.get("outline"), opacity=float(opacity), facing=facing, max_height=max_height,
                   key=key, default=None)
    if not v or not isinstance(v, dict) or not v.get("image"):
        return None
    try:
        data = base64.b64decode(v["image"], validate=True)
    except (ValueError, TypeError):
        st.error("The camera sent an unreadable image: take the photo again.")
        return None
    out = {k: v.get(k) for k in ("width", "height", "method", "track_width", "track_height", "facing",
                                 "shot_at_ms", "capture_ms", "nonce", "mime")}
    out["data"] = data
    out["received_at_ms"] = int(time.time() * 1000)
    return out


# ------------------------------------------------------------------ the pre-keep step
def stage(store: Store, session_id: int, items: list[tuple[str, bytes, str]], *, source: str,
          shot_at_ms: int | None = None, meta: dict | None = None) -> None:
    """Check candidates (view, bytes, filename) against the baseline; keep them pending until
    the user keeps or retakes each one. An unreadable file is reported at once (one line)."""
    from analyzer.service.prekeep import check_before_keep

    pending = st.session_state.setdefault(PENDING_KEY, [])
    for view, data, name in items:
        try:
            r = check_before_keep(store, session_id, view, data, name)
        except SkinProgressError as exc:
            st.error(str(exc))
            continue
        st.session_state.setdefault(CHECKS_KEY, {})[hashlib.sha256(data).hexdigest()] = r.summary()
        done_ms = int(time.time() * 1000)
        pending.append({"session_id": session_id, "view": view, "data": data, "filename": name,
                        "source": source, "check": r.to_dict(), "ok": r.ok, "verdict": r.verdict,
                        "seconds": r.seconds, "meta": dict(meta or {}),
                        "shot_to_verdict_ms": (done_ms - shot_at_ms) if shot_at_ms else None})


def review_pending(keep: Callable[[list[tuple[str, bytes, str]]], None], *, session_id: int,
                   retake: Callable[[dict], None] | None = None, note: str | None = None) -> None:
    """Show each candidate pending for ``session_id`` with its verdict and "Keep" / "Retake"
    (``note``: a further warning for every candidate, e.g. capture conditions that differ)."""
    pending = st.session_state.get(PENDING_KEY) or []
    mine = [p for p in pending if p["session_id"] == session_id]
    if not mine:
        return
    st.markdown("#### Check before keeping")
    for i, p in enumerate(mine):
        c1, c2 = st.columns([1, 2])
        with c1:
            st.image(p["data"], caption=f"{p['view']} · {p['filename']}", width=240)
        with c2:
            size = p["check"]["size"]
            timing = f" · checked in {p['seconds']:.1f} s"
            if p.get("shot_to_verdict_ms") is not None:
                timing += f" ({p['shot_to_verdict_ms'] / 1000:.1f} s from the shot)"
            if p["ok"]:
                st.success(p["verdict"], icon=":material/check_circle:")
            else:
                st.warning(p["verdict"], icon=":material/warning:")
            m = p.get("meta") or {}
            how = f" · camera: {m['method']}, {m.get('mime') or 'image'}" if m.get("method") else ""
            if note:
                st.warning(note, icon=":material/tune:")
            st.caption(f"{size['width']} × {size['height']} px{how}{timing}",
                       help="Size of the photo as it will be kept; the time from the shot to this verdict.")
            with st.expander("All checks", expanded=False):
                for ch in p["check"]["checks"]:
                    mark = {"ok": ":green[ok]", "fix": ":orange[fix]", "unknown": ":gray[n/a]"}[ch["status"]]
                    st.markdown(f"- {mark} **{ch['name']}**: {ch['message']}")
            b1, b2 = st.columns(2)
            if b1.button("Keep", key=f"prekeep_keep_{i}_{p['filename']}", type="primary",
                         help="Store the photo and analyse it; a failed check stays as a caveat."):
                pending.remove(p)
                keep([(p["view"], p["data"], p["filename"])])  # reruns the page once kept
                pending.insert(0, p)  # not kept (its error is shown): still pending
                return
            if b2.button("Retake", key=f"prekeep_retake_{i}_{p['filename']}", help="Discard this photo."):
                pending.remove(p)
                if retake is not None:
                    retake(p)
                st.rerun()


# ------------------------------------------------------------------ capture conditions
def conditions_input(defaults: dict | None, *, key: str = "cond") -> dict | None:
    """How the photos taken now are lit and prepared (recorded with each photo kept).
    Defaults: the series' last recorded conditions. Returns the conditions, or None if nothing said."""
    from analyzer.conditions import LIGHT_SOURCES, REFERENCES

    d = defaults or {}
    yn = {None: "not said", True: "yes", False: "no"}
    with st.expander("Capture conditions of the photos taken now", expanded=False):
        st.caption("Recorded with each photo kept; a photo whose conditions differ from the baseline's says so.")
        c1, c2, c3, c4 = st.columns(4)
        light = c1.selectbox("Light source", [None, *LIGHT_SOURCES], key=f"{key}_light",
                             index=[None, *LIGHT_SOURCES].index(d.get("light_source")),
                             format_func=lambda k: "not said" if k is None else LIGHT_SOURCES[k])
        pol = c2.selectbox("Polarised light", [None, True, False], key=f"{key}_pol",
                           index=[None, True, False].index(d.get("polarised")), format_func=yn.get)
        mk = c3.selectbox("Make-up on", [None, True, False], key=f"{key}_makeup",
                          index=[None, True, False].index(d.get("makeup")), format_func=yn.get)
        ref = c4.selectbox("Colour reference in frame", [None, *REFERENCES], key=f"{key}_ref",
                           index=[None, *REFERENCES].index(d.get("reference")),
                           format_func=lambda k: "not said" if k is None else REFERENCES[k])
    out = {"light_source": light, "polarised": pol, "makeup": mk, "reference": ref}
    return None if all(v is None for v in out.values()) else out


def record_conditions(store: Store, photos, conditions: dict | None) -> None:
    """Record, on photos just kept, the capture conditions and the verdict of their check before
    keeping (found by the photo's content hash; an invalid value is a one-line error)."""
    checks = st.session_state.get(CHECKS_KEY) or {}
    for p in photos:
        try:
            if conditions:
                store.set_capture_conditions(p.id, conditions)
            summary = checks.pop(p.sha256, None)
            if summary is not None:
                store.set_prekeep_check(p.id, summary)
        except SkinProgressError as exc:
            st.error(str(exc))
            return


def show_kept_check(photo) -> None:
    """Under a kept photo: the check before keeping's verdict when it failed (its caveat)."""
    c = photo.prekeep_check
    if c and not c.get("ok"):
        fixes = [f["fix"] for f in c.get("failed") or [] if f.get("fix")]
        st.warning("**Kept although the check before keeping said:** " + " ".join(fixes or [c["verdict"]]),
                   icon=":material/warning:")
