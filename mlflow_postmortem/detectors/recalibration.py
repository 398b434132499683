"""Feature recalibration: the feature's unit, scale or encoding changed while its shape did not.

Numeric: the current quantiles are an affine image (a*x + b) of the reference quantiles, with
a unit-like factor or a move out of the range the model saw. Categorical (or integer codes):
the category frequencies are the reference's, reassigned to other codes.
"""

from __future__ import annotations

import numpy as np

from .. import stats
from ..profile import QUANTILE_LEVELS, CategoricalReference, NumericReference
from ..types import Finding
from .base import Context, Detector

#: per-window total variation that marks a window as changed
WINDOW_TV = 0.15
#: |log(scale)| of a unit change (x1.5 or more), or share of rows moved out of the seen range
MIN_LOG_SCALE = np.log(1.5)
MIN_OUT_OF_RANGE = 0.5
#: after undoing the change (inverse rescale, or codes matched by rank) the distribution must
#: match the reference this closely (debiased total variation)
MAX_SHAPE_TV = 0.08
MIN_RAW_TV = 0.2
#: (scale, offset) of common unit changes: powers of ten (cents, grams, milli-), time, Celsius to
#: Fahrenheit, inches, pounds, miles; with their inverses
_UNITS = [(10.0**k, 0.0) for k in range(1, 7)] + [(60.0, 0.0), (3600.0, 0.0), (24.0, 0.0), (1.8, 32.0),
                                                 (2.54, 0.0), (2.20462, 0.0), (1.60934, 0.0)]
KNOWN_UNITS = _UNITS + [(1 / a, -b / a) for a, b in _UNITS]
#: how far (in log scale) a fitted scale may be from a known unit for the unit to be tried
UNIT_WINDOW = 0.5


class Recalibration(Detector):
    cause = "feature_recalibration"
    stage = 1

    def detect(self, ctx: Context) -> list[Finding]:
        findings = []
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present or profile.overall.n - profile.overall.n_null < 20:
                continue
            ref = ctx.references[name]
            finding = None
            if isinstance(ref, NumericReference):  # integer codes can be rescaled too (1..5 -> 100..500)
                finding = self._affine(name, ref, profile, ctx)
            if finding is None and (isinstance(ref, CategoricalReference) or ref.discrete):
                finding = self._permuted(name, ref, profile, ctx)
            if finding is not None:
                findings.append(finding)
        return findings

    def _affected(self, ref, profile, ctx):
        """Windows whose distribution changed; without time, the whole period."""
        per_window = [stats.total_variation(_counts(ref.summary), _counts(w)) for w in profile.windows]
        if not ctx.has_time:
            return [0], per_window
        # fit on the fully changed windows only: a window straddling the onset is a mixture
        top = max(per_window, default=0.0)
        changed = [i for i, tv in enumerate(per_window) if tv >= max(WINDOW_TV, 0.8 * top)]
        return changed, per_window

    def _affine(self, name, ref: NumericReference, profile, ctx: Context) -> Finding | None:
        changed, per_window = self._affected(ref, profile, ctx)
        if not changed:
            return None
        rows = ctx.current_sample
        if ctx.has_time:
            rows = rows[rows["_window"].isin(changed)]
        values = rows[name].to_numpy(float)
        values = values[np.isfinite(values)]
        if len(values) < 20:
            return None
        fit = _fit_affine(ref, values)
        if fit is None:
            return None
        ref_q = ref.summary.quantiles
        ref_counts = np.asarray(ref.summary.counts, float)
        grid = np.unique(ctx.reference_sample[name].to_numpy(float))
        grid = grid[np.isfinite(grid)]

        def shape(a: float, b: float) -> float:
            """Mapped back through (a, b), does current look like the reference?"""
            return stats.debiased_total_variation(ref_counts, ref.bin_counts(_snap((values - b) / a, grid)).astype(float))

        a, b = fit
        shape_tv = shape(a, b)
        # a fit of x99.25 + 42 that is really dollars to cents: name the unit change when it fits as
        # well (quantiles of a lumpy feature can put the fitted scale a third away from the true one)
        units = [(shape(ua, ub), ua, ub) for ua, ub in KNOWN_UNITS if abs(np.log(ua / a)) < UNIT_WINDOW]
        if units and min(units)[0] <= shape_tv + 0.01:
            shape_tv, a, b = min(units)
        raw = ref.bin_counts(values)
        out = float((raw[0] + raw[-1]) / len(values))
        log_scale = abs(float(np.log(a)))
        if shape_tv > MAX_SHAPE_TV or not (log_scale >= MIN_LOG_SCALE or out >= MIN_OUT_OF_RANGE):
            return None
        strength = max(log_scale / MIN_LOG_SCALE, out / MIN_OUT_OF_RANGE)
        evidence = {
            "transform": "affine", "scale": float(a), "offset": float(b), "shape_tv_after_inverse": shape_tv,
            "raw_tv": stats.total_variation(ref_counts, raw.astype(float)), "out_of_range_share": out,
            "windows_changed": len(changed), "reference_median": float(np.median(ref_q)),
            "current_median": float(np.median(values)),
        }
        onset = stats.onset(per_window, WINDOW_TV, ctx.window_labels) if ctx.has_time else None
        return Finding(self.cause, name, strength, stats.confidence(strength), evidence, onset)

    def _permuted(self, name, ref, profile, ctx: Context) -> Finding | None:
        changed, per_window = self._affected(ref, profile, ctx)
        if not changed:
            return None
        windows = [profile.windows[i] for i in changed] if ctx.has_time else [profile.overall]
        ref_shares, cur_shares = _sorted_shares(ref, ref.summary), _sorted_shares(ref, *windows)
        if len(ref_shares) < 3:
            return None  # two codes swapped cannot be told from a change in their mix
        k = max(len(ref_shares), len(cur_shares))
        shape_tv = 0.5 * np.abs(np.pad(ref_shares, (0, k - len(ref_shares))) - np.pad(cur_shares, (0, k - len(cur_shares)))).sum()
        seen = slice(None, -1) if isinstance(ref, CategoricalReference) else slice(1, -1)
        raw_tv = stats.total_variation(_counts(ref.summary)[seen], sum(_counts(w) for w in windows)[seen])
        mapping = _rank_mapping(ref, windows)
        if raw_tv < MIN_RAW_TV or shape_tv > MAX_SHAPE_TV or len(mapping) < 2:
            return None
        strength = raw_tv / MIN_RAW_TV
        evidence = {"transform": "codes_permuted", "raw_tv": raw_tv, "shape_tv": float(shape_tv),
                    "mapping": mapping, "windows_changed": len(changed)}
        onset = stats.onset(per_window, WINDOW_TV, ctx.window_labels) if ctx.has_time else None
        return Finding(self.cause, name, strength, stats.confidence(strength), evidence, onset)


