"""Data drift: P(X) moved.

Effect size is the debiased total variation between reference and current over the
reference's own bins (bins too sparse for the sample size pooled), counting numeric values
inside the seen range; rows beyond it are reported beside it, since drift can carry a feature
past what the model saw. Categories the reference holds rarely, or never, share one bin.

A feature drifts when the chi-square p-value survives Benjamini-Hochberg across all features
and the effect passes its threshold: the total variation, or, for a categorical feature, one
category's share changing by a factor (a rare category turning common moves little mass, and
is as much a new population as a large shift).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import stats
from ..evidence import Drift
from ..profile import NumericReference
from ..types import Finding
from .base import MIN_ROWS, Context, Detector


@dataclass(frozen=True)
class DataDrift(Detector):
    cause = "data_drift"
    stage = 2
    key = "data_drift"

    #: debiased total variation a feature must reach (share of its mass that moved). 0.06, not 0.1:
    #: round seven's covariate shifts read as healthy moved their features by 0.068 (median), and
    #: the lower bar added one false alarm over 2,020 fault-free splits, none over 200 in time order
    min_tv: float = 0.06
    #: false-discovery rate across features (Benjamini-Hochberg on the chi-square p-values)
    fdr: float = stats.CHECK_LEVEL
    #: a category whose share changes by this factor (up or down) drifts too ...
    min_category_ratio: float = 2.0
    #: ... when its share also moves by this many points
    min_category_points: float = 0.03

    def detect(self, ctx: Context) -> list[Finding]:
        candidates = []
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present:
                continue
            ref = ctx.references[name]
            r, c = drift_counts(ref, ref.summary.counts), drift_counts(ref, profile.overall.counts)
            if c.sum() < MIN_ROWS:
                continue
            ratio = (1.0, None) if isinstance(ref, NumericReference) else self._category_ratio(r, c)
            candidates.append((name, ref, profile, r, ratio, drift_tv(r, c), stats.homogeneity_pvalue(r, c)))
        qvalues = stats.benjamini_hochberg([p for *_, p in candidates])
        findings = []
        for (name, ref, profile, seen, (ratio, category), tv, p), q in zip(candidates, qvalues):
            if q > self.fdr or (tv < self.min_tv and ratio < self.min_category_ratio):
                continue
            # a finding the factor carried names the category that changed by it
            evidence = _evidence(ref, profile.overall, tv, p, q, category if tv < self.min_tv else None)
            onset = None
            if ctx.has_time:
                per_window = [drift_tv(seen, drift_counts(ref, w.counts)) for w in profile.windows]
                onset = stats.onset(per_window, self.min_tv, ctx.window_labels)
            strength = max(tv / self.min_tv, ratio / self.min_category_ratio)
            findings.append(Finding(self.cause, name, strength, stats.strength_score(strength), evidence, onset))
        return findings

    def _category_ratio(self, reference: np.ndarray, current: np.ndarray) -> tuple[float, int | None]:
        """Over a categorical feature's drift counts: the largest factor by which one category's
        share grew or shrank, among categories whose share moved by `min_category_points`, and
        that category's bin. The last bin, the pool of rare and unseen categories, is left out:
        new values are novelty's to judge."""
        r, c = reference / max(reference.sum(), 1), current / max(current.sum(), 1)
        moved = (np.abs(c - r) >= self.min_category_points) & (r > 0) & (c > 0)
        moved[-1] = False
        if not moved.any():
            return 1.0, None
        factor = np.where(moved, np.maximum(c, r) / np.maximum(np.minimum(c, r), 1e-12), 0.0)
        return float(factor.max()), int(factor.argmax())


def _evidence(ref, current, tv: float, p: float, q: float, category: int | None = None) -> Drift:
    out = out_share(ref, current)
    if isinstance(ref, NumericReference):
        std = ref.summary.std or 1.0
        return Drift(tv, p, q, out, (current.mean - ref.summary.mean) / std, ref.summary.mean, current.mean)
    r, c = drift_counts(ref, ref.summary.counts), drift_counts(ref, current.counts)
    r_share, c_share = r / max(r.sum(), 1), c / max(c.sum(), 1)
    grown = int(np.argmax(c_share - r_share)) if category is None else category
    return Drift(tv, p, q, out, grown_category=seen_labels(ref)[grown],
                 grown_shares=(float(r_share[grown]), float(c_share[grown])))


def drift_tv(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Debiased total variation on the reference bins, sparse bins pooled; 0 when either side is empty."""
    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return 0.0
    return stats.debiased_total_variation(*stats.merge_sparse(reference_counts, current_counts))


#: a category the reference holds fewer times than this is pooled with the other rare ones: picking
#: categories by how often the reference happens to hold them biases their expected share down
MIN_CATEGORY_ROWS = 20


def drift_counts(ref, counts: np.ndarray) -> np.ndarray:
    """Counts over the seen bins. Numeric drops the out-of-range slots. Categorical keeps each
    frequent category and pools the rest (rare and unseen) into one last bin (`seen_labels`):
    a category the reference holds once is, to a fresh sample, about as likely to be missing as
    one it never held, so comparing only "seen" rows would fault a healthy long tail."""
    counts = np.asarray(counts, dtype=float)
    if isinstance(ref, NumericReference):
        return counts[1:-1]
    rare = np.append(_rare(ref), True)  # the unseen slot joins the pool
    return np.append(counts[~rare], counts[rare].sum())


def seen_labels(ref) -> list[str]:
    """What each bin of `drift_counts` stands for."""
    if isinstance(ref, NumericReference):
        return [f"bin {i}" for i in range(len(ref.edges) + 1)]
    names = [*map(str, ref.categories), "(other reference categories)"]
    return [n for n, r in zip(names, _rare(ref)) if not r] + ["(rare or unseen categories)"]


def _rare(ref) -> np.ndarray:
    counts = np.asarray(ref.summary.counts[:-1], dtype=float)
    rare = counts < MIN_CATEGORY_ROWS
    rare[-1] = True  # the "other seen" slot always joins the rare pool
    return rare


def out_share(ref, summary) -> float:
    counts = np.asarray(summary.counts, dtype=float)
    out = counts[0] + counts[-1] if isinstance(ref, NumericReference) else counts[-1]
    return float(out / max(counts.sum(), 1))

