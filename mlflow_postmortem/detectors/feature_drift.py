"""Feature drift: the feature's relation to the target changed.

On labelled production rows, the model's loss is broken down by the feature's bins and
compared with the same breakdown on the golden set. A uniform rise in loss says little about
any one feature; a rise concentrated in some bins of one feature says that feature now means
something else for the target. Runs after stage-1 repairs, so broken features do not pose as
changed relations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import stats
from ..profile import NumericReference
from ..types import Finding
from .base import Context, Detector

#: weighted mean absolute deviation of the per-bin loss change from its average
MIN_EFFECT = {"classification": 0.04, "regression": 0.1}
FDR = 0.01
MIN_LABELLED = 100
MAX_BINS = 10
#: golden rows a bin needs before its own loss is trusted as that bin's baseline
SHRINK_ROWS = 30


class FeatureDrift(Detector):
    cause = "feature_drift"
    stage = 2

    def detect(self, ctx: Context) -> list[Finding]:
        scored, golden = ctx.scored, ctx.golden_scored
        if scored is None or len(scored.y) < MIN_LABELLED:
            ctx.not_checked.append(f"feature_drift: needs at least {MIN_LABELLED} labelled current rows")
            return []
        scale = 1.0 if ctx.schema.task == "classification" else max(float(np.var(golden.y)), 1e-12)
        seen = _seen_rows(ctx, scored.frame)
        frame, cur_loss, gold_loss = scored.frame[seen], scored.loss[seen] / scale, golden.loss / scale
        if len(frame) < MIN_LABELLED:
            ctx.not_checked.append(f"feature_drift: fewer than {MIN_LABELLED} labelled rows inside the reference's range")
            return []
        candidates = []
        for name in ctx.unexplained():
            if name not in frame.columns:
                continue
            ref = ctx.references[name]
            cur_bins = _bins(ref, frame[name])
            gold_bins = _bins(ref, golden.frame[name])
            effect, pvalue, worst = _heterogeneity(cur_bins, cur_loss, gold_bins, gold_loss)
            candidates.append((name, effect, pvalue, worst))
        qvalues = stats.benjamini_hochberg([c[2] for c in candidates])
        threshold = MIN_EFFECT[ctx.schema.task]
        findings = []
        for (name, effect, p, worst), q in zip(candidates, qvalues):
            if effect < threshold or q > FDR:
                continue
            evidence = {"loss_shift_heterogeneity": effect, "p_value": p, "q_value": q, "labelled_rows": len(frame),
                        "loss": "brier" if ctx.schema.task == "classification" else "squared error / var(y)", **worst}
            strength = effect / threshold
            findings.append(Finding(self.cause, name, strength, stats.confidence(strength), evidence))
        return findings


def _seen_rows(ctx: Context, frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every feature lies where the model was trained: novel inputs are label bias's
    question, and a relation cannot have changed where there was none to learn."""
    seen = np.ones(len(frame), dtype=bool)
    for name, ref in ctx.references.items():
        if name not in frame.columns:
            continue
        if isinstance(ref, NumericReference):
            v = frame[name].to_numpy(float)
            seen &= np.isnan(v) | ((v >= ref.support[0]) & (v <= ref.support[1]))
        else:
            seen &= ref.codes(frame[name]) != -1
    return seen


def _bins(ref, values: pd.Series) -> np.ndarray:
    if isinstance(ref, NumericReference):
        edges = ref.edges
        if len(edges) >= MAX_BINS:
            edges = edges[np.linspace(0, len(edges) - 1, MAX_BINS - 1).round().astype(int)]
        v = values.to_numpy(float)
        out = np.searchsorted(edges, v, side="left")
        out[np.isnan(v)] = len(edges) + 1
        return out
    codes = ref.codes(values)
    codes = np.where(codes >= MAX_BINS, MAX_BINS, codes)  # rare categories share one bin
    return np.where(codes < 0, MAX_BINS + 1 - codes, codes)


def _heterogeneity(cur_bins, cur_loss, gold_bins, gold_loss):
    """Mean absolute deviation of per-bin loss change from the overall change, minus its noise level."""
    cur = pd.DataFrame({"b": cur_bins, "l": cur_loss}).groupby("b")["l"].agg(["mean", "var", "count"])
    gold = pd.DataFrame({"b": gold_bins, "l": gold_loss}).groupby("b")["l"].agg(["mean", "var", "count"])
    gold = gold.reindex(cur.index)
    g_all_mean, g_all_var = float(np.mean(gold_loss)), float(np.var(gold_loss))
    n_g = gold["count"].fillna(0)
    weight = n_g / (n_g + SHRINK_ROWS)
    base = weight * gold["mean"].fillna(g_all_mean) + (1 - weight) * g_all_mean
    base_var = (gold["var"].fillna(g_all_var) * weight**2 / n_g.clip(lower=1)) + (1 - weight) ** 2 * g_all_var / max(len(gold_loss), 1)
    cur = cur[cur["count"] >= 5]
    if len(cur) < 2:
        return 0.0, 1.0, {}
    base, base_var = base.loc[cur.index], base_var.loc[cur.index]
    delta = cur["mean"] - base
    se = np.sqrt(cur["var"].fillna(0) / cur["count"] + base_var).clip(lower=1e-9)
    w = cur["count"] / cur["count"].sum()
    dev = delta - (w * delta).sum()
    effect = float((w * np.maximum(0.0, dev.abs() - 0.8 * se)).sum())
    chi2 = float(((dev / se) ** 2).sum())
    pvalue = float(sps.chi2.sf(chi2, df=len(cur) - 1))
    worst_bin = dev.idxmax()
    worst = {"worst_bin_loss_change": float(delta.loc[worst_bin]), "average_loss_change": float((w * delta).sum()),
             "worst_bin_share": float(w.loc[worst_bin])}
    return effect, pvalue, worst
