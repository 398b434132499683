"""Prediction label bias: users bring inputs or classes the model never saw.

Four signs, each compared with the rate the reference itself shows (a split of the reference
against itself gives that natural rate): values outside the seen range, unseen categories,
rows far from every training row (nearest-neighbour distance beyond the reference's own 99th
percentile), out-of-vocabulary text terms, and labels the model has no class for.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from .. import stats
from ..profile import NumericReference
from ..types import Finding
from .base import MIN_ROWS, Context, Detector, rng

#: rise in the share of novel rows (above the reference's own rate) that counts
MIN_RISE = 0.03
#: the multivariate neighbour test is noisier: it needs a bigger rise
MIN_NEIGHBOUR_RISE = 0.1
NEIGHBOUR_QUANTILE = 0.99
ALPHA = 0.01
_TOKEN = re.compile(r"[a-z0-9]+")


class LabelBias(Detector):
    cause = "prediction_label_bias"
    stage = 2

    def detect(self, ctx: Context) -> list[Finding]:
        findings = self._out_of_range(ctx) + self._unseen_labels(ctx) + self._text(ctx)
        neighbour = self._neighbours(ctx)
        if neighbour is not None:
            findings.append(neighbour)
        return findings

    def _out_of_range(self, ctx: Context) -> list[Finding]:
        """Per feature: numeric values outside the seen range, categorical values never seen."""
        findings = []
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present:
                continue
            ref = ctx.references[name]
            r, c = ref.summary, profile.overall
            numeric = isinstance(ref, NumericReference)
            k_ref = r.out_of_support if numeric else 0
            k_cur = c.out_of_support if numeric else c.n_unseen
            n_ref, n_cur = (r.n_finite, c.n_finite) if numeric else (r.n - r.n_null, c.n - c.n_null)
            if n_cur < MIN_ROWS:
                continue
            natural = max(k_ref / max(n_ref, 1), ctx.natural_unseen.get(name, 0.0))
            rise = k_cur / n_cur - natural
            if rise < MIN_RISE or stats.proportion_increase_pvalue(int(natural * n_ref), n_ref, k_cur, n_cur) > ALPHA:
                continue
            evidence = {"novel_share": k_cur / n_cur, "reference_share": natural}
            if numeric:
                evidence["kind"] = "outside_seen_range"
                evidence["seen_range"] = list(ref.support)
            else:
                evidence["kind"] = "unseen_categories"
                evidence["unseen_examples"] = list(c.unseen_examples)
            per_window = [(w.out_of_support / max(w.n_finite, 1) if numeric else w.n_unseen / max(w.n - w.n_null, 1)) - natural
                          for w in profile.windows]
            onset = stats.onset(per_window, MIN_RISE, ctx.window_labels) if ctx.has_time else None
            strength = rise / MIN_RISE
            findings.append(Finding(self.cause, name, strength, stats.confidence(strength), evidence, onset))
        return findings

    def _unseen_labels(self, ctx: Context) -> list[Finding]:
        schema = ctx.schema
        if schema.task != "classification" or ctx.scored is None or len(ctx.scored.y) < MIN_ROWS:
            return []
        seen = set(pd.unique(ctx.reference_labels))
        y = ctx.scored.y
        unseen = np.array([v not in seen for v in y])
        share = float(unseen.mean())
        if share < MIN_RISE / 3:
            return []
        strength = share / (MIN_RISE / 3)
        evidence = {"kind": "unseen_labels", "unseen_label_share": share,
                    "unseen_labels": [str(v) for v in pd.unique(y[unseen])[:5]]}
        return [Finding(self.cause, schema.target, strength, stats.confidence(strength), evidence)]

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
            if rise < MIN_RISE:
                continue
            new_terms = pd.Series([t for doc in cur_tokens for t in doc if t not in vocab]).value_counts()
            evidence = {"kind": "out_of_vocabulary_terms", "oov_token_share": share, "reference_oov_share": natural,
                        "top_new_terms": new_terms.index[:10].tolist()}
            strength = rise / MIN_RISE
            findings.append(Finding(self.cause, name, strength, stats.confidence(strength), evidence))
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
        if rise < MIN_NEIGHBOUR_RISE:
            return None
        contrib = np.abs(cur_z[novel] - fit[idx[novel, 0]]).mean(axis=0) - np.abs(cur_z[~novel] - fit[idx[~novel, 0]]).mean(axis=0) \
            if (~novel).any() else np.abs(cur_z[novel] - fit[idx[novel, 0]]).mean(axis=0)
        order = np.argsort(-contrib)
        evidence = {"kind": "far_from_training_rows", "novel_share": share, "expected_share": 1 - NEIGHBOUR_QUANTILE,
                    "distance_threshold": threshold, "features_by_contribution": [cols[i] for i in order[:5]]}
        strength = rise / MIN_NEIGHBOUR_RISE
        return Finding(self.cause, cols[order[0]], strength, stats.confidence(strength), evidence)


def _tokens(texts: pd.Series) -> list[list[str]]:
    return [_TOKEN.findall(str(t).lower()) for t in texts.dropna()]


def _oov_share(docs: list[list[str]], vocab: set[str]) -> float:
    total = sum(len(d) for d in docs)
    return sum(t not in vocab for d in docs for t in d) / total if total else 0.0
