"""Wire the core: profile, score, run the detectors stage by stage, repair, attribute, rank.

Pure: data frames and a ModelHandle in, a Verdict out. The MLflow and CLI layers call this.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import recovery
from .data import Inputs
from .detectors import MIN_ROWS, Context, configured, golden_thresholds
from .detectors.data_drift import drift_counts, drift_tv, out_share
from .detectors.feature_drift import FeatureDrift
from .detectors.label_shift import LabelShift
from .detectors.skew import training_pairs
from .evidence import PriorShift
from .golden import evaluate_golden
from .production import attribute, expected_metric, production_facts
from .profile import (
    CategoricalReference,
    FeatureProfile,
    NumericReference,
    categorical_reference,
    numeric_reference,
    profile_feature,
    time_label,
    window_bounds,
    window_count,
)
from .reference_profile import sample_rows
from .scoring import Scored, model_input, predict, score, scored_rows
from .types import FeatureStat, Finding, GoldenResult, ModelHandle, Verdict
from .verdict import build_verdict

#: bounded sample of production rows scored by the model (the reference's: reference_profile.SAMPLE_ROWS)
MAX_SCORED_ROWS = 50_000
#: features profiled side by side (their sorts release the GIL)
PROFILE_THREADS = min(4, os.cpu_count() or 1)


def diagnose(
    inputs: Inputs,
    model: ModelHandle,
    *,
    baseline: ModelHandle | None = None,
    windows: int = 8,
    seed: int = 0,
    golden: GoldenResult | None = None,
    detectors: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Verdict:
    """`golden`: a golden-set check already done (by the golden_eval step) instead of scoring again.
    `detectors`: threshold overrides, the config's `detectors:` mapping."""
    say = _timed(progress)
    stage_1, stage_2, drop_test = configured(detectors)
    ctx = build_context(inputs, model, baseline=baseline, windows=windows, seed=seed, golden=golden, say=say,
                        golden_settings=golden_thresholds(detectors))
    insufficient = None
    if ctx.n_current < MIN_ROWS:
        insufficient = f"current data has {ctx.n_current} rows; distribution checks need at least {MIN_ROWS}"
        ctx.not_checked.append(insufficient)

    findings: list[Finding] = []
    said: set[str] = set()

    def run(detector) -> None:
        if detector.cause not in said:  # some causes have two detectors
            say(f"checking {detector.cause.replace('_', ' ')}")
            said.add(detector.cause)
        new = detector.detect(ctx)
        findings.extend(new)
        ctx.findings = findings
        for f in new:
            if detector.stage == 1 and f.feature in ctx.references:
                ctx.explained[f.feature] = f.cause
            if isinstance(f.evidence, PriorShift):  # the moved features are the prior shift's, not drifts of their own
                ctx.explained.update(dict.fromkeys(f.evidence.features_explained, f.cause))

    for detector in stage_1 if insufficient is None else stage_1[:1]:
        run(detector)
    findings[:] = _with_recoveries(findings, ctx, model)
    _repair(ctx, findings, model)

    if insufficient is None:
        for detector in stage_2:
            if isinstance(detector, FeatureDrift):
                ctx.expected = expected_metric(ctx, findings, _label_shift(stage_2))
            run(detector)

    say("ranking causes")
    production = production_facts(ctx, drop_test)
    attributed = attribute(ctx, findings, _label_shift(stage_2)) if production.get("dropped") else None
    if attributed is not None:  # the steps from golden to production, for whoever wants to check the split
        production["attribution"] = attributed.steps()
    verdict = build_verdict(findings, golden=ctx.golden, production=production,
                            model={"name": model.name, "version": str(model.version)},
                            not_checked=ctx.not_checked, insufficient=insufficient, attribution=attributed)
    return replace(verdict, features=feature_table(ctx))


@dataclass(frozen=True)
class Profiles:
    """The reference binned once, the current data summarised per time window."""

    references: dict[str, NumericReference | CategoricalReference]
    profiles: dict[str, FeatureProfile]
    #: each window's first time (("all",) with one window)
    labels: tuple[str, ...]


def profile_inputs(inputs: Inputs, *, windows: int = 8, say: Callable[[str], None] = lambda message: None) -> Profiles:
    if inputs.scan is not None:  # profiled as the log was read
        return Profiles(inputs.scan.references, inputs.scan.profiles, inputs.scan.labels)
    schema, current = inputs.schema, inputs.current
    n = len(current)
    bounds = window_bounds(n, window_count(n, windows, schema.timestamp is not None))
    labels = tuple(time_label(current[schema.timestamp].iloc[a]) for a, _ in bounds) if len(bounds) > 1 else ("all",)
    reference = (f"the profile of {inputs.profile.rows:,} reference rows" if inputs.profile
                 else f"{len(inputs.reference):,} reference rows")
    say(f"profiling {len(schema.features)} features: {reference}, {n:,} current rows, {len(bounds)} windows")
    references = reference_profiles(inputs)
    with ThreadPoolExecutor(PROFILE_THREADS) as pool:  # numpy sorts without holding the GIL
        profiles = dict(zip(references, pool.map(
            lambda f: profile_feature(current[f] if f in current.columns else None, references[f], bounds), references)))
    return Profiles(references, profiles, labels)


