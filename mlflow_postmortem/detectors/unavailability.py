"""Feature unavailability: the column is absent, null, stuck on a default, or stale."""

from __future__ import annotations

import numpy as np

from .. import stats
from ..profile import CategoricalSummary, NumericReference, NumericSummary
from ..types import Finding
from .base import Context, Detector

#: absolute rise in the share of unusable rows (null, inf, default, frozen) that counts
MIN_SHARE_RISE = 0.05
ALPHA = 0.01
PLACEHOLDERS = {"", "unknown", "none", "null", "nan", "n/a", "na", "missing", "default", "-1", "0", "?"}


class Unavailability(Detector):
    cause = "feature_unavailability"
    stage = 1

    def detect(self, ctx: Context) -> list[Finding]:
        findings = []
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present:
                findings.append(Finding(self.cause, name, 10.0, 0.99,
                                        {"column_absent": True, "detail": f"column {name!r} is missing from current data"}))
                continue
            ref = ctx.references[name]
            finding = self._assess(name, ref, profile, ctx)
            if finding is not None:
                findings.append(finding)
        return findings

    def _assess(self, name, ref, profile, ctx: Context) -> Finding | None:
        r, c = ref.summary, profile.overall
        kinds = {
            "null": (_missing(r), _missing(c), [_missing(w) for w in profile.windows]),
            "default": _default_shares(ref, r, c, profile.windows),
        }
        best_kind, best_rise, evidence = None, 0.0, {}
        for kind, (ref_k, cur_k, per_window) in kinds.items():
            rise = cur_k / max(c.n, 1) - ref_k / max(r.n, 1)
            evidence[f"{kind}_share"] = {"reference": ref_k / max(r.n, 1), "current": cur_k / max(c.n, 1)}
            p = stats.proportion_increase_pvalue(int(ref_k), r.n, int(cur_k), c.n)
            if rise >= MIN_SHARE_RISE and p <= ALPHA and rise > best_rise:
                best_kind, best_rise = kind, rise
                evidence["p_value"] = p
                shares = [k / max(w.n, 1) - ref_k / max(r.n, 1) for k, w in zip(per_window, profile.windows)]
        if best_kind is None:
            return None
        evidence["kind"] = best_kind
        evidence["share_rise"] = best_rise
        if best_kind == "default":
            evidence["default_value"] = c.top_value
        if isinstance(c, NumericSummary) and c.n_inf:
            evidence["infinite_values"] = c.n_inf
        strength = best_rise / MIN_SHARE_RISE
        onset = stats.onset(shares, MIN_SHARE_RISE, ctx.window_labels) if ctx.has_time else None
        return Finding(self.cause, name, strength, stats.confidence(strength), evidence, onset)


def _missing(s: NumericSummary | CategoricalSummary) -> int:
    return s.n_null + (s.n_inf if isinstance(s, NumericSummary) else 0)


def _default_shares(ref, r, c, windows):
    """Rows stuck on one value the reference rarely had: a default, a placeholder or a frozen feed."""
    ref_share_top = r.top_count / max(r.n, 1)
    cur_share = c.top_count / max(c.n, 1)
    if isinstance(ref, NumericReference):
        # the reference share of the current top value is at most the reference's own top share
        rare_in_reference = ref_share_top < 0.02 or not ref.discrete
        collapsed = cur_share >= 0.9 and ref_share_top < 0.7
        if not (rare_in_reference or collapsed):
            return 0, 0, [0] * len(windows)
        ref_k = min(r.top_count, c.top_count * r.n / max(c.n, 1)) if ref.discrete else r.top_count
    else:
        top = c.top_value
        placeholder = top is not None and top.strip().lower() in PLACEHOLDERS and top not in ref.categories
        collapsed = cur_share >= 0.9 and ref_share_top < 0.7
        if not (placeholder or collapsed):
            return 0, 0, [0] * len(windows)
        ref_k = r.counts[ref.categories.get_loc(top)] if top in ref.categories else 0
    return ref_k, c.top_count, [_count_of(w, c.top_value) for w in windows]


def _count_of(window, value) -> int:
    return window.top_count if window.top_value == value or (
        isinstance(value, float) and isinstance(window.top_value, float) and np.isclose(window.top_value, value)
    ) else 0
