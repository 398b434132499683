"""Data drift: P(X) moved.

Effect size is the debiased total variation between reference and current over the
reference's own bins (bins too sparse for the sample size pooled), counting values inside the
seen range; rows beyond it are reported beside it, since drift can carry a feature past what
the model saw. A feature drifts when the effect passes its threshold and the chi-square
p-value survives Benjamini-Hochberg across all features.
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

    #: debiased total variation a feature must reach (share of its mass that moved)
    min_tv: float = 0.1
    #: false-discovery rate across features (Benjamini-Hochberg on the chi-square p-values)
    fdr: float = 0.01

    def detect(self, ctx: Context) -> list[Finding]:
        candidates = []
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present:
                continue
            ref = ctx.references[name]
            r, c = in_range(ref, ref.summary.counts), in_range(ref, profile.overall.counts)
            if c.sum() < MIN_ROWS:
                continue
            candidates.append((name, ref, profile, drift_tv(r, c), stats.homogeneity_pvalue(r, c)))
        qvalues = stats.benjamini_hochberg([p for *_, p in candidates])
        findings = []
        for (name, ref, profile, tv, p), q in zip(candidates, qvalues):
            if tv < self.min_tv or q > self.fdr:
                continue
            evidence = _evidence(ref, profile.overall, tv, p, q)
            onset = None
            if ctx.has_time:
                seen = in_range(ref, ref.summary.counts)
                per_window = [drift_tv(seen, in_range(ref, w.counts)) for w in profile.windows]
                onset = stats.onset(per_window, self.min_tv, ctx.window_labels)
            strength = tv / self.min_tv
            findings.append(Finding(self.cause, name, strength, stats.confidence(strength), evidence, onset))
        return findings


def _evidence(ref, current, tv: float, p: float, q: float) -> Drift:
    out = out_share(ref, current)
    if isinstance(ref, NumericReference):
        std = ref.summary.std or 1.0
        return Drift(tv, p, q, out, (current.mean - ref.summary.mean) / std, ref.summary.mean, current.mean)
    r, c = in_range(ref, ref.summary.counts), in_range(ref, current.counts)
    r_share, c_share = r / max(r.sum(), 1), c / max(c.sum(), 1)
    grown = int(np.argmax(c_share - r_share))
    label = str(ref.categories[grown]) if grown < len(ref.categories) else "(other reference categories)"
    return Drift(tv, p, q, out, grown_category=label, grown_shares=(float(r_share[grown]), float(c_share[grown])))


def drift_tv(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Debiased total variation on the reference bins, sparse bins pooled; 0 when either side is empty."""
    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return 0.0
    return stats.debiased_total_variation(*stats.merge_sparse(reference_counts, current_counts))


def in_range(ref, counts: np.ndarray) -> np.ndarray:
    """Counts over the seen bins: numeric drops the out-of-range slots, categorical the unseen slot."""
    counts = np.asarray(counts, dtype=float)
    return counts[1:-1] if isinstance(ref, NumericReference) else counts[:-1]


def out_share(ref, summary) -> float:
    counts = np.asarray(summary.counts, dtype=float)
    out = counts[0] + counts[-1] if isinstance(ref, NumericReference) else counts[-1]
    return float(out / max(counts.sum(), 1))

