"""Feature drift: the relation between inputs and target changed.

Local: on labelled production rows, the model's loss is broken down by a feature's bins and
compared with the same breakdown on the golden set. A rise concentrated in some bins of one
feature says that feature now means something else for the target. Its p-value comes from
permuting golden and production rows within each bin (after removing the average change), so
it holds its level on a few hundred skewed losses where a chi-square approximation does not.

Global (concept drift): production does worse than the golden set predicts for today's inputs
(golden rows reweighted to the current mix, see `attribution`), on rows inside the seen range,
and no single feature's bins localise it. Runs after stage-1 repairs and after drift, so
broken features and moved inputs do not pose as a changed relation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import attribution, stats
from ..evidence import ConceptDrift, RelationChange
from ..profile import NumericReference
from ..scoring import primary_metric
from ..types import Finding
from .base import Context, Detector, rng

MAX_BINS = 10
#: rows per bin (golden and production each) below which a bin is left out of the test
MIN_CELL = 10
#: production rows the permutation test runs on (the effect size uses them all)
MAX_TEST_ROWS = 10_000


@dataclass(frozen=True)
class FeatureDrift(Detector):
    cause = "feature_drift"
    stage = 2
    key = "feature_drift"

    #: local: weighted mean absolute deviation of the per-bin loss change from its average
    #: (Brier score for classifiers, squared error / var(y) for regression)
    min_effect_classification: float = 0.04
    min_effect_regression: float = 0.1
    #: local: false-discovery rate across features; global: the test's level
    fdr: float = stats.CHECK_LEVEL
    #: global: smallest gap between expected and production worth calling concept drift
    min_accuracy_drop: float = 0.02
    min_relative_rmse_rise: float = 0.05
    #: a relation change is local when the unevenness across bins is at least this share of the average change
    min_local_share: float = 0.5
    min_labelled: int = 100
    permutations: int = 199

    def detect(self, ctx: Context) -> list[Finding]:
        scored = ctx.scored
        if scored is None or len(scored.y) < self.min_labelled:
            ctx.not_checked.append(f"feature_drift: needs at least {self.min_labelled} labelled current rows")
            return []
        seen = seen_rows(ctx, scored.frame)
        if seen.sum() < self.min_labelled:
            ctx.not_checked.append(f"feature_drift: fewer than {self.min_labelled} labelled rows inside the reference's range")
            return []
        local = self._local(ctx, seen)
        concept = self._global(ctx, seen)
        if concept is None:
            return local
        # a uniform rise in loss looks uneven by bin where the model was sure: local only when the
        # unevenness is a real part of the change
        kept = [f for f in local if f.evidence.loss_shift_heterogeneity
                >= self.min_local_share * abs(f.evidence.average_loss_change)]
        return kept or [concept]

    def _local(self, ctx: Context, seen: np.ndarray) -> list[Finding]:
        scored, golden = ctx.scored, ctx.golden_scored
        scale = 1.0 if ctx.schema.task == "classification" else max(float(np.var(golden.y)), 1e-12)
        frame, cur_loss, gold_loss = scored.frame[seen], scored.loss[seen] / scale, golden.loss / scale
        threshold = self.min_effect_classification if ctx.schema.task == "classification" else self.min_effect_regression
        generator = rng(ctx, 11)
        test_rows = np.sort(generator.permutation(len(frame))[:MAX_TEST_ROWS])
        candidates = []
        for name in ctx.unexplained():
            if name not in frame.columns:
                continue
            ref = ctx.references[name]
            cur_bins, gold_bins = _bins(ref, frame[name]), _bins(ref, golden.frame[name])
            effect, worst = _heterogeneity(cur_bins, cur_loss, gold_bins, gold_loss)
            p = 1.0
            if effect >= threshold:  # p-values only veto effects past the threshold: others keep p = 1 (valid)
                p = _permutation_pvalue(cur_bins[test_rows], cur_loss[test_rows], gold_bins, gold_loss,
                                        self.permutations, generator)
            candidates.append((name, ref, effect, p, worst))
        qvalues = stats.benjamini_hochberg([c[3] for c in candidates])
        findings = []
        for (name, ref, effect, p, worst), q in zip(candidates, qvalues):
            if effect < threshold or q > self.fdr:
                continue
            loss = "Brier score" if ctx.schema.task == "classification" else "squared error / var(y)"
            evidence = RelationChange(effect, p, q, int(len(frame)), loss, _bin_label(ref, worst["bin"]),
                                      worst["change"], worst["average"], worst["share"])
            strength = effect / threshold
            findings.append(Finding(self.cause, name, strength, stats.strength_score(strength), evidence))
        return findings

    def _global(self, ctx: Context, seen: np.ndarray) -> Finding | None:
        """Production on seen rows against what the golden set predicts for these inputs."""
        task = ctx.schema.task
        metric, _ = primary_metric(task)
        scored = ctx.scored
        rows = attribution.contributions(task, scored)[seen]
        golden_rows = attribution.contributions(task, ctx.golden_scored)
        expected = ctx.expected or attribution.Expected.unweighted(metric, golden_rows)
        if not expected.reliable:
            ctx.not_checked.append(f"feature_drift (global): {expected.thin_share:.0%} of production rows are "
                                   "scored where the golden set has too few rows to tell a changed relation from moved "
                                   "inputs")
            return None
        windows = ctx.current_sample.loc[scored.frame.index, "_window"].to_numpy()[seen]
        parts = attribution.log_parts(windows, len(ctx.window_labels))
        found = []
        for where, mask in parts:  # the whole log and its most recent half, as the drop test
            p = max(expected.worse_pvalue(rows, mask),
                    attribution.clustered_pvalue(metric, rows[mask], windows[mask], expected.estimate))
            part = attribution.MetricEstimate.of(metric, rows[mask])
            g = attribution.gap(part, expected.estimate, p)
            if g.p_value <= self.fdr / len(parts) and g.material(self.min_accuracy_drop, self.min_relative_rmse_rise):
                found.append((g.p_value, where, part, g, int(mask.sum())))
        if not found:
            return None
        _, where, part, g, labelled = min(found, key=lambda item: item[0])
        golden_value = attribution.MetricEstimate.of(metric, golden_rows).value
        evidence = ConceptDrift(metric, part.value, expected.estimate.value, golden_value, g.amount, g.ci, g.p_value,
                                labelled, where=where)
        minimum = self.min_accuracy_drop if metric == "accuracy" else self.min_relative_rmse_rise
        strength = (g.amount if metric == "accuracy" else g.relative) / minimum
        return Finding(self.cause, None, strength, stats.strength_score(strength), evidence)


def seen_rows(ctx: Context, frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every feature lies where the model was trained, whose label is a class it
    knows, and whose values no lossy fault touched: novel inputs and classes are label bias's
    question, and a relation cannot have changed where there was none to learn."""
    # values a lossy fault took away say nothing of the relation, nor do rows far from every training row
    seen = ~frame.index.isin(ctx.lossy_rows.union(ctx.novel_rows))
    target = ctx.schema.target
    if ctx.schema.task == "classification" and target in frame.columns:
        known = {str(v) for v in pd.unique(ctx.reference_labels)}
        seen &= frame[target].map(lambda v: pd.isna(v) or str(v) in known).to_numpy(bool)
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