def reference_profiles(inputs: Inputs) -> dict[str, NumericReference | CategoricalReference]:
    """Each feature of the reference binned once (or as its stored profile holds it): what fill
    values and every comparison start from."""
    if inputs.profile is not None:
        return inputs.profile.references
    if inputs.scan is not None:
        return inputs.scan.references
    schema, reference = inputs.schema, inputs.reference

    def binned(f: str) -> NumericReference | CategoricalReference:
        return numeric_reference(f, reference[f].to_numpy(float)) if f in schema.numeric else categorical_reference(f, reference[f])

    features = (*schema.numeric, *schema.categorical)
    with ThreadPoolExecutor(PROFILE_THREADS) as pool:
        return dict(zip(features, pool.map(binned, features)))


def feature_table(ctx: Context | Profiles) -> tuple[FeatureStat, ...]:
    """Drift, null and novelty per feature from the profiles: the curves a run logs, fault or not."""
    rows = []
    for name, ref in ctx.references.items():
        profile = ctx.profiles[name]
        kind = "numeric" if isinstance(ref, NumericReference) else "categorical"
        if not profile.present:
            rows.append(FeatureStat(name, kind, present=False))
            continue
        seen = drift_counts(ref, ref.summary.counts)
        c = profile.overall
        missing = c.n_null + getattr(c, "n_inf", 0)
        inside = [drift_tv(seen, drift_counts(ref, s.counts)) for s in (c, *profile.windows)]
        # as served, the share outside the seen range has moved all the way: out + (1 - out) x the rest's drift
        # (categorical drift counts already hold unseen values, in their pooled bin)
        outside = [out_share(ref, s) if kind == "numeric" else 0.0 for s in (c, *profile.windows)]
        served = [o + (1 - o) * tv for o, tv in zip(outside, inside)]
        rows.append(FeatureStat(
            name, kind, present=True, drift_tv=inside[0], per_window_tv=tuple(inside[1:]),
            served_tv=served[0], per_window_served_tv=tuple(served[1:]),
            null_share=missing / max(c.n, 1), novel_share=out_share(ref, c),
        ))
    return tuple(rows)


def build_context(
    inputs: Inputs,
    model: ModelHandle,
    *,
    baseline: ModelHandle | None = None,
    windows: int = 8,
    seed: int = 0,
    golden: GoldenResult | None = None,
    say: Callable[[str], None] = lambda message: None,
    golden_settings: dict[str, float] | None = None,
) -> Context:
    """Everything the detectors read: reference bins, windowed profiles, samples, scores."""
    schema, current = inputs.schema, inputs.current
    profiled = profile_inputs(inputs, windows=windows, say=say)
    references, profiles, labels = profiled.references, profiled.profiles, profiled.labels
    fill = fill_values(inputs, references)

    if inputs.scan is not None:  # `current` is already the log's sample
        current_sample = current.assign(_window=inputs.scan.sample_windows)
    else:
        n = len(current)
        bounds = window_bounds(n, len(labels))
        window_of_row = np.repeat(np.arange(len(bounds)), [b - a for a, b in bounds])
        keep = np.sort(np.random.default_rng(seed).choice(n, size=min(n, MAX_SCORED_ROWS), replace=False))
        current_sample = current.iloc[keep].assign(_window=window_of_row[keep])
    ref = inputs.reference
    reference_sample = sample_rows(ref, seed)
    reference_labels = inputs.profile.labels if inputs.profile else ref[schema.target].dropna().to_numpy()

    if golden is None:
        say(f"scoring the golden set ({len(inputs.golden):,} rows) with {model.name} v{model.version}"
            + (f" and baseline v{baseline.version}" if baseline else ""))
        golden = evaluate_golden(model, inputs.golden, schema, fill, baseline=baseline, seed=seed, **(golden_settings or {}))
    scored, predictions, proba = _score_current(model, current_sample, schema, fill, labelled=inputs.has_labels)
    pairs, join, join_note = training_pairs(current_sample, inputs)
    ctx = Context(
        schema=schema, references=references, profiles=profiles, window_labels=labels,
        reference_sample=reference_sample, current_sample=current_sample, scored=scored,
        golden_scored=score(model, inputs.golden, schema, fill), golden=golden, training_pairs=pairs,
        training_join=join, fill=fill,
        n_current=inputs.current_rows, reference_labels=reference_labels, current_predictions=predictions,
        current_proba=proba, seed=seed,
    )
    for f, why in schema.skipped:
        ctx.not_checked.append(f"{f}: skipped ({why})")
    if join_note:
        ctx.not_checked.append(join_note)
    if not inputs.has_labels:
        ctx.not_checked.append("production metrics and feature_drift: current data has no labels")
    return ctx


