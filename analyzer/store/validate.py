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


def show(value: Any, limit: int = 60) -> str:
    """A short repr of any value for a one-line message (never raises, never long)."""
    try:
        r = repr(value)
    except (RecursionError, ValueError):  # a deeply nested list, a 5000-digit number
        r = f"<{type(value).__name__}>"
    r = " ".join(r.split())
    return r if len(r) <= limit else r[: limit - 1] + "…"


#: Largest id a row can have (PostgreSQL INTEGER); anything else is "not found".
MAX_ID = 2**31 - 1


def row_id(value: Any, what: str) -> int:
    """An id as an int, or :class:`NotFound` (ids are positive whole numbers in range)."""
    from analyzer.store.errors import NotFound

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= int(value) <= MAX_ID:
        raise NotFound(f"{what} {show(value)} not found")
    return int(value)


def opt_row_id(value: Any, what: str) -> int | None:
    return None if value is None else row_id(value, what)


#: Joiners that some scripts and emoji need (kept); every other invisible format character
#: (bidi overrides and isolates, zero-width space, BOM, soft hyphen...) is stripped from text.
_KEEP_FORMAT = {"\u200c", "\u200d"}


def strip_invisible(value: str) -> str:
    """``value`` without invisible and right-to-left control characters (Unicode Cf, line and
    paragraph separators); zero-width (non-)joiners stay. A name can't hide or reverse text."""
    return "".join(c for c in value if c in _KEEP_FORMAT or unicodedata.category(c) not in ("Cf", "Zl", "Zp"))