def _bin_label(ref, b: int) -> str:
    if isinstance(ref, NumericReference):
        edges = ref.edges
        if len(edges) >= MAX_BINS:
            edges = edges[np.linspace(0, len(edges) - 1, MAX_BINS - 1).round().astype(int)]
        if b > len(edges):
            return "missing values"
        lo = f"{edges[b - 1]:.4g}" if b > 0 else "-inf"
        hi = f"{edges[b]:.4g}" if b < len(edges) else "inf"
        return f"({lo}, {hi}]"
    if b < min(MAX_BINS, len(ref.categories)):
        return f"category {ref.categories[b]!r}"
    return "rarer categories" if b == MAX_BINS else "missing or unseen"


def _cells(cur_bins, cur_loss, gold_bins, gold_loss):
    """Per bin with enough rows on both sides: production and golden mean, variance and count."""
    cur = pd.DataFrame({"b": cur_bins, "l": cur_loss}).groupby("b")["l"].agg(["mean", "var", "count"])
    gold = pd.DataFrame({"b": gold_bins, "l": gold_loss}).groupby("b")["l"].agg(["mean", "var", "count"])
    both = cur.join(gold, lsuffix="_c", rsuffix="_g", how="inner")
    return both[(both["count_c"] >= MIN_CELL) & (both["count_g"] >= MIN_CELL)]


