"""The production metric as a first-class fact: did it drop below the golden set, what should it
be for today's inputs, and which cause accounts for how much of the drop (see `attribution`).

Pure, like the rest of the core: it reads the detectors' context and findings.
"""

from __future__ import annotations

import numpy as np

from . import attribution
from .detectors import Context
from .detectors.feature_drift import seen_rows
from .detectors.label_shift import LabelShift
from .evidence import PriorShift
from .scoring import primary_metric
from .types import Finding


def production_facts(ctx: Context, drop_test: attribution.DropTest) -> dict:
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
    # the intervals the verdict shows: production's wholly beyond the golden set's is a drop the
    # reader sees, whatever the tests above (built to resist heavy tails) concluded
    beyond = ctx.golden is not None and (out["ci"][1] < ctx.golden.ci_low if name == "accuracy"
                                         else out["ci"][0] > ctx.golden.ci_high)
    whole = gaps[0][1]
    out["drop"] = {"where": where, "amount": gap.amount, "ci": list(gap.ci), "p_value": gap.p_value,
                   "relative": gap.relative, "beyond_golden_interval": bool(beyond)}
    out["dropped"] = drop_test.dropped(gap, len(gaps)) or bool(
        beyond and whole.material(drop_test.min_accuracy_drop, drop_test.min_relative_rmse_rise))
    return out


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
