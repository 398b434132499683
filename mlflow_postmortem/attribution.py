"""Where a production drop comes from: the metric, step by step from the golden set to production.

    golden G --shift--> expected E --relation--> seen S --novel rows--> repaired R --broken features--> served O

- G: the version on its golden rows.
- E: what the golden set predicts for today's inputs: golden rows reweighted to the current mix
  (by class shares for a prior shift, by the model's score otherwise: `stratified_estimate`).
  G to E is what data drift alone costs.
- S: production on labelled rows inside the seen range, with stage-1 faults repaired, leaving
  out rows a lossy fault touched (a missing or coarsened value cannot be restored). E to S is a
  changed relation between inputs and target (feature drift, or concept drift when global).
- R: the intact rows with novel ones back in. S to R is what novel inputs cost.
- O: production as served, every row. R to O is what the broken features (stage 1) cost, split
  among them as their single repairs (for lossy ones, their cost on golden rows) would.

The steps telescope, so their sum is the whole gap and each cause's share of it is a number
the verdict can state. Metric units throughout; a positive amount means worse.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats as sps

from . import stats
from .scoring import Scored, metric_contributions, primary_metric

#: strata of the model's score for E, and the golden rows a stratum needs to stand alone
STRATA = 10
MIN_STRATUM_ROWS = 10
#: production rows may fall in thin strata (too few golden rows there) up to this share before E says little
MAX_THIN_SHARE = 0.2


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


def gap(worse: MetricEstimate, better: MetricEstimate, p_value: float) -> Gap:
    """The gap between two independent estimates, its 95% interval (delta method for RMSE), and
    the p-value of a test that `worse` is worse (`worse_pvalue`)."""
    higher = worse.metric == "accuracy"
    if higher:
        amount, se = better.value - worse.value, float(np.hypot(worse.se, better.se))
        relative = amount
    else:
        amount = worse.value - better.value
        # delta method: se of sqrt(m) is se(m) / (2 sqrt(m))
        se = float(np.hypot(worse.se / (2 * max(worse.value, 1e-12)), better.se / (2 * max(better.value, 1e-12))))
        relative = worse.value / better.value - 1 if better.value > 0 else float("inf")
    return Gap(worse.metric, float(amount), (float(amount - 1.96 * se), float(amount + 1.96 * se)), p_value,
               float(relative))


def worse_pvalue(metric: str, worse: np.ndarray, better: np.ndarray, worse_strata: np.ndarray | None = None,
                 better_strata: np.ndarray | None = None) -> float:
    """One-sided rank test that the per-row results `worse` are worse than `better` (fewer
    correct, larger squared errors): Wilcoxon rank-sum, stratified (van Elteren) when strata
    are given.

    Ranks, not means: squared errors have tails heavy enough that a z-test on their means
    rejects too often when nothing changed; a rank test holds its level whatever the tail.
    """
    worse, better = np.asarray(worse, float), np.asarray(better, float)
    if worse_strata is None or better_strata is None:
        worse_strata, better_strata = np.zeros(len(worse), int), np.zeros(len(better), int)
    numerator, variance = 0.0, 0.0
    for stratum in np.intersect1d(worse_strata, better_strata):
        x, y = worse[worse_strata == stratum], better[better_strata == stratum]
        n, m = len(x), len(y)
        total = n + m
        ranks = sps.rankdata(np.concatenate([x, y]))
        _, ties = np.unique(ranks, return_counts=True)
        spread = total + 1 - float(np.sum(ties**3 - ties)) / (total * (total - 1)) if total > 1 else 0.0
        weight = 1.0 / (total + 1)
        numerator += weight * (ranks[:n].sum() - n * (total + 1) / 2)
        variance += weight**2 * n * m * spread / 12
    if variance <= 0:
        return 1.0
    z = numerator / np.sqrt(variance)
    return float(sps.norm.sf(-z if metric == "accuracy" else z))


def log_parts(windows: np.ndarray, n_windows: int) -> list[tuple[str, np.ndarray]]:
    """The whole log and, with time windows, its most recent half: a drop that started mid-log
    shows in the second at full strength. Each is tested at half the level."""
    parts = [("whole log", np.ones(len(windows), dtype=bool))]
    recent = windows >= (n_windows + 1) // 2 if n_windows > 1 else np.zeros(len(windows), dtype=bool)
    if 0 < recent.sum() < len(windows):
        parts.append(("most recent half", recent))
    return parts


def clustered_pvalue(metric: str, worse: np.ndarray, windows: np.ndarray, better: MetricEstimate) -> float:
    """One-sided z-test that production (`worse`, per-row results with their time window) is
    worse than `better`, with production's standard error taken from the spread between its
    time windows when that is larger than the rows' own.

    Production rows are not independent: a stormy week makes every flight in it late. Rows in
    one window share that luck; windows mostly do not. A test that counts rows as independent
    would read one hard week as a drop. With fewer than four windows there is no spread to read
    and this test does not constrain (p = 0).
    """
    ids = np.unique(windows)
    if len(ids) < 4:
        return 0.0
    means = np.array([worse[windows == w].mean() for w in ids])
    own = MetricEstimate.of(metric, worse)
    se = float(np.hypot(max(own.se, means.std(ddof=1) / np.sqrt(len(ids))), better.se))
    diff = (better.mean - own.mean) if metric == "accuracy" else (own.mean - better.mean)
    return stats.greater_pvalue(diff, se)


def score_of(scored: Scored) -> np.ndarray:
    """A one-number summary of each prediction: the top class probability (the predicted class
    without probabilities), or the predicted value for regression."""
    if scored.proba is not None:
        return scored.proba.max(axis=1)
    pred = np.asarray(scored.pred)
    return pred.astype(float) if pred.dtype.kind in "fiu" else pd.factorize(pred, sort=True)[0].astype(float)


def strata(golden_scores: np.ndarray, current_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each golden and current row's stratum: deciles of the current scores."""
    edges = np.unique(np.quantile(current_scores, np.linspace(0, 1, STRATA + 1)[1:-1]))
    return np.searchsorted(edges, golden_scores, side="right"), np.searchsorted(edges, current_scores, side="right")


