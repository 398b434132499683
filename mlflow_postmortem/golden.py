"""Seed step 1: is the model itself the problem? Score the golden set and compare with a baseline.

Baselines, in order of preference: another model version scored on the same rows (a paired
comparison, the tightest), or golden metrics recorded for this version when it launched, on
the same golden rows (an unpaired comparison: both intervals count). Metrics recorded on
another golden set compare nothing: a refreshed golden set is not a regression.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from . import stats
from .data import Schema
from .scoring import metric_contributions, metric_value, metrics, primary_metric, score
from .types import GoldenResult, ModelHandle

N_BOOT = 1000


def evaluate_golden(
    model: ModelHandle,
    golden: pd.DataFrame,
    schema: Schema,
    fill: dict[str, object],
    *,
    baseline: ModelHandle | None = None,
    seed: int = 0,
    min_accuracy_drop: float = 0.02,
    min_relative_rmse_rise: float = 0.05,
    alpha: float = stats.CHECK_LEVEL,
) -> GoldenResult:
    """`min_*`: the smallest drop worth calling a regression (accuracy points, relative RMSE rise);
    `alpha`: the level of the one-sided test that the version is worse (every check's level: a
    healthy version faces them all). The intervals reported are 95% ones."""
    name, higher = primary_metric(schema.task)
    scored = score(model, golden, schema, fill)
    y, pred = scored.y, scored.pred
    value = metric_value(schema.task, name, y, pred)
    contrib = metric_contributions(name, y, pred)
    boot_means = _bootstrap_means(contrib, seed)
    low, high = np.quantile(_finish(name, boot_means), [0.025, 0.975])
    all_metrics = metrics(schema.task, y, pred, scored.proba, model.classes)
    common = dict(metric=name, higher_is_better=higher, value=value, ci_low=float(low), ci_high=float(high),
                  n_rows=len(y), metrics=all_metrics, digest=golden_digest(golden, schema))

    def material(delta: float, base: float) -> bool:
        if higher:
            return -delta >= min_accuracy_drop
        return delta >= min_relative_rmse_rise * max(abs(base), 1e-12)

    if baseline is not None:
        base_pred = score(baseline, golden, schema, fill).pred
        base_value = metric_value(schema.task, name, y, base_pred)
        base_means = _bootstrap_means(metric_contributions(name, y, base_pred), seed)  # same seed: paired resamples
        deltas = _finish(name, boot_means) - _finish(name, base_means)
        d_low, d_high = (float(v) for v in np.quantile(deltas, [0.025, 0.975]))
        delta = value - base_value
        # one-sided bootstrap p-value: the share of paired resamples in which the version is no worse
        no_worse = int(np.sum(deltas >= 0 if higher else deltas <= 0))
        dropped = (no_worse + 1) / (len(deltas) + 1) <= alpha and material(delta, base_value)
        return GoldenResult(**common, baseline=base_value, baseline_source=f"version {baseline.version} on the same golden rows",
                            delta=delta, delta_ci=(d_low, d_high), dropped=dropped)

    recorded = model.recorded_golden
    if recorded is None or recorded.metric != name:
        return GoldenResult(**common, note="no earlier version and no recorded golden metrics: "
                                           "a model regression cannot be judged")
    if recorded.digest != common["digest"]:
        return GoldenResult(**common, note=f"the {name} recorded for this version was measured on another golden set "
                                           f"({recorded.rows} rows): not comparable, so no regression is judged")
    # unpaired: each interval's half-width as 1.96 standard errors, added in quadrature
    delta = value - recorded.value
    half = float(np.hypot((high - low) / 2, (recorded.ci_high - recorded.ci_low) / 2))
    delta_ci = (delta - half, delta + half)
    worse_by = -delta if higher else delta
    p = stats.greater_pvalue(worse_by, half / 1.96)
    dropped = p <= alpha and material(delta, recorded.value)
    return GoldenResult(**common, baseline=recorded.value,
                        baseline_source=f"golden {name} recorded for this version [{recorded.ci_low:.4g}, "
                                        f"{recorded.ci_high:.4g}], same golden rows",
                        delta=delta, delta_ci=delta_ci, dropped=dropped)


def golden_digest(golden: pd.DataFrame, schema: Schema) -> str:
    """A fingerprint of the golden rows' features and labels: recorded metrics compare only on the same rows."""
    columns = [c for c in (*schema.features, schema.target) if c in golden.columns]
    hashed = pd.util.hash_pandas_object(golden[columns], index=False).to_numpy()
    return hashlib.sha256(np.sort(hashed).tobytes()).hexdigest()[:16]


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
