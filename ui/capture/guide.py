"""The clinic's capture guide: the same set-up at every session, so the numbers compare.

One text, shown three ways: on the Capture guide page, inline before the first upload of a new
series, and as a standalone printable HTML page (print button, or download).
"""

from __future__ import annotations

import html

from analyzer.views import VIEW_LABELS, view_label

TITLE = "Capture guide: the same photo at every session"

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("The room", (
        "A fixed, plain backdrop (grey or white), the same at every session.",
        "The same lamp in the same place: a ring light or a flash, never the window (daylight changes "
        "with the hour and the weather). Overhead lights off if they are a different colour.",
        "The same camera, at its full resolution, not a screenshot or a messaging-app copy.",
    )),
    ("Distance and pose", (
        "The same distance at every session: mark the floor for the chair and the camera "
        "(about 30 cm for the face; closer for pores, fine lines and hair, which need 2.5-4 px/mm).",
        "Camera at eye level, face straight to the camera for the front view; eyes level.",
        "Use the ghost of the baseline on the camera tab: line the face up with it and its outline.",
    )),
    ("Colour reference", (
        "Hold the grey card or the ColorChecker beside the face, in the same light as the skin, "
        "in every photo of the series (or in none: then colours are compared without calibration).",
        "Keep it flat and unshaded; it must not cover the skin being treated.",
    )),
    ("The patient", (
        "Hair back (a headband), no make-up, no moisturiser or sunscreen shine; glasses off.",
        "Neutral expression, mouth closed, eyes open.",
        "Same polarising filter setting as at baseline, if the light has one.",
    )),
    ("Before keeping", (
        "Each photo is checked against the baseline before it is kept: distance, turn, sharpness, "
        "exposure and light. Fix the one thing it names and retake; keep a photo that fails only "
        "when a retake is impossible: it keeps its caveat in the results.",
    )),
)


def views_text(views: list[str] | tuple[str, ...] | None = None) -> list[str]:
    vs = list(views) if views else ["front", "left45", "right45"]
    return [view_label(v) for v in vs]


def guide_markdown(views=None) -> str:
    out = []
    for head, items in SECTIONS:
        out.append(f"**{head}**")
        out.extend(f"- {x}" for x in items)
        out.append("")
    out.append("**The views to take**")
    out.extend(f"- {v}" for v in views_text(views))
    return "\n".join(out)


def guide_html(views=None, *, clinic: str = "") -> str:
    """A standalone page that prints on one sheet (A4 or Letter)."""
    e = html.escape
    parts = [f"<h1>{e(TITLE)}</h1>"]
    if clinic:
        parts.append(f"<p class='sub'>{e(clinic)}</p>")
    for head, items in SECTIONS:
        parts.append(f"<h2>{e(head)}</h2><ul>" + "".join(f"<li>{e(x)}</li>" for x in items) + "</ul>")
    parts.append("<h2>The views to take</h2><ul>" + "".join(f"<li>{e(v)}</li>" for v in views_text(views)) + "</ul>")
    body = "\n".join(parts)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{e(TITLE)}</title>
<style>
 body {{ font: 14px/1.45 -apple-system, "Segoe UI", sans-serif; color: #222; max-width: 46em; margin: 1em auto; padding: 0 1em; }}
 h1 {{ font-size: 20px; margin: 0 0 .4em; }} h2 {{ font-size: 15px; margin: 1em 0 .2em; }}
 ul {{ margin: .2em 0; padding-left: 1.3em; }} .sub {{ color: #666; margin: 0; }}
 button {{ font: inherit; padding: 6px 14px; border-radius: 8px; border: 1px solid #ccc; background: #fff; cursor: pointer; }}
 @media print {{ .noprint {{ display: none; }} body {{ margin: 0; }} }}
 @page {{ margin: 15mm; }}
</style></head><body>
<p class="noprint"><button onclick="window.print()">Print this guide</button></p>
{body}
</body></html>"""


ALL_VIEWS = tuple(VIEW_LABELS)
