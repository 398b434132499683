"""Served against offline predictions: the log's served prediction, row by row, against what the
version under review predicts for the same logged features.

Every other check reads the inputs; this one reads the output serving actually returned. A
share of rows past rounding that differ means serving does not run this model on these
features: another model (or version) is served, or serving prepares a feature differently
from the log. Which of the two is read off where the mismatches fall: concentrated on some
values of one feature, that feature's preprocessing; spread, another model (or a change no
single feature's values localise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import stats
from ..evidence import ServedMismatch
from ..types import Finding
from .base import MIN_ROWS, Context, Detector

#: relative tolerance of a regression prediction: float32 serving and summation order stay inside it
RELATIVE_TOLERANCE = 1e-6
#: served values rounded to at most this many decimals widen the tolerance to half their last digit
MAX_DECIMALS = 8
#: quantile bins of a numeric feature when locating mismatches on its values
FEATURE_BINS = 10


@dataclass(frozen=True)
class ServedPredictions(Detector):
    cause = "training_serving_skew"
    stage = 1
    key = "served_predictions"

    #: share of compared rows whose served prediction differs from the offline one
    min_mismatch_share: float = 0.01
    #: mismatch rate tolerated as noise (a handful of rows on a large log), tested one-sided ...
    tolerated_share: float = 0.001
    #: ... at this level (binomial test)
    alpha: float = 0.001
    #: a feature is named when its values explain this share of the mismatch's variance (epsilon
    #: squared over its bins) ...
    min_feature_share: float = 0.05
    #: ... and this many times the next feature's
    feature_dominance: float = 2.5

    def detect(self, ctx: Context) -> list[Finding]:
        """Needs the `prediction` column; compares on the sampled rows already scored (before any repair)."""
        column = ctx.schema.prediction
        if column is None or ctx.current_predictions is None:
            return []
        rows = ctx.current_sample
        served = rows[column]
        known = served.notna().to_numpy()
        if known.sum() < MIN_ROWS:
            return []
        served, offline = served[known], np.asarray(ctx.current_predictions)[known]
        differs, gap = compare(served, offline, ctx.schema.task)
        n, k = len(differs), int(differs.sum())
        share = k / n
        p = float(sps.binom.sf(k - 1, n, self.tolerated_share)) if k else 1.0
        if share < self.min_mismatch_share or p > self.alpha:
            return []
        signal = gap if gap is not None else differs.astype(float)
        feature = self._localised(rows[known], signal, ctx)
        examples = tuple((_plain(a), _plain(b)) for a, b in list(zip(served[differs], offline[differs]))[:3])
        evidence = ServedMismatch(
            compared_rows=n, mismatching_rows=k, mismatch_share=share, p_value=p,
            largest_difference=float(np.max(np.abs(gap))) if gap is not None else None, examples=examples,
            likely="preprocessing differs" if feature else "another model served", feature=feature)
        onset = None
        if ctx.has_time:
            per_window = pd.Series(differs).groupby(rows.loc[known, "_window"].to_numpy()).mean()
            onset = stats.onset(per_window.reindex(range(len(ctx.window_labels)), fill_value=0).tolist(),
                                self.min_mismatch_share, ctx.window_labels)
        strength = share / self.min_mismatch_share
        return [Finding(self.cause, None, strength, stats.strength_score(strength), evidence, onset)]

    def _localised(self, rows: pd.DataFrame, signal: np.ndarray, ctx: Context) -> str | None:
        """The feature whose values explain the mismatch (the served-minus-offline difference for
        regression, the mismatch itself for classes) far better than any other's, or None."""
        skipped = {f for f, _ in ctx.schema.skipped}
        explained = {f: _epsilon_squared(signal, _bins(rows[f], f in ctx.schema.numeric))
                     for f in ctx.references if f in rows.columns and f not in skipped}
        ranked = sorted(explained.items(), key=lambda kv: kv[1], reverse=True)
        if not ranked or ranked[0][1] < self.min_feature_share:
            return None
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        return ranked[0][0] if ranked[0][1] >= self.feature_dominance * max(runner_up, 0.0) else None


def compare(served: pd.Series, offline: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Which rows differ beyond rounding, and (regression) served minus offline per row.

    Classes compare as numbers when both sides are numeric (1 and 1.0 agree), else as text.
    A regression value differs by more than a relative 1e-6 plus half the served values'
    last decimal, so serving that rounds to 2 decimals is no mismatch."""
    if task != "regression":
        s_num, o_num = pd.to_numeric(served, errors="coerce"), pd.to_numeric(pd.Series(offline), errors="coerce")
        if s_num.notna().all() and o_num.notna().all():
            return s_num.to_numpy(float) != o_num.to_numpy(float), None
        return served.astype(str).to_numpy() != pd.Series(offline).astype(str).to_numpy(), None
    s, o = pd.to_numeric(served, errors="coerce").to_numpy(float), np.asarray(offline, dtype=float)
    gap = s - o
    tolerance = RELATIVE_TOLERANCE * np.maximum(1.0, np.abs(o)) + _half_last_digit(s)
    with np.errstate(invalid="ignore"):
        differs = ~(np.abs(gap) <= tolerance)
    return differs, np.nan_to_num(gap, nan=0.0)


def _half_last_digit(values: np.ndarray) -> float:
    """Half the resolution the served values are rounded to (0.005 for 2 decimals); 0 when they are not rounded."""
    finite = values[np.isfinite(values)]
    for decimals in range(MAX_DECIMALS + 1):
        if np.all(np.abs(finite - np.round(finite, decimals)) <= 1e-9 * np.maximum(1.0, np.abs(finite))):
            return 0.5 * 10.0 ** -decimals * (1 + 1e-9)
    return 0.0


def _bins(values: pd.Series, numeric: bool) -> np.ndarray:
    """Quantile bins of a numeric feature, values of a categorical one; missing values are a bin of their own."""
    if numeric:
        ranks = values.rank(method="first")
        binned = np.floor((ranks - 1) / max(ranks.count(), 1) * FEATURE_BINS)
        return binned.fillna(-1).to_numpy()
    return values.astype(object).where(values.notna(), "<missing>").astype(str).to_numpy()


def _epsilon_squared(y: np.ndarray, groups: np.ndarray) -> float:
    """Share of y's variance between groups, less what that many groups explain by chance."""
    y = np.asarray(y, dtype=float)
    total = float(((y - y.mean()) ** 2).sum())
    frame = pd.DataFrame({"y": y, "g": groups}).groupby("g")["y"]
    k, n = frame.ngroups, len(y)
    if total == 0 or k < 2 or n <= k:
        return 0.0
    between = float((frame.count() * (frame.mean() - y.mean()) ** 2).sum())
    return (between - (k - 1) * (total - between) / (n - k)) / total


def _plain(v):
    return None if pd.isna(v) else (float(v) if isinstance(v, (int, float, np.number)) else str(v))
