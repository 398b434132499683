"""Wire the core: profile, score, run the detectors stage by stage, repair, attribute, rank.

Pure: data frames and a ModelHandle in, a Verdict out. The MLflow and CLI layers call this.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import attribution, recovery
from .data import Inputs
from .detectors import MIN_ROWS, Context, configured, golden_thresholds
from .detectors.data_drift import drift_tv, drift_counts, out_share
from .detectors.feature_drift import FeatureDrift, seen_rows
from .detectors.label_shift import LabelShift
from .evidence import PriorShift
from .golden import evaluate_golden
from .profile import (CategoricalReference, FeatureProfile, NumericReference, categorical_reference, numeric_reference,
                      profile_feature, window_bounds)
from .scoring import Scored, model_input, predict, primary_metric, score, scored_rows
from .types import FeatureStat, Finding, GoldenResult, ModelHandle, Verdict
from .verdict import build_verdict

#: windows smaller than this are merged: onset analysis on a handful of rows is noise
MIN_WINDOW_ROWS = 200
#: bounded samples: rows scored by the model, reference rows for neighbour search and class mixtures
MAX_SCORED_ROWS = 50_000
MAX_REFERENCE_SAMPLE = 10_000
TRAINING_SUFFIX = "__training"


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
                        materiality=golden_thresholds(detectors))
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
    production = _production(ctx, drop_test)
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
        seen = drift_counts(ref, ref.summary.counts)
        c = profile.overall
        missing = c.n_null + getattr(c, "n_inf", 0)
        rows.append(FeatureStat(
            name, kind, present=True, drift_tv=drift_tv(seen, drift_counts(ref, c.counts)),
            per_window_tv=tuple(drift_tv(seen, drift_counts(ref, w.counts)) for w in profile.windows),
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
    materiality: dict[str, float] | None = None,
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
        golden = evaluate_golden(model, inputs.golden, schema, fill, baseline=baseline, seed=seed, **(materiality or {}))
    scored, predictions = _score_current(model, current_sample, schema, fill, labelled=inputs.has_labels)
    pairs, join, join_note = training_pairs(current_sample, inputs)
    ctx = Context(
        schema=schema, references=references, profiles=profiles, window_labels=labels,
        reference_sample=reference_sample, current_sample=current_sample, scored=scored,
        golden_scored=score(model, inputs.golden, schema, fill), golden=golden, training_pairs=pairs,
        training_join=join, fill=fill,
        n_current=n, reference_labels=ref[schema.target].dropna().to_numpy(), current_predictions=predictions,
        seed=seed,
    )
    for f, why in schema.skipped:
        ctx.not_checked.append(f"{f}: skipped ({why})")
    if join_note:
        ctx.not_checked.append(join_note)
    if not inputs.has_labels:
        ctx.not_checked.append("production metrics and feature_drift: current data has no labels")
    return ctx


def _score_current(model: ModelHandle, sample: pd.DataFrame, schema, fill: dict[str, object], *,
                   labelled: bool) -> tuple[Scored | None, np.ndarray]:
    """The model's predictions on every sampled current row, and the labelled ones as Scored (or None)."""
    pred, proba, imputed = predict(model, model_input(sample, schema, fill), fill)
    if not labelled:
        return None, pred
    rows = sample[schema.target].notna().to_numpy()
    scored = scored_rows(sample[rows], pred[rows], proba[rows] if proba is not None else None,
                         imputed[rows], schema, model.classes)
    return scored, pred


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
        ctx.scored, ctx.current_predictions = _score_current(model, repaired, ctx.schema, ctx.fill,
                                                             labelled=ctx.scored_raw is not None)


def _label_shift(stage: tuple) -> LabelShift:
    return next((d for d in stage if isinstance(d, LabelShift)), LabelShift())


