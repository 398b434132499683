"""Data drift: P(X) moved within the range the model was trained on.

Effect size is the debiased total variation between reference and current over the
reference's own bins, counting only values inside the seen range (rows outside it are
novelty, the label-bias detector's business). A feature drifts when the effect passes its
threshold and the chi-square p-value survives Benjamini-Hochberg across all features.
"""

from __future__ import annotations

import numpy as np

from .. import stats
from ..profile import NumericReference
from ..types import Finding
from .base import MIN_ROWS, Context, Detector

MIN_TV = 0.1
FDR = 0.01


class DataDrift(Detector):
    cause = "data_drift"
    stage = 2

    def detect(self, ctx: Context) -> list[Finding]:
        candidates = []
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present:
                continue
            ref = ctx.references[name]
            r, c = in_range(ref, ref.summary), in_range(ref, profile.overall)
            if c.sum() < MIN_ROWS:
                continue
            tv = stats.debiased_total_variation(r, c)
            candidates.append((name, ref, profile, tv, stats.homogeneity_pvalue(r, c)))
        qvalues = stats.benjamini_hochberg([p for *_, p in candidates])
        findings = []
        for (name, ref, profile, tv, p), q in zip(candidates, qvalues):
            if tv < MIN_TV or q > FDR:
                continue
            evidence = {"total_variation": tv, "p_value": p, "q_value": q,
                        "out_of_range_share": out_share(ref, profile.overall)}
            if isinstance(ref, NumericReference):
                std = ref.summary.std or 1.0
                evidence["mean_shift_in_reference_std"] = (profile.overall.mean - ref.summary.mean) / std
                evidence["reference_mean"], evidence["current_mean"] = ref.summary.mean, profile.overall.mean
            onset = None
            if ctx.has_time:
                per_window = [stats.debiased_total_variation(in_range(ref, ref.summary), in_range(ref, w))
                              for w in profile.windows]
                onset = stats.onset(per_window, MIN_TV, ctx.window_labels)
            strength = tv / MIN_TV
            findings.append(Finding(self.cause, name, strength, stats.confidence(strength), evidence, onset))
        return findings


def in_range(ref, summary) -> np.ndarray:
    """Counts over the seen bins: numeric drops the out-of-range slots, categorical the unseen slot."""
    counts = np.asarray(summary.counts, dtype=float)
    return counts[1:-1] if isinstance(ref, NumericReference) else counts[:-1]


def out_share(ref, summary) -> float:
    counts = np.asarray(summary.counts, dtype=float)
    out = counts[0] + counts[-1] if isinstance(ref, NumericReference) else counts[-1]
    return float(out / max(counts.sum(), 1))
