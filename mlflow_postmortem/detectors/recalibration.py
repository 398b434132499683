"""Feature recalibration: the feature's unit, scale, definition or encoding changed.

Only evidence specific to a redefinition counts, since a smooth shift or a wider spread of a
bell-shaped feature is drift, and calling it a unit change triggers the wrong fix. Mapped
back through the change, production must look like the reference again, and the change must
be one of:
- a real unit conversion or a power of ten (`units.UNITS`), at its exact factor and offset;
- the reference standardised, min-max or robust scaled (served normalised instead of raw);
- a monotone redefinition: log, log10, log2, log1p, square root, or their inverses;
- a new value grid: continuous values rounded, truncated or bucketed onto evenly spaced codes;
- any affine map, but only when it arrives as a step that moves the bulk of values out of range;
- categorical (or integer) codes whose frequency profile is the reference's under other codes.

On a discrete feature (a year, a count, a code), or one whose values all sit on a lattice
(whole years over many decades, half quarters, cents), there is a second way to be specific:
mapped back, every changed value is exactly one the reference could hold. And served values
still on that lattice rule out a unit that would have taken them off it. That needs no
shape match, which matters for a feature that moves with time: the rows after a change hold
only the latest years, so their mix is not the reference's, yet each maps back to a real year.
A factor no table holds shows there too: the served values' own spacing is the lattice's step
stretched by it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.optimize import linear_sum_assignment

from .. import stats, transforms
from ..evidence import CodesPermuted, Redefinition, Rescale
from ..profile import (
    DISCRETE_MAX_VALUES,
    QUANTILE_LEVELS,
    CategoricalReference,
    NumericReference,
)
from ..transforms import REDEFINITIONS
from ..types import Finding
from ..units import UNITS
from .base import Context, Detector

#: shares of rows filed under other codes that the code matching tries (1.0, the whole log, last)
REASSIGNED_SHARES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: a value mapped onto a lattice lands when within this share of a step of a lattice point
LANDED = 0.01
#: a value is one of a new grid's codes when its count is this unlikely (binomial) at the reference's share of it
GRID_CODE_LEVEL = 0.001


@dataclass(frozen=True)
class Recalibration(Detector):
    cause = "feature_recalibration"
    stage = 1
    key = "feature_recalibration"

    #: per-window total variation that marks a window as changed
    window_tv: float = 0.15
    #: the raw change a recalibration must make (total variation before undoing it)
    min_raw_tv: float = 0.15
    #: after undoing the change the distribution must match the reference this closely (debiased TV)
    max_shape_tv: float = 0.08
    #: an arbitrary rescale counts only as a step that moves this share of values out of range
    bulk_out_of_range: float = 0.5
    #: reassigned codes must move at least this much mass (debiased TV; their rows' profiles decide the rest)
    min_recoded_tv: float = 0.1
    #: where the other features cannot tell the codes apart, frequencies alone decide, on this many codes or more
    frequency_only_codes: int = 5
    #: how far (|log| of the ratio) a fitted scale may be from a known unit for the unit to be tried
    unit_window: float = 0.4
    #: the smallest change of scale (|log|, x1.5) a unit conversion without an offset may explain
    min_log_unit: float = 0.405
    #: discrete features: mapped back, this share of the values served off the reference's grid must
    #: land exactly on reference values (and at least min_raw_tv of all values must be off it)
    exact_landing: float = 0.99
    #: a conversion with an offset must move the reference's median by this share of its IQR
    min_offset_iqr: float = 0.25
    #: discrete features: after the change, fewer than this share of values off the reference's
    #: grid means only part of the rows changed, and only those are repaired
    mixed_below: float = 0.9
    #: a gradual rollout: units of at least this factor (or with an offset) are tried, ...
    rollout_min_factor: float = 2.5
    #: ... at most this share of values may be close calls (likelihoods within this factor) ...
    rollout_max_close: float = 0.15
    rollout_close_call: float = 3.0
    #: ... and the new unit's share must grow by this much from the earlier half of the windows to the later
    rollout_min_growth: float = 0.3

    def detect(self, ctx: Context) -> list[Finding]:
        findings = []
        for name in ctx.unexplained():
            profile = ctx.profiles[name]
            if not profile.present or profile.overall.n - profile.overall.n_null < 20:
                continue
            ref = ctx.references[name]
            finding = None
            if isinstance(ref, NumericReference):  # integer codes can be rescaled too (1..5 -> 100..500)
                finding = self._numeric(name, ref, profile, ctx) or self._partial_grid(name, ref, ctx)
            if finding is None and (isinstance(ref, CategoricalReference) or ref.discrete):
                finding = self._permuted(name, ref, profile, ctx)
            if finding is not None:
                findings.append(finding)
        return findings

    def _affected(self, ref, profile, ctx):
        """Windows whose distribution changed, and each window's TV; without time, the whole period.

        A step changes every window from its onset on; otherwise the fully changed windows are
        the ones near the largest change (a window straddling the onset is a mixture)."""
        per_window = [stats.debiased_total_variation(_counts(ref.summary), _counts(w)) for w in profile.windows]
        if not ctx.has_time:
            return ([0] if stats.debiased_total_variation(_counts(ref.summary), _counts(profile.overall)) >= self.window_tv
                    else []), per_window
        top = max(per_window, default=0.0)
        if top < self.window_tv:
            return [], per_window
        onset = stats.onset(per_window, self.window_tv, ctx.window_labels)
        if onset.pattern == "from_start":
            return list(range(len(per_window))), per_window
        if onset.pattern == "step" and onset.window_index is not None:
            return list(range(onset.window_index, len(per_window))), per_window
        return [i for i, tv in enumerate(per_window) if tv >= max(self.window_tv, 0.8 * top)], per_window

    def _numeric(self, name, ref: NumericReference, profile, ctx: Context) -> Finding | None:
        changed, per_window = self._affected(ref, profile, ctx)
        if not changed:
            return None
        values = ctx.current_sample[name].to_numpy(float)  # in time order
        # a step inside the log: some windows changed and others not, or a log too short for
        # windows whose rows still have a time order
        stepped = len(changed) < len(per_window) if ctx.has_time else ctx.schema.timestamp is not None
        start = _change_point(values, ref) if stepped else 0
        values, before = values[start:], values[:start]  # the rows after the change, not whole windows
        values, before = values[np.isfinite(values)], before[np.isfinite(before)]
        if len(values) < 20:
            return None
        ref_counts = _counts(ref.summary)
        # undone, the change must leave production as it was just before it (which may have drifted too)
        tolerance = self.max_shape_tv
        if len(before) >= 50:
            tolerance += stats.debiased_total_variation(ref_counts, ref.bin_counts(before).astype(float))
        raw = ref.bin_counts(values)
        raw_tv = stats.debiased_total_variation(ref_counts, raw.astype(float))
        held = ctx.reference_sample[name].to_numpy(float)  # the reference's rows of the feature
        lattice = _on_grid(ref, held)
        on_grid = lattice[0] if lattice else None
        landing = _landing(on_grid, lattice[1] if lattice else 0.0, values, self.exact_landing, self.min_raw_tv)
        if raw_tv < self.min_raw_tv and landing is None:
            return None  # values moved off the reference's lattice are a change however little mass moved
        grid = np.unique(held)
        grid = grid[np.isfinite(grid)]

        def shape(inverse: Callable[[np.ndarray], np.ndarray]) -> float:
            """Mapped back through `inverse`, does current look like the reference?"""
            with np.errstate(all="ignore"):
                back = inverse(values)
            return stats.debiased_total_variation(ref_counts, ref.bin_counts(_snap(back, grid)).astype(float))

        onset = stats.onset(per_window, self.window_tv, ctx.window_labels) if ctx.has_time else None
        common = dict(raw_tv=raw_tv, windows_changed=len(changed))
        out = float((raw[0] + raw[-1]) / len(values))
        medians = (float(np.median(ref.summary.quantiles)), float(np.median(values)))

        # served values still on the reference's lattice (counts stay whole) rule out any map that
        # would take the reference's values off it (x1.609 of a count is no count), and a map that
        # keeps it must explain every value: doubled counts are all even
        stays = lattice is not None and landing is None and float(np.mean(on_grid(values))) >= 1 - self.min_raw_tv

        def rescale(a: float, b: float, specific: str, unit: str | None) -> tuple[float, Rescale]:
            tv = shape(lambda v: (v - b) / a)
            if stays and not (_keeps_lattice(grid, lattice[1], a, b) and _on_image(values, grid, lattice[1], a, b)):
                tv = np.inf
            onto = landing(lambda v: (v - b) / a) if landing else None
            return (0.0 if onto else tv), Rescale("affine", a, b, specific, unit, tv, raw_tv, out, len(changed),
                                                 *medians, mapped_onto_reference=onto)

        def named(unit: str) -> str:
            return "a power of ten" if "10^" in unit else "a known unit conversion"

        candidates: list[tuple[float, Rescale | Redefinition]] = []
        fit = _fit_affine(ref, values)
        if fit is not None:
            a, b = fit
            # a factor near 1 (gradians, US to UK gallons) is what drift that shrinks or stretches a
            # feature a little also looks like: a unit alone must change the scale by x1.5 or more.
            # A modest factor (miles to km, x1.6) on a feature that goes negative is as likely a wider
            # spread around zero: it counts only on a magnitude (never negative). Large factors, powers
            # of ten and conversions with an offset (degrees) count on any feature.
            magnitude = ref.summary.minimum >= 0
            candidates += [rescale(ua, ub, named(unit), unit)
                           for unit, ua, ub in UNITS if abs(np.log(ua / a)) < self.unit_window
                           and (abs(np.log(ua)) >= self.min_log_unit or ub != 0 and self._moves(ua, ub, ref.summary))
                           and ("10^" in unit or ub != 0 or magnitude or abs(np.log(ua)) >= np.log(2.5))]
        if landing:  # exact values need no fitted scale to point at the unit: every unit that lands is tried
            tried = {(c[1].unit, c[1].scale, c[1].offset) for c in candidates}
            candidates += [rescale(ua, ub, named(unit), unit) for unit, ua, ub in UNITS
                           if (unit, ua, ub) not in tried and landing(lambda v, ua=ua, ub=ub: (v - ub) / ua)]
        candidates += [rescale(a, b, specific, None) for a, b, specific in _normalisations(ref.summary)]
        candidates += self._redefinitions(ref, values, shape, common, landing)
        grid_change = self._grid(ref, values, held, common)
        if grid_change is not None:
            candidates.append(grid_change)
        # undone, the change must bring production nearer the reference than it was, by half at least
        specific = [c for c in candidates if c[0] <= min(tolerance, 0.5 * raw_tv)]
        best = None
        if specific:
            # shapes within noise of the best fit: the plainer explanation wins (a power of ten over
            # an exotic unit), then the factor nearest the fitted one
            lowest = min(c[0] for c in specific)
            best = min((c for c in specific if c[0] <= lowest + 0.01),
                       key=lambda c: _plainness(c[1], fit[0] if fit is not None else None))
        free = None
        if fit is not None and onset is not None and onset.pattern == "step" and out >= self.bulk_out_of_range:
            # judged at the factor that maps back closest, its offset through the medians
            a = _closest_factor(fit[0], lambda f: shape(lambda v: (v - (medians[1] - f * medians[0])) / f))
            free = rescale(a, medians[1] - a * medians[0], "a step that moved the bulk of values out of the seen "
                                                           "range", None)
        elif onset is not None and onset.pattern == "from_start" and out >= self.bulk_out_of_range:
            # no onset to point at, so only a plain factor (no offset) far from 1, which drift past
            # the range (a shift) cannot pass for: mapped back, the shape must be the reference's
            factor = _plain_factor(ref, values)
            if factor is not None:
                factor = _closest_factor(factor, lambda f: shape(lambda v: v / f))
            if factor is not None and abs(np.log(factor)) >= np.log(self.rollout_min_factor):
                free = rescale(factor, 0.0, "a plain factor from the first row that put the bulk of values "
                                            "out of the seen range", None)
        if landing is not None and out >= self.bulk_out_of_range and (free is None or free[0] > tolerance) and (
                onset is not None and onset.pattern in ("step", "from_start")):
            # a feature that moves with time keeps no shape to match, but a plain factor shows in the
            # served values' own lattice: its step is the reference's stretched by the factor
            factor = _lattice_factor(values, on_grid, lattice[1])
            if factor is not None and (onset.pattern == "step" or abs(np.log(factor)) >= np.log(self.rollout_min_factor)):
                free = rescale(factor, 0.0, "a plain factor that put the bulk of values out of the seen range, every "
                                            "one of them mapping back onto a value the reference could hold", None)
        if free is not None and free[0] <= tolerance and (best is None or free[0] + 0.01 < best[0]):
            best = free
        if best is None:
            return self._mixture(name, ref, ctx, tolerance)
        evidence = best[1]
        changed_rows = None
        if getattr(evidence, "mapped_onto_reference", None) is not None:
            column = ctx.current_sample[name].to_numpy(float)
            served = np.isfinite(column)
            off_grid = served & ~on_grid(np.where(served, column, 0.0))
            if ctx.has_time:
                # the windows' mix moves with time anyway: the change starts where values leave the grid
                off = pd.Series(off_grid[served]).groupby(ctx.current_sample["_window"].to_numpy()[served]).mean()
                onset = stats.onset(off.reindex(range(len(ctx.window_labels)), fill_value=0.0).tolist(),
                                    self.window_tv, ctx.window_labels)
            # had every row after the change been converted, this share would have left the grid (a
            # unit that keeps whole numbers whole moves only the values it takes past the range)
            convert = transforms.forward(evidence.to_dict())
            with np.errstate(all="ignore"):
                leaving = float(np.mean(~on_grid(convert(held[np.isfinite(held)])))) if convert is not None else 1.0
            if off_grid[start:].sum() < self.mixed_below * leaving * served[start:].sum():
                # part of the rows kept the old definition (a second pipeline, a partial rollout): the
                # values the reference's grid holds were served as they were, only those off it changed
                changed_rows = ctx.current_sample.index[off_grid]
        scale = getattr(evidence, "scale", 1.0)
        strength = max(raw_tv / self.min_raw_tv, abs(float(np.log(scale))) / np.log(1.5) if scale > 0 else 1.0,
                       out / self.bulk_out_of_range)
        return Finding(self.cause, name, strength, stats.strength_score(strength), evidence, onset, rows=changed_rows)

    def _grows(self, per_window: pd.Series) -> bool:
        """A share that grows over the log: its later half of windows above its earlier half by rollout_min_growth."""
        half = len(per_window) // 2
        return half > 0 and per_window.iloc[-half:].mean() - per_window.iloc[:half].mean() >= self.rollout_min_growth

    def _moves(self, a: float, b: float, summary) -> bool:
        """A conversion with an offset counts only where it moves the typical value by a share of
        the reference's interquartile range: Celsius to kelvin adds 273 to incomes of 20,000,
        which no sample could tell from the incomes as they were."""
        q = dict(zip(np.round(QUANTILE_LEVELS, 2), summary.quantiles))
        iqr = q[0.75] - q[0.25]
        return iqr <= 0 or abs((a - 1) * summary.median + b) >= self.min_offset_iqr * iqr

    def _frequencies_tell(self, back: np.ndarray, ref_counts: np.ndarray, cur_counts: np.ndarray) -> bool:
        """Frequencies alone show codes reassigned: enough codes, three or more of them moved unambiguously."""
        return len(back) >= self.frequency_only_codes and _unambiguous(back, ref_counts, cur_counts) >= 3

    def _mixture(self, name: str, ref: NumericReference, ctx: Context, tolerance: float) -> Finding | None:
        """Values in two definitions side by side: each window a mixture of the old and the new.

        Each value goes to the definition under which the reference finds it likelier; mapped back,
        the mixture must be the reference again, and the two readings must rarely be close calls
        (so a wider spread is not split in two). A unit whose share grows over the log is a change
        rolled out; a normalisation whose share holds from the first window on is a second
        pipeline serving part of the rows (skew, read as such without a training view)."""
        if ref.discrete or not ctx.has_time:
            return None
        rows = ctx.current_sample[[name, "_window"]]
        rows = rows[np.isfinite(rows[name].to_numpy(float))]
        # in value order: every map below keeps it (or reverses it), and the many binary searches
        # per map run several times faster on ordered values
        order = np.argsort(rows[name].to_numpy(float), kind="stable")
        values, windows = rows[name].to_numpy(float)[order], rows["_window"].to_numpy()[order]
        if len(values) < 100:
            return None
        as_is, ref_counts, bin_now = ref.density(values), _counts(ref.summary), np.searchsorted(ref.edges, values)
        definitions = [(unit, a, b, "a power of ten" if "10^" in unit else "a known unit conversion")
                       for unit, a, b in UNITS if abs(np.log(a)) >= np.log(self.rollout_min_factor)
                       or b != 0 and self._moves(a, b, ref.summary)]
        definitions += [(None, a, b, specific) for a, b, specific in _normalisations(ref.summary)]
        fits = []
        for unit, a, b, specific in definitions:
            with np.errstate(all="ignore"):
                back = (values - b) / a
                as_new = ref.density(back) / a
                # a value the map hardly moves (0 under any scale) tells nothing, however dense there
                changed = (as_new > as_is) & (np.searchsorted(ref.edges, back) != bin_now)
                close = np.minimum(as_is, as_new) * self.rollout_close_call > np.maximum(as_is, as_new)
            share = float(changed.mean())
            if not self.min_raw_tv <= share <= 1 - self.min_raw_tv or close.mean() > self.rollout_max_close:
                continue
            tv = stats.debiased_total_variation(
                ref_counts, (ref.bin_counts(values[~changed]) + ref.bin_counts(back[changed])).astype(float))
            per_window = pd.Series(changed).groupby(windows).mean().sort_index()
            grows = self._grows(per_window)
            # present from the first window on, in about the same share: no window short of half the average
            # a second pipeline serves its share from the first row on: no earlier rows to allow drift for
            flat = not grows and per_window.min() >= 0.5 * share and tv <= self.max_shape_tv
            # units from the first row on only for normalisations: a share of novel rows past the range
            # reads as some unit's mixture too, and without growth nothing else tells them apart
            if tv <= tolerance and (grows if unit is not None else flat):
                fits.append((tv, unit, a, b, specific, changed, per_window, grows))
        if not fits:
            return None
        lowest = min(fit[0] for fit in fits)  # within noise of the best fit, a power of ten, then a unit, wins
        tv, unit, a, b, specific, changed, per_window, grows = min(
            (fit for fit in fits if fit[0] <= lowest + 0.01),
            key=lambda fit: (fit[1] is None, "10^" not in (fit[1] or ""), fit[0]))
        raw_tv = stats.debiased_total_variation(ref_counts, ref.bin_counts(values).astype(float))
        out = float(np.mean((values < ref.support[0]) | (values > ref.support[1])))
        evidence = Rescale("affine", a, b, specific, unit, tv, raw_tv, out, int((per_window >= 0.5).sum()),
                           float(np.median(ref.summary.quantiles)), float(np.median(values)),
                           rolled_out=tuple(float(x) for x in per_window))
        onset = stats.onset(per_window.reindex(range(len(ctx.window_labels)), fill_value=0.0).tolist(),
                            self.window_tv, ctx.window_labels)
        strength = max(raw_tv / self.min_raw_tv, abs(float(np.log(a))) / np.log(1.5))
        return Finding(self.cause, name, strength, stats.strength_score(strength), evidence, onset,
                       rows=rows.index[np.sort(order[changed])])

    def _redefinitions(self, ref: NumericReference, values: np.ndarray, shape, common, landing) -> list:
        out = []
        lo = ref.summary.minimum
        for label, (_, inverse, domain) in REDEFINITIONS.items():
            if not lo > domain:
                continue
            tv = shape(inverse)
            onto = landing(inverse) if landing else None
            out.append((0.0 if onto else tv, Redefinition(
                label, f"values are the {label} of the reference's", tv,
                distinct_values=(ref.summary.distinct, int(len(np.unique(values)))), mapped_onto_reference=onto,
                **common)))
        return out

    def _grid(self, ref: NumericReference, values: np.ndarray, reference_rows: np.ndarray, common):
        """Continuous values now on a few evenly spaced codes: rounded, truncated or bucketed.

        The current codes' cumulative shares pin where each code boundary falls in the
        reference; a linear map of the reference onto the codes, rounded or floored, must then
        reproduce the current distribution.
        """
        codes, counts = np.unique(values, return_counts=True)
        frequent = codes[counts >= max(2, 0.005 * len(values))]
        if len(frequent) < 2:
            return None
        step = float(np.min(np.diff(frequent)))
        on_grid = _on_steps(values, step)
        if step <= 0 or on_grid.mean() < 0.98:
            return None
        codes, counts = np.unique(values[on_grid], return_counts=True)
        rare = counts < max(2, 0.005 * len(values))  # a few stragglers from before the change go
        values, codes, counts = values[on_grid & ~np.isin(values, codes[rare])], codes[~rare], counts[~rare]
        m = len(codes)
        reference_rows = reference_rows[np.isfinite(reference_rows)]
        if not 4 <= m <= 2 * DISCRETE_MAX_VALUES or len(reference_rows) < 2 * m:
            return None
        # as many reference rows as current ones show at least twice as many distinct values; or more
        # than the codes, when the codes leave the reference's whole range (the unit itself is gone)
        same_size = np.random.default_rng(0).choice(reference_rows, size=min(len(values), len(reference_rows)), replace=False)
        distinct = len(np.unique(same_size))
        outside = float(np.mean((values < reference_rows.min()) | (values > reference_rows.max())))
        # (a feature of few values has too few for that: codes off the whole numbers it always held do instead)
        if distinct < 2 * m and not (outside >= 0.5 and distinct > m) and _lattice_left(
                reference_rows, values, np.array([]), step) is None:
            return None
        # bucket numbers: whole numbers from 0 or 1, nearly every one in use (a thin bucket may be empty)
        span = codes[-1] - codes[0] + 1
        bucket_codes = bool(step == 1 and np.allclose(codes, np.round(codes)) and codes[0] in (0.0, 1.0)
                            and m >= 0.8 * span)
        # the same unit on a coarser grid: code = snap(x / step) * step
        candidates = []
        # on a grid the reference is on already (prices in cents), rounding to it changes nothing: fewer
        # rows show fewer values, no new grid. Bucket numbers inside the range may still be one
        native = outside < 0.5 and np.mean(_on_steps(reference_rows, step)) >= 0.98
        for mode, snap in (("round", np.round), ("floor", np.floor)) if not native else ():
            tv = _code_tv(np.round(snap(reference_rows / step)).astype(np.int64),
                          np.round(codes / step).astype(np.int64), counts)
            candidates.append((tv, mode, 1.0, 0.0))
        if bucket_codes:
            candidates += _bucket_maps(np.sort(reference_rows), codes, counts)
        if not candidates:
            return None
        tv, mode, a, b = min(candidates, key=lambda c: c[0])
        unit_kept = (a, b) == (1.0, 0.0)
        what = "rounded" if mode == "round" else "truncated"
        description = (f"values {what} to a grid of step {step:.4g}" if unit_kept else
                       f"values bucketed onto {m} codes ({mode} of {a:.4g} * x {b:+.4g})")
        return tv, Redefinition(f"grid_{mode}", description, tv, distinct_values=(ref.summary.distinct, m),
                                scale=a, offset=b, step=step if unit_kept else 1.0, **common)

    def _partial_grid(self, name: str, ref: NumericReference, ctx: Context) -> Finding | None:
        """A feature of which a share of rows arrives on a regular grid (one pipeline rounds or
        truncates, the other does not), however coarse (`grid_codes`). Rounding hardly moves the
        distribution, so this does not wait for a change in it: the grid's values repeat where the
        reference's do not. The grid's values must be the reference (or the rows served beside
        them) snapped to the grid, and the grid must hold a steady share from the first window (a
        second pipeline) or a growing one (a change rolled out). A feature that moves with time
        matches neither once snapped; a grid coarser than the lattice its reference values all sit
        on, and off it, needs no match (`_lattice_left`)."""
        if not ctx.has_time:
            return None
        rows = ctx.current_sample[[name, "_window"]]
        rows = rows[np.isfinite(rows[name].to_numpy(float))]
        values = rows[name].to_numpy(float)
        if len(values) < 100:
            return None
        reference_rows = ctx.reference_sample[name].to_numpy(float)
        reference_rows = reference_rows[np.isfinite(reference_rows)]
        grid = grid_codes(ref, values, reference_rows)
        if grid is None:
            return None
        step = grid[0]
        on_grid = _on_steps(values, step)
        share = float(on_grid.mean())
        if not self.min_raw_tv <= share < 0.98 or len(reference_rows) < 200:
            return None
        rest = values[~on_grid]
        # a grid the reference is on already is none (0 is on every grid through 0: no sign of one);
        # whole years a grid of 1.8 years meets now and then (2007) do not make the reference one
        left = _lattice_left(reference_rows, values[on_grid], rest, step)
        held = reference_rows[reference_rows != 0]
        if left is None and _on_steps(held, step).mean() > 0.01:
            return None
        per_window = pd.Series(on_grid).groupby(rows["_window"].to_numpy()).mean().sort_index()
        grows = self._grows(per_window)
        if not grows and per_window.min() < 0.5 * share:
            return None
        ref_counts = _counts(ref.summary)
        rest_tv = stats.debiased_total_variation(ref_counts, ref.bin_counts(rest).astype(float))
        codes, code_counts = np.unique(np.round(values[on_grid] / step).astype(np.int64), return_counts=True)
        # the grid's values are the reference snapped to it, the rest as it was; or, served beside the
        # rest from the first window on, the rest snapped to it (a feature that moves with time, a year,
        # has moved on from the reference in both)
        sources = [(reference_rows, rest_tv)] + ([(rest, 0.0)] if not grows and len(rest) >= 100 else [])
        tv, mode = min((max(moved, _code_tv(np.round(snap(source / step)).astype(np.int64), codes, code_counts)), mode)
                       for source, moved in sources for mode, snap in (("round", np.round), ("floor", np.floor)))
        what = "rounded" if mode == "round" else "truncated"
        description = f"{share:.0%} of values {what} to a grid of step {step:.4g}, the rest as before"
        if tv > self.max_shape_tv:
            # a feature that moves with time (a year) matches no earlier rows once snapped; but a coarser
            # grid off the whole numbers it always held is no drift, which keeps them whole
            if left is None:
                return None
            description = (f"{share:.0%} of values moved off the reference's lattice of step {left:.4g} onto a "
                           f"coarser grid of step {step:.4g}, the rest as before")
        raw_tv = stats.debiased_total_variation(ref_counts, ref.bin_counts(values).astype(float))
        evidence = Redefinition(f"grid_{mode}", description, tv, raw_tv,
                                distinct_values=(ref.summary.distinct, len(codes)),
                                windows_changed=int((per_window >= 0.5 * share).sum()), step=step)
        onset = stats.onset(per_window.reindex(range(len(ctx.window_labels)), fill_value=0.0).tolist(),
                            self.window_tv, ctx.window_labels)
        strength = share / self.min_raw_tv
        return Finding(self.cause, name, strength, stats.strength_score(strength), evidence, onset,
                       rows=rows.index[on_grid])

    def _permuted(self, name, ref, profile, ctx: Context) -> Finding | None:
        """Codes reassigned: each current code matched to the reference code whose rows it now
        carries (by their profile on the other features, and by frequency); the match must
        undo the change and beat leaving every code as it is."""
        changed, per_window = self._affected(ref, profile, ctx)
        if not changed:
            return None
        windows = [profile.windows[i] for i in changed] if ctx.has_time else [profile.overall]
        if isinstance(ref, CategoricalReference):
            labels, slots = list(ref.categories), slice(0, len(ref.categories))
        else:
            labels, slots = [float(v) for v in ref.values], slice(1, -1)
        ref_counts, cur_counts = _counts(ref.summary)[slots], sum(_counts(w) for w in windows)[slots]
        raw_tv = stats.debiased_total_variation(ref_counts, cur_counts)
        if len(labels) < 3 or raw_tv < self.min_recoded_tv:
            return None  # two codes swapped cannot be told from a change in their mix
        rows = ctx.current_sample[ctx.current_sample["_window"].isin(changed)] if ctx.has_time else ctx.current_sample
        others = [f for f in ctx.schema.numeric if f != name and f in rows.columns][:8]
        target = ctx.schema.target
        if ctx.schema.task == "regression" and target in rows.columns and rows[target].notna().any():
            others.append(target)  # a row keeps its target whatever code it is filed under
        back, explained, share = _match_codes(name, labels, ref_counts, cur_counts, ctx.reference_sample, rows,
                                              others)
        moved = [(labels[c], labels[r]) for c, r in enumerate(back) if c != r and cur_counts[c] > 0]
        # the reference's codes passed through the reassignment must give the current frequencies
        predicted = (1 - share) * ref_counts + share * ref_counts[back]
        shape_tv = stats.debiased_total_variation(predicted, cur_counts)
        if len(moved) < 2 or shape_tv > self.max_shape_tv or explained is False:
            return None
        if explained is None and not self._frequencies_tell(back, ref_counts, cur_counts):
            return None  # on frequencies alone, a few codes' or similar shares trading places may be drift
        strength = raw_tv / self.min_recoded_tv
        evidence = CodesPermuted("codes_permuted", raw_tv, float(shape_tv), tuple(moved), len(changed), share)
        onset = stats.onset(per_window, self.window_tv, ctx.window_labels) if ctx.has_time else None
        reassigned = None if share >= 1 else _reassigned_rows(name, labels, back, share, ref_counts,
                                                                ctx.reference_sample, rows, others)
        return Finding(self.cause, name, strength, stats.strength_score(strength), evidence, onset, rows=reassigned)


def _unambiguous(back: np.ndarray, ref_counts: np.ndarray, cur_counts: np.ndarray, z: float = 3.0) -> int:
    """How many moved codes moved unambiguously: the code's share is z standard errors from its
    own reference share, and the reference code it maps to is z standard errors nearer than any
    other. Similar shares (colours D to J, 10 to 20% each) match some permutation whatever
    happens to them; a drift that lands three codes each squarely on another's share does not."""
    ref_share, cur_share = ref_counts / max(ref_counts.sum(), 1), cur_counts / max(cur_counts.sum(), 1)
    se = np.sqrt(np.maximum(ref_share * (1 - ref_share), 1e-12) / max(cur_counts.sum(), 1))
    clear = 0
    for c, r in enumerate(back):
        if c == r or cur_counts[c] == 0:
            continue
        gaps = np.abs(cur_share[c] - ref_share)
        clear += bool(gaps[c] >= z * se[c] and np.delete(gaps, r).min(initial=np.inf) >= gaps[r] + z * se[r])
    return clear