def expected_metric(ctx: Context, findings: list[Finding], label_shift: LabelShift) -> attribution.Expected | None:
    """What the golden set predicts for today's labelled inputs (see `attribution`)."""
    if ctx.scored is None:
        return None
    task = ctx.schema.task
    metric, _ = primary_metric(task)
    golden = ctx.golden_scored
    contributions = attribution.contributions(task, golden)
    prior = [f for f in findings if isinstance(f.evidence, PriorShift)]
    seen = seen_rows(ctx, ctx.scored.frame)
    if prior:
        weights = label_shift.golden_weights(ctx, prior[0].evidence)
        estimate = attribution.MetricEstimate.of(metric, contributions, weights)
        g_strata, c_strata = label_shift.classes_of(ctx, golden.y), label_shift.classes_of(ctx, ctx.scored.y[seen])
        return attribution.Expected(estimate, "golden rows reweighted to the current target shares", 0.0,
                                    contributions, g_strata, c_strata)
    current = attribution.score_of(ctx.scored)[seen]
    if len(current) == 0:  # every labelled row is novel: nothing to weight golden rows toward
        return attribution.Expected.unweighted(metric, contributions, thin_share=1.0)
    g_strata, c_strata = attribution.strata(attribution.score_of(golden), current)
    estimate, thin = attribution.stratified_estimate(metric, contributions, g_strata, c_strata)
    return attribution.Expected(estimate, "golden rows weighted to where production's model scores fall", thin,
                                contributions, g_strata, c_strata)


def attribute(ctx: Context, findings: list[Finding], label_shift: LabelShift) -> attribution.Attribution | None:
    """Each cause's part of the drop from the golden set to production (see `attribution`)."""
    if ctx.scored is None or ctx.scored_raw is None:
        return None
    task = ctx.schema.task
    metric, _ = primary_metric(task)

    def value(scored, mask=None) -> float:
        c = attribution.contributions(task, scored)
        return attribution.MetricEstimate.of(metric, c if mask is None else c[mask]).value

    golden = ctx.golden.value if ctx.golden is not None else value(ctx.golden_scored)
    expected = ctx.expected or expected_metric(ctx, findings, label_shift)
    intact = ~ctx.scored.frame.index.isin(ctx.lossy_rows)
    seen = seen_rows(ctx, ctx.scored.frame)
    served = value(ctx.scored_raw)
    if not intact.any():  # a lossy fault touched every row: nothing in production to measure the rest on
        repaired = seen_value = expected_value = golden
    else:
        repaired = value(ctx.scored, intact)
        seen_value = value(ctx.scored, seen) if seen.any() else repaired
        # inputs too far from the golden rows to predict: the move and any change of relation are one step
        expected_value = expected.estimate.value if expected.reliable else seen_value
    worse = lambda a, b: attribution.worse_by(task, a, b)  # noqa: E731
    steps = {"data_drift": worse(expected_value, golden),
             "feature_drift": worse(seen_value, expected_value),
             "prediction_label_bias": worse(repaired, seen_value)}
    causes = {f.cause for f in findings}
    if "prediction_label_bias" not in causes and "data_drift" in causes:
        # rows past the seen range with no novelty finding are where drift carried the inputs
        steps["data_drift"] += steps.pop("prediction_label_bias")
    accounted = {cause: amount for cause, amount in steps.items() if cause in causes}
    # stage-1 faults: production as served against the intact rows repaired, split as the single repairs
    # (or, for lossy faults, their cost on golden rows) would
    gains: dict[str, float] = {}
    for f in findings:
        if f.recovery is not None and f.feature in ctx.references:
            gains[f.cause] = gains.get(f.cause, 0.0) + max(attribution.worse_by(task, f.recovery.before,
                                                                                 f.recovery.after), 0.0)
    total = sum(gains.values())
    for cause, gain in gains.items():
        accounted[cause] = accounted.get(cause, 0.0) + worse(served, repaired) * (gain / total if total > 0
                                                                                 else 1 / len(gains))
    return attribution.Attribution(metric, golden, expected_value, seen_value, repaired, served,
                                   worse(served, golden), accounted, expected.how)


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
        counts = ref.summary.counts[:len(ref.categories)]
        # like Series.mode: the smallest of the most frequent categories
        fill[f] = min(ref.categories[counts == counts.max()]) if counts.sum() else ""
    for f in inputs.schema.text:
        mode = inputs.reference[f].mode(dropna=True)
        fill[f] = mode.iloc[0] if len(mode) else ""
    return fill


