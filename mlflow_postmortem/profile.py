"""Per-feature summaries: the reference once, the current data per time window.

Detectors read only these summaries (plus bounded row samples where they need rows), so the
same detectors work whether pandas, chunked Parquet or Spark produced the numbers. Every
column is binned once against the reference's own quantile bins.

Cost at scale: a numeric column (or window) is sorted once and every statistic (bin counts,
quantiles, distinct and most frequent values) is read off the sorted values by binary search
or one vectorised pass; a categorical column is hashed once (`pd.factorize`) and each window
is a `bincount` over its codes. No per-window hash tables, no per-row Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

#: quantile levels used to compare shapes (affine fits) between reference and current
QUANTILE_LEVELS = np.linspace(0.05, 0.95, 19)
#: a numeric feature with at most this many distinct reference values is binned per value
DISCRETE_MAX_VALUES = 20
#: support = reference [0.1%, 99.9%] quantiles widened by this share of their span
SUPPORT_MARGIN = 0.1
MAX_CATEGORIES = 1000
#: windows smaller than this are merged: onset analysis on a handful of rows is noise
MIN_WINDOW_ROWS = 200
_MEDIAN = np.array([0.5])


@dataclass(frozen=True)
class NumericReference:
    name: str
    edges: np.ndarray  # inner bin edges; bins are (-inf, e0], (e0, e1], ..., (e_last, inf) within support
    support: tuple[float, float]
    discrete: bool
    summary: "NumericSummary"
    #: the distinct reference values, one per bin, when the feature is discrete
    values: np.ndarray = field(default_factory=lambda: np.array([]))

    def bin_counts(self, values: np.ndarray) -> np.ndarray:
        """Counts of finite values as [below support, bin 0 .. bin K-1, above support]."""
        return self.sorted_bin_counts(np.sort(values))

    def density(self, values: np.ndarray) -> np.ndarray:
        """The reference's density at each value: its bin's share of rows over the bin's width
        (a point mass has width 0: an infinite density); 0 outside the support or for NaN."""
        lo, hi = self.support
        bounds = np.concatenate(([lo], self.edges, [hi]))
        mass = np.asarray(self.summary.counts[1:-1], dtype=float)
        mass = mass / max(mass.sum(), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_bin = np.where(mass > 0, mass / np.diff(bounds), 0.0)
        v = np.asarray(values, dtype=float)
        inside = np.isfinite(v) & (v >= lo) & (v <= hi)
        idx = np.clip(np.searchsorted(self.edges, np.where(inside, v, lo), side="left"), 0, len(per_bin) - 1)
        return np.where(inside, per_bin[idx], 0.0)

    def sorted_bin_counts(self, ordered: np.ndarray) -> np.ndarray:
        """`bin_counts` of values already sorted ascending: a binary search per edge, none per value."""
        lo, hi = self.support
        below = np.searchsorted(ordered, lo, side="left")
        upto_hi = np.searchsorted(ordered, hi, side="right")
        cuts = np.clip(np.searchsorted(ordered, self.edges, side="right"), below, upto_hi)
        return np.diff(np.concatenate(([0, below], cuts, [upto_hi, len(ordered)])))


@dataclass(frozen=True)
class NumericSummary:
    n: int
    n_null: int
    n_inf: int
    counts: np.ndarray  # [below, bins..., above] on the reference bins
    quantiles: np.ndarray  # at QUANTILE_LEVELS over finite values (NaN when none)
    mean: float
    std: float
    median: float  # of finite values: the value a serving system would impute
    minimum: float
    maximum: float
    top_value: float
    top_count: int
    distinct: int

    @property
    def n_finite(self) -> int:
        return self.n - self.n_null - self.n_inf

    @property
    def out_of_support(self) -> int:
        return int(self.counts[0] + self.counts[-1])


@dataclass(frozen=True)
class CategoricalReference:
    """Up to MAX_CATEGORIES most frequent reference categories get a slot each; the rest of the
    reference's categories share one "other seen" slot, so they never pose as unseen."""

    name: str
    categories: pd.Index
    summary: "CategoricalSummary"
    #: every category the reference holds (a superset of `categories` when the cap applied)
    known: pd.Index = field(default_factory=lambda: pd.Index([]))
    #: reference categories seen exactly once: Good-Turing's estimate of the unseen share is singletons / rows
    singletons: int = 0

    @property
    def other_slot(self) -> int:
        return len(self.categories)

    def codes(self, values: pd.Series) -> np.ndarray:
        """Reference slot per row: a kept category's index, `other_slot` for the rest of the
        reference's categories, -1 = unseen, -2 = missing."""
        raw = values.to_numpy()
        codes = self.categories.get_indexer(raw)
        if len(self.known) > len(self.categories):
            codes[(codes < 0) & (self.known.get_indexer(raw) >= 0)] = self.other_slot
        codes[values.isna().to_numpy()] = -2
        return codes


