"""Per-feature summaries: the reference once, the current data per time window.

Detectors read only these summaries (plus bounded row samples where they need rows), so the
same detectors work whether pandas, chunked Parquet or Spark produced the numbers. Every
column is binned once against the reference's own quantile bins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: quantile levels used to compare shapes (affine fits) between reference and current
QUANTILE_LEVELS = np.linspace(0.05, 0.95, 19)
#: a numeric feature with at most this many distinct reference values is binned per value
DISCRETE_MAX_VALUES = 20
#: support = reference [0.1%, 99.9%] quantiles widened by this share of their span
SUPPORT_MARGIN = 0.1
MAX_CATEGORIES = 1000


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
        lo, hi = self.support
        idx = np.searchsorted(self.edges, values, side="left") + 1
        idx[values < lo] = 0
        idx[values > hi] = len(self.edges) + 2
        return np.bincount(idx, minlength=len(self.edges) + 3)


@dataclass(frozen=True)
class NumericSummary:
    n: int
    n_null: int
    n_inf: int
    counts: np.ndarray  # [below, bins..., above] on the reference bins
    quantiles: np.ndarray  # at QUANTILE_LEVELS over finite values (NaN when none)
    mean: float
    std: float
    top_value: float
    top_count: int
    ref_top_count: int  # how often the reference's most frequent value occurs here
    distinct: int
    repeats: int  # rows equal to the previous row, in time order

    @property
    def n_finite(self) -> int:
        return self.n - self.n_null - self.n_inf

    @property
    def out_of_support(self) -> int:
        return int(self.counts[0] + self.counts[-1])


@dataclass(frozen=True)
class CategoricalReference:
    name: str
    categories: pd.Index
    summary: "CategoricalSummary"

    def codes(self, values: pd.Series) -> np.ndarray:
        """Reference category codes; -1 = unseen, -2 = missing."""
        codes = self.categories.get_indexer(values.to_numpy())
        codes[values.isna().to_numpy()] = -2
        return codes


@dataclass(frozen=True)
class CategoricalSummary:
    n: int
    n_null: int
    counts: np.ndarray  # per reference category, then one slot for unseen categories
    unseen_examples: tuple[str, ...]
    top_value: str | None
    top_count: int
    ref_top_count: int
    distinct: int
    repeats: int
    #: category frequencies sorted high to low (shape of the distribution, ignoring labels)
    sorted_shares: np.ndarray

    @property
    def n_unseen(self) -> int:
        return int(self.counts[-1])


def numeric_reference(name: str, values: np.ndarray) -> NumericReference:
    finite = values[np.isfinite(values)]
    uniq = np.unique(finite)
    if len(uniq) <= DISCRETE_MAX_VALUES:
        edges = (uniq[:-1] + uniq[1:]) / 2 if len(uniq) > 1 else np.array([], dtype=float)
        gap = np.min(np.diff(uniq)) if len(uniq) > 1 else max(abs(uniq[0]), 1.0) if len(uniq) else 1.0
        support = (float(uniq[0] - gap / 2), float(uniq[-1] + gap / 2)) if len(uniq) else (0.0, 0.0)
        discrete = True
    else:
        n_bins = int(np.clip(len(finite) // 50, 5, 20))
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1]))
        lo, hi = np.quantile(finite, [0.001, 0.999])
        span = hi - lo
        support = (float(lo - SUPPORT_MARGIN * span), float(hi + SUPPORT_MARGIN * span))
        discrete = False
    ref = NumericReference(name, edges, support, discrete, summary=None)  # type: ignore[arg-type]
    summary = summarize_numeric(values, ref, is_reference=True)
    return NumericReference(name, edges, support, discrete, summary, uniq if discrete else np.array([]))


def summarize_numeric(values: np.ndarray, ref: NumericReference, *, is_reference: bool = False) -> NumericSummary:
    """One pass over a column (or a window of it) against the reference's bins."""
    nan = np.isnan(values)
    inf = np.isinf(values)
    finite = values[~nan & ~inf]
    counts = ref.bin_counts(finite)
    if len(finite):
        quantiles = np.quantile(finite, QUANTILE_LEVELS)
        vc = pd.Series(finite).value_counts(sort=True)
        top_value, top_count, distinct = float(vc.index[0]), int(vc.iloc[0]), int(len(vc))
        mean, std = float(finite.mean()), float(finite.std())
    else:
        quantiles = np.full(len(QUANTILE_LEVELS), np.nan)
        top_value, top_count, distinct, mean, std = np.nan, 0, 0, np.nan, np.nan
        vc = None
    if is_reference:
        ref_top_count = top_count
    else:
        ref_top_count = int(vc.get(ref.summary.top_value, 0)) if vc is not None else 0
    same = values[1:] == values[:-1]
    return NumericSummary(
        n=len(values), n_null=int(nan.sum()), n_inf=int(inf.sum()), counts=counts, quantiles=quantiles,
        mean=mean, std=std, top_value=top_value, top_count=top_count, ref_top_count=ref_top_count,
        distinct=distinct, repeats=int(np.count_nonzero(same)),
    )