def stratified_estimate(metric: str, golden_contributions: np.ndarray, g_bin: np.ndarray,
                        c_bin: np.ndarray) -> tuple[MetricEstimate, float]:
    """What the golden rows predict for current rows in strata `c_bin` (golden rows in `g_bin`),
    and the share of those rows in strata with too few golden rows to say.

    Moved inputs change where the model's scores fall; given the score, a model whose relation
    to the target still holds errs as it did on golden rows (the premise of confidence-based
    performance estimation). So golden rows are grouped by score, and each group's metric
    counts as often as production lands there: no density ratio to estimate, and a shift across
    many features is one dimension here.
    """
    k = int(max(g_bin.max(initial=0), c_bin.max(initial=0))) + 1
    share = np.bincount(c_bin, minlength=k) / len(c_bin)
    rows = np.bincount(g_bin, minlength=k)
    sums = np.bincount(g_bin, weights=golden_contributions, minlength=k)
    squares = np.bincount(g_bin, weights=golden_contributions**2, minlength=k)
    thin = rows < MIN_STRATUM_ROWS
    # a thin stratum borrows its neighbours' golden rows rather than being dropped
    for b in np.flatnonzero(thin & (share > 0)):
        lo, hi = b, b
        while rows[lo:hi + 1].sum() < MIN_STRATUM_ROWS and (lo > 0 or hi < k - 1):
            lo, hi = max(lo - 1, 0), min(hi + 1, k - 1)
        sums[b], squares[b], rows[b] = sums[lo:hi + 1].sum(), squares[lo:hi + 1].sum(), rows[lo:hi + 1].sum()
    means = np.divide(sums, rows, out=np.zeros(k), where=rows > 0)
    variances = np.divide(squares, rows, out=np.zeros(k), where=rows > 0) - means**2
    mean = float(np.sum(share * means))
    se = float(np.sqrt(np.sum(share**2 * np.maximum(variances, 0) / np.maximum(rows - 1, 1))))
    effective = float(1 / np.sum(share**2 / np.maximum(rows, 1))) if rows.any() else 0.0
    value = mean if metric == "accuracy" else float(np.sqrt(mean))
    return MetricEstimate(metric, value, mean, se, effective), float(share[thin].sum())


@dataclass(frozen=True)
class Expected:
    """E: the metric the golden set predicts for today's inputs, and how it was weighted."""

    estimate: MetricEstimate
    how: str
    #: share of production rows scored where golden rows are too few to predict them
    thin_share: float = 0.0
    #: golden rows' results and strata, and production's strata, for the test that production is worse
    golden_rows: np.ndarray = field(default_factory=lambda: np.zeros(0))
    golden_strata: np.ndarray | None = None
    current_strata: np.ndarray | None = None

    @classmethod
    def unweighted(cls, metric: str, golden_rows: np.ndarray, how: str = "golden rows as they are",
                   thin_share: float = 0.0) -> "Expected":
        return cls(MetricEstimate.of(metric, golden_rows), how, thin_share, golden_rows)

    def worse_pvalue(self, production_rows: np.ndarray, mask: np.ndarray | None = None) -> float:
        """Production rows (those of `mask`, when given) against the golden rows, stratum by stratum."""
        strata = self.current_strata if self.current_strata is None or mask is None else self.current_strata[mask]
        rows = production_rows if mask is None else production_rows[mask]
        return worse_pvalue(self.estimate.metric, rows, self.golden_rows, strata, self.golden_strata)

    @property
    def reliable(self) -> bool:
        """Inputs that moved where few golden rows are leave little to predict them with: a gap to
        production then says nothing about a changed relation."""
        return self.thin_share <= MAX_THIN_SHARE


@dataclass(frozen=True)
class DropTest:
    """When labelled production counts as a drop below the golden set: clear (one-sided test at
    `alpha`, on the whole log or its most recent half, each at alpha / 2) and material."""

    key: ClassVar[str] = "production_drop"
    #: half the other checks' level: the drop test is the one check every labelled post-mortem runs
    #: on every size, so it takes the smaller share of the healthy verdict's false-alarm budget
    alpha: float = stats.CHECK_LEVEL / 2
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

    def steps(self) -> dict[str, object]:
        """The measured chain and each cause's part, as the verdict JSON carries it."""
        return {"metric": self.metric, "golden": self.golden, "expected_for_current_inputs": self.expected,
                "expected_how": self.expected_how, "seen_rows": self.seen, "repaired": self.repaired,
                "served": self.served, "drop": self.drop, "accounted": dict(self.accounted),
                "unexplained": self.unexplained}


def worse_by(task: str, a: float, b: float) -> float:
    """How much worse `a` is than `b` on the primary metric (positive = worse)."""
    _, higher = primary_metric(task)
    return b - a if higher else a - b
