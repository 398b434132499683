"""Prediction label bias: users bring inputs or classes the model never saw.

Each sign is compared with the rate the reference itself would show on fresh rows: values
outside the seen range (the seen range of one half of the reference, counted on the other
half), unseen categories (Good-Turing: the reference's categories seen once, over its rows),
rows far from every training row (nearest-neighbour distance beyond the reference's own 99th
percentile), out-of-vocabulary text terms, and labels the model has no class for.

Rows beyond the seen range are novelty only while the rows inside it still look like the
reference: when the whole distribution moved and its tail crossed the edge, that is drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from .. import stats
from ..evidence import Novelty
from ..profile import NumericReference, numeric_reference
from ..types import Finding
from .base import MIN_ROWS, Context, Detector, rng
from .data_drift import drift_counts, drift_tv

NEIGHBOUR_QUANTILE = 0.99
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class LabelBias(Detector):
    cause = "prediction_label_bias"
    stage = 2
    key = "prediction_label_bias"

    #: rise in the share of novel rows (above the reference's own rate) that counts
    min_rise: float = 0.03
    #: the multivariate neighbour test is noisier: it needs a bigger rise
    min_neighbour_rise: float = 0.1
    #: level of the one-sided test that the novel share rose (Benjamini-Hochberg across features)
    fdr: float = stats.CHECK_LEVEL
    #: rows past the seen range are drift, not novelty, once the rows inside it moved this much
    in_range_drift_tv: float = 0.1

    def detect(self, ctx: Context) -> list[Finding]:
        findings = self._out_of_range(ctx) + self._unseen_labels(ctx) + self._text(ctx)
        neighbour = self._neighbours(ctx)
        if neighbour is not None:
            findings.append(neighbour)
        return findings

    def _out_of_range(self, ctx: Context) -> list[Finding]:
        """Per feature: numeric values outside the seen range, categorical values never seen; over
        the whole log and, with windows, over its most recent half (a share growing through the
        log shows there at full strength), each tested at half the level."""
        tested = []
        n_windows = len(ctx.window_labels)
        recent = list(range((n_windows + 1) // 2, n_windows)) if ctx.has_time and n_windows > 1 else []
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present:
                continue
            ref = ctx.references[name]
            numeric = isinstance(ref, NumericReference)
            parts = [("", [profile.overall])] + ([("the most recent half of the log",
                                                    [profile.windows[i] for i in recent])] if recent else [])
            k_ref, n_ref, how = _natural(ref, ctx.reference_sample[name]) if numeric else _good_turing(ref)
            natural = k_ref / max(n_ref, 1)
            best = None
            for where, summaries in parts:
                k_cur = sum(s.out_of_support if numeric else s.n_unseen for s in summaries)
                n_cur = sum(s.n_finite if numeric else s.n - s.n_null for s in summaries)
                if n_cur < MIN_ROWS or (numeric and self._drifted_past_the_edge(
                        ref, sum(np.asarray(s.counts, float) for s in summaries))):
                    continue
                rise = k_cur / n_cur - natural
                if rise < self.min_rise:
                    continue
                p = min(1.0, len(parts) * stats.proportion_increase_pvalue(int(k_ref), int(n_ref), int(k_cur), int(n_cur)))
                if best is None or p < best[0]:
                    examples = () if numeric else tuple(dict.fromkeys(e for s in summaries for e in s.unseen_examples))
                    best = (p, Novelty("outside_seen_range" if numeric else "unseen_categories", k_cur / n_cur, natural,
                                       p, examples, tuple(ref.support) if numeric else None,
                                       reference_rate_from=how, over=where), rise)
            if best is None:
                continue
            _, evidence, rise = best
            per_window = [(w.out_of_support / max(w.n_finite, 1) if numeric else w.n_unseen / max(w.n - w.n_null, 1)) - natural
                          for w in profile.windows]
            onset = stats.onset(per_window, self.min_rise, ctx.window_labels) if ctx.has_time else None
            strength = rise / self.min_rise
            tested.append(Finding(self.cause, name, strength, stats.strength_score(strength), evidence, onset))
        qvalues = stats.benjamini_hochberg([f.evidence.p_value for f in tested])
        return [f for f, q in zip(tested, qvalues) if q <= self.fdr]

    def _drifted_past_the_edge(self, ref: NumericReference, counts: np.ndarray) -> bool:
        """The rows inside the seen range moved too, toward the edge the others crossed."""
        r, c = drift_counts(ref, ref.summary.counts), drift_counts(ref, counts)
        if c.sum() < MIN_ROWS or drift_tv(r, c) < self.in_range_drift_tv:
            return False
        position = np.arange(len(r))
        moved_up = (c @ position) / c.sum() > (r @ position) / r.sum()
        above, below = counts[-1], counts[0]
        return bool(moved_up == (above >= below))

    def _unseen_labels(self, ctx: Context) -> list[Finding]:
        schema = ctx.schema
        if schema.task != "classification" or ctx.scored is None or len(ctx.scored.y) < MIN_ROWS:
            return []
        seen = set(pd.unique(ctx.reference_labels))
        y = ctx.scored.y
        unseen = np.array([v not in seen for v in y])
        share = float(unseen.mean())
        if share < self.min_rise / 3:
            return []
        strength = share / (self.min_rise / 3)
        evidence = Novelty("unseen_labels", share, 0.0, examples=tuple(str(v) for v in pd.unique(y[unseen])[:5]),
                           reference_rate_from="the classes the model was trained on")
        return [Finding(self.cause, schema.target, strength, stats.strength_score(strength), evidence)]

    def _text(self, ctx: Context) -> list[Finding]:
        findings = []
        for name in ctx.schema.text:
            if name not in ctx.current_sample.columns:
                continue
            ref_tokens = _tokens(ctx.reference_sample[name])
            half = len(ref_tokens) // 2
            vocab_a = set(t for doc in ref_tokens[:half] for t in doc)
            natural = _oov_share(ref_tokens[half:], vocab_a)
            vocab = vocab_a | set(t for doc in ref_tokens[half:] for t in doc)
            cur_tokens = _tokens(ctx.current_sample[name])
            share = _oov_share(cur_tokens, vocab)
            rise = share - natural
            if rise < self.min_rise:
                continue
            new_terms = pd.Series([t for doc in cur_tokens for t in doc if t not in vocab]).value_counts()
            evidence = Novelty("out_of_vocabulary_terms", share, natural, examples=tuple(new_terms.index[:10]),
                               reference_rate_from=f"one half of {len(ref_tokens)} reference texts against the other")
            strength = rise / self.min_rise
            findings.append(Finding(self.cause, name, strength, stats.strength_score(strength), evidence))
        return findings

    def _neighbours(self, ctx: Context) -> Finding | None:
        """Rows far from every reference row, in standardized numeric space."""
        cols = [f for f in ctx.unexplained(ctx.schema.numeric) if f in ctx.current_sample.columns]
        ref, cur = ctx.reference_sample, ctx.current_sample
        if len(cols) < 2 or len(ref) < 200 or len(cur) < MIN_ROWS:
            return None
        center = ref[cols].median()
        spread = (ref[cols].quantile(0.75) - ref[cols].quantile(0.25)).replace(0, 1.0).fillna(1.0)

        def scale(frame: pd.DataFrame) -> np.ndarray:
            z = ((frame[cols] - center) / spread).replace([np.inf, -np.inf], np.nan)
            return z.fillna(0.0).to_numpy(float)

        ref_z = scale(ref)
        order = rng(ctx, 7).permutation(len(ref_z))
        fit, calib = ref_z[order[: len(order) // 2]], ref_z[order[len(order) // 2:]]
        nn = NearestNeighbors(n_neighbors=1).fit(fit)
        threshold = float(np.quantile(nn.kneighbors(calib)[0][:, 0], NEIGHBOUR_QUANTILE))
        cur_z = scale(cur)
        dist, idx = nn.kneighbors(cur_z)
        novel = dist[:, 0] > threshold
        share = float(novel.mean())
        rise = share - (1 - NEIGHBOUR_QUANTILE)
        if rise < self.min_neighbour_rise:
            return None
        contrib = np.abs(cur_z[novel] - fit[idx[novel, 0]]).mean(axis=0) - np.abs(cur_z[~novel] - fit[idx[~novel, 0]]).mean(axis=0) \
            if (~novel).any() else np.abs(cur_z[novel] - fit[idx[novel, 0]]).mean(axis=0)
        order = np.argsort(-contrib)
        leading = [cols[i] for i in order[:2]]
        if all(self._drifted_past_the_edge(ctx.references[f], ctx.profiles[f].overall.counts) for f in leading):
            return None  # the features that make rows far are drifting as a whole: drift's finding
        evidence = Novelty("far_from_training_rows", share, 1 - NEIGHBOUR_QUANTILE,
                           features_by_contribution=tuple(cols[i] for i in order[:5]),
                           reference_rate_from=f"nearest-neighbour distances within {len(ref_z)} reference rows")
        strength = rise / self.min_neighbour_rise
        ctx.novel_rows = cur.index[novel]  # no relation to judge there: feature drift and attribution skip them
        return Finding(self.cause, cols[order[0]], strength, stats.strength_score(strength), evidence)


def _natural(ref: NumericReference, sample: pd.Series) -> tuple[int, int, str]:
    """Rows outside the seen range of one half of the reference sample, counted on the other half.

    The reference's own rows lie inside its range by construction; fresh rows from the same
    distribution do not always, more so for a heavy tail. The half-sample range is narrower
    than the full one, so the rate errs high (conservative), and it is tested with the half's size.
    """
    values = sample.to_numpy(float)
    values = values[np.isfinite(values)]
    half = len(values) // 2
    if half < MIN_ROWS:
        return 0, max(ref.summary.n_finite, 1), "the reference's own rows (too few to split)"
    lo, hi = numeric_reference(ref.name, values[:half]).support
    rest = values[half:]
    return int(np.count_nonzero((rest < lo) | (rest > hi))), len(rest), \
        f"the seen range of {half} reference rows, counted on {len(rest)} others"


def _good_turing(ref) -> tuple[int, int, str]:
    """Good-Turing: the chance a fresh row shows a category the reference lacks is about the
    share of reference rows whose category occurs only once."""
    n = int(ref.summary.n - ref.summary.n_null)
    return ref.singletons, max(n, 1), f"Good-Turing: {ref.singletons} categories seen once in {n} reference rows"


def _tokens(texts: pd.Series) -> list[list[str]]:
    return [_TOKEN.findall(str(t).lower()) for t in texts.dropna()]


def _oov_share(docs: list[list[str]], vocab: set[str]) -> float:
    total = sum(len(d) for d in docs)
    return sum(t not in vocab for d in docs for t in d) / total if total else 0.0
