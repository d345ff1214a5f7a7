"""Typed results shared by every stage: a single measurement that says what it is."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from analyzer import __version__


@dataclass(frozen=True)
class Measurement:
    """One number, with what it is and how it was made.

    ``value`` is NaN (never 0) when it can't be computed, and ``reason`` then says why.
    """

    name: str
    value: float
    unit: str
    method: str
    group: str = ""
    region: str = ""
    reason: str | None = None
    version: str = __version__

    @property
    def ok(self) -> bool:
        return self.value is not None and math.isfinite(self.value)

    def json_value(self) -> float | None:
        """The value for JSON: ``None`` (null) for NaN/inf."""
        return float(self.value) if self.ok else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["value"] = self.json_value()
        return d


def nan_measurement(name: str, unit: str, method: str, reason: str, **kw) -> Measurement:
    """A measurement that could not be computed: NaN with the reason."""
    return Measurement(name=name, value=float("nan"), unit=unit, method=method, reason=reason, **kw)


def finite_or_none(x: float | None) -> float | None:
    """JSON-safe float: ``None`` for NaN, inf or ``None``."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
