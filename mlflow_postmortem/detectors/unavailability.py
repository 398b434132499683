"""Feature unavailability: the column is absent, null, stuck on a default, or stale.

"Stuck" is tested as a mixture: current = (1 - e) * reference + e * (one value). The excess e
of the current top value over its reference share estimates the rows stuck on it, and the
other rows must still look like the reference. Data drift moves mass between many values and
fails that second test; a default, a placeholder or a frozen feed passes it.
"""

from __future__ import annotations

import numpy as np

from .. import stats
from ..profile import CategoricalSummary, NumericReference, NumericSummary
from ..types import Finding
from .base import Context, Detector

#: absolute rise in the share of unusable rows (null, inf, default, frozen) that counts
MIN_SHARE_RISE = 0.05
ALPHA = 0.01
#: the rows not stuck must match the reference this closely (debiased total variation)
MAX_REST_TV = 0.05
#: an unseen category counts as a default only if it reads like one, or has taken over
PLACEHOLDERS = {"", "unknown", "none", "null", "nan", "n/a", "na", "missing", "default", "-1", "0", "?", "other"}
COLLAPSED = 0.5
#: fewer rows than this left beside the stuck value and the rest is not tested (a full collapse)
MIN_REST_ROWS = 30


class Unavailability(Detector):
    cause = "feature_unavailability"
    stage = 1

    def detect(self, ctx: Context) -> list[Finding]:
        findings, tested = [], []
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present:
                findings.append(Finding(self.cause, name, 10.0, 0.99,
                                        {"column_absent": True, "detail": f"column {name!r} is missing from current data"}))
                continue
            tested.append(self._assess(name, ctx.references[name], profile, ctx))
        # many features are tested at once: control the false discovery rate across them
        qvalues = stats.benjamini_hochberg([p for _, p in tested])
        for (finding, _), q in zip(tested, qvalues):
            if finding is not None and q <= ALPHA:
                finding.evidence["q_value"] = q
                findings.append(finding)
        return findings

    def _assess(self, name, ref, profile, ctx: Context) -> tuple[Finding | None, float]:
        """The feature's strongest sign of unusable values, and its p-value (1.0 when none)."""
        r, c = ref.summary, profile.overall
        kinds = {
            "null": (_missing(r), _missing(c), [_missing(w) for w in profile.windows]),
            "default": _stuck_counts(name, ref, r, c, profile.windows, ctx),
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
            return None, 1.0
        evidence["kind"] = best_kind
        evidence["share_rise"] = best_rise
        if best_kind == "default":
            evidence["default_value"] = c.top_value
        if isinstance(c, NumericSummary) and c.n_inf:
            evidence["infinite_values"] = c.n_inf
        strength = best_rise / MIN_SHARE_RISE
        onset = stats.onset(shares, MIN_SHARE_RISE, ctx.window_labels) if ctx.has_time else None
        return Finding(self.cause, name, strength, stats.confidence(strength), evidence, onset), evidence["p_value"]


def _missing(s: NumericSummary | CategoricalSummary) -> int:
    return s.n_null + (s.n_inf if isinstance(s, NumericSummary) else 0)


def _stuck_counts(name, ref, r, c, windows, ctx: Context):
    """(reference rows, current rows, per-window rows) on the current top value, when the
    current data reads as the reference plus rows stuck on that value; zeros otherwise."""
    none = 0, 0, [0] * len(windows)
    n_cur = c.n - _missing(c)
    if c.top_value is None or c.top_count == 0 or n_cur <= 0:
        return none
    value = c.top_value
    if isinstance(ref, NumericReference):
        sample = ctx.reference_sample[name].to_numpy(float)
        sample = sample[np.isfinite(sample)]
        p_ref = float(np.mean(np.isclose(sample, value))) if len(sample) else 0.0
        slot = int(np.flatnonzero(ref.bin_counts(np.array([value], dtype=float)))[0])
    else:
        p_ref = float(r.counts[ref.categories.get_loc(value)] / max(r.n - r.n_null, 1)) if value in ref.categories else 0.0
        slot = ref.categories.get_loc(value) if value in ref.categories else len(r.counts) - 1
    p_cur = c.top_count / n_cur
    excess = (p_cur - p_ref) / max(1 - p_ref, 1e-9)
    if excess < MIN_SHARE_RISE:
        return none
    novel_label = isinstance(c, CategoricalSummary) and value not in ref.categories
    if novel_label and value.strip().lower() not in PLACEHOLDERS and excess < COLLAPSED:
        return none  # a new category with a real name is novelty (label bias), not a default
    rest_cur = np.asarray(c.counts, float).copy()
    rest_cur[slot] = max(rest_cur[slot] - c.top_count, 0.0)
    rest_ref = np.asarray(r.counts, float).copy()
    rest_ref[slot] = max(rest_ref[slot] - p_ref * rest_ref.sum(), 0.0)
    # an effect size, not a p-value: on a million rows any seasonal wobble of the rest is "significant"
    if rest_cur.sum() >= MIN_REST_ROWS and stats.debiased_total_variation(rest_ref, rest_cur) > MAX_REST_TV:
        return none  # the other values moved too: that is a shift of the distribution, not a stuck value
    n_ref = r.n - _missing(r)
    # counts on the scale of each summary's own n, as the caller divides by it
    return (p_ref * n_ref * r.n / max(n_ref, 1), c.top_count, [_count_of(w, value) for w in windows])


def _count_of(window, value) -> int:
    return window.top_count if window.top_value == value or (
        isinstance(value, float) and isinstance(window.top_value, float) and np.isclose(window.top_value, value)
    ) else 0
