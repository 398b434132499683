"""Seed step 1: is the model itself the problem? Score the golden set and compare with a baseline.

Baselines, in order of preference: another model version scored on the same rows (a paired
comparison, the tightest), or golden metrics recorded for this version when it launched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import Schema
from .scoring import metric_value, metrics, primary_metric, score
from .types import GoldenResult, ModelHandle

N_BOOT = 1000
#: smallest drop worth calling a regression: accuracy points, or a relative RMSE increase
MIN_ACCURACY_DROP = 0.02
MIN_RELATIVE_RMSE_RISE = 0.05


def evaluate_golden(
    model: ModelHandle,
    golden: pd.DataFrame,
    schema: Schema,
    fill: dict[str, object],
    *,
    baseline: ModelHandle | None = None,
    seed: int = 0,
) -> GoldenResult:
    name, higher = primary_metric(schema.task)
    scored = score(model, golden, schema, fill)
    y, pred = scored.y, scored.pred
    value = metric_value(schema.task, name, y, pred)
    contrib = _contributions(name, y, pred)
    boot_means = _bootstrap_means(contrib, seed)
    low, high = np.quantile(_finish(name, boot_means), [0.025, 0.975])
    all_metrics = metrics(schema.task, y, pred, scored.proba, model.classes)
    common = dict(metric=name, higher_is_better=higher, value=value, ci_low=float(low), ci_high=float(high),
                  n_rows=len(y), metrics=all_metrics)

    if baseline is not None:
        base_pred = score(baseline, golden, schema, fill).pred
        base_value = metric_value(schema.task, name, y, base_pred)
        base_means = _bootstrap_means(_contributions(name, y, base_pred), seed)  # same seed: paired resamples
        deltas = _finish(name, boot_means) - _finish(name, base_means)
        d_low, d_high = (float(v) for v in np.quantile(deltas, [0.025, 0.975]))
        delta = value - base_value
        dropped = (d_high < 0 if higher else d_low > 0) and _material(delta, base_value, higher)
        return GoldenResult(**common, baseline=base_value, baseline_source=f"version {baseline.version} on the same golden rows",
                            delta=delta, delta_ci=(d_low, d_high), dropped=dropped)

    recorded = (model.recorded_golden or {}).get(name)
    if recorded is not None:
        delta = value - recorded
        dropped = (high < recorded if higher else low > recorded) and _material(delta, recorded, higher)
        return GoldenResult(**common, baseline=float(recorded), baseline_source="golden metric recorded for this version",
                            delta=delta, delta_ci=(float(low - recorded), float(high - recorded)), dropped=dropped)

    return GoldenResult(**common, note="no baseline (no recorded golden metrics, no earlier version): "
                                       "a model regression cannot be judged")


def _contributions(name: str, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-row terms whose mean gives the metric (after `_finish`), so bootstraps are vectorised."""
    if name == "accuracy":
        return (pred == y).astype(float)
    return (y.astype(float) - pred.astype(float)) ** 2


def _finish(name: str, means: np.ndarray) -> np.ndarray:
    return means if name == "accuracy" else np.sqrt(means)


def _bootstrap_means(contrib: np.ndarray, seed: int, chunk: int = 100) -> np.ndarray:
    """Means of N_BOOT resamples, drawn in chunks so a big golden set stays within memory."""
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, N_BOOT, chunk):
        idx = rng.integers(0, len(contrib), size=(min(chunk, N_BOOT - start), len(contrib)))
        out.append(contrib[idx].mean(axis=1))
    return np.concatenate(out)


def _material(delta: float, base: float, higher: bool) -> bool:
    """A statistically clear drop must also be big enough to matter."""
    if higher:
        return -delta >= MIN_ACCURACY_DROP
    return delta >= MIN_RELATIVE_RMSE_RISE * max(abs(base), 1e-12)
