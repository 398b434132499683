"""Training-serving skew: serving computes a feature differently from the training pipeline.

With a training view, the same entity's serving and training values are compared directly.
Without one, the best available sign is a shape-preserving change that is already there in
the first window and stays flat: reported with lower confidence, since a recalibration that
predates the log looks the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import stats
from ..types import Finding
from .base import Context, Detector

#: share of paired rows whose serving value differs from training
MIN_MISMATCH = 0.02
#: confidence discount when there is no training view to pair rows with
NO_VIEW_FACTOR = 0.6
TRAINING_SUFFIX = "__training"


class Skew(Detector):
    cause = "training_serving_skew"
    stage = 1

    def detect(self, ctx: Context) -> list[Finding]:
        """Serving vs training values of the same entities; needs a training view."""
        pairs = ctx.training_pairs
        if pairs is None:
            return []
        findings = []
        for name in ctx.unexplained():
            if name not in pairs.columns or name + TRAINING_SUFFIX not in pairs.columns:
                continue
            serving, training = pairs[name], pairs[name + TRAINING_SUFFIX]
            differs = _differs(serving, training)
            share = float(differs.mean())
            if share < MIN_MISMATCH:
                continue
            evidence = {"paired_rows": int(len(pairs)), "mismatch_share": share, "join": "entity_id"}
            evidence.update(_describe(serving[differs], training[differs]))
            per_window = pd.Series(differs.to_numpy()).groupby(pairs["_window"].to_numpy()).mean()
            onset = (stats.onset(per_window.reindex(range(len(ctx.window_labels)), fill_value=0).tolist(),
                                 MIN_MISMATCH, ctx.window_labels) if ctx.has_time else None)
            strength = share / MIN_MISMATCH
            findings.append(Finding(self.cause, name, strength, stats.confidence(strength), evidence, onset))
        return findings

class SkewWithoutView(Detector):
    """Without a training view: a recalibration-like change present in every window, flat."""

    cause = "training_serving_skew"
    stage = 1

    def detect(self, ctx: Context) -> list[Finding]:
        if ctx.training_pairs is not None:
            return []
        findings = []
        for f in ctx.findings:
            if f.cause != "feature_recalibration" or f.onset is None or f.onset.pattern != "from_start":
                continue
            evidence = dict(f.evidence, training_view=False,
                            why="shape-preserving difference from the first window on, flat over time; "
                                "no training view to confirm, so confidence is reduced")
            findings.append(Finding(self.cause, f.feature, f.strength,
                                    stats.confidence(f.strength, NO_VIEW_FACTOR), evidence, f.onset, f.recovery))
        return findings


def _differs(serving: pd.Series, training: pd.Series) -> pd.Series:
    s_na, t_na = serving.isna(), training.isna()
    if pd.api.types.is_numeric_dtype(serving) and pd.api.types.is_numeric_dtype(training):
        s, t = serving.to_numpy(float), training.to_numpy(float)
        with np.errstate(invalid="ignore"):
            close = np.isclose(s, t, rtol=1e-6, atol=1e-9)
        return pd.Series(~close & ~(s_na & t_na).to_numpy(), index=serving.index)
    return (serving.astype(str) != training.astype(str)) & ~(s_na & t_na)


def _describe(serving: pd.Series, training: pd.Series) -> dict:
    """How serving differs: an affine relation, rounding, or missing values where training had some."""
    out: dict = {"examples": [[_plain(a), _plain(b)] for a, b in list(zip(serving, training))[:3]]}
    if pd.api.types.is_numeric_dtype(serving) and pd.api.types.is_numeric_dtype(training):
        both = serving.notna() & training.notna()
        out["null_in_serving_only"] = int((serving.isna() & training.notna()).sum())
        s, t = serving[both].to_numpy(float), training[both].to_numpy(float)
        if len(s) >= 3 and np.ptp(t) > 0:
            a, b = np.polyfit(t, s, 1)
            out["serving_vs_training"] = {"scale": float(a), "offset": float(b),
                                          "median_abs_diff": float(np.median(np.abs(s - t)))}
    return out


def _plain(v):
    return None if pd.isna(v) else (float(v) if isinstance(v, (int, float, np.number)) else str(v))