def text(value: Any, what: str, *, max_len: int = 200, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, not {type(value).__name__}")
    value = strip_invisible(value).strip()
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
            f"patient code {show(v)} is not allowed: use letters, digits, '.', '_' or '-' (e.g. P-0001)"
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
    if isinstance(value, int):
        if not lo <= value <= hi:
            raise InvalidInput(f"{what} must be a whole number from {lo} to {hi}, not {show(value)}")
        return int(value)
    try:
        f = float(value)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{what} must be a whole number from {lo} to {hi}, not {show(value)}") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise InvalidInput(f"{what} must be a whole number from {lo} to {hi}, not {show(value)}")
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
    except ValueError as exc:
        if "digits" in str(exc):  # an integer too long to write out
            raise InvalidInput(f"{what} holds a number too large to store") from None
        raise InvalidInput(f"{what} contains NaN or infinity; store missing values as null") from None
    except TypeError as exc:
        raise InvalidInput(f"{what} can't be stored as JSON ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise InvalidInput(f"{what} is nested too deeply to store") from None
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
            raise InvalidInput(f"concern {show(c)} must be text")
        slug = re.sub(r"[\s\-]+", "_", c.strip().lower())
        if not _SLUG_RE.match(slug):
            raise InvalidInput(f"concern {show(c)} is not a valid name (letters, digits, '_')")
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
        f"unknown photo view {show(value)}: use one of {', '.join(STANDARD_VIEWS)} or 'closeup:<name>'"
    )


def filename(value: Any) -> str:
    """The base name of an uploaded file, without folders or control characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"file name must be text, not {type(value).__name__}")
    v = value.replace("\\", "/").rsplit("/", 1)[-1]
    v = strip_invisible("".join(c for c in v if unicodedata.category(c)[0] != "C")).strip()
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
    raise InvalidInput(f"session date {show(value)} is not a date (YYYY-MM-DD)")


def needle_depth(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"needle depth must be a number of mm, not {show(value)}") from None
    if isinstance(value, bool) or not math.isfinite(f) or not 0 < f <= 5:
        raise InvalidInput(f"needle depth must be more than 0 and at most 5 mm, not {show(value)}")
    return f


def passes(value: Any) -> int | None:
    return opt_int(value, "number of passes", 1, 50)


def scar_grade(value: Any) -> int | None:
    return opt_int(value, "Goodman & Baron scar grade", 1, 4)


def session_kind(value: Any) -> str:
    if not isinstance(value, str) or value not in SESSION_KINDS:
        raise InvalidInput(f"session kind {show(value)} is not one of {', '.join(SESSION_KINDS)}")
    return value


def role(value: Any) -> str:
    if not isinstance(value, str) or value not in ROLES:
        raise InvalidInput(f"role {show(value)} is not one of {', '.join(ROLES)}")
    return value


def analyzer_version(value: Any) -> str:
    if not isinstance(value, str) or not _VERSION_RE.match(value.strip()):
        raise InvalidInput(f"analyzer version {show(value)} is not a version string like 0.1.0")
    return value.strip()


def region_name(value: Any) -> str:
    if value is None:
        return ""
    return text(value, "region name", max_len=100)


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or abs(v) > 1e9 or not math.isfinite(v):
        raise InvalidInput(f"{what} must be a finite number, not {show(v)}")
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
            raise InvalidInput(f"region {i}: kind {show(kind)} is not one of {', '.join(REGION_KINDS)}")
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
            raise InvalidInput(f"region name {show(name)} is used twice")
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
        raise InvalidInput(f"reference patch: unknown field {show(extra[0])}; use x, y, w and h")
    out: dict[str, int | float] = {}
    for k in ("x", "y", "w", "h"):
        if k not in value:
            raise InvalidInput("a reference patch needs x, y, w and h (photo pixels)")
        n = value[k]
        if isinstance(n, bool) or not isinstance(n, numbers.Real) or abs(n) > 1e9 or not math.isfinite(float(n)):
            raise InvalidInput(f"reference patch {k} must be a finite number, not {show(n)}")
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
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput(f"{what} {show(value)} is out of range") from None


# ---- analyses from outside (archive import): their shape is checked, not trusted ----------

#: Largest magnitude of any number in an imported analysis (pixel coordinates, CIELAB values,
#: percentages and counts are all far below it).
MAX_RESULT_NUMBER = 1e9
_MAX_DEPTH = 24


def _check_numbers(x: Any, what: str, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise InvalidInput(f"{what} is nested too deeply")
    if isinstance(x, dict):
        for k, val in x.items():
            if not isinstance(k, str):
                raise InvalidInput(f"{what} has a key that is not text")
            _check_numbers(val, what, depth + 1)
    elif isinstance(x, list):
        for val in x:
            _check_numbers(val, what, depth + 1)
    elif isinstance(x, bool) or x is None or isinstance(x, str):
        return
    elif isinstance(x, int | float):
        if not math.isfinite(x) or abs(x) > MAX_RESULT_NUMBER:
            raise InvalidInput(f"{what} holds an impossible number ({x:.3g})")
    else:  # pragma: no cover - json.loads gives nothing else
        raise InvalidInput(f"{what} holds a value of type {type(x).__name__}")


def _polygons(x: Any, what: str) -> None:
    """Every ``polygon`` in the result is null or at least 3 [x, y] number pairs."""
    if isinstance(x, dict):
        for k, val in x.items():
            if k == "polygon" and val is not None:
                ok = (isinstance(val, list) and len(val) >= 3 and all(
                    isinstance(pt, list) and len(pt) == 2
                    and all(isinstance(c, int | float) and not isinstance(c, bool) for c in pt) for pt in val))
                if not ok:
                    raise InvalidInput(f"{what}: a region polygon is not a list of [x, y] points")
            else:
                _polygons(val, what)
    elif isinstance(x, list):
        for val in x:
            _polygons(val, what)


def imported_analysis(result: Any, transform: Any, what: str = "analysis") -> tuple[dict, list | None]:
    """An analysis result and transform from an archive, checked for the shape every reader
    relies on: JSON, finite numbers of sane size, region polygons as point lists, ``alignment``
    and ``regions`` as objects, the transform a 2x3 or 3x3 matrix of numbers (or null)."""
    result = json_value(result, f"{what} result", kind=dict, allow_none=False)
    transform = json_value(transform, f"{what} transform", kind=list)
    _check_numbers(result, f"{what} result")
    for key in ("alignment", "regions", "baseline", "followup", "change", "meta"):
        if key in result and result[key] is not None and not isinstance(result[key], dict):
            raise InvalidInput(f"{what} result: {show(key)} must be an object")
    for name, reg in (result.get("regions") or {}).items():
        if not isinstance(reg, dict):
            raise InvalidInput(f"{what} result: region {show(name)} must be an object")
    ok = (result.get("alignment") or {}).get("ok")
    if ok is not None and not isinstance(ok, bool):
        raise InvalidInput(f"{what} result: alignment 'ok' must be true or false")
    _polygons(result, f"{what} result")
    if transform is not None:
        if (len(transform) not in (2, 3) or any(
                not isinstance(row, list) or len(row) != 3
                or any(isinstance(c, bool) or not isinstance(c, int | float) for c in row) for row in transform)):
            raise InvalidInput(f"{what} transform must be a 2x3 or 3x3 matrix of numbers")
        _check_numbers(transform, f"{what} transform")
    return result, transform