def _score_current(model: ModelHandle, sample: pd.DataFrame, schema, fill: dict[str, object], *,
                   labelled: bool) -> tuple[Scored | None, np.ndarray, np.ndarray | None]:
    """The model's predictions (and probabilities) on every sampled current row, and the labelled
    ones as Scored (or None)."""
    pred, proba, imputed = predict(model, model_input(sample, schema, fill), fill)
    if not labelled:
        return None, pred, proba
    rows = sample[schema.target].notna().to_numpy()
    scored = scored_rows(sample[rows], pred[rows], proba[rows] if proba is not None else None,
                         imputed[rows], schema, model.classes)
    return scored, pred, proba


def _with_recoveries(findings: list[Finding], ctx: Context, model: ModelHandle) -> list[Finding]:
    """Attach to each stage-1 feature finding what repairing that feature would recover: re-scored
    production rows with the change undone, or, for values that are simply missing, their cost
    on the golden rows."""
    if ctx.scored is None:
        return findings
    out = []
    for f in findings:
        if f.recovery is None and f.feature in ctx.references:
            if recovery.lossy(f):
                degraded = recovery.degrade(ctx.golden_scored.frame, f, ctx.fill, ctx.current_sample, ctx.seed)
                f = replace(f, recovery=recovery.golden_cost(model, ctx.golden_scored, degraded, ctx.scored_raw, f,
                                                             ctx.schema, ctx.fill))
            else:
                fixed = recovery.repair(ctx.current_sample, f, ctx.fill, ctx.training_pairs)
                if fixed is not None:
                    f = replace(f, recovery=recovery.estimate(model, ctx.scored_raw, fixed[0], fixed[1], ctx.schema,
                                                              ctx.fill))
        out.append(f)
    return out


def _repair(ctx: Context, findings: list[Finding], model: ModelHandle) -> None:
    """Stage-2 detectors see production with every stage-1 fault undone, once per feature
    (a recalibration also read as skew is one fault). Rows a lossy fault touched (a value
    missing or coarsened cannot be restored) are marked, so checks that compare losses with the
    golden set leave them out."""
    for f in findings:
        if recovery.lossy(f) and f.feature in ctx.references:
            ctx.lossy_rows = ctx.lossy_rows.union(ctx.current_sample.index[recovery.touched(ctx.current_sample, f)])
    repaired, done = ctx.current_sample, set()
    for f in findings:
        if f.feature in ctx.references and f.feature not in done:
            fixed = recovery.repair(repaired, f, ctx.fill, ctx.training_pairs)
            if fixed is not None:
                repaired = fixed[0]
                done.add(f.feature)
    if done:
        ctx.scored, ctx.current_predictions, ctx.current_proba = _score_current(
            model, repaired, ctx.schema, ctx.fill, labelled=ctx.scored_raw is not None)


def _label_shift(stage: tuple) -> LabelShift:
    return next((d for d in stage if isinstance(d, LabelShift)), LabelShift())


def fill_values(inputs: Inputs, references: dict[str, NumericReference | CategoricalReference]) -> dict[str, object]:
    """What a serving system would impute: the reference median, or its most frequent category.

    Read off the reference profiles (already computed) rather than another pass over the rows.
    """
    if inputs.profile is not None:
        return dict(inputs.profile.fill)
    fill: dict[str, object] = {}
    for f in inputs.schema.numeric:
        med = references[f].summary.median
        fill[f] = float(med) if np.isfinite(med) else 0.0
    for f in inputs.schema.categorical:
        ref = references[f]
        counts = ref.summary.counts[:len(ref.categories)]
        # like Series.mode: the smallest of the most frequent categories
        fill[f] = min(ref.categories[counts == counts.max()]) if counts.sum() else ""
    for f in inputs.schema.text:
        mode = inputs.reference[f].mode(dropna=True)
        fill[f] = mode.iloc[0] if len(mode) else ""
    return fill


def _timed(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    start = time.perf_counter()

    def say(message: str) -> None:
        if progress is not None:
            progress(f"[{time.perf_counter() - start:6.1f}s] {message}")

    return say
