"""Feature unavailability: the column is absent, null, stuck on a default, or stale.

"Stuck" is tested as a mixture: current = (1 - e) * reference + e * (one value). The excess e
of the current top value over its reference share estimates the rows stuck on it, and the
other rows must still look like the reference. A real value growing more common (the rarest
category, the most common answer) fits that mixture too, so the value must also read as a
default: a placeholder (0, -1, "unknown", a sentinel outside the seen range) or the
reference's mean or median that the reference itself rarely holds, or one value taking over
a whole window (a frozen feed).

For a value the reference itself often holds (either value of a 0/1 flag, a common code, the
zero of "no savings") the labels decide between the two when they can: rows stuck on a value
keep the labels of the value they really had, so the rows on the grown value carry the other
values' labels in the share the mixture predicts; real rows of that value arriving (drift)
carry its own labels. The same test decides for a value nothing else marks as a default (a
category with no placeholder name, rare in the reference, taking a share of rows).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import stats
from ..evidence import Unusable
from ..profile import CategoricalSummary, NumericReference, NumericSummary
from ..types import Finding
from .base import Context, Detector
from .recalibration import grid_codes

#: category names that read as "no value"
PLACEHOLDERS = {"", "unknown", "none", "null", "nan", "n/a", "na", "missing", "default", "-1", "0", "?", "other"}
NUMERIC_PLACEHOLDERS = (0.0, -1.0)
#: codes systems write for "no value": all nines (9 ... 999,999,999) and integer maxima (255, 32,767, ...)
SENTINELS = frozenset([10.0**k - 1 for k in range(1, 10)] + [2.0**k - 1 for k in (8, 15, 16, 31, 32)])
#: fewer rows than this left beside the stuck value and the rest is not tested (a full collapse)
MIN_REST_ROWS = 30


@dataclass(frozen=True)
class Unavailability(Detector):
    cause = "feature_unavailability"
    stage = 1
    key = "feature_unavailability"

    #: absolute rise in the share of unusable rows (null, inf, default) that counts
    min_share_rise: float = 0.05
    #: false-discovery rate across features
    fdr: float = stats.CHECK_LEVEL
    #: the rows not stuck must match the reference this closely (debiased total variation)
    max_rest_tv: float = 0.05
    #: a value holding this share of a window's rows has taken over (a frozen feed or a full outage)
    collapsed: float = 0.9
    #: a placeholder or the reference's mean is a default only where the reference rarely holds it
    rare_in_reference: float = 0.05
    #: a value the reference mostly holds is frozen only when every row of a window holds it, at a chance
    #: (across windows) at most this
    frozen_chance: float = 0.001
    #: labels judge stuck against drift only where the golden set tells the value's rows from the
    #: others' by this many standard errors, and the mixture puts at least this share of rows on it
    min_label_gap_z: float = 4.0
    min_stuck_share: float = 0.03
    #: stuck: the share of the value's rows carrying other values' labels is above 0 at this one-sided
    #: level and at least half the mixture's; drift: below half of it at the same level
    label_level: float = 0.005
    #: a sentinel outside the seen range: at least this many rows out there, this share of them on the one value
    min_sentinel_rows: int = 20
    sentinel_purity: float = 0.9

    def detect(self, ctx: Context) -> list[Finding]:
        findings, tested = [], []
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present:
                findings.append(Finding(self.cause, name, 10.0, 0.99, Unusable("absent", 0.0, 1.0, 1.0, 0.0)))
                continue
            tested.append(self._assess(name, ctx.references[name], profile, ctx))
        qvalues = stats.benjamini_hochberg([p for _, p in tested])
        for (finding, _), q in zip(tested, qvalues):
            if finding is not None and q <= self.fdr:
                findings.append(replace(finding, evidence=replace(finding.evidence, q_value=q)))
        return findings

    def _assess(self, name, ref, profile, ctx: Context) -> tuple[Finding | None, float]:
        """The feature's strongest sign of unusable values, and its p-value (1.0 when none)."""
        r, c = ref.summary, profile.overall
        kinds = {"null": (_missing(r), _missing(c), [_missing(w) for w in profile.windows], None, None)}
        stuck = self._stuck(name, ref, r, c, profile.windows, ctx) or self._sentinel(name, ref, c, profile.windows, ctx)
        if stuck is not None:
            kinds["default"] = stuck
        best = None
        for kind, (ref_k, cur_k, per_window, value, because) in kinds.items():
            ref_share, cur_share = ref_k / max(r.n, 1), cur_k / max(c.n, 1)
            rise = cur_share - ref_share
            p = stats.proportion_increase_pvalue(int(round(ref_k)), r.n, int(cur_k), c.n)
            if rise >= self.min_share_rise and p <= self.fdr and (best is None or rise > best[0].share_rise):
                shares = [k / max(w.n, 1) - ref_share for k, w in zip(per_window, profile.windows)]
                infinite = c.n_inf if isinstance(c, NumericSummary) else 0
                best = (Unusable(kind, ref_share, cur_share, rise, p, default_value=value, default_because=because,
                                 infinite_values=infinite), shares)
        if best is None:
            return None, 1.0
        evidence, shares = best
        strength = evidence.share_rise / self.min_share_rise
        onset = stats.onset(shares, self.min_share_rise, ctx.window_labels) if ctx.has_time else None
        return Finding(self.cause, name, strength, stats.strength_score(strength), evidence, onset), evidence.p_value

    def _stuck(self, name, ref, r, c, windows, ctx: Context):
        """(reference rows, current rows, per-window rows, value, why it is a default) for the
        current top value, when the current data reads as the reference plus rows stuck on a
        default-like value; None otherwise."""
        n_cur = c.n - _missing(c)
        if c.top_value is None or c.top_count == 0 or n_cur <= 0:
            return None
        value = c.top_value
        numeric = isinstance(ref, NumericReference)
        if numeric:
            sample = ctx.reference_sample[name].to_numpy(float)
            sample = sample[np.isfinite(sample)]
            p_ref = float(np.mean(np.isclose(sample, value))) if len(sample) else 0.0
            slot = int(np.flatnonzero(ref.bin_counts(np.array([value], dtype=float)))[0])
        else:
            known = value in ref.categories
            p_ref = float(r.counts[ref.categories.get_loc(value)] / max(r.n - r.n_null, 1)) if known else 0.0
            slot = ref.categories.get_loc(value) if known else len(r.counts) - 1
        p_cur = c.top_count / n_cur
        if (p_cur - p_ref) / max(1 - p_ref, 1e-9) < self.min_share_rise:
            return None
        if numeric and not ref.discrete and self._placeholder(ref, value) is None and _gridded(ref, value, name, ctx):
            return None  # one code of a new grid beside others: part of the rows rounded (recalibration's)
        per_window = [_count_of(w, value) for w in windows]
        because = self._default_because(ref, value, p_ref, per_window, windows)
        if p_ref >= self.rare_in_reference or because is None:  # real rows of a real value, or stuck ones
            verdict = self._labels_say(name, value, p_ref, ctx) or self._profiles_say(name, value, p_ref, ctx)
            if verdict == "drift":
                return None
            because = verdict or because
        if because is None:
            return None  # a real value growing more common: drift, not a default
        beyond = numeric and value in NUMERIC_PLACEHOLDERS and not ref.support[0] <= value <= ref.support[1]
        imputed = numeric and value not in NUMERIC_PLACEHOLDERS and _imputed_statistic(ref, value) is not None
        if p_ref == 0 and (beyond or imputed):
            # 0 or -1 where the reference never goes, or its mean or median that it never holds: the
            # rest need not match the reference (a feature that moves with time has only its earlier
            # values left beside the default). Not any value past the range: a redefinition has many
            return 0.0, c.top_count, per_window, value, because
        rest_cur = np.asarray(c.counts, float).copy()
        rest_cur[slot] = max(rest_cur[slot] - c.top_count, 0.0)
        rest_ref = np.asarray(r.counts, float).copy()
        rest_ref[slot] = max(rest_ref[slot] - p_ref * rest_ref.sum(), 0.0)
        # an effect size, not a p-value: on a million rows any seasonal wobble of the rest is "significant"
        if rest_cur.sum() >= MIN_REST_ROWS and stats.debiased_total_variation(rest_ref, rest_cur) > self.max_rest_tv:
            return None  # the other values moved too: a shift of the distribution, not a stuck value
        n_ref = r.n - _missing(r)
        # counts on the scale of each summary's own n, as the caller divides by it
        return p_ref * n_ref * r.n / max(n_ref, 1), c.top_count, per_window, value, because

    def _sentinel(self, name, ref, c, windows, ctx: Context):
        """`_stuck`'s tuple for a sentinel code (-1, -999, 32767, ...) served on a share of rows
        outside the seen range, nearly alone out there, or None. Neither the other rows (a shift
        beside it, a feature that moves with time) nor its rank matter: -1 on a third of a 0/1
        flag's rows is not its most common value. A redefinition puts many values out of range."""
        if not isinstance(ref, NumericReference):
            return None
        rows = ctx.current_sample
        column = rows[name].to_numpy(float)
        finite = np.isfinite(column)
        lo, hi = ref.support
        outside = finite & ((column < lo) | (column > hi))
        if outside.sum() < self.min_sentinel_rows:
            return None
        values, counts = np.unique(column[outside], return_counts=True)
        value = float(values[counts.argmax()])
        never_negative = ref.summary.minimum >= 0
        if counts.max() < self.sentinel_purity * outside.sum() or not (
                value in NUMERIC_PLACEHOLDERS or abs(value) in SENTINELS or value < 0 and never_negative):
            return None
        held = finite & (column == value)
        if "_window" in rows.columns:
            per_window_rows = pd.Series(held).groupby(rows["_window"].to_numpy()).agg(["sum", "size"])
            per_window = [int(round(per_window_rows["sum"].get(i, 0) / max(per_window_rows["size"].get(i, 0), 1) * w.n))
                          for i, w in enumerate(windows)]
        else:
            per_window = [int(round(held.mean() * w.n)) for w in windows]
        return 0.0, float(held.mean() * c.n), per_window, value, f"sentinel {value:g} outside the seen range"

    def _default_because(self, ref, value, p_ref: float, per_window: list[int], windows) -> str | None:
        """Why `value` reads as a default rather than a real value, or None when it does not.

        On a feature of many values, one exact value the reference rarely holds taking a share of
        rows is itself specific: drift moves mass across values, not onto one. On a categorical or
        few-valued feature, or on a point mass the reference holds often, a value growing is
        ordinary drift, unless the value is a placeholder the reference rarely holds, or it takes a
        window over (the labels may still say stuck: `_labels_say`).
        """
        taken = [k / max(w.n - _missing(w), 1) for k, w in zip(per_window, windows)]
        if p_ref < 0.5 and max(taken, default=0.0) >= self.collapsed:
            return f"holds {max(taken):.0%} of a window's rows"
        # a value most rows already hold: only every row of a window on it, at a chance that small, is a frozen feed
        full = [w.n - _missing(w) for t, w in zip(taken, windows) if t >= 1.0]
        if full and len(windows) * p_ref ** max(full) <= self.frozen_chance:
            return f"holds every row of a window ({max(full)} rows; the reference holds it in {p_ref:.0%})"
        if p_ref >= self.rare_in_reference:
            return None  # a point mass the reference holds too (no savings, no college) may simply grow
        named = self._placeholder(ref, value)
        if isinstance(ref, NumericReference) and not ref.discrete:
            return named or f"one exact value of a feature with {ref.summary.distinct:,} distinct values"
        return named

    def _labels_say(self, name: str, value, p_ref: float, ctx: Context) -> str | None:
        """"drift", a reason the value is stuck, or None when the labels cannot tell.

        Among labelled production rows on `value`, a share s were stuck there from other values
        under the mixture; their labels are then the other values' (golden's mean label off the
        value) instead of the value's own. Labels projected on the golden gap between the two
        give s's estimate; it must match the mixture's share, or be clearly below it."""
        scored, golden = ctx.scored_raw, ctx.golden_scored
        if scored is None or name not in scored.frame.columns or name not in golden.frame.columns:
            return None
        on_cur, on_gold = _holds(scored.frame[name], value), _holds(golden.frame[name], value)
        y_gold, y_cur = _label_matrix(golden.y, golden.y, ctx), _label_matrix(scored.y, golden.y, ctx)
        said = self._mixture_says(y_gold, on_gold, y_cur, on_cur, p_ref)
        if said is None or said == "drift":
            return said
        return f"its rows carry the other values' labels: {said}"

    def _profiles_say(self, name: str, value, p_ref: float, ctx: Context) -> str | None:
        """The same test on the other numeric features instead of the labels: rows stuck on a value
        keep the profile of the value they really had (their spend, their age), real rows of it
        arriving carry its own. Needs no labels, and other features that tell the value apart."""
        others = [f for f in ctx.schema.numeric if f != name and f in ctx.current_sample.columns
                  and f in ctx.reference_sample.columns][:8]
        if not others:
            return None
        reference, current = ctx.reference_sample, ctx.current_sample
        mean, sd = reference[others].mean(), reference[others].std().replace(0, 1.0).fillna(1.0)

        def standardised(frame: pd.DataFrame) -> np.ndarray:
            return ((frame[others] - mean) / sd).fillna(0.0).to_numpy(float)

        said = self._mixture_says(standardised(reference), _holds(reference[name], value), standardised(current),
                                  _holds(current[name], value), p_ref)
        if said is None or said == "drift":
            return said
        return f"its rows carry the other values' {', '.join(others)}: {said}"

    def _mixture_says(self, known: np.ndarray, on_known: np.ndarray, now: np.ndarray, on_now: np.ndarray,
                      p_ref: float) -> str | None:
        """"drift", how many rows read as stuck, or None: rows on the value now, projected on the
        gap between the value's own rows and the others' in `known` (the golden labels, the
        reference's features), against the share of stuck rows the mixture predicts."""
        share = on_now.mean() if len(on_now) else 0.0
        expected = (share - p_ref) / share if share > 0 else 0.0
        if expected < self.min_stuck_share or min(on_now.sum(), on_known.sum() // 2, (~on_known).sum() // 2) < MIN_REST_ROWS:
            return None
        # the direction from one half of the known rows, the value's own and the others' places on it
        # from the other half: measured on the rows that chose it, a noisy direction overstates the gap
        fit = np.arange(len(known)) % 2 == 0
        direction = known[fit & ~on_known].mean(axis=0) - known[fit & on_known].mean(axis=0)
        z_known, z_now = known @ direction, now @ direction
        own, other, current = z_known[~fit & on_known], z_known[~fit & ~on_known], z_now[on_now]
        gap = other.mean() - own.mean()
        gap_se = np.sqrt(own.var() / len(own) + other.var() / len(other))
        if gap <= 0 or gap < self.min_label_gap_z * gap_se:
            return None
        stuck = (current.mean() - own.mean()) / gap
        se = np.sqrt(current.var() / len(current) + own.var() / len(own) + (stuck * gap_se) ** 2) / gap
        z = float(sps.norm.isf(self.label_level))
        if stuck - z * se > 0 and stuck >= 0.5 * expected:
            return f"about {stuck:.0%} of them read as stuck (the mixture predicts {expected:.0%})"
        if stuck + z * se < 0.5 * expected:
            return "drift"
        return None

    def _placeholder(self, ref, value) -> str | None:
        if not isinstance(ref, NumericReference):
            return f"placeholder {value!r}" if str(value).strip().lower() in PLACEHOLDERS else None
        if any(value == v for v in NUMERIC_PLACEHOLDERS):
            return f"placeholder {value:g}"
        if not ref.support[0] <= value <= ref.support[1]:
            return "a sentinel outside the seen range"
        imputed = _imputed_statistic(ref, value)
        return f"{imputed}, an imputation default" if imputed else None


def _missing(s: NumericSummary | CategoricalSummary) -> int:
    return s.n_null + (s.n_inf if isinstance(s, NumericSummary) else 0)


def _count_of(window, value) -> int:
    return window.top_count if window.top_value == value or (
        isinstance(value, float) and isinstance(window.top_value, float) and np.isclose(window.top_value, value)
    ) else 0


def _gridded(ref: NumericReference, value: float, name: str, ctx: Context) -> bool:
    """Is `value` one of several codes of a new grid that part of the feature's rows sit on?"""
    current, reference = (frame[name].to_numpy(float) for frame in (ctx.current_sample, ctx.reference_sample))
    grid = grid_codes(ref, current[np.isfinite(current)], reference[np.isfinite(reference)])
    return grid is not None and bool(np.any(np.isclose(grid[1], value)))


def _imputed_statistic(ref: NumericReference, value) -> str | None:
    """Which of the reference's mean and median `value` is, if either: what imputation writes."""
    for label, stat in (("the reference mean", ref.summary.mean), ("the reference median", ref.summary.median)):
        if np.isclose(value, stat, rtol=1e-6, atol=1e-9):
            return label
    return None


def _holds(values: pd.Series, value) -> np.ndarray:
    if isinstance(value, (int, float, np.number)):
        return np.isclose(pd.to_numeric(values, errors="coerce").to_numpy(float), float(value))
    return (values.astype(str) == str(value)).to_numpy()


def _label_matrix(y: np.ndarray, golden_y: np.ndarray, ctx: Context) -> np.ndarray:
    """Labels as rows of numbers: one column per golden class (one-hot), or the target itself."""
    if ctx.schema.task != "classification":
        return np.asarray(y, dtype=float).reshape(-1, 1)
    classes = np.unique(np.asarray(golden_y).astype(str))
    return (np.asarray(y).astype(str)[:, None] == classes[None, :]).astype(float)
