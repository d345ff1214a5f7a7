"""The standard views of a series and which ones a session still lacks.

Views are the store's view names: ``front``, ``left45``, ``right45``, ``left90``, ``right90``, and
named close-ups ``closeup:<name>`` (cheek, forehead, scalp, or any body area). "Left" is the
patient's left. The views a session needs are the views of the series' baseline session (what
was photographed at baseline is what every later session must repeat); with no baseline photos
yet, the standard face set (front, left 45°, right 45°).
"""

from __future__ import annotations

from collections.abc import Iterable

from analyzer.store.validate import CLOSEUP_PREFIX, STANDARD_VIEWS

#: Plain names of the standard views and the usual close-ups, in the order they are taken.
VIEW_LABELS: dict[str, str] = {
    "front": "Front",
    "left45": "Left 45° (patient's left)",
    "right45": "Right 45° (patient's right)",
    "left90": "Left 90° (profile, patient's left)",
    "right90": "Right 90° (profile, patient's right)",
    "closeup:left_cheek": "Close-up: left cheek",
    "closeup:right_cheek": "Close-up: right cheek",
    "closeup:forehead": "Close-up: forehead",
    "closeup:scalp": "Close-up: scalp",
    "closeup:body": "Close-up: body area",
}

DEFAULT_FACE_VIEWS = ("front", "left45", "right45")


def view_label(view: str) -> str:
    if view in VIEW_LABELS:
        return VIEW_LABELS[view]
    if view.startswith(CLOSEUP_PREFIX):
        return "Close-up: " + view[len(CLOSEUP_PREFIX):].replace("_", " ")
    return view


def view_choices(extra: Iterable[str] = ()) -> list[str]:
    """The views to offer: the standard ones, the usual close-ups, then any other in use."""
    out = list(STANDARD_VIEWS) + [v for v in VIEW_LABELS if v not in STANDARD_VIEWS]
    for v in extra:
        if v not in out:
            out.append(v)
    return out


def required_views(baseline_views: Iterable[str]) -> list[str]:
    """The views every session of the series needs: the baseline session's, in the standard order."""
    have = list(dict.fromkeys(baseline_views))
    if not have:
        return list(DEFAULT_FACE_VIEWS)
    order = view_choices(have)
    return sorted(have, key=order.index)


def missing_views(required: Iterable[str], present: Iterable[str]) -> list[str]:
    got = set(present)
    return [v for v in required if v not in got]
