"""Input checks. Every check runs before anything is written; each failure is one line."""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
import re
import unicodedata
from typing import Any

from analyzer.store.errors import InvalidInput

STANDARD_VIEWS = ("front", "left45", "right45", "left90", "right90")
CLOSEUP_PREFIX = "closeup:"
SESSION_KINDS = ("treatment", "recovery")
ROLES = ("practitioner", "patient")
REGION_KINDS = ("face", "named", "rect", "polygon")
#: Concerns the app offers; other names are accepted (lower_snake_case).
KNOWN_CONCERNS = (
    "acne_scars",
    "pigmentation",
    "fine_lines",
    "texture",
    "redness",
    "stretch_marks",
    "enlarged_pores",
    "surgical_scars",
    "laxity",
)
RECOVERY_MAX_DAYS = 7

_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,49}$")
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}


def text(value: Any, what: str, *, max_len: int = 200, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, not {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{what} is required")
    if len(value) > max_len:
        raise InvalidInput(f"{what} is too long ({len(value)} characters; at most {max_len})")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in value):
        raise InvalidInput(f"{what} contains control characters")
    return value


def long_text(value: Any, what: str) -> str:
    return text(value, what, max_len=20_000)


def patient_code(value: Any) -> str:
    v = text(value, "patient code", max_len=64, required=True)
    if not _CODE_RE.match(v):
        raise InvalidInput(
            f"patient code {v!r} is not allowed: use letters, digits, '.', '_' or '-' (e.g. P-0001)"
        )
    return v


def boolean(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise InvalidInput(f"{what} must be true or false")


def opt_int(value: Any, what: str, lo: int, hi: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"{what} must be a whole number from {lo} to {hi}")
    try:
        f = float(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number from {lo} to {hi}, not {value!r}") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise InvalidInput(f"{what} must be a whole number from {lo} to {hi}, not {value!r}")
    return int(f)


def birth_year(value: Any) -> int | None:
    return opt_int(value, "birth year", 1900, dt.date.today().year)


def fitzpatrick(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().upper() in _ROMAN:
        return _ROMAN[value.strip().upper()]
    return opt_int(value, "Fitzpatrick skin type", 1, 6)


def json_value(value: Any, what: str, *, kind: type | tuple | None = dict, allow_none: bool = True):
    """A JSON-able value (no NaN/inf), returned as a normalised deep copy."""
    if value is None:
        if allow_none:
            return None
        raise InvalidInput(f"{what} is required")
    if kind is not None and not isinstance(value, kind):
        raise InvalidInput(f"{what} must be a JSON {getattr(kind, '__name__', 'object')}")
    try:
        s = json.dumps(value, allow_nan=False, sort_keys=True)
    except ValueError:
        raise InvalidInput(f"{what} contains NaN or infinity; store missing values as null") from None
    except TypeError as exc:
        raise InvalidInput(f"{what} can't be stored as JSON ({exc})") from None
    if len(s) > 5_000_000:
        raise InvalidInput(f"{what} is too large to store ({len(s)} bytes of JSON)")
    return json.loads(s)


def concerns(value: Any) -> list[str]:
    """Concern names, normalised to lower_snake_case, duplicates dropped (may be empty)."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidInput("concerns must be a list of names, e.g. ['acne_scars']")
    out: list[str] = []
    for c in value:
        if not isinstance(c, str):
            raise InvalidInput(f"concern {c!r} must be text")
        slug = re.sub(r"[\s\-]+", "_", c.strip().lower())
        if not _SLUG_RE.match(slug):
            raise InvalidInput(f"concern {c!r} is not a valid name (letters, digits, '_')")
        if slug not in out:
            out.append(slug)
    return out


def view(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput("photo view must be text")
    v = value.strip().lower()
    if v in STANDARD_VIEWS:
        return v
    if v.startswith(CLOSEUP_PREFIX):
        name = re.sub(r"[\s\-]+", "_", v[len(CLOSEUP_PREFIX) :].strip())
        if _SLUG_RE.match(name):
            return CLOSEUP_PREFIX + name
    raise InvalidInput(
        f"unknown photo view {value!r}: use one of {', '.join(STANDARD_VIEWS)} or 'closeup:<name>'"
    )


def filename(value: Any) -> str:
    """The base name of an uploaded file, without folders or control characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"file name must be text, not {type(value).__name__}")
    v = value.replace("\\", "/").rsplit("/", 1)[-1]
    v = "".join(c for c in v if unicodedata.category(c)[0] != "C").strip()
    if len(v) > 255:
        stem, dot, ext = v.rpartition(".")
        v = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) <= 5 else v[:255]
    return v or "photo"


def session_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise InvalidInput("session date must be a date, not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidInput(f"session date {value!r} is not a date (YYYY-MM-DD)")


def needle_depth(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"needle depth must be a number of mm, not {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(f) or not 0 < f <= 5:
        raise InvalidInput(f"needle depth must be more than 0 and at most 5 mm, not {value!r}")
    return f


def passes(value: Any) -> int | None:
    return opt_int(value, "number of passes", 1, 50)


def scar_grade(value: Any) -> int | None:
    return opt_int(value, "Goodman & Baron scar grade", 1, 4)


def session_kind(value: Any) -> str:
    if value not in SESSION_KINDS:
        raise InvalidInput(f"session kind {value!r} is not one of {', '.join(SESSION_KINDS)}")
    return value


def role(value: Any) -> str:
    if value not in ROLES:
        raise InvalidInput(f"role {value!r} is not one of {', '.join(ROLES)}")
    return value


def analyzer_version(value: Any) -> str:
    if not isinstance(value, str) or not _VERSION_RE.match(value.strip()):
        raise InvalidInput(f"analyzer version {value!r} is not a version string like 0.1.0")
    return value.strip()


def region_name(value: Any) -> str:
    if value is None:
        return ""
    return text(value, "region name", max_len=100)


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise InvalidInput(f"{what} must be a finite number, not {v!r}")
    return v


def regions(value: Any) -> list[dict]:
    """Regions of interest in baseline pixel coordinates (x right, y down).

    ``{"kind": "face"}`` (the whole face), ``{"kind": "named", "name": "left_cheek"}``
    (a landmark-defined region),
    ``{"kind": "rect", "name": .., "x", "y", "w", "h"}`` or
    ``{"kind": "polygon", "name": .., "points": [[x, y], ...]}`` (3+ points).
    A missing name becomes ``region<N>``; names must be unique.
    """
    if not isinstance(value, list | tuple):
        raise InvalidInput("regions must be a list of region objects")
    out: list[dict] = []
    names: set[str] = set()
    for i, r in enumerate(value, start=1):
        if not isinstance(r, dict):
            raise InvalidInput(f"region {i} must be an object with a 'kind'")
        kind = r.get("kind") or ("named" if r.get("name") else None)
        if kind not in REGION_KINDS:
            raise InvalidInput(f"region {i}: kind {kind!r} is not one of {', '.join(REGION_KINDS)}")
        name = r.get("name")
        if name is None or (isinstance(name, str) and not name.strip()):
            if kind == "face":
                name = "face"
            elif kind == "named":
                raise InvalidInput(f"region {i}: a named region needs a 'name'")
            else:
                name = f"region{i}"
        name = text(name, f"region {i} name", max_len=100, required=True)
        if name in names:
            raise InvalidInput(f"region name {name!r} is used twice")
        names.add(name)
        reg = dict(json_value(r, f"region {name}"))
        reg["kind"], reg["name"] = kind, name
        if kind == "rect":
            for k in ("x", "y", "w", "h"):
                if k not in r:
                    raise InvalidInput(f"region {name}: a rect needs x, y, w and h")
                _num(r[k], f"region {name} {k}")
            if r["w"] <= 0 or r["h"] <= 0 or r["x"] < 0 or r["y"] < 0:
                raise InvalidInput(f"region {name}: rect must have x, y >= 0 and w, h > 0")
        elif kind == "polygon":
            pts = r.get("points")
            if not isinstance(pts, list | tuple) or len(pts) < 3:
                raise InvalidInput(f"region {name}: a polygon needs at least 3 points [[x, y], ...]")
            for p in pts:
                if not isinstance(p, list | tuple) or len(p) != 2:
                    raise InvalidInput(f"region {name}: each point must be [x, y]")
                _num(p[0], f"region {name} x"), _num(p[1], f"region {name} y")
        out.append(reg)
    return out


def reference_patch(value: Any, *, width: int, height: int) -> dict | None:
    """A neutral reference patch marked on a photo: ``{"x", "y", "w", "h"}`` in the photo's
    upright pixels (x right, y down), inside the ``width`` x ``height`` photo, with a positive
    size; ``None`` clears it. Whole pixels stay ints, other values are rounded to 0.01 px."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput("a reference patch must be an object with x, y, w and h (photo pixels)")
    extra = sorted(set(value) - {"x", "y", "w", "h"})
    if extra:
        raise InvalidInput(f"reference patch: unknown field {extra[0]!r}; use x, y, w and h")
    out: dict[str, int | float] = {}
    for k in ("x", "y", "w", "h"):
        if k not in value:
            raise InvalidInput("a reference patch needs x, y, w and h (photo pixels)")
        n = value[k]
        if isinstance(n, bool) or not isinstance(n, numbers.Real) or not math.isfinite(float(n)):
            raise InvalidInput(f"reference patch {k} must be a finite number, not {n!r}")
        f = round(float(n), 2)
        out[k] = int(f) if f == int(f) else f
    x, y, w, h = out["x"], out["y"], out["w"], out["h"]
    if w <= 0 or h <= 0:
        raise InvalidInput(f"the reference patch needs a width and height above 0 (got {w:g} x {h:g})")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise InvalidInput(
            f"the reference patch (x {x:g}, y {y:g}, {w:g} x {h:g}) goes outside the photo "
            f"({width} x {height} pixels)"
        )
    return out


def aware_utc(value: Any, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise InvalidInput(f"{what} must be a timezone-aware date and time")
    return value.astimezone(dt.UTC)
