"""Profiles built batch by batch: per-window accumulators whose merge is the summary profile.py
would compute on all the rows at once, so a log bigger than memory is profiled in one pass.

What is exact and what is estimated, whatever the log's size:
- exact: row, null and infinity counts, counts on the reference bins (drift), unseen
  categories, mean, sd, minimum and maximum;
- from a uniform sample of each window's rows (WINDOW_SAMPLE_ROWS, bottom-k on one random key
  per row, so windows merge into a uniform sample of the whole): a numeric feature's
  quantiles, median and most frequent value. Exact while a window fits in its sample;
- exact up to CATEGORY_LIMIT distinct values per window, then the rarest are dropped: a
  categorical feature's most frequent values and its distinct count (its reference-slot
  counts stay exact).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .profile import (
    QUANTILE_LEVELS,
    CategoricalReference,
    CategoricalSummary,
    NumericReference,
    NumericSummary,
    _sorted_quantiles,
)

#: rows per time window kept for the statistics that need values (quantiles, the top value)
WINDOW_SAMPLE_ROWS = 20_000
#: distinct categories counted one by one per window; beyond twice this the rarest are dropped
CATEGORY_LIMIT = 100_000
_MEDIAN = np.array([0.5])


class RowSample:
    """The `size` rows with the smallest keys seen so far: a uniform sample while keys are uniform
    random, and one that merges (the smallest keys of a union are among each part's smallest)."""

    def __init__(self, size: int, width: int) -> None:
        self.size = size
        self.keys = np.empty(0)
        self.values = np.empty((0, width))

    @property
    def threshold(self) -> float:
        """Keys below this enter the sample (all, until it is full)."""
        return float(self.keys.max()) if len(self.keys) >= self.size else np.inf

    def offer(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Rows (keys and their values) to consider: the sample keeps the `size` smallest keys of
        what it held and these (offering only keys below `threshold` saves the copying)."""
        self.keys = np.concatenate((self.keys, keys))
        self.values = np.concatenate((self.values, values))
        if len(self.keys) > self.size:
            keep = np.argpartition(self.keys, self.size - 1)[:self.size]
            self.keys, self.values = self.keys[keep], self.values[keep]


@dataclass
class NumericWindow:
    """One numeric feature in one window: exact counts and moments, added to batch by batch."""

    ref: NumericReference
    n: int = 0
    n_null: int = 0
    n_inf: int = 0
    counts: np.ndarray = field(default=None)  # type: ignore[assignment]
    #: sums of (value - shift) and its square: moments without cancellation
    shifted_sum: float = 0.0
    shifted_squares: float = 0.0
    minimum: float = np.inf
    maximum: float = -np.inf

    def __post_init__(self) -> None:
        if self.counts is None:
            self.counts = np.zeros(len(self.ref.edges) + 3, dtype=np.int64)

    @property
    def shift(self) -> float:
        m = self.ref.summary.median
        return float(m) if np.isfinite(m) else 0.0

    def add(self, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)]
        nulls = int(np.count_nonzero(np.isnan(values)))
        self.n += len(values)
        self.n_null += nulls
        self.n_inf += len(values) - len(finite) - nulls
        if not len(finite):
            return
        self.counts += self.ref.bin_counts(finite)  # a sort, then a binary search per edge: cheaper than one per value
        centred = finite - self.shift
        self.shifted_sum += float(centred.sum())
        self.shifted_squares += float(np.dot(centred, centred))
        self.minimum = min(self.minimum, float(finite.min()))
        self.maximum = max(self.maximum, float(finite.max()))

    def merged(self, other: "NumericWindow") -> "NumericWindow":
        return NumericWindow(self.ref, self.n + other.n, self.n_null + other.n_null, self.n_inf + other.n_inf,
                             self.counts + other.counts, self.shifted_sum + other.shifted_sum,
                             self.shifted_squares + other.shifted_squares, min(self.minimum, other.minimum),
                             max(self.maximum, other.maximum))

    def summary(self, samples: list[tuple[np.ndarray, int]]) -> NumericSummary:
        """The summary, with value statistics from `samples`: per window, a uniform sample of its
        finite values and how many finite rows that sample stands for."""
        finite_n = self.n - self.n_null - self.n_inf
        if finite_n == 0:
            return NumericSummary(
                n=self.n, n_null=self.n_null, n_inf=self.n_inf, counts=self.counts,
                quantiles=np.full(len(QUANTILE_LEVELS), np.nan), mean=np.nan, std=np.nan, median=np.nan,
                minimum=np.nan, maximum=np.nan, top_value=np.nan, top_count=0, distinct=0)
        values, weights = _pooled(samples)
        ordered = np.argsort(values)  # the order among equal values changes no statistic read here
        values, weights = values[ordered], weights[ordered]
        if np.all(weights == 1.0):  # every row is in the sample: the in-memory arithmetic exactly
            quantiles, median = _sorted_quantiles(values, QUANTILE_LEVELS), float(_sorted_quantiles(values, _MEDIAN)[0])
        else:
            quantiles, median = _weighted_quantiles(values, weights, QUANTILE_LEVELS), \
                float(_weighted_quantiles(values, weights, _MEDIAN)[0])
        starts = np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1))
        mass = np.add.reduceat(weights, starts)
        top = int(np.argmax(mass))  # ties: the smallest of the most frequent values, as in memory
        mean = self.shift + self.shifted_sum / finite_n
        var = max(self.shifted_squares / finite_n - (self.shifted_sum / finite_n) ** 2, 0.0)
        return NumericSummary(
            n=self.n, n_null=self.n_null, n_inf=self.n_inf, counts=self.counts.copy(), quantiles=quantiles,
            mean=float(mean), std=float(np.sqrt(var)), median=median, minimum=self.minimum, maximum=self.maximum,
            top_value=float(values[starts[top]]), top_count=int(round(mass[top])), distinct=len(starts),
        )


def _pooled(samples: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Sample values and the rows each stands for (its window's finite rows over its sample size)."""
    parts = [(s, np.full(len(s), n / len(s))) for s, n in samples if len(s)]
    if not parts:
        return np.empty(0), np.empty(0)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _weighted_quantiles(ordered: np.ndarray, weights: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantiles of sorted values each standing for `weights` rows: the linear method on the
    weighted ranks (equal weights give `np.quantile`'s answer)."""
    upto = np.cumsum(weights)
    ranks = (upto - weights / 2) / upto[-1]
    return np.interp(levels, ranks, ordered)


@dataclass
class CategoricalWindow:
    """One categorical feature in one window: counts per distinct value and per reference slot."""

    ref: CategoricalReference
    n: int = 0
    n_null: int = 0
    slots: np.ndarray = field(default=None)  # type: ignore[assignment]
    #: count per category, in order of first appearance
    values: dict[str, int] = field(default_factory=dict)
    #: rows of categories dropped past CATEGORY_LIMIT (their slot counts are kept)
    dropped: int = 0

    def __post_init__(self) -> None:
        if self.slots is None:
            self.slots = np.zeros(self.ref.other_slot + 2, dtype=np.int64)

    def add(self, categories: pd.Series, counts: np.ndarray) -> None:
        """`categories`: a batch's distinct values as strings (NaN = missing), `counts` their rows."""
        missing = categories.isna().to_numpy()
        self.n += int(counts.sum())
        self.n_null += int(counts[missing].sum())
        seen, seen_counts = categories[~missing], counts[~missing]
        slot = self.ref.codes(seen)
        self.slots += np.bincount(np.where(slot >= 0, slot, self.ref.other_slot + 1), weights=seen_counts,
                                  minlength=len(self.slots)).astype(np.int64)
        tally = self.values
        for value, count in zip(seen.tolist(), seen_counts.tolist()):
            tally[value] = tally.get(value, 0) + count
        if len(tally) > 2 * CATEGORY_LIMIT:
            self._drop_rarest()

    def _drop_rarest(self) -> None:
        kept = sorted(self.values.items(), key=lambda item: -item[1])[:CATEGORY_LIMIT]
        self.dropped += sum(self.values.values()) - sum(c for _, c in kept)
        order = {v: i for i, v in enumerate(self.values)}
        self.values = dict(sorted(kept, key=lambda item: order[item[0]]))

    def merged(self, other: "CategoricalWindow") -> "CategoricalWindow":
        tally = dict(self.values)
        for value, count in other.values.items():
            tally[value] = tally.get(value, 0) + count
        out = CategoricalWindow(self.ref, self.n + other.n, self.n_null + other.n_null, self.slots + other.slots,
                                tally, self.dropped + other.dropped)
        if len(tally) > 2 * CATEGORY_LIMIT:
            out._drop_rarest()
        return out

    def summary(self) -> CategoricalSummary:
        ranked = sorted(self.values.items(), key=lambda item: -item[1])  # stable: ties by first appearance
        names = pd.Series([v for v, _ in ranked], dtype=object)
        counts = np.array([c for _, c in ranked], dtype=np.int64)
        unseen = names[self.ref.codes(names) == -1].head(5).tolist() if len(names) else []
        total = counts.sum() + self.dropped
        return CategoricalSummary(
            n=self.n, n_null=self.n_null, counts=self.slots.copy(), unseen_examples=tuple(unseen),
            top_value=names.iloc[0] if len(names) else None, top_count=int(counts[0]) if len(counts) else 0,
            distinct=len(names), sorted_shares=counts / total if total else np.zeros(0),
        )