@dataclass(frozen=True)
class CategoricalSummary:
    n: int
    n_null: int
    counts: np.ndarray  # per kept reference category, then "other seen", then unseen
    unseen_examples: tuple[str, ...]
    top_value: str | None
    top_count: int
    distinct: int
    #: category frequencies sorted high to low (shape of the distribution, ignoring labels)
    sorted_shares: np.ndarray

    @property
    def n_unseen(self) -> int:
        return int(self.counts[-1])


# --- numeric: one sort per column (or window); every statistic is read off the sorted values ---


@dataclass(frozen=True)
class _Sorted:
    """A numeric column sorted once: its finite values ascending, the rest counted."""

    finite: np.ndarray
    n: int
    n_null: int
    n_inf: int

    @classmethod
    def of(cls, values: np.ndarray) -> "_Sorted":
        ordered = np.sort(values)  # NaN sorts last, the infinities to either end of the rest
        first_nan = int(np.searchsorted(ordered, np.nan, side="left"))
        start = int(np.searchsorted(ordered[:first_nan], -np.inf, side="right"))
        stop = int(np.searchsorted(ordered[:first_nan], np.inf, side="left"))
        return cls(ordered[start:stop], len(values), len(values) - first_nan, start + first_nan - stop)

    @cached_property
    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        """Start index and length of each run of equal values: the distinct values and their counts."""
        f = self.finite
        if not len(f):
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        starts = np.concatenate(([0], np.flatnonzero(f[1:] != f[:-1]) + 1))
        return starts, np.diff(np.append(starts, len(f)))