def _match_codes(name: str, labels: list, ref_counts: np.ndarray, cur_counts: np.ndarray, reference, current,
                 others: list[str]) -> tuple[np.ndarray, bool | None, float]:
    """For each current code, the reference code whose rows it now carries (an assignment), the
    share of rows reassigned, and whether that explains the codes' rows clearly better than the
    identity (None: the reference's codes do not differ on the other features, so their profiles
    cannot say).

    The rows behind a reassigned code keep their profile on the other features, so the
    assignment matches profiles (standardised per-code means) and frequencies. Where only some of
    the rows are filed under other codes (one of two sources changed), each code holds a mix of
    its own rows and another code's: every share of reassigned rows on a grid is tried, and the
    mix that fits best wins. With no other feature to tell by, frequencies alone decide, for the
    whole-log reassignment only, and the identity test is skipped.
    """
    k = len(labels)
    ref_share, cur_share = ref_counts / max(ref_counts.sum(), 1), cur_counts / max(cur_counts.sum(), 1)
    if not others:
        cost = np.abs(cur_share[:, None] - ref_share[None, :]) / max(float(ref_share.max()), 1e-12)
        return linear_sum_assignment(cost)[1], True, 1.0
    scale = reference[others].std().replace(0, 1.0)
    index = pd.Index(labels)

    def profiles(frame: pd.DataFrame) -> np.ndarray:
        keys = frame[name].to_numpy()
        keys = keys.astype(str) if isinstance(labels[0], str) else keys.astype(float)
        means = (frame[others] / scale).groupby(keys).mean()
        return means.reindex(index).to_numpy(float)

    ref_profile, cur_profile = profiles(reference), profiles(current)
    weight = cur_counts / max(cur_counts.sum(), 1)
    fits = []
    for share in REASSIGNED_SHARES:
        # code c now holds (1 - share) of its own rows and `share` of source s's: its share and profile mix
        own, moved = (1 - share) * ref_share[:, None], share * ref_share[None, :]
        mixed_share = own + moved
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # a code with no rows has no profile: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            own_profile = np.nan_to_num(ref_profile)[:, None, :] * own[:, :, None]
            mixed = (own_profile + np.nan_to_num(ref_profile)[None, :, :] * moved[:, :, None]) / mixed_share[:, :, None]
            mixed[np.arange(k), np.arange(k)] = ref_profile
            distance = np.nanmean(np.abs(cur_profile[:, None, :] - mixed), axis=2)
        distance = np.where(np.isnan(distance), np.nanmax(distance, initial=1.0) * 2, distance)
        gap = np.abs(cur_share[:, None] - np.where(np.eye(k, dtype=bool), ref_share[:, None], mixed_share))
        cost = gap / max(float(ref_share.max()), 1e-12) + distance
        back = linear_sum_assignment(cost)[1]
        fits.append((float(np.sum(weight * cost[np.arange(k), back])), back, share, distance))
    _, back, share, distance = min(fits, key=lambda fit: fit[0])
    identity = float(np.sum(weight * distance[np.arange(k), np.arange(k)]))
    matched = float(np.sum(weight * distance[np.arange(k), back]))
    if matched < 0.5 * identity:
        return back, True, share
    # the reference's codes differ on the other features about as little as a code differs from
    # itself: the profiles cannot tell, so the frequencies alone do (None), for a whole-log change
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        between = np.nanmean(np.abs(ref_profile[:, None, :] - ref_profile[None, :, :]), axis=2)
    spread = float(np.nanmean(between[~np.eye(k, dtype=bool)])) if k > 1 else 0.0
    whole_log = fits[-1][1]
    return whole_log, (False if identity < 0.5 * spread else None), 1.0


