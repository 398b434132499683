"""Label-prior shift: the class balance (or the target's level) moved while P(x | y) held.

The current target shares come from the labels where production has them; without labels,
from black-box shift estimation (Lipton et al., 2018): the golden set's confusion matrix C
(predicted by true class) maps the class shares q to the predicted shares mu = C q, so the
shares solve C q = mu. Regression targets are cut into the reference's quantile bins first.

A moved target alone does not make a prior shift: the relation may have changed instead. So
the reference is reweighted class by class to the new shares, and every feature's current
distribution must match that mixture. With labels, the model must also score each class's
production rows as it scores that class's golden rows (P(x | y) held); without, the mixture
must account for most of how the features moved, where any one of them moved past noise. When
it does, the features it explains are this finding's, not separate drifts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from .. import attribution, stats
from ..evidence import PriorShift
from ..profile import NumericReference
from ..types import Finding
from .base import MIN_ROWS, Context, Detector
from .data_drift import drift_counts, drift_tv


#: what `_assess` returns when labels show the features moved within a class
_RELATION_MOVED = object()


@dataclass(frozen=True)
class LabelShift(Detector):
    cause = "data_drift"
    stage = 2
    key = "label_shift"

    #: total variation between reference and current target shares (half a feature's: a target
    #: share that moved 5 points moves the metric directly, and there is one target, not many features)
    min_tv: float = 0.05
    #: level of the test that the target (or prediction) shares moved
    alpha: float = stats.CHECK_LEVEL
    #: drift left on any feature once the reference is reweighted to the new shares
    max_residual_tv: float = 0.05
    #: quantile bins a regression target is cut into
    target_bins: int = 5

    def detect(self, ctx: Context) -> list[Finding]:
        classes = _Classes.of(ctx, self.target_bins)
        if classes is None:
            return []
        windows = ctx.current_sample["_window"].to_numpy()
        parts = attribution.log_parts(windows, len(ctx.window_labels))
        for where, mask in parts:  # the whole log, then its most recent half (a shift that started mid-log)
            finding = self._assess(ctx, classes, mask, where, len(parts))
            if finding is _RELATION_MOVED:
                return []  # P(x | y) moved somewhere in the log: no part of it is a clean prior shift
            if finding is not None:
                return [finding]
        return []

    def _assess(self, ctx: Context, classes: "_Classes", mask: np.ndarray, where: str, tests: int) -> Finding | object | None:
        ref_shares = classes.shares(ctx.reference_labels)
        rows = ctx.current_sample.index[mask]
        scored = ctx.scored
        labelled = scored is not None and int(scored.frame.index.isin(rows).sum()) >= MIN_ROWS
        if labelled:
            in_part = scored.frame.index.isin(rows)
            cur_counts = classes.counts(scored.y[in_part])
            if cur_counts.sum() == 0:
                return None  # every label is one the model has no class for: novelty's finding, not a shift
            p = stats.homogeneity_pvalue(classes.counts(ctx.reference_labels), cur_counts)
            cur_shares, how = cur_counts / cur_counts.sum(), "from production labels"
        else:
            if ctx.current_predictions is None or mask.sum() < MIN_ROWS:
                return None
            estimate = _without_labels(ctx, classes, mask)
            if estimate is None:
                return None
            cur_shares, p, how = estimate
        tv = stats.total_variation(ref_shares, cur_shares)
        if not np.isfinite(tv) or tv < self.min_tv or p > self.alpha / tests:
            return None
        part_windows = sorted(set(ctx.current_sample["_window"].to_numpy()[mask])) if where != "whole log" else None
        residual, moved, left, explained, most = self._mixture(ctx, classes, cur_shares, part_windows)
        if residual > self.max_residual_tv:
            return None
        if labelled:
            # labels in hand: P(x | y) held iff, class by class, the model scores production rows
            # as it scores golden rows of that class (flipped labels would drag them apart)
            # (on repaired rows no lossy fault touched, whose scores compare with golden ones),
            # and every feature within each class is distributed as in the reference (a weak
            # model's scores barely notice labels flipped where one feature takes some values)
            intact = rows.difference(ctx.lossy_rows)
            if max(_class_conditional_shift(ctx, classes, intact),
                   _class_conditional_drift(ctx, classes, intact)) > self.max_residual_tv:
                return _RELATION_MOVED
        elif left > 0.5 * moved and most > self.max_residual_tv:
            # without labels, the new shares must account for most of how the features moved. Where
            # no feature moved past the residual bar, there is no drift of one feature for the shares
            # to pass for: the predictions moved on many small moves, as a prior shift moves them, and
            # the sum of what is left is the noise of many features, not a drift the shares missed
            return None
        if where != "whole log":
            how += f", {where} of the log"
        evidence = PriorShift(classes.named(ref_shares), classes.named(cur_shares), how, tv, p, residual, tuple(explained))
        strength = tv / self.min_tv
        return Finding(self.cause, ctx.schema.target, strength, stats.strength_score(strength), evidence)

    def classes_of(self, ctx: Context, y: np.ndarray) -> np.ndarray:
        """Each label's class index (a regression target's quantile bin)."""
        return _Classes.of(ctx, self.target_bins).index(y)

    def golden_weights(self, ctx: Context, evidence: PriorShift) -> np.ndarray:
        """Weights giving the golden rows the current target shares of a prior shift."""
        classes = _Classes.of(ctx, self.target_bins)
        index = classes.index(ctx.golden_scored.y)
        shares = np.array([evidence.current_shares.get(label, 0.0) for label in classes.labels])
        golden = np.bincount(index[index >= 0], minlength=len(shares)) / max((index >= 0).sum(), 1)
        ratio = np.divide(shares, golden, out=np.zeros_like(shares), where=golden > 0)
        return np.where(index >= 0, ratio[np.maximum(index, 0)], 0.0)

    def _mixture(self, ctx: Context, classes: "_Classes", shares: np.ndarray,
                 windows: list[int] | None = None) -> tuple[float, float, float, list[str], float]:
        """The reference reweighted class by class to `shares`, against the current profiles (of
        the whole log, or of `windows`):
        the largest residual drift on any feature, the features' total drift from the reference
        and what the mixture leaves of it, the features that moved, and the largest drift of one."""
        sample = ctx.reference_sample
        y = classes.index(sample[ctx.schema.target].to_numpy())
        known = y >= 0
        ref_shares = np.bincount(y[known], minlength=len(classes.labels)) / max(known.sum(), 1)
        weights = np.divide(shares, ref_shares, out=np.zeros_like(shares), where=ref_shares > 0)[np.maximum(y, 0)] * known
        largest, moved, left, names, most = 0.0, 0.0, 0.0, [], 0.0
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present:
                continue
            ref = ctx.references[name]
            slots = _slots(ref, sample[name])
            valid = slots >= 0
            n_slots = len(ref.summary.counts)
            plain = np.bincount(slots[valid], minlength=n_slots).astype(float)
            mixed = np.bincount(slots[valid], weights=weights[valid], minlength=n_slots)
            mixed *= plain.sum() / max(mixed.sum(), 1e-12)
            current = profile.overall.counts if windows is None else sum(profile.windows[i].counts for i in windows)
            r, m, c = drift_counts(ref, plain), drift_counts(ref, mixed), drift_counts(ref, current)
            residual, drift = drift_tv(m, c), drift_tv(r, c)
            largest, moved, left, most = max(largest, residual), moved + drift, left + residual, max(most, drift)
            if drift > 0:
                names.append(name)
        return largest, moved, left, names, most


def _class_conditional_shift(ctx: Context, classes: "_Classes", rows: pd.Index) -> float:
    """Drift of the model's score within each class, golden rows against production `rows`
    (debiased TV on golden score quantile bins), averaged over classes by production rows."""
    golden, current = ctx.golden_scored, ctx.scored
    part = current.frame.index.isin(rows)
    g_class, c_class = classes.index(golden.y), classes.index(current.y)
    g_score, c_score = _own_class_score(golden, g_class, classes), _own_class_score(current, c_class, classes)
    c_class, c_score = c_class[part], c_score[part]
    total, weight = 0.0, 0
    for k in range(len(classes.labels)):
        g, c = g_score[g_class == k], c_score[c_class == k]
        if len(g) < MIN_ROWS or len(c) < MIN_ROWS:
            continue
        edges = np.unique(np.quantile(g, np.linspace(0, 1, 11)[1:-1]))
        counts = [np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1).astype(float)
                  for v in (g, c)]
        total += len(c) * drift_tv(*counts)
        weight += len(c)
    return total / weight if weight else 0.0


def _class_conditional_drift(ctx: Context, classes: "_Classes", rows: pd.Index) -> float:
    """The largest drift of any feature within a class, reference rows of the class against the
    production `rows` labelled with it (debiased TV on the reference bins), averaged over
    classes by production rows."""
    current = ctx.scored.frame[ctx.scored.frame.index.isin(rows)]
    c_class = classes.index(current[ctx.schema.target].to_numpy())
    r_class = classes.index(ctx.reference_sample[ctx.schema.target].to_numpy())
    largest = 0.0
    for name in ctx.unexplained():
        if name not in current.columns or not ctx.profiles[name].present:
            continue
        ref = ctx.references[name]
        r_slots, c_slots = _slots(ref, ctx.reference_sample[name]), _slots(ref, current[name])
        n_slots = len(ref.summary.counts)
        total, weight = 0.0, 0
        for k in range(len(classes.labels)):
            r, c = r_slots[(r_class == k) & (r_slots >= 0)], c_slots[(c_class == k) & (c_slots >= 0)]
            if len(r) < MIN_ROWS or len(c) < MIN_ROWS:
                continue
            counts = [drift_counts(ref, np.bincount(v, minlength=n_slots).astype(float)) for v in (r, c)]
            total += len(c) * drift_tv(*counts)
            weight += len(c)
        if weight:
            largest = max(largest, total / weight)
    return largest


def _own_class_score(scored, index: np.ndarray, classes: "_Classes") -> np.ndarray:
    """Per row, the model's probability for the row's own class (its prediction for regression
    bins, or 1/0 for a right or wrong class without probabilities)."""
    if classes.edges is not None:
        return np.asarray(scored.pred, float)
    if scored.proba is None or scored.classes is None:
        return (classes.index(scored.pred) == index).astype(float)
    model_classes = [str(v) for v in scored.classes]
    column = {label: model_classes.index(label) for label in classes.labels if label in model_classes}
    cols = np.array([column.get(classes.labels[k], -1) if k >= 0 else -1 for k in index])
    out = np.zeros(len(index))
    ok = cols >= 0
    out[ok] = scored.proba[np.flatnonzero(ok), cols[ok]]
    return out


def _slots(ref, values: pd.Series) -> np.ndarray:
    """Each row's slot in the reference summary's counts (numeric: below, bins, above; categorical:
    the category, other seen, unseen); -1 for a missing value."""
    if isinstance(ref, NumericReference):
        v = values.to_numpy(float)
        lo, hi = ref.support
        slot = np.searchsorted(ref.edges, v, side="left") + 1
        slot = np.where(v < lo, 0, np.where(v > hi, len(ref.edges) + 2, slot))
        return np.where(np.isfinite(v), slot, -1).astype(int)
    codes = ref.codes(values)
    return np.where(codes == -1, len(ref.summary.counts) - 1, codes).astype(int)


@dataclass(frozen=True)
class _Classes:
    """Target values as class indices: the classes themselves, or a regression target's quantile bins."""

    labels: tuple[str, ...]
    edges: np.ndarray | None

    @classmethod
    def of(cls, ctx: Context, target_bins: int) -> "_Classes | None":
        y = ctx.reference_labels
        if len(y) < MIN_ROWS:
            return None
        if ctx.schema.task == "classification":
            labels = tuple(sorted({str(v) for v in y}))
            return cls(labels, None) if len(labels) >= 2 else None
        edges = np.unique(np.quantile(y.astype(float), np.linspace(0, 1, target_bins + 1)[1:-1]))
        if len(edges) == 0:
            return None
        names = [f"<= {edges[0]:.4g}", *[f"({a:.4g}, {b:.4g}]" for a, b in zip(edges[:-1], edges[1:])], f"> {edges[-1]:.4g}"]
        return cls(tuple(names), edges)

    def index(self, values: np.ndarray) -> np.ndarray:
        if self.edges is not None:
            return np.searchsorted(self.edges, np.asarray(values, float), side="left")
        lookup = {label: i for i, label in enumerate(self.labels)}
        codes, uniques = pd.factorize(np.asarray(values), use_na_sentinel=False)  # str() once per distinct value
        return np.array([lookup.get(str(v), -1) for v in uniques], dtype=int)[codes]

    def counts(self, values: np.ndarray) -> np.ndarray:
        idx = self.index(values)
        return np.bincount(idx[idx >= 0], minlength=len(self.labels)).astype(float)

    def shares(self, values: np.ndarray) -> np.ndarray:
        counts = self.counts(values)
        return counts / max(counts.sum(), 1)

    def named(self, shares: np.ndarray) -> dict[str, float]:
        return {label: float(s) for label, s in zip(self.labels, shares)}