def _sorted_quantiles(ordered: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """`np.quantile(ordered, levels)` (linear method, same arithmetic) for values already sorted."""
    n = len(ordered)
    virtual = (n - 1) * np.asarray(levels, dtype=float)
    previous = np.floor(virtual)
    gamma = virtual - previous
    lo = np.minimum(previous.astype(np.intp), n - 1)
    a, b = ordered[lo], ordered[np.minimum(lo + 1, n - 1)]
    diff = b - a
    out = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def numeric_reference(name: str, values: np.ndarray) -> NumericReference:
    column = _Sorted.of(values)
    starts, _ = column.runs
    distinct = column.finite[starts] if len(starts) <= DISCRETE_MAX_VALUES else None
    ref = numeric_bins(name, column.finite, distinct, len(column.finite))
    return replace(ref, summary=_numeric_summary(column, ref))


def numeric_bins(name: str, ordered: np.ndarray, distinct: np.ndarray | None, n_finite: int) -> NumericReference:
    """A numeric feature's bins, its summary still to fill in: one per value when it has at most
    DISCRETE_MAX_VALUES (`distinct`, ascending; None when it has more), else at quantiles of
    `ordered`, its `n_finite` finite values sorted, or a uniform sample of them (a reference
    read in batches: the edges are then estimates, within a fraction of a percent of rank)."""
    if distinct is not None:
        uniq = distinct
        edges = (uniq[:-1] + uniq[1:]) / 2 if len(uniq) > 1 else np.array([], dtype=float)
        gap = np.min(np.diff(uniq)) if len(uniq) > 1 else max(abs(uniq[0]), 1.0) if len(uniq) else 1.0
        support = (float(uniq[0] - gap / 2), float(uniq[-1] + gap / 2)) if len(uniq) else (0.0, 0.0)
        return NumericReference(name, edges, support, True, None, uniq)  # type: ignore[arg-type]
    n_bins = int(np.clip(n_finite // 50, 5, 20))
    edges = np.unique(_sorted_quantiles(ordered, np.linspace(0, 1, n_bins + 1)[1:-1]))
    lo, hi = _sorted_quantiles(ordered, np.array([0.001, 0.999]))
    span = hi - lo
    support = (float(lo - SUPPORT_MARGIN * span), float(hi + SUPPORT_MARGIN * span))
    return NumericReference(name, edges, support, False, None)  # type: ignore[arg-type]


def summarize_numeric(values: np.ndarray, ref: NumericReference) -> NumericSummary:
    """One pass over a column (or a window of it) against the reference's bins."""
    return _numeric_summary(_Sorted.of(values), ref)


def _numeric_summary(column: _Sorted, ref: NumericReference) -> NumericSummary:
    finite = column.finite
    counts = ref.sorted_bin_counts(finite)
    if len(finite):
        starts, lengths = column.runs
        top = int(np.argmax(lengths))  # ties: the smallest of the most frequent values
        top_value, top_count, distinct = float(finite[starts[top]]), int(lengths[top]), len(starts)
        quantiles = _sorted_quantiles(finite, QUANTILE_LEVELS)
        mean, std, median = float(finite.mean()), float(finite.std()), float(_sorted_quantiles(finite, _MEDIAN)[0])
        minimum, maximum = float(finite[0]), float(finite[-1])
    else:
        quantiles = np.full(len(QUANTILE_LEVELS), np.nan)
        top_value, top_count, distinct, mean, std, median = np.nan, 0, 0, np.nan, np.nan, np.nan
        minimum, maximum = np.nan, np.nan
    return NumericSummary(
        n=column.n, n_null=column.n_null, n_inf=column.n_inf, counts=counts, quantiles=quantiles,
        mean=mean, std=std, median=median, minimum=minimum, maximum=maximum, top_value=top_value, top_count=top_count, distinct=distinct,
    )


# --- categorical: one hash pass per column; windows are counts over its codes ---------------


@dataclass(frozen=True)
class _Factorized:
    """A categorical column hashed once: per row, an index into its distinct values (-1 = missing)."""

    codes: np.ndarray
    uniques: np.ndarray

    @classmethod
    def of(cls, values: pd.Series) -> "_Factorized":
        codes, uniques = pd.factorize(values.to_numpy(), use_na_sentinel=True)
        return cls(codes, np.asarray(uniques, dtype=object))


def categorical_reference(name: str, values: pd.Series) -> CategoricalReference:
    column = _Factorized.of(values)
    per_unique = np.bincount(column.codes + 1, minlength=len(column.uniques) + 1)
    return counted_categorical_reference(name, column.uniques, per_unique[1:], int(per_unique[0]))


def counted_categorical_reference(name: str, uniques: np.ndarray, per_unique: np.ndarray,
                                  n_null: int) -> CategoricalReference:
    """The reference of a categorical feature from its count per distinct value (in order of first
    appearance) and its missing rows: the same whether the rows were hashed at once or counted in batches."""
    order = _by_frequency(per_unique)
    kept = order[:MAX_CATEGORIES]
    slot_of_unique = np.full(len(uniques), len(kept), dtype=np.intp)  # beyond the cap: "other seen"
    slot_of_unique[kept] = np.arange(len(kept))
    known = pd.Index(uniques[order])
    ref = CategoricalReference(name, pd.Index(uniques[kept]), None, known)  # type: ignore[arg-type]
    summary = _counted_summary(per_unique, n_null, uniques, slot_of_unique, ref)
    return CategoricalReference(name, ref.categories, summary, known, int(np.count_nonzero(per_unique == 1)))


def _by_frequency(counts: np.ndarray) -> np.ndarray:
    """Indices of the non-zero counts, most frequent first (ties in order of first appearance)."""
    present = np.flatnonzero(counts)
    return present[np.argsort(-counts[present], kind="stable")]


def _categorical_summary(codes: np.ndarray, uniques: np.ndarray, slot_of_unique: np.ndarray,
                         ref: CategoricalReference) -> CategoricalSummary:
    """Summary of rows given their distinct-value codes and each distinct value's reference slot
    (-1 = unseen): a whole column or a window."""
    per_unique = np.bincount(codes + 1, minlength=len(uniques) + 1)
    return _counted_summary(per_unique[1:], int(per_unique[0]), uniques, slot_of_unique, ref)


def _counted_summary(per_unique: np.ndarray, n_null: int, uniques: np.ndarray, slot_of_unique: np.ndarray,
                     ref: CategoricalReference) -> CategoricalSummary:
    counts = np.bincount(np.where(slot_of_unique >= 0, slot_of_unique, ref.other_slot + 1), weights=per_unique,
                         minlength=ref.other_slot + 2).astype(np.int64)
    order = _by_frequency(per_unique)
    top_value = str(uniques[order[0]]) if len(order) else None
    top_count = int(per_unique[order[0]]) if len(order) else 0
    unseen = [str(v) for v in uniques[order[slot_of_unique[order] < 0][:5]]]
    total = per_unique.sum()
    shares = per_unique[order] / total if total else np.zeros(0)
    return CategoricalSummary(
        n=int(per_unique.sum()) + n_null, n_null=n_null, counts=counts, unseen_examples=tuple(unseen),
        top_value=top_value, top_count=top_count, distinct=len(order), sorted_shares=shares,
    )


@dataclass(frozen=True)
class FeatureProfile:
    """A feature in the current data: the whole period and each time window."""

    name: str
    present: bool
    overall: NumericSummary | CategoricalSummary | None
    windows: tuple[NumericSummary | CategoricalSummary, ...]


def time_label(value: object) -> str:
    """A window's start as people read it: to the second, no nanoseconds."""
    return value.isoformat(sep=" ", timespec="seconds") if isinstance(value, pd.Timestamp) else str(value)


def window_count(n_rows: int, windows: int, has_time: bool) -> int:
    """How many time windows `n_rows` are cut into: at most `windows`, each of MIN_WINDOW_ROWS or more."""
    return min(windows, max(1, n_rows // MIN_WINDOW_ROWS)) if has_time else 1


def window_bounds(n_rows: int, n_windows: int) -> list[tuple[int, int]]:
    """Equal-count contiguous windows over time-sorted rows."""
    edges = np.linspace(0, n_rows, n_windows + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def profile_feature(
    column: pd.Series | None,
    ref: NumericReference | CategoricalReference,
    bounds: list[tuple[int, int]],
) -> FeatureProfile:
    """The whole period and each window of one current column: numeric windows are sorted
    slices, categorical windows count codes from a single hash pass over the column."""
    if column is None:
        return FeatureProfile(ref.name, False, None, ())
    if isinstance(ref, NumericReference):
        values = column.to_numpy(dtype=float)
        windows = tuple(summarize_numeric(values[a:b], ref) for a, b in bounds)
        overall = summarize_numeric(values, ref)
    else:
        fact = _Factorized.of(column)
        slot_of_unique = ref.codes(pd.Series(fact.uniques))

        def summary(a: int, b: int) -> CategoricalSummary:
            return _categorical_summary(fact.codes[a:b], fact.uniques, slot_of_unique, ref)

        windows = tuple(summary(a, b) for a, b in bounds)
        overall = summary(0, len(column))
    return FeatureProfile(ref.name, True, overall, windows)
