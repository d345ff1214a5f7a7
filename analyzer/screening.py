"""Intake and pre-session screening checklist for microneedling.

When a patient is created, and again before each session, the practitioner records a short
checklist. A ticked item is *flagged*: the app shows "consult a physician before treatment" on
the session page, and the checklist is stored with the session (``sessions.screening``, JSON) and
with the patient for the intake (``patients.screening``).

This is documentation that helps the practitioner. It is not a diagnosis and not a decision:
the app never blocks a session, it only makes the flag impossible to miss.

The stored form (``validate_screening`` returns it, JSON-safe)::

    {
      "schema": "screening/1",
      "context": "intake" | "pre_session",
      "answers": {"pregnant_or_breastfeeding": false, ..., "recent_botox": true},
      "dates": {"recent_botox": "2026-11-02"},      # only for ticked items that need a date
      "notes": "free text, optional",
      "recorded_on": "2026-11-20"                   # optional, ISO date
    }

Every item in :data:`SCREENING_ITEMS` is present in ``answers`` (missing = not ticked).

References
----------
Contraindications commonly listed for microneedling / collagen induction therapy, e.g.
Alster TS, Graham PM (2018). Microneedling: a review and practical guide. Dermatol Surg
44(3):397-404; Singh A, Yadav S (2016). Microneedling: advances and widening horizons.
Indian Dermatol Online J 7(4):244-254.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from analyzer.errors import UsageError

__all__ = [
    "ScreeningItem",
    "SCREENING_ITEMS",
    "SCREENING_KEYS",
    "SCREENING_CONTEXTS",
    "SCHEMA",
    "PHYSICIAN_ADVICE",
    "empty_screening",
    "validate_screening",
    "flags",
    "flagged_keys",
    "is_flagged",
]

SCHEMA = "screening/1"
ScreeningContext = Literal["intake", "pre_session"]
SCREENING_CONTEXTS: tuple[str, ...] = ("intake", "pre_session")

#: The advice shown with every flagged item.
PHYSICIAN_ADVICE = "consult a physician before treatment"


@dataclass(frozen=True)
class ScreeningItem:
    """One checklist question.

    Attributes
    ----------
    key : str
        Stored name (lower_snake_case).
    label : str
        Plain question text shown beside the tick box.
    needs_date : bool
        A ticked item must say when (e.g. the date of the last filler injection).
    group : str
        Heading the form groups items under.
    """

    key: str
    label: str
    needs_date: bool = False
    group: str = ""


#: The checklist, in the order the form shows it.
SCREENING_ITEMS: tuple[ScreeningItem, ...] = (
    ScreeningItem("pregnant_or_breastfeeding", "Pregnant or breastfeeding", group="General"),
    ScreeningItem("active_acne", "Active acne in the treatment area", group="Skin in the treatment area"),
    ScreeningItem("eczema", "Eczema (active) in the treatment area", group="Skin in the treatment area"),
    ScreeningItem("psoriasis", "Psoriasis (active) in the treatment area", group="Skin in the treatment area"),
    ScreeningItem("rosacea_flare", "Rosacea flare", group="Skin in the treatment area"),
    ScreeningItem("sunburn", "Sunburn", group="Skin in the treatment area"),
    ScreeningItem("infection_or_open_wounds", "Skin infection (e.g. cold sores) or open wounds",
                  group="Skin in the treatment area"),
    ScreeningItem("keloid_history", "History of keloid scars", group="History"),
    ScreeningItem("bleeding_disorder_or_blood_thinners", "Bleeding disorder, or taking blood thinners",
                  group="History"),
    ScreeningItem("recent_radiation_therapy", "Recent radiation therapy", needs_date=True, group="Recent treatments"),
    ScreeningItem("recent_botox", "Recent Botox (botulinum toxin)", needs_date=True, group="Recent treatments"),
    ScreeningItem("recent_fillers", "Recent dermal fillers", needs_date=True, group="Recent treatments"),
)
SCREENING_KEYS: tuple[str, ...] = tuple(i.key for i in SCREENING_ITEMS)
_BY_KEY = {i.key: i for i in SCREENING_ITEMS}
_MAX_NOTES = 2000


def empty_screening(context: str = "pre_session") -> dict:
    """A checklist with nothing ticked (the form's starting state)."""
    return validate_screening({"context": context, "answers": {}})


def _parse_date(value: Any, what: str) -> str:
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise UsageError(f"{what}: the date must be a date like 2026-11-02, got {value!r}")


def validate_screening(d: Mapping[str, Any] | None, *, today: _dt.date | None = None) -> dict:
    """Check a checklist and return its normalised, JSON-safe form.

    Parameters
    ----------
    d : mapping
        ``{"context": "intake"|"pre_session", "answers": {key: bool}, "dates": {key: date or
        ISO text}, "notes": str, "recorded_on": date or ISO text}``. ``answers`` may omit
        items (not ticked). As a shortcut, item keys may also sit at the top level
        (``{"sunburn": True}``).
    today : date, optional
        For the "date is in the future" check (default: today's date).

    Returns
    -------
    dict
        See the module docstring. Every item is present in ``answers``.

    Raises
    ------
    UsageError
        One line naming the bad entry: an unknown item, an answer that isn't yes/no, a ticked
        item that needs a date without one, a bad or future date, an unknown context.
    """
    if d is None:
        raise UsageError("the screening checklist is missing")
    if not isinstance(d, Mapping):
        raise UsageError("the screening checklist must be a mapping of item -> yes/no")
    today = today or _dt.date.today()
    known_top = {"schema", "context", "answers", "dates", "notes", "recorded_on"}
    answers_in: dict[str, Any] = dict(d.get("answers") or {})
    for k, v in d.items():
        if k in known_top:
            continue
        if k in _BY_KEY:
            answers_in[k] = v
        else:
            raise UsageError(f"unknown screening entry {k!r}; items: {', '.join(SCREENING_KEYS)}")
    schema = d.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise UsageError(f"unsupported screening schema {schema!r} (expected {SCHEMA!r})")
    context = d.get("context", "pre_session")
    if context not in SCREENING_CONTEXTS:
        raise UsageError(f"screening context {context!r}; allowed: {', '.join(SCREENING_CONTEXTS)}")
    answers: dict[str, bool] = {}
    for k, v in answers_in.items():
        if k not in _BY_KEY:
            raise UsageError(f"unknown screening item {k!r}; items: {', '.join(SCREENING_KEYS)}")
        if v is None:
            v = False
        if not isinstance(v, bool):
            raise UsageError(f"screening item {_BY_KEY[k].label!r}: the answer must be yes or no, got {v!r}")
        answers[k] = v
    answers = {k: answers.get(k, False) for k in SCREENING_KEYS}
    dates_in = d.get("dates") or {}
    if not isinstance(dates_in, Mapping):
        raise UsageError("screening dates must be a mapping of item -> date")
    dates: dict[str, str] = {}
    for k, v in dates_in.items():
        if k not in _BY_KEY:
            raise UsageError(f"unknown screening item {k!r} in dates")
        if not _BY_KEY[k].needs_date:
            raise UsageError(f"screening item {_BY_KEY[k].label!r} takes no date")
        if v is None or v == "":
            continue
        iso = _parse_date(v, _BY_KEY[k].label)
        if _dt.date.fromisoformat(iso) > today:
            raise UsageError(f"{_BY_KEY[k].label}: the date {iso} is in the future")
        if answers[k]:
            dates[k] = iso  # a date of an unticked item is dropped: it means nothing
    for k, ticked in answers.items():
        if ticked and _BY_KEY[k].needs_date and k not in dates:
            raise UsageError(f"{_BY_KEY[k].label}: give the date (when was it?)")
    notes = d.get("notes") or ""
    if not isinstance(notes, str):
        raise UsageError("screening notes must be text")
    notes = notes.strip()
    if len(notes) > _MAX_NOTES:
        raise UsageError(f"screening notes are too long ({len(notes)} > {_MAX_NOTES} characters)")
    out: dict[str, Any] = {"schema": SCHEMA, "context": context, "answers": answers, "dates": dates, "notes": notes}
    rec = d.get("recorded_on")
    if rec not in (None, ""):
        out["recorded_on"] = _parse_date(rec, "screening date")
    return out


def flagged_keys(screening: Mapping[str, Any] | None) -> list[str]:
    """Keys of the ticked items, in checklist order (``[]`` for no checklist)."""
    if not screening:
        return []
    s = validate_screening(screening)
    return [k for k in SCREENING_KEYS if s["answers"][k]]


def is_flagged(screening: Mapping[str, Any] | None) -> bool:
    """True when any item is ticked."""
    return bool(flagged_keys(screening))


def flags(screening: Mapping[str, Any] | None, *, on: _dt.date | None = None) -> list[str]:
    """Plain-language warnings, one per ticked item, each ending in the physician advice.

    Parameters
    ----------
    screening : mapping or None
        A checklist (validated here). ``None`` or ``{}`` gives no warnings.
    on : date, optional
        The session date: dated items then say how long ago they were, and an item dated after
        it (an intake's later Botox, say) is not a flag of this session.

    Examples
    --------
    >>> flags({"answers": {"sunburn": True}})
    ['Sunburn: consult a physician before treatment.']
    """
    if not screening:
        return []
    s = validate_screening(screening)
    out = []
    for k in SCREENING_KEYS:
        if not s["answers"][k]:
            continue
        item = _BY_KEY[k]
        text = item.label
        if k in s["dates"]:
            when = _dt.date.fromisoformat(s["dates"][k])
            if on is not None and when > on:
                continue  # it happened after this session
            text += f" (on {when.isoformat()}"
            if on is not None:
                days = (on - when).days
                if days >= 0:
                    text += f", {days} day{'s' if days != 1 else ''} before this session"
            text += ")"
        out.append(f"{text}: {PHYSICIAN_ADVICE}.")
    return out