def _without_labels(ctx: Context, classes: "_Classes", mask: np.ndarray) -> tuple[np.ndarray, float, str] | None:
    """Current class shares estimated from the model's outputs, the p-value that those outputs
    moved, and how.

    With class probabilities, soft BBSE: the golden set's mean probabilities per true class map
    the shares to the mean probabilities, and the test is on the mean probabilities themselves
    (Welch, Bonferroni over classes), which keeps what counting hard labels throws away. Without
    them (or for a regression target's bins), hard BBSE on the predicted classes."""
    gold = ctx.golden_scored
    true = classes.index(gold.y)
    k = len(classes.labels)
    columns = _proba_columns(gold, classes)
    if columns is not None and ctx.current_proba is not None:
        golden_p, current_p = gold.proba[:, columns], ctx.current_proba[mask][:, columns]
        conditional = np.zeros((k, k))
        for j in range(k):
            if not (true == j).any():
                return None
            conditional[:, j] = golden_p[true == j].mean(axis=0)
        tested = [1] if k == 2 else range(k)  # two classes' probabilities carry one number
        p = min(1.0, len(tested) * min(stats.welch_pvalue(current_p[:, i], golden_p[:, i]) for i in tested))
        shares = _bbse(conditional, current_p.mean(axis=0))
        how = "estimated without labels from the golden set's class probabilities (soft BBSE)"
    else:
        predicted = classes.index(gold.pred)
        known = (predicted >= 0) & (true >= 0)
        joint = np.zeros((k, k))
        np.add.at(joint, (predicted[known], true[known]), 1.0)
        totals = joint.sum(axis=0)
        if (totals == 0).any():
            return None
        current = classes.counts(ctx.current_predictions[mask])
        p = stats.homogeneity_pvalue(classes.counts(gold.pred), current)
        shares = _bbse(joint / totals, current / max(current.sum(), 1))
        how = "estimated without labels from the golden confusion matrix (BBSE)"
    return None if shares is None else (shares, p, how)


def _proba_columns(scored, classes: "_Classes") -> list[int] | None:
    """The probability column of each class, or None when they cannot be matched."""
    if classes.edges is not None or scored.proba is None or scored.classes is None:
        return None
    model_classes = [str(v) for v in scored.classes]
    if not set(classes.labels) <= set(model_classes):
        return None
    return [model_classes.index(label) for label in classes.labels]


def _bbse(conditional: np.ndarray, mu: np.ndarray) -> np.ndarray | None:
    """Class shares q >= 0, summing to 1, that best solve C q = mu (C[i, j]: the model's output i
    on rows of true class j, hard or soft)."""
    k = len(mu)
    # nonnegative least squares with the shares' sum pinned to 1 by a heavily weighted extra row
    system = np.vstack([conditional, 100.0 * np.ones(k)])
    target = np.append(mu, 100.0)
    q, _ = optimize.nnls(system, target)
    return q / q.sum() if q.sum() > 0 else None
