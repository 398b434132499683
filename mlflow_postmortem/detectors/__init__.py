"""One detector per root cause, run in the order below (see `base` for why order matters)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..attribution import DropTest
from ..errors import ConfigError
from .base import MIN_ROWS, Context, Detector
from .data_drift import DataDrift
from .feature_drift import FeatureDrift
from .label_bias import LabelBias
from .label_shift import LabelShift
from .model_regression import ModelRegression
from .recalibration import Recalibration
from .served import ServedPredictions
from .skew import Skew, SkewWithoutView
from .unavailability import Unavailability

#: stage 1 (integrity) first: each feature it flags is explained and skipped by the rest
STAGE_1: tuple[Detector, ...] = (ModelRegression(), Skew(), ServedPredictions(), Unavailability(), Recalibration(),
                                  SkewWithoutView())
#: stage 2: novelty and drift first, then the relation between inputs and target, which needs
#: to know what drift alone would cost (see `attribution`)
STAGE_2: tuple[Detector, ...] = (LabelBias(), LabelShift(), DataDrift(), FeatureDrift())
ALL: tuple[Detector, ...] = STAGE_1 + STAGE_2


def parameters() -> dict[str, dict[str, Any]]:
    """`detectors:` config key -> threshold -> default: every detector's, and the production drop test's."""
    out: dict[str, dict[str, Any]] = {DropTest.key: DropTest.parameters()}
    for detector in ALL:
        out.setdefault(detector.key, {}).update(type(detector).parameters())
    return out


def configured(overrides: dict[str, dict[str, Any]] | None
               ) -> tuple[tuple[Detector, ...], tuple[Detector, ...], DropTest]:
    """The two stages and the drop test, with thresholds from the config's `detectors:` mapping."""
    overrides = overrides or {}
    known = parameters()
    for key, values in overrides.items():
        if key not in known:
            raise ConfigError(f"unknown detector {key!r} under 'detectors' (known: {', '.join(sorted(known))})")
        for name in values:
            if name not in known[key]:
                raise ConfigError(f"unknown threshold 'detectors.{key}.{name}' (known: {', '.join(sorted(known[key]))})")

    def tuned(detector):
        own = type(detector).parameters()
        return replace(detector, **{k: v for k, v in overrides.get(detector.key, {}).items() if k in own})

    return tuple(map(tuned, STAGE_1)), tuple(map(tuned, STAGE_2)), tuned(DropTest())


def golden_thresholds(overrides: dict[str, dict[str, Any]] | None) -> dict[str, float]:
    """The golden check's level and materiality, from model_regression's thresholds (see `golden.evaluate_golden`)."""
    regression = next(d for d in configured(overrides)[0] if isinstance(d, ModelRegression))
    return {"min_accuracy_drop": regression.min_accuracy_drop, "min_relative_rmse_rise": regression.min_relative_rmse_rise,
            "alpha": regression.alpha}


__all__ = ["ALL", "MIN_ROWS", "STAGE_1", "STAGE_2", "Context", "DataDrift", "Detector", "FeatureDrift", "LabelBias",
           "LabelShift", "ModelRegression", "Recalibration", "ServedPredictions", "Skew", "SkewWithoutView",
           "Unavailability", "configured", "golden_thresholds", "parameters"]