def training_pairs(current_sample: pd.DataFrame, inputs: Inputs) -> tuple[pd.DataFrame | None, str, str | None]:
    """Each sampled serving row's twin in the training view (indexed like the sample), how they
    were joined, and a note on rows that could not be paired.

    With the config's timestamp in the view, the twin is the entity's latest view row at or
    before the serving time (point in time: a feature that legitimately changes per entity is
    not skew). Without it, an entity with several view rows is ambiguous and left unpaired.
    """
    view, key, ts = inputs.training_view, inputs.schema.entity_id, inputs.schema.timestamp
    if view is None or key is None:
        return None, "", None
    cols = [f for f in inputs.schema.features if f in view.columns]
    renamed = {f: f + TRAINING_SUFFIX for f in cols}
    serving = current_sample[[key]].assign(_row=current_sample.index)
    if ts and ts in view.columns:
        utc = {ts: lambda frame: pd.to_datetime(frame[ts], utc=True)}  # one time zone on both sides
        training = view[[key, ts, *cols]].rename(columns=renamed).assign(**utc).dropna(subset=[ts])
        training = training.sort_values(ts, kind="stable")
        serving = serving.assign(**{ts: current_sample[ts]}).assign(**utc).dropna(subset=[ts]).sort_values(ts, kind="stable")
        pairs = pd.merge_asof(serving, training.assign(_found=True), on=ts, by=key, direction="backward")
        pairs = pairs[pairs["_found"].notna()]
        unpaired = len(serving) - len(pairs)
        note = (f"training_serving_skew: {unpaired} sampled serving rows have no training-view row at or before "
                f"their time, and were not compared") if unpaired else None
        join = "entity_id and time (the view's row at or before each serving time)"
    else:
        counts = view[key].value_counts()
        ambiguous = counts[counts > 1].index
        training = view.loc[~view[key].isin(ambiguous), [key, *cols]].rename(columns=renamed)
        pairs = serving.merge(training, on=key, how="inner")
        note = (f"training_serving_skew: {len(ambiguous)} entities have several training-view rows and the view has "
                f"no {ts or 'timestamp'!r} column to pick the one in force; they were not compared"
                ) if len(ambiguous) else None
        join = "entity_id"
    return pairs.set_index("_row")[list(renamed.values())], join, note


def _production(ctx: Context, drop_test: attribution.DropTest) -> dict:
    """Production metric on labelled rows as served, overall and per window, and whether it
    dropped below the golden set (clearly and materially)."""
    out: dict = {"rows": ctx.n_current, "windows": list(ctx.window_labels)}
    scored = ctx.scored_raw
    if scored is None or len(scored.y) == 0:
        out["labelled"] = False
        return out
    task = ctx.schema.task
    name, _ = primary_metric(task)
    contributions = attribution.contributions(task, scored)
    production = attribution.MetricEstimate.of(name, contributions)
    golden_rows = attribution.contributions(task, ctx.golden_scored)
    golden = attribution.MetricEstimate.of(name, golden_rows)
    windows = ctx.current_sample.loc[scored.frame.index, "_window"].to_numpy()
    half = 1.96 * production.se if name == "accuracy" else 1.96 * production.se / (2 * max(production.value, 1e-12))
    out.update(labelled=True, labelled_rows=int(len(scored.y)), metric=name, value=production.value,
               ci=[production.value - half, production.value + half], golden_value=golden.value,
               within_golden_ci=bool(ctx.golden.ci_low <= production.value <= ctx.golden.ci_high) if ctx.golden else None,
               per_window=[attribution.MetricEstimate.of(name, contributions[windows == w]).value
                           if (windows == w).any() else None for w in range(len(ctx.window_labels))])
    if scored.imputed_rows:
        out["imputed_rows"] = scored.imputed_rows
        ctx.not_checked.append(f"production metric: {scored.imputed_rows} labelled rows have missing values the model "
                               "refuses; they were scored with the reference's typical values, as a serving system "
                               "that imputes would")
    def against_golden(mask: np.ndarray) -> attribution.Gap:
        rows = contributions[mask]
        # both a rank test (heavy tails) and a window-clustered z-test (autocorrelated logs) must reject
        p = max(attribution.worse_pvalue(name, rows, golden_rows),
                attribution.clustered_pvalue(name, rows, windows[mask], golden))
        return attribution.gap(attribution.MetricEstimate.of(name, rows), golden, p)

    gaps = [(where, against_golden(mask)) for where, mask in attribution.log_parts(windows, len(ctx.window_labels))]
    where, gap = max(gaps, key=lambda item: (drop_test.dropped(item[1], len(gaps)), -item[1].p_value))
    out["drop"] = {"where": where, "amount": gap.amount, "ci": list(gap.ci), "p_value": gap.p_value,
                   "relative": gap.relative}
    out["dropped"] = drop_test.dropped(gap, len(gaps))
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
