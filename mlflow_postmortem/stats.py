"""Small statistical building blocks shared by the detectors.

Effect sizes decide; p-values (Benjamini-Hochberg adjusted across features) only veto
effects that sampling noise could explain, so big data does not turn noise into alarms.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from .types import Onset

#: score of a finding exactly at its threshold; it grows toward 1 with strength
SCORE_AT_THRESHOLD = 0.5
#: each check's level, its share of the healthy verdict's false alarms (at most 2% of healthy logs):
#: a healthy log faces every check, so their levels add up. At 0.01 each, 22 of 1,080 fault-free
#: splits were flagged (twice, on two draws of splits); at 0.005, 15 of 1,080
CHECK_LEVEL = 0.005


def total_variation(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Half the L1 distance between two binned distributions: the share of mass that moved."""
    p_n, q_n = p_counts.sum(), q_counts.sum()
    if p_n == 0 or q_n == 0:
        return float("nan")
    return float(0.5 * np.abs(p_counts / p_n - q_counts / q_n).sum())


def debiased_total_variation(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Total variation minus what two samples of these sizes from one distribution would show."""
    tv = total_variation(p_counts, q_counts)
    p_n, q_n = p_counts.sum(), q_counts.sum()
    if not np.isfinite(tv):
        return tv
    pooled = (p_counts + q_counts) / (p_n + q_n)
    noise = 0.5 * np.sqrt(2 / np.pi) * np.sqrt(pooled * (1 - pooled) * (1 / p_n + 1 / q_n)).sum()
    return float(max(0.0, tv - noise))


def merge_sparse(p_counts: np.ndarray, q_counts: np.ndarray, min_expected: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Bins too sparse for the chi-square approximation pooled into one.

    A bin is sparse when, under one shared distribution, the smaller sample would expect fewer
    than `min_expected` rows in it; many such bins (rare categories, a few hundred rows) make
    the chi-square statistic and the TV noise correction unreliable, so they are summed.
    """
    p, q = np.asarray(p_counts, float), np.asarray(q_counts, float)
    n_small = min(p.sum(), q.sum())
    pooled = p + q
    if n_small == 0 or pooled.sum() == 0:
        return p, q
    expected = pooled / pooled.sum() * n_small
    sparse = expected < min_expected
    if sparse.sum() <= 1 and (not sparse.any() or sparse.all()):
        return p, q
    keep_p, keep_q = p[~sparse], q[~sparse]
    rest_p, rest_q = p[sparse].sum(), q[sparse].sum()
    if (rest_p + rest_q) / pooled.sum() * n_small < min_expected and len(keep_p):
        smallest = int(np.argmin(keep_p + keep_q))  # a rest bin still too thin joins the thinnest kept bin
        keep_p[smallest] += rest_p
        keep_q[smallest] += rest_q
        return keep_p, keep_q
    return np.append(keep_p, rest_p), np.append(keep_q, rest_q)


def welch_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Welch test that two means differ; 1.0 when neither side varies."""
    if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return 1.0
    return float(sps.ttest_ind(a, b, equal_var=False).pvalue)


def homogeneity_pvalue(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Chi-square test that two count vectors come from one distribution (sparse bins pooled first)."""
    p, q = merge_sparse(p_counts, q_counts)
    keep = (p + q) > 0
    if keep.sum() < 2 or p.sum() == 0 or q.sum() == 0:
        return 1.0
    table = np.vstack([p[keep], q[keep]])
    return float(sps.chi2_contingency(table, correction=False)[1])


def proportion_increase_pvalue(k_ref: int, n_ref: int, k_cur: int, n_cur: int) -> float:
    """One-sided test that a share (nulls, unseen values, ...) went up from reference to current."""
    if n_ref == 0 or n_cur == 0:
        return 1.0
    table = np.array([[k_cur, n_cur - k_cur], [k_ref, n_ref - k_ref]])
    return float(sps.fisher_exact(table, alternative="greater")[1]) if min(n_ref, n_cur) < 2000 else _z_greater(
        k_ref, n_ref, k_cur, n_cur
    )


def greater_pvalue(diff: float, se: float) -> float:
    """One-sided normal p-value that a difference estimated as `diff` with standard error `se`
    is above zero; a difference known exactly (se 0) gives 0 when positive, else 1."""
    return float(sps.norm.sf(diff / se)) if se > 0 else (0.0 if diff > 0 else 1.0)


def _z_greater(k_ref: int, n_ref: int, k_cur: int, n_cur: int) -> float:
    p1, p2 = k_ref / n_ref, k_cur / n_cur
    pooled = (k_ref + k_cur) / (n_ref + n_cur)
    se = np.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n_ref + 1 / n_cur))
    return float(sps.norm.sf((p2 - p1) / se))


def benjamini_hochberg(pvalues: list[float]) -> list[float]:
    """FDR-adjusted q-values, same order as the input."""
    p = np.asarray(pvalues, dtype=float)
    if len(p) == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * len(p) / (np.arange(len(p)) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out.tolist()


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n: honest at 0 or n successes, unlike k/n +- z*se."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def strength_score(strength: float, factor: float = 1.0) -> float:
    """Map effect/threshold to [0, 1): 0.5 at the threshold, 0.75 at twice it, capped at 0.99."""
    if not np.isfinite(strength) or strength <= 0:
        return 0.0
    return float(min(0.99, (1 - (1 - SCORE_AT_THRESHOLD) ** strength) * factor))


def onset(per_window: list[float], threshold: float, labels: tuple[str, ...]) -> Onset:
    """Where a per-window effect first passes its threshold, and whether it jumps, ramps or was always there."""
    e = np.nan_to_num(np.asarray(per_window, dtype=float), nan=0.0)
    rounded = tuple(round(float(v), 4) for v in e)
    if len(e) < 2 or e.max() <= 0:
        return Onset("unknown", per_window=rounded)
    above = np.flatnonzero(e >= threshold)
    first = int(above[0]) if len(above) else int(np.argmax(e))
    x = e / e.max()
    label = labels[first] if first < len(labels) else None
    if x[0] >= 0.5 and x.min() >= 0.4:
        return Onset("from_start", label, first, rounded)
    jumps = np.diff(x)
    j = int(np.argmax(jumps))
    before, after = x[: j + 1], x[j + 1 :]
    if jumps[j] >= 0.45 and before.max() <= 0.45 and after.min() >= 0.55:
        return Onset("step", labels[j + 1] if j + 1 < len(labels) else label, j + 1, rounded)
    if len(e) >= 3 and np.corrcoef(np.arange(len(e)), e)[0, 1] >= 0.7:
        return Onset("ramp", label, first, rounded)
    return Onset("unknown", label, first, rounded)