def _reassigned_rows(name: str, labels: list, back: np.ndarray, share: float, ref_counts: np.ndarray,
                     reference: pd.DataFrame, current: pd.DataFrame, others: list[str]) -> pd.Index:
    """Where only some rows were filed under other codes, the rows more likely reassigned than
    their code's own: each row's other features weighed under its code's reference rows and under
    the source code's (a normal per code and feature), with the mix's shares as priors."""
    keys = reference[name].to_numpy()
    moments = {}
    for code in labels:
        own = reference.loc[keys == code, others]
        moments[code] = (own.mean().to_numpy(float), np.maximum(own.std().fillna(0).to_numpy(float), 1e-9))

    def log_likelihood(values: np.ndarray, code) -> np.ndarray:
        mean, sd = moments[code]
        z = np.where(np.isnan(values), 0.0, (values - mean) / sd)
        return -0.5 * (z ** 2).sum(axis=1) - np.log(sd).sum()

    ref_share = ref_counts / max(ref_counts.sum(), 1)
    codes = current[name].to_numpy()
    picked = []
    for c, r in enumerate(back):
        if c == r:
            continue
        here = current[codes == labels[c]]
        values = here[others].to_numpy(float)
        moved = np.log(share * ref_share[r] + 1e-12) + log_likelihood(values, labels[r])
        stayed = np.log((1 - share) * ref_share[c] + 1e-12) + log_likelihood(values, labels[c])
        picked.append(here.index[moved > stayed])
    return picked[0].append(picked[1:]) if picked else pd.Index([])


