"""The feature redefinitions recalibration recognises, forward (reference -> production) and back.

Recovery maps production back to the model's definition; mitigation retrains with the feature
in its new one. Both read the same evidence (its JSON form, as the verdict stores it), so a
change is undone exactly as it was detected.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

Transform = Callable[[np.ndarray], np.ndarray]

#: monotone redefinitions: name -> (forward, inverse, the reference's domain: exclusive lower bound)
REDEFINITIONS: dict[str, tuple[Transform, Transform, float]] = {
    "natural log": (np.log, np.exp, 0.0),
    "log10": (np.log10, lambda x: 10.0**x, 0.0),
    "log2": (np.log2, np.exp2, 0.0),
    "log1p": (np.log1p, np.expm1, -1.0),
    "square root": (np.sqrt, np.square, 0.0),
    "exp (a log undone)": (np.exp, np.log, -np.inf),
    "square (a root undone)": (np.square, np.sqrt, 0.0),
}


def _change(evidence: dict[str, Any]) -> dict[str, Any]:
    """The change itself: skew without a training view wraps the one recalibration saw."""
    return evidence.get("change", evidence)


def forward(evidence: dict[str, Any]) -> Transform | None:
    """Reference values in the feature's new definition, or None when the evidence is no such change."""
    ev = _change(evidence)
    transform = ev.get("transform")
    if transform == "affine":
        a, b = float(ev["scale"]), float(ev["offset"])
        return lambda x: a * x + b
    if transform in REDEFINITIONS:
        return REDEFINITIONS[transform][0]
    if transform in ("grid_floor", "grid_round"):
        a, b, step = float(ev["scale"]), float(ev["offset"]), float(ev["step"])
        snap = np.floor if transform == "grid_floor" else np.round
        return lambda x: snap((a * x + b) / step) * step
    return None


def inverse(evidence: dict[str, Any]) -> Transform | None:
    """Production values back in the model's definition (a bucket maps to its middle)."""
    ev = _change(evidence)
    transform = ev.get("transform")
    if transform == "affine":
        a, b = float(ev["scale"]), float(ev["offset"])
        return lambda x: (x - b) / a
    if transform in REDEFINITIONS:
        return REDEFINITIONS[transform][1]
    if transform in ("grid_floor", "grid_round"):
        a, b, step = float(ev["scale"]), float(ev["offset"]), float(ev["step"])
        middle = step / 2 if transform == "grid_floor" else 0.0
        return lambda x: (x + middle - b) / a
    return None


def describe(evidence: dict[str, Any]) -> str:
    """The change in a few words: its unit, its formula, or the redefinition's description."""
    ev = _change(evidence)
    transform = ev.get("transform")
    if transform == "affine":
        return ev.get("unit") or f"x * {float(ev['scale']):.4g} {float(ev['offset']):+.4g}"
    return str(ev.get("description") or transform)