def _heterogeneity(cur_bins, cur_loss, gold_bins, gold_loss) -> tuple[float, dict]:
    """Weighted mean absolute deviation of the per-bin loss change from the average change,
    each bin's deviation shrunk by its own noise: an effect size, zero when the change is even."""
    cells = _cells(cur_bins, cur_loss, gold_bins, gold_loss)
    if len(cells) < 2:
        return 0.0, {}
    delta = cells["mean_c"] - cells["mean_g"]
    se = np.sqrt(cells["var_c"].fillna(0) / cells["count_c"] + cells["var_g"].fillna(0) / cells["count_g"])
    w = cells["count_c"] / cells["count_c"].sum()
    average = float((w * delta).sum())
    dev = delta - average
    effect = float((w * np.maximum(0.0, dev.abs() - 0.8 * se)).sum())
    worst = dev.abs().idxmax()
    return effect, {"bin": int(worst), "change": float(delta.loc[worst]), "average": average, "share": float(w.loc[worst])}


def _statistic(loss: np.ndarray, side: np.ndarray, counts: np.ndarray, n_bins: int) -> float:
    """Sum over bins of the squared deviation of the bin's change from the pooled change, over its variance."""
    sums = np.bincount(side, weights=loss, minlength=2 * n_bins).reshape(2, n_bins)
    sq = np.bincount(side, weights=loss**2, minlength=2 * n_bins).reshape(2, n_bins)
    means = sums / counts
    var = np.maximum(sq / counts - means**2, 0) * counts / np.maximum(counts - 1, 1)
    v = np.maximum(var[1] / counts[1] + var[0] / counts[0], 1e-12)
    delta = means[1] - means[0]
    pooled = np.sum(delta / v) / np.sum(1 / v)
    return float(np.sum((delta - pooled) ** 2 / v))


def _permutation_pvalue(cur_bins, cur_loss, gold_bins, gold_loss, permutations: int,
                        generator: np.random.Generator) -> float:
    """P-value of the heterogeneity statistic under an even change of loss across bins.

    Production losses are shifted by the average change, then golden and production rows are
    permuted within each bin. The permutation distribution's mean and variance fit a scaled
    chi-square (a * chi2(d)), whose tail gives p-values far below 1 / permutations: BH across
    fifty features needs them, and a few hundred permutations pin the scale well.
    """
    cells = _cells(cur_bins, cur_loss, gold_bins, gold_loss)
    if len(cells) < 2:
        return 1.0
    kept = cells.index.to_numpy()
    position = pd.Series(np.arange(len(kept)), index=kept)
    c_mask, g_mask = np.isin(cur_bins, kept), np.isin(gold_bins, kept)
    w = cells["count_c"] / cells["count_c"].sum()
    average = float((w * (cells["mean_c"] - cells["mean_g"])).sum())
    bins = np.r_[position[cur_bins[c_mask]].to_numpy(), position[gold_bins[g_mask]].to_numpy()].astype(int)
    loss = np.r_[cur_loss[c_mask] - average, gold_loss[g_mask]]
    is_current = np.r_[np.ones(c_mask.sum(), int), np.zeros(g_mask.sum(), int)]
    n_bins = len(kept)
    order = np.argsort(bins, kind="stable")
    bins, loss, is_current = bins[order], loss[order], is_current[order]
    side = is_current * n_bins + bins
    counts = np.bincount(side, minlength=2 * n_bins).reshape(2, n_bins).astype(float)
    observed = _statistic(loss, side, counts, n_bins)
    # shuffles within each bin: the keys are all distinct, so the fast sort gives the stable sort's order
    null = np.array([_statistic(loss[np.argsort(bins + generator.random(len(bins)))], side, counts, n_bins)
                     for _ in range(permutations)])
    mean, var = float(null.mean()), float(null.var())
    if mean <= 0 or var <= 0:
        return 1.0
    scale, dof = var / (2 * mean), 2 * mean**2 / var
    return float(sps.chi2.sf(observed / scale, dof))
