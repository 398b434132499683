"""Where a production drop comes from: the metric, step by step from the golden set to production.

    golden G --missing values--> G' --shift--> expected E --relation--> seen S --novel rows--> repaired R
             --broken features--> served O

- G: the version on its golden rows.
- G': the golden rows with unusable features as unusable as in production (imputed): what the
  missing values cost, where the truth is known.
- E: what the golden set predicts for today's inputs: those rows reweighted to the current mix
  (by class shares for a prior shift, by a domain classifier on the drifted features otherwise).
  G' to E is what data drift alone costs.
- S: production on labelled rows inside the seen range, after stage-1 repairs. E to S is a
  changed relation between inputs and target (feature drift, or concept drift when global).
- R: the same rows with novel ones back in. S to R is what novel inputs cost.
- O: production as served. R to O is what the broken features (stage 1) cost.

The steps telescope, so their sum is the whole gap and each cause's share of it is a number
the verdict can state. Metric units throughout; a positive amount means worse.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn.ensemble import HistGradientBoostingClassifier

from .scoring import Scored, metric_contributions, primary_metric

#: bounded rows for the domain classifier that reweights golden rows toward current inputs
MAX_DOMAIN_ROWS = 10_000
#: importance weights are clipped here, so a handful of golden rows cannot carry the estimate
MAX_WEIGHT = 20.0


@dataclass(frozen=True)
class MetricEstimate:
    """A metric from per-row contributions (accuracy: correct; RMSE: squared error), with its standard error."""

    metric: str
    value: float
    #: mean contribution (accuracy, or mean squared error) and its standard error
    mean: float
    se: float
    rows: float

    @classmethod
    def of(cls, metric: str, contributions: np.ndarray, weights: np.ndarray | None = None) -> "MetricEstimate":
        c = np.asarray(contributions, float)
        if len(c) == 0:
            return cls(metric, float("nan"), float("nan"), float("nan"), 0.0)
        w = np.ones(len(c)) if weights is None else np.asarray(weights, float)
        w = w / w.sum()
        mean = float(np.sum(w * c))
        # variance of a weighted mean; with equal weights, var / n (ddof 1 where it can be)
        resid = c - mean
        var = float(np.sum(w**2 * resid**2)) * (len(c) / max(len(c) - 1, 1))
        rows = float(1 / np.sum(w**2))  # effective sample size
        value = mean if metric == "accuracy" else float(np.sqrt(mean))
        return cls(metric, value, mean, float(np.sqrt(var)), rows)


def contributions(task: str, scored: Scored) -> np.ndarray:
    """Per-row terms whose mean is the primary metric (before the square root for RMSE)."""
    return metric_contributions(primary_metric(task)[0], scored.y, scored.pred)


@dataclass(frozen=True)
class Gap:
    """How much worse `worse` is than `better` on the primary metric (positive = worse), and how sure."""

    metric: str
    amount: float
    ci: tuple[float, float]
    #: one-sided: the probability of a gap this large if there were none
    p_value: float
    #: relative change for RMSE, the gap itself for accuracy
    relative: float

    def material(self, min_accuracy_drop: float, min_relative_rmse_rise: float) -> bool:
        if self.metric == "accuracy":
            return self.amount >= min_accuracy_drop
        return self.relative >= min_relative_rmse_rise


def gap(worse: MetricEstimate, better: MetricEstimate) -> Gap:
    """The gap between two independent estimates, tested on the mean contribution's scale."""
    higher = worse.metric == "accuracy"
    se_mean = float(np.hypot(worse.se, better.se))
    diff_mean = (better.mean - worse.mean) if higher else (worse.mean - better.mean)
    p = float(sps.norm.sf(diff_mean / se_mean)) if se_mean > 0 else (0.0 if diff_mean > 0 else 1.0)
    if higher:
        amount, se = better.value - worse.value, se_mean
        relative = amount
    else:
        amount = worse.value - better.value
        # delta method: se of sqrt(m) is se(m) / (2 sqrt(m))
        se = float(np.hypot(worse.se / (2 * max(worse.value, 1e-12)), better.se / (2 * max(better.value, 1e-12))))
        relative = worse.value / better.value - 1 if better.value > 0 else float("inf")
    return Gap(worse.metric, float(amount), (float(amount - 1.96 * se), float(amount + 1.96 * se)), p, float(relative))