def _plainness(evidence, fitted_scale: float | None) -> tuple[int, float]:
    """Sort key among equally good explanations: powers of ten, then named units, then the rest;
    within a kind, the scale nearest the fitted one."""
    specific = getattr(evidence, "specific", "")
    kind = 0 if specific == "a power of ten" else 1 if specific == "a known unit conversion" else 2
    scale = getattr(evidence, "scale", None)
    distance = abs(np.log(scale / fitted_scale)) if scale and fitted_scale and scale > 0 else 0.0
    return kind, float(distance)


def _code_tv(predicted: np.ndarray, observed: np.ndarray, counts: np.ndarray) -> float:
    """Debiased TV between the codes the reference would get and the codes production has."""
    labels, predicted_counts = np.unique(predicted, return_counts=True)
    union = np.union1d(labels, observed)
    p = np.bincount(np.searchsorted(union, labels), weights=predicted_counts, minlength=len(union))
    q = np.bincount(np.searchsorted(union, observed), weights=counts, minlength=len(union))
    return stats.debiased_total_variation(p, q.astype(float))


def _bucket_maps(reference: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> list[tuple[float, str, float, float]]:
    """Bucket numbers as code = snap(a * x + b), clipped to the codes in use: the best (tv, mode,
    a, b) per mode, `reference` sorted.

    The current codes' cumulative shares say where each code boundary falls in the reference.
    Boundaries that land on a point mass of the reference (many rows of one value) are placed
    wrongly, so a least-squares line through all of them misses; instead every pair of
    boundaries proposes a map, and the one whose codes match the current shares best wins."""
    low, high = int(codes[0]), int(codes[-1])
    observed = np.zeros(high - low + 1)
    observed[codes.astype(int) - low] = counts
    boundaries = np.quantile(reference, np.cumsum(observed)[:-1] / observed.sum())
    out = []
    for mode, shift in (("floor", 0.0), ("round", 0.5)):
        targets = np.arange(low + 1, high + 1) - shift  # a * boundary + b = the next code's lower edge

        def tv(a: float, b: float) -> float:
            edges = (targets - b) / a
            predicted = np.diff(np.concatenate(([0], np.searchsorted(reference, edges, side="left"), [len(reference)])))
            return stats.debiased_total_variation(predicted.astype(float), observed)

        best = None
        for i in range(len(boundaries)):
            for j in range(i + 1, len(boundaries)):
                if boundaries[j] > boundaries[i]:
                    a = (targets[j] - targets[i]) / (boundaries[j] - boundaries[i])
                    b = targets[i] - a * boundaries[i]
                    score = tv(a, b)
                    if best is None or score < best[0]:
                        best = (score, mode, float(a), float(b))
        if best is not None:
            out.append(best)
    return out


def _change_point(values: np.ndarray, ref: NumericReference) -> int:
    """The row (in time order) where the feature's values stop looking like the reference.

    Each value becomes its position in the reference (its reference CDF, 0 or 1 out of range);
    unchanged rows spread those evenly, changed ones do not. The split maximising the CUSUM of
    the positions (a level change) or of their distance from the middle (a spread change)
    marks the change, so a window that straddles it does not blur the fit.
    """
    finite = np.isfinite(values)
    grid = np.sort(np.concatenate(([ref.support[0]], ref.edges, [ref.support[1]])))
    u = np.where(finite, np.searchsorted(grid, np.where(finite, values, 0.0)) / len(grid), 0.5)
    best, at = 0.0, 0
    for signal in (u, np.abs(u - 0.5)):
        walk = np.abs(np.cumsum(signal - signal.mean()))
        k = int(np.argmax(walk))
        if walk[k] > best:
            best, at = float(walk[k]), k + 1
    return at if at < len(values) - 20 else 0


def _normalisations(ref) -> list[tuple[float, float, str]]:
    """(scale, offset, what) of the reference served normalised: z-scores, min-max, median/IQR."""
    out = []
    if ref.std > 0:
        out.append((1 / ref.std, -ref.mean / ref.std, "standardised with the reference's mean and sd"))
    if ref.maximum > ref.minimum:
        span = ref.maximum - ref.minimum
        out.append((1 / span, -ref.minimum / span, "min-max scaled to the reference's range"))
    q = dict(zip(np.round(QUANTILE_LEVELS, 2), ref.quantiles))
    iqr = q[0.75] - q[0.25]
    if iqr > 0:
        out.append((1 / iqr, -ref.median / iqr, "robust scaled with the reference's median and IQR"))
    return out


def _fit_affine(ref: NumericReference, values: np.ndarray) -> tuple[float, float] | None:
    """(a, b) with current = a * reference + b, or None when no increasing map fits.

    Discrete features are fitted on their distinct values matched in order (exact for a unit
    change; quantiles of a few steps jump between steps); others on matching quantiles.
    """
    distinct = np.unique(values)
    if ref.discrete and len(distinct) == len(ref.values) > 1:
        a, b = np.polyfit(ref.values, distinct, 1)
    else:
        ref_q, cur_q = ref.summary.quantiles, np.quantile(values, QUANTILE_LEVELS)
        if np.ptp(ref_q) <= 0 or np.ptp(cur_q) <= 0:
            return None
        a, b = np.polyfit(ref_q, cur_q, 1)
    return (float(a), float(b)) if a > 0 else None


def _closest_factor(a: float, misfit: Callable[[float], float]) -> float:
    """The factor within 15% of the fitted `a` that maps production back closest to the reference.

    Quantile fits on a few hundred rows miss a factor by a few per cent (their tails are noisy),
    and a few per cent of a value far out of range is a bin or two of the reference: the shape
    test would fail on the estimate's noise, not on the data."""
    factors = a * np.exp(np.linspace(-0.15, 0.15, 61))
    misfits = np.array([misfit(f) for f in factors])
    best = factors[misfits <= misfits.min() + 1e-9]
    return float(np.sqrt(best[0] * best[-1]))  # the middle of the factors that fit equally well


def _lattice_factor(values: np.ndarray, on_grid: Callable[[np.ndarray], np.ndarray], step: float) -> float | None:
    """The factor a lattice was stretched by: the smallest gap between distinct values served off
    the reference's grid, over the grid's step (None with fewer than two such values)."""
    moved = np.unique(values[~on_grid(values)])
    gaps = np.diff(moved)
    gaps = gaps[gaps > 0]
    if len(gaps) == 0 or step <= 0:
        return None
    return float(gaps.min() / step)


def _plain_factor(ref: NumericReference, values: np.ndarray) -> float | None:
    """a in current = a * reference, least squares on matching quantiles; None when no positive
    factor fits (a reference all zeros, or values that changed sign)."""
    ref_q, cur_q = np.asarray(ref.summary.quantiles, float), np.quantile(values, QUANTILE_LEVELS)
    norm = float(ref_q @ ref_q)
    a = float(ref_q @ cur_q) / norm if norm > 0 else 0.0
    return a if a > 0 else None


def _on_grid(ref: NumericReference, reference_rows: np.ndarray) -> tuple[Callable[[np.ndarray], np.ndarray], float] | None:
    """Which values are exactly values the reference could hold, and the grid's step, for a
    feature that gives such a test: a discrete one (its values), or one whose reference values
    all sit on one lattice (whole years, half quarters, cents: a lattice point within its range).
    "Exactly" is within a hundredth of the step, so a unit constant rounded to a few digits
    (0.3937 for cm to in) still lands."""
    if ref.discrete:
        grid = np.asarray(ref.values, dtype=float)
        if len(grid) < 2:
            return None
        step = float(np.min(np.diff(grid)))

        def test(v: np.ndarray) -> np.ndarray:
            idx = np.clip(np.searchsorted(grid, v), 1, len(grid) - 1)
            gap = np.minimum(np.abs(v - grid[idx - 1]), np.abs(v - grid[idx]))
            return np.nan_to_num(gap, nan=np.inf) <= LANDED * step

        return test, step
    held = np.unique(reference_rows[np.isfinite(reference_rows)])
    lattice = _lattice(held)
    if lattice is None:
        return None
    origin, step = lattice
    low, high = origin, float(held[-1])  # the values it holds, not the widened support: 0 carats is no diamond

    def on_lattice(v: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return _on_steps(v, step, origin, LANDED) & (v >= low) & (v <= high)

    return on_lattice, step


def grid_codes(ref: NumericReference, values: np.ndarray, reference_rows: np.ndarray) -> tuple[float, np.ndarray] | None:
    """(step, codes) of a regular grid through 0 that part of `values` sits on, or None.

    Its codes are values off the reference's own lattice (whole counts, years, cents) far more
    common than the reference has them (a count that unlikely, `GRID_CODE_LEVEL`, at the
    reference's share; half a row's share for a value it never holds): values that repeat anyway
    (a round figure) keep about their reference share. Four or more codes evenly spaced are a
    grid; fewer need two past 0 on it (0 and any one value make a "grid", two repeated values
    rarely sit on one by chance: a ratio of exactly 2, 3/2, ...)."""
    lattice = _on_grid(ref, reference_rows)
    codes, counts = np.unique(values[~lattice[0](values)] if lattice else values, return_counts=True)
    held, held_counts = np.unique(reference_rows, return_counts=True)
    if len(held) == 0:
        return None
    at = np.clip(np.searchsorted(held, codes), 0, len(held) - 1)
    reference_share = np.maximum(np.where(held[at] == codes, held_counts[at], 0), 0.5) / len(reference_rows)
    unlikely = sps.binom.sf(counts - 1, len(values), np.minimum(reference_share, 1.0)) <= GRID_CODE_LEVEL
    frequent = codes[(counts >= max(3, 0.005 * len(values))) & unlikely]
    if len(frequent) < 2:
        return None
    step = float(np.min(np.diff(frequent)))
    if step <= 0 or len(frequent) < 4 and int(np.sum(_on_steps(frequent, step) & (frequent != 0))) < 2:
        return None
    return step, frequent


def _lattice(held: np.ndarray) -> tuple[float, float] | None:
    """(origin, step) of the lattice that sorted distinct values all sit on, or None."""
    if len(held) < 2:
        return None
    origin, step = float(held[0]), float(np.min(np.diff(held)))
    return (origin, step) if _on_steps(held, step, origin).all() else None


def _lattice_left(reference_rows: np.ndarray, gridded: np.ndarray, rest: np.ndarray, step: float) -> float | None:
    """The step of the lattice the reference's values all sit on (whole years, whole days) when
    most of the `gridded` values left it for a coarser grid of `step`, inside the range the
    reference and the rest of the rows span; else None. Drift keeps whole numbers whole, and a
    finer grid (more decimals) is a serving difference, not a redefinition."""
    held = np.unique(reference_rows)
    found = _lattice(held) if len(gridded) else None
    if found is None:
        return None
    origin, lattice = found
    if step <= lattice or _on_steps(np.array([step]), lattice)[0]:
        return None
    spanned = np.r_[held, rest]
    inside = (gridded >= spanned.min() - step) & (gridded <= spanned.max() + step)
    off = ~_on_steps(gridded, lattice, origin, LANDED)
    return lattice if inside.all() and off.mean() >= 0.5 else None


def _on_steps(values: np.ndarray, step: float, origin: float = 0.0, tolerance: float = 1e-6) -> np.ndarray:
    """Which values sit on the lattice origin + k * step, within `tolerance` of a step (NaN: none)."""
    with np.errstate(all="ignore"):
        k = (values - origin) / step
        return np.abs(k - np.round(k)) <= tolerance


def _keeps_lattice(held: np.ndarray, step: float, a: float, b: float) -> bool:
    """Does x -> a * x + b send the reference's values onto its lattice again (x100, x60 of counts)?"""
    with np.errstate(all="ignore"):
        return bool(np.mean(_on_steps(a * held + b, step, held[0], LANDED)) >= 0.99)


def _on_image(values: np.ndarray, held: np.ndarray, step: float, a: float, b: float) -> bool:
    """Are the served values all images of lattice points under x -> a * x + b?"""
    with np.errstate(all="ignore"):
        return bool(np.mean(_on_steps((values - b) / a, step, held[0], LANDED)) >= 0.99)


def _landing(on_grid: Callable[[np.ndarray], np.ndarray] | None, step: float, values: np.ndarray, needed: float,
             least: float) -> Callable[[Callable], float | None] | None:
    """When at least a share `least` of values are off the reference's grid: a test of an
    inverse map, giving the share of those values it lands on the grid when that share reaches
    `needed` (None otherwise). None when the feature gives no such test.

    Only the values off the grid are mapped: the rest may be rows from before the change, which
    for a feature that moves with time cannot be told apart by their windows' mix.
    """
    if on_grid is None or len(values) == 0:
        return None
    moved = values[~on_grid(values)]
    if len(moved) < 20 or len(moved) < least * len(values) or len(np.unique(moved)) < 2:
        return None  # one value maps onto the grid under countless maps: a stuck default's sign, not a unit's

    distinct = np.unique(moved)

    def test(inverse: Callable[[np.ndarray], np.ndarray]) -> float | None:
        with np.errstate(all="ignore"):
            landed = float(np.mean(on_grid(inverse(moved))))
            targets = inverse(distinct)
        # a unit is one to one: distinct served values land on distinct reference values, at least
        # the grid's step apart (x 10^4 sends 32 and 33.8 within a hair of 0 both: no landing)
        if landed < needed or (len(distinct) > 1 and np.min(np.diff(np.sort(targets))) < 0.5 * step):
            return None
        return landed

    return test


def _snap(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Values within half a grid step of a reference value become that value.

    Data recorded at a resolution (carats to 0.01) has ties on the bin edges; a fitted scale of
    99.99 instead of 100 would push each tie across its edge and fake a change of shape.
    """
    if len(grid) < 2:
        return values
    half = 0.5 * float(np.min(np.diff(grid)))
    idx = np.clip(np.searchsorted(grid, values), 1, len(grid) - 1)
    nearest = np.where(np.abs(values - grid[idx - 1]) <= np.abs(values - grid[idx]), grid[idx - 1], grid[idx])
    return np.where(np.abs(values - nearest) <= half, nearest, values)


def _counts(summary) -> np.ndarray:
    return np.asarray(summary.counts, dtype=float)