def categorical_reference(name: str, values: pd.Series) -> CategoricalReference:
    vc = values.value_counts(dropna=True)
    categories = pd.Index(vc.index[:MAX_CATEGORIES])
    ref = CategoricalReference(name, categories, summary=None)  # type: ignore[arg-type]
    return CategoricalReference(name, categories, summarize_categorical(values, ref, is_reference=True))


def summarize_categorical(values: pd.Series, ref: CategoricalReference, *, is_reference: bool = False) -> CategoricalSummary:
    codes = ref.codes(values)
    valid = codes[codes >= 0]
    counts = np.append(np.bincount(valid, minlength=len(ref.categories)), np.count_nonzero(codes == -1))
    vc = values.value_counts(dropna=True)
    unseen = [str(v) for v in vc.index if v not in ref.categories][:5] if counts[-1] else []
    if is_reference:
        ref_top_count = int(vc.iloc[0]) if len(vc) else 0
    else:
        ref_top = ref.summary.top_value
        ref_top_count = int(vc.get(ref_top, 0)) if ref_top is not None else 0
    total = vc.sum()
    shares = (vc.to_numpy() / total) if total else np.zeros(0)
    same = codes[1:] == codes[:-1]
    same &= codes[1:] != -2
    return CategoricalSummary(
        n=len(values), n_null=int(np.count_nonzero(codes == -2)), counts=counts, unseen_examples=tuple(unseen),
        top_value=str(vc.index[0]) if len(vc) else None, top_count=int(vc.iloc[0]) if len(vc) else 0,
        ref_top_count=ref_top_count, distinct=int(len(vc)), repeats=int(np.count_nonzero(same)),
        sorted_shares=shares,
    )


@dataclass(frozen=True)
class FeatureProfile:
    """A feature in the current data: the whole period and each time window."""

    name: str
    present: bool
    overall: NumericSummary | CategoricalSummary | None
    windows: tuple[NumericSummary | CategoricalSummary, ...]


def window_bounds(n_rows: int, n_windows: int) -> list[tuple[int, int]]:
    """Equal-count contiguous windows over time-sorted rows."""
    edges = np.linspace(0, n_rows, n_windows + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def profile_feature(
    column: pd.Series | None,
    ref: NumericReference | CategoricalReference,
    bounds: list[tuple[int, int]],
) -> FeatureProfile:
    if column is None:
        return FeatureProfile(ref.name, False, None, ())
    if isinstance(ref, NumericReference):
        values = column.to_numpy(dtype=float)
        windows = tuple(summarize_numeric(values[a:b], ref) for a, b in bounds)
        overall = summarize_numeric(values, ref)
    else:
        windows = tuple(summarize_categorical(column.iloc[a:b], ref) for a, b in bounds)
        overall = summarize_categorical(column, ref)
    return FeatureProfile(ref.name, True, overall, windows)