def _fit_affine(ref: NumericReference, values: np.ndarray) -> tuple[float, float] | None:
    """(a, b) with current = a * reference + b, or None when no increasing map fits.

    Discrete features are fitted on their distinct values matched in order (exact for a unit
    change; quantiles of a few steps jump between steps); others on matching quantiles.
    """
    distinct = np.unique(values)
    if ref.discrete and len(distinct) == len(ref.values) > 1:
        a, b = np.polyfit(ref.values, distinct, 1)
    else:
        ref_q, cur_q = ref.summary.quantiles, np.quantile(values, QUANTILE_LEVELS)
        if np.ptp(ref_q) <= 0 or np.ptp(cur_q) <= 0:
            return None
        a, b = np.polyfit(ref_q, cur_q, 1)
    return (float(a), float(b)) if a > 0 else None


def _snap(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Values within half a grid step of a reference value become that value.

    Data recorded at a resolution (carats to 0.01) has ties on the bin edges; a fitted scale of
    99.99 instead of 100 would push each tie across its edge and fake a change of shape.
    """
    if len(grid) < 2:
        return values
    half = 0.5 * float(np.min(np.diff(grid)))
    idx = np.clip(np.searchsorted(grid, values), 1, len(grid) - 1)
    nearest = np.where(np.abs(values - grid[idx - 1]) <= np.abs(values - grid[idx]), grid[idx - 1], grid[idx])
    return np.where(np.abs(values - nearest) <= half, nearest, values)


def _counts(summary) -> np.ndarray:
    return np.asarray(summary.counts, dtype=float)


def _sorted_shares(ref, *summaries) -> np.ndarray:
    """Category (or discrete value) frequencies, high to low: the distribution's shape without its labels."""
    if isinstance(ref, CategoricalReference):
        shares = [s.sorted_shares for s in summaries]
        k = max(len(s) for s in shares)
        return np.mean([np.pad(s, (0, k - len(s))) for s in shares], axis=0)
    counts = sum(_counts(s) for s in summaries)[1:-1]
    shares = np.sort(counts / max(counts.sum(), 1))[::-1]
    return shares[shares > 0]


def _rank_mapping(ref, windows) -> list[list]:
    """Pairs [current code, reference code] matched by frequency rank: the repair that undoes the permutation."""
    cur = sum(_counts(w) for w in windows)
    if isinstance(ref, CategoricalReference):
        labels, cur_counts, ref_counts = list(ref.categories), cur[:-1], _counts(ref.summary)[:-1]
    else:
        labels, cur_counts, ref_counts = [float(v) for v in ref.values], cur[1:-1], _counts(ref.summary)[1:-1]
    pairs = zip(np.argsort(-cur_counts, kind="stable"), np.argsort(-ref_counts, kind="stable"))
    return [[labels[c], labels[r]] for c, r in pairs if cur_counts[c] > 0 and c != r]