def covariate_weights(reference: pd.DataFrame, current: pd.DataFrame, golden: pd.DataFrame, features: list[str],
                      categorical: set[str], seed: int) -> np.ndarray:
    """Importance weights that make golden rows look like current rows on `features`.

    A small gradient-boosted classifier tells reference rows from current ones; its odds on
    each golden row are the density ratio (golden is drawn like the reference). Clipped, so a
    few golden rows in a region production now crowds cannot carry the whole estimate.
    """
    rng = np.random.default_rng([seed, 31])
    ref = reference.iloc[rng.permutation(len(reference))[:MAX_DOMAIN_ROWS]]
    cur = current.iloc[rng.permutation(len(current))[:MAX_DOMAIN_ROWS]]
    x = pd.concat([ref[features], cur[features], golden[features]], ignore_index=True)
    encoded = pd.DataFrame({f: (pd.factorize(x[f].astype(str))[0].astype(float) if f in categorical
                                else pd.to_numeric(x[f], errors="coerce")) for f in features})
    n_ref, n_cur = len(ref), len(cur)
    y = np.r_[np.zeros(n_ref), np.ones(n_cur)]
    model = HistGradientBoostingClassifier(max_iter=100, max_depth=3, learning_rate=0.1, early_stopping=True,
                                           random_state=seed,
                                           categorical_features=[f in categorical for f in features] or None)
    model.fit(encoded.iloc[: n_ref + n_cur], y)
    p = np.clip(model.predict_proba(encoded.iloc[n_ref + n_cur:])[:, 1], 1e-6, 1 - 1e-6)
    weights = p / (1 - p) * n_ref / n_cur
    return np.clip(weights / weights.mean(), 0.0, MAX_WEIGHT)


@dataclass(frozen=True)
class Expected:
    """E: the metric the golden set predicts for today's inputs, how it was weighted, and the
    golden metric with unusable features as broken as in production (before any weighting)."""

    estimate: MetricEstimate
    how: str
    golden_broken: float


@dataclass(frozen=True)
class DropTest:
    """When labelled production counts as a drop below the golden set: clear (one-sided test at
    `alpha`, on the whole log or its most recent half, each at alpha / 2) and material."""

    key: ClassVar[str] = "production_drop"
    alpha: float = 0.01
    min_accuracy_drop: float = 0.02
    min_relative_rmse_rise: float = 0.05

    @classmethod
    def parameters(cls) -> dict[str, float]:
        return {f.name: f.default for f in fields(cls)}

    def dropped(self, gap: Gap, tests: int = 1) -> bool:
        return gap.p_value <= self.alpha / tests and gap.material(self.min_accuracy_drop, self.min_relative_rmse_rise)


@dataclass(frozen=True)
class Attribution:
    """The steps of the module docstring, measured, and which cause each one belongs to."""

    metric: str
    golden: float
    expected: float
    seen: float
    repaired: float
    served: float
    #: served minus golden, worse > 0
    drop: float
    #: cause -> the part of the drop it accounts for (metric units, worse > 0)
    accounted: dict[str, float] = field(default_factory=dict)
    expected_how: str = ""

    def share(self, cause: str) -> float | None:
        if self.drop <= 0 or cause not in self.accounted:
            return None
        return float(self.accounted[cause] / self.drop)

    @property
    def unexplained(self) -> float:
        return self.drop - sum(max(v, 0.0) for v in self.accounted.values())


def worse_by(task: str, a: float, b: float) -> float:
    """How much worse `a` is than `b` on the primary metric (positive = worse)."""
    _, higher = primary_metric(task)
    return b - a if higher else a - b
