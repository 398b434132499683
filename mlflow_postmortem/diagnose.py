"""Wire the core: profile, score, run the detectors stage by stage, repair, rank.

Pure: data frames and a ModelHandle in, a Verdict out. The MLflow and CLI layers call this.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd

from . import recovery, stats
from .data import Inputs
from .detectors import MIN_ROWS, STAGE_1, STAGE_2, Context
from .detectors.data_drift import in_range, out_share
from .golden import evaluate_golden
from .profile import (CategoricalReference, FeatureProfile, NumericReference, categorical_reference, numeric_reference,
                      profile_feature, window_bounds)
from .scoring import metric_value, primary_metric, score
from .types import FeatureStat, Finding, GoldenResult, ModelHandle, Verdict
from .verdict import build_verdict

#: windows smaller than this are merged: onset analysis on a handful of rows is noise
MIN_WINDOW_ROWS = 200
#: bounded samples: rows scored by the model, reference rows for neighbour search
MAX_SCORED_ROWS = 50_000
MAX_REFERENCE_SAMPLE = 4_000
TRAINING_SUFFIX = "__training"


def diagnose(
    inputs: Inputs,
    model: ModelHandle,
    *,
    baseline: ModelHandle | None = None,
    windows: int = 8,
    seed: int = 0,
    golden: GoldenResult | None = None,
    progress: Callable[[str], None] | None = None,
) -> Verdict:
    """`golden`: a golden-set check already done (by the golden_eval step) instead of scoring again."""
    say = _timed(progress)
    ctx = build_context(inputs, model, baseline=baseline, windows=windows, seed=seed, golden=golden, say=say)
    schema = inputs.schema
    insufficient = None
    if ctx.n_current < MIN_ROWS:
        insufficient = f"current data has {ctx.n_current} rows; distribution checks need at least {MIN_ROWS}"
        ctx.not_checked.append(insufficient)

    findings: list[Finding] = []
    said: set[str] = set()
    for detector in STAGE_1 if insufficient is None else STAGE_1[:1]:
        if detector.cause not in said:  # skew has two detectors, with and without a training view
            say(f"checking {detector.cause.replace('_', ' ')}")
            said.add(detector.cause)
        new = detector.detect(ctx)
        findings += new
        ctx.findings = findings
        ctx.explained.update({f.feature: f.cause for f in new if f.feature in ctx.references})

    findings = _with_recoveries(findings, ctx, model)
    if ctx.scored is not None and any(f.recovery for f in findings if f.feature in ctx.references):
        repaired, done = ctx.current_sample, set()
        for f in findings:  # once per feature: a recalibration also read as skew is one fault
            if f.feature in ctx.references and f.feature not in done:
                fixed = recovery.repair(repaired, f, ctx.fill, ctx.training_pairs, schema.entity_id)
                repaired = fixed[0] if fixed else repaired
                done.update([f.feature] if fixed else [])
        ctx.scored = score(model, repaired, schema, ctx.fill)

    if insufficient is None:
        for detector in STAGE_2:
            say(f"checking {detector.cause.replace('_', ' ')}")
            findings += detector.detect(ctx)

    say("ranking causes")
    verdict = build_verdict(findings, golden=ctx.golden, production=_production(ctx, schema),
                            model={"name": model.name, "version": str(model.version)},
                            not_checked=ctx.not_checked, insufficient=insufficient)
    return replace(verdict, features=feature_table(ctx))


@dataclass(frozen=True)
class Profiles:
    """The reference binned once, the current data summarised per time window."""

    references: dict[str, NumericReference | CategoricalReference]
    profiles: dict[str, FeatureProfile]
    bounds: list[tuple[int, int]]
    labels: tuple[str, ...]


def profile_inputs(inputs: Inputs, *, windows: int = 8, say: Callable[[str], None] = lambda message: None) -> Profiles:
    schema, current = inputs.schema, inputs.current
    n = len(current)
    n_windows = min(windows, max(1, n // MIN_WINDOW_ROWS)) if schema.timestamp else 1
    bounds = window_bounds(n, n_windows)
    labels = tuple(_time_label(current[schema.timestamp].iloc[a]) for a, _ in bounds) if len(bounds) > 1 else ("all",)
    say(f"profiling {len(schema.features)} features: {len(inputs.reference):,} reference rows, {n:,} current rows, "
        f"{len(bounds)} windows")
    references = reference_profiles(inputs)
    profiles = {f: profile_feature(current[f] if f in current.columns else None, ref, bounds) for f, ref in references.items()}
    return Profiles(references, profiles, bounds, labels)


def reference_profiles(inputs: Inputs) -> dict[str, NumericReference | CategoricalReference]:
    """Each feature of the reference binned once: what fill values and every comparison start from."""
    schema, reference = inputs.schema, inputs.reference
    return {f: numeric_reference(f, reference[f].to_numpy(float)) if f in schema.numeric
            else categorical_reference(f, reference[f]) for f in (*schema.numeric, *schema.categorical)}


def feature_table(ctx: Context | Profiles) -> tuple[FeatureStat, ...]:
    """Drift, null and novelty per feature from the profiles: the curves a run logs, fault or not."""
    rows = []
    for name, ref in ctx.references.items():
        profile = ctx.profiles[name]
        kind = "numeric" if isinstance(ref, NumericReference) else "categorical"
        if not profile.present:
            rows.append(FeatureStat(name, kind, present=False))
            continue
        seen = in_range(ref, ref.summary)
        c = profile.overall
        missing = c.n_null + getattr(c, "n_inf", 0)
        rows.append(FeatureStat(
            name, kind, present=True,
            drift_tv=stats.debiased_total_variation(seen, in_range(ref, c)) if in_range(ref, c).sum() else 0.0,
            per_window_tv=tuple(stats.debiased_total_variation(seen, in_range(ref, w)) if in_range(ref, w).sum() else 0.0
                                for w in profile.windows),
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
) -> Context:
    """Everything the detectors read: reference bins, windowed profiles, samples, scores."""
    schema, current = inputs.schema, inputs.current
    n = len(current)
    profiled = profile_inputs(inputs, windows=windows, say=say)
    references, profiles, bounds, labels = profiled.references, profiled.profiles, profiled.bounds, profiled.labels
    fill = fill_values(inputs, references)

    rng = np.random.default_rng(seed)
    window_of_row = np.repeat(np.arange(len(bounds)), [b - a for a, b in bounds])
    keep = np.sort(rng.choice(n, size=min(n, MAX_SCORED_ROWS), replace=False))
    current_sample = current.iloc[keep].assign(_window=window_of_row[keep])
    ref = inputs.reference
    reference_sample = ref.iloc[np.sort(rng.choice(len(ref), size=min(len(ref), MAX_REFERENCE_SAMPLE), replace=False))]

    if golden is None:
        say(f"scoring the golden set ({len(inputs.golden):,} rows) with {model.name} v{model.version}"
            + (f" and baseline v{baseline.version}" if baseline else ""))
        golden = evaluate_golden(model, inputs.golden, schema, fill, baseline=baseline, seed=seed)
    ctx = Context(
        schema=schema, references=references, profiles=profiles, window_labels=labels,
        reference_sample=reference_sample, current_sample=current_sample,
        scored=score(model, current_sample, schema, fill) if inputs.has_labels else None,
        golden_scored=score(model, inputs.golden, schema, fill), golden=golden,
        training_pairs=_pairs(current_sample, inputs), fill=fill, n_current=n,
        reference_labels=ref[schema.target].dropna().to_numpy(), natural_unseen=_natural_unseen(reference_sample, schema),
        seed=seed,
    )
    for f, why in schema.skipped:
        ctx.not_checked.append(f"{f}: skipped ({why})")
    if not inputs.has_labels:
        ctx.not_checked.append("production metrics and feature_drift: current data has no labels")
    return ctx


def _with_recoveries(findings: list[Finding], ctx: Context, model: ModelHandle) -> list[Finding]:
    """Attach to each stage-1 feature finding what repairing that feature would recover."""
    if ctx.scored is None:
        return findings
    out = []
    for f in findings:
        if f.recovery is None and f.feature in ctx.references:
            fixed = recovery.repair(ctx.current_sample, f, ctx.fill, ctx.training_pairs, ctx.schema.entity_id)
            if fixed is not None:
                est = recovery.estimate(model, ctx.scored_raw, fixed[0], fixed[1], ctx.schema, ctx.fill)
                f = Finding(f.cause, f.feature, f.strength, f.confidence, f.evidence, f.onset, est)
        out.append(f)
    return out


def fill_values(inputs: Inputs, references: dict[str, NumericReference | CategoricalReference]) -> dict[str, object]:
    """What a serving system would impute: the reference median, or its most frequent category.

    Read off the reference profiles (already computed) rather than another pass over the rows.
    """
    fill: dict[str, object] = {}
    for f in inputs.schema.numeric:
        med = references[f].summary.median
        fill[f] = float(med) if np.isfinite(med) else 0.0
    for f in inputs.schema.categorical:
        ref = references[f]
        counts = ref.summary.counts[:-1]
        # like Series.mode: the smallest of the most frequent categories
        fill[f] = min(ref.categories[counts == counts.max()]) if counts.sum() else ""
    for f in inputs.schema.text:
        mode = inputs.reference[f].mode(dropna=True)
        fill[f] = mode.iloc[0] if len(mode) else ""
    return fill


def _pairs(current_sample: pd.DataFrame, inputs: Inputs) -> pd.DataFrame | None:
    """Serving rows joined to the training view on entity_id (first training row per entity)."""
    tv, key = inputs.training_view, inputs.schema.entity_id
    if tv is None or key is None:
        return None
    cols = [f for f in inputs.schema.features if f in tv.columns]
    training = tv[[key, *cols]].drop_duplicates(key).rename(columns={f: f + TRAINING_SUFFIX for f in cols})
    serving = current_sample[[key, "_window", *[f for f in cols if f in current_sample.columns]]]
    return serving.merge(training, on=key, how="inner")


def _natural_unseen(reference_sample: pd.DataFrame, schema) -> dict[str, float]:
    """Unseen-category share of one half of the reference against the other: the rate that is normal."""
    half = len(reference_sample) // 2
    out = {}
    for f in schema.categorical:
        a, b = reference_sample[f].iloc[:half].dropna(), reference_sample[f].iloc[half:].dropna()
        out[f] = float((~b.isin(set(a))).mean()) if len(b) else 0.0
    return out


def _production(ctx: Context, schema) -> dict:
    """Production metric on labelled rows (the unrepaired ones), overall and per window."""
    out: dict = {"rows": ctx.n_current, "windows": list(ctx.window_labels)}
    scored = ctx.scored_raw
    if scored is None or len(scored.y) == 0:
        out["labelled"] = False
        return out
    name, _ = primary_metric(schema.task)
    value = metric_value(schema.task, name, scored.y, scored.pred)
    golden = ctx.golden
    out.update(labelled=True, labelled_rows=int(len(scored.y)), metric=name, value=value,
               golden_value=golden.value if golden else None,
               within_golden_ci=bool(golden.ci_low <= value <= golden.ci_high) if golden else None)
    windows = ctx.current_sample.loc[scored.frame.index, "_window"].to_numpy()
    out["per_window"] = [metric_value(schema.task, name, scored.y[windows == w], scored.pred[windows == w])
                         if (windows == w).any() else None for w in range(len(ctx.window_labels))]
    return out


def _time_label(value: object) -> str:
    """A window's start as people read it: to the second, no nanoseconds."""
    return value.isoformat(sep=" ", timespec="seconds") if isinstance(value, pd.Timestamp) else str(value)


def _timed(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    start = time.perf_counter()

    def say(message: str) -> None:
        if progress is not None:
            progress(f"[{time.perf_counter() - start:6.1f}s] {message}")

    return say
