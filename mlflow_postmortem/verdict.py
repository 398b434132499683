"""Rank every cause from the detectors' findings into one verdict, with a plain-language summary.

Without a measured production drop, causes rank by their findings' scores. With one (labelled
production clearly and materially below the golden set), they rank by how much of the drop
each accounts for (see `attribution`), `healthy` cannot come first, and where the causes found
account for less than half of the drop the headline says the drop is unexplained.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from .attribution import Attribution
from .evidence import CodesPermuted
from .types import CAUSES, MITIGATIONS, CauseAssessment, Explains, Finding, GoldenResult, Verdict

#: score of `healthy` when every check ran and none passed its threshold
HEALTHY_SCORE = 0.95
MAX_FEATURES_IN_EVIDENCE = 5
#: score of the fallback cause when production dropped and no check found anything
UNEXPLAINED_SCORE = 0.3


def build_verdict(
    findings: list[Finding],
    *,
    golden: GoldenResult | None,
    production: dict[str, Any],
    model: dict[str, str],
    not_checked: list[str],
    insufficient: str | None = None,
    attribution: Attribution | None = None,
) -> Verdict:
    findings = _demote_superseded(findings)
    by_cause: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_cause[f.cause].append(f)
    dropped = bool(production.get("dropped"))

    assessments = []
    for cause in CAUSES:
        if cause == "healthy":
            continue
        group = sorted(by_cause.get(cause, []), key=lambda f: (f.score, f.strength), reverse=True)
        if not group:
            assessments.append(CauseAssessment(cause, 0.0, (), {"found": False}, MITIGATIONS[cause]))
            continue
        top = group[0]
        features = tuple(dict.fromkeys(f.feature for f in group if f.feature))
        evidence = dict(top.evidence.to_dict(), strength=round(top.strength, 3))
        if len(group) > 1:
            evidence["other_features"] = {f.feature: f.evidence.sentence() for f in group[1:MAX_FEATURES_IN_EVIDENCE]
                                          if f.feature}
        by_contribution = getattr(top.evidence, "features_by_contribution", ())
        features = tuple(dict.fromkeys([*features, *by_contribution]))
        assessments.append(CauseAssessment(cause, top.score, features, evidence, _mitigation(cause, top),
                                           top.recovery, top.onset, _explains(attribution, cause)))

    worst = max((a.score for a in assessments), default=0.0)
    if dropped and worst == 0:
        # labels say production got worse and no check localised it: by elimination the relation
        # between inputs and target changed, said with a low score and an unexplained headline
        drop = production["drop"]
        evidence = {"kind": "unexplained_drop", "metric": production["metric"], "drop": drop["amount"],
                    "p_value": drop["p_value"], "where": drop["where"],
                    "sentence": "labelled production is worse than the golden set and no check explains it"}
        assessments = [a for a in assessments if a.cause != "feature_drift"]
        assessments.append(CauseAssessment("feature_drift", UNEXPLAINED_SCORE, (), evidence, "retrain",
                                           explains=_explains(attribution, "feature_drift")))
        worst = UNEXPLAINED_SCORE
    if worst > 0:
        # a finding past its threshold outranks `healthy`, however modest its own score
        healthy_score, healthy_ev = 0.5 * min(worst, 1 - worst), {"why_not": "at least one detector passed its threshold"}
    elif insufficient:
        healthy_score, healthy_ev = 0.3, {"insufficient_data": insufficient}
    else:
        healthy_score = HEALTHY_SCORE - 0.05 * min(len(not_checked), 4)
        healthy_ev = {"detectors_above_threshold": 0, "checks_not_run": len(not_checked)}
        if golden is not None:
            healthy_ev["golden"] = {"metric": golden.metric, "value": golden.value, "baseline": golden.baseline,
                                    "dropped": golden.dropped}
        if "metric" in production:
            healthy_ev["production"] = {k: production[k] for k in ("metric", "value", "golden_value") if k in production}
    assessments.append(CauseAssessment("healthy", healthy_score, (), healthy_ev, MITIGATIONS["healthy"]))

    strength = {c: max((f.strength for f in by_cause.get(c, [])), default=0.0) for c in CAUSES}

    def rank(a: CauseAssessment) -> tuple:
        accounted = a.explains.accounted if (dropped and a.explains is not None and a.score > 0) else float("-inf")
        return (dropped and a.cause != "healthy" and a.score > 0, accounted, round(a.score, 4), strength[a.cause])

    ranked = tuple(sorted(assessments, key=rank, reverse=True))
    verdict = Verdict(ranked[0].cause, ranked, golden, production, model, tuple(not_checked))
    return replace(verdict, summary=summarize(verdict, insufficient, attribution))


def _mitigation(cause: str, top: Finding) -> str:
    """A relation change no feature localises calls for a retrain, not a fine-tune of the old fit;
    codes reassigned on part of the rows leave no one definition to retrain on: the source that
    files them differently is patched."""
    if cause == "feature_drift" and top.feature is None:
        return "retrain"
    if isinstance(top.evidence, CodesPermuted) and top.evidence.share < 1:
        return "patch_pipeline"
    return MITIGATIONS[cause]


def _explains(attribution: Attribution | None, cause: str) -> Explains | None:
    share = attribution.share(cause) if attribution is not None else None
    if share is None:
        return None
    return Explains(attribution.metric, attribution.drop, attribution.accounted[cause], share)


def _demote_superseded(findings: list[Finding]) -> list[Finding]:
    """A recalibration that was there from the first window reads, without a training view, as skew."""
    skewed = {f.feature: f.score for f in findings
              if f.cause == "training_serving_skew" and f.evidence.kind == "skew_without_view"}
    return [replace(f, score=min(f.score, 0.9 * skewed[f.feature]))
            if f.cause == "feature_recalibration" and f.feature in skewed else f for f in findings]


def headline(v: Verdict, attribution: Attribution | None = None) -> str | None:
    """The first thing a reader needs when production dropped: by how much, and what accounts for it."""
    production = v.production
    if not production.get("dropped"):
        return None
    metric, drop = production["metric"], production["drop"]
    facts = f"production {production['value']:.4g} vs golden {production['golden_value']:.4g}"
    if drop["where"] != "whole log":
        facts += f"; the {drop['where']} of the log: worse by {drop['amount']:.4g}"
    explained = [a for a in v.causes if a.explains is not None and a.score > 0 and a.explains.accounted > 0]
    total = sum(a.explains.share for a in explained)
    amount = attribution.drop if attribution is not None else drop["amount"]
    if not explained or total < 0.5:
        checked = ", ".join(c.cause for c in v.causes if c.cause != "healthy")
        largest = f"; largest share: {explained[0].cause} {explained[0].explains.share:.0%}" if explained else ""
        return f"unexplained drop of {amount:.4g} in {metric} ({facts}){largest}; checked: {checked}"
    top = explained[0]
    return (f"{metric} dropped by {amount:.4g} ({facts}); {top.cause} accounts for {top.explains.accounted:.4g} "
            f"of it ({top.explains.share:.0%})")


def summarize(v: Verdict, insufficient: str | None = None, attribution: Attribution | None = None) -> str:
    top = v.top
    first = headline(v, attribution)
    lines = [first] if first else []
    scope = " (scope: global)" if top.cause == "feature_drift" and not top.features else ""
    lines.append(f"root cause: {top.cause}{scope} (score {top.score:.2f}); mitigation: {top.mitigation}")
    if top.features:
        lines.append(f"features: {', '.join(top.features[:5])}")
    if top.evidence.get("sentence"):
        lines.append(f"evidence: {top.evidence['sentence']}")
    if top.onset is not None and top.onset.pattern != "unknown":
        lines.append(f"onset: {top.onset.pattern} from window {top.onset.first_window}")
    if top.recovery is not None:
        r = top.recovery
        lines.append(f"estimated recovery: {r.metric} {r.before:.4g} -> {r.after:.4g} ({r.repair})")
    if v.golden is not None:
        g = v.golden
        base = f" vs baseline {g.baseline:.4g} ({g.baseline_source})" if g.baseline is not None else " (no baseline)"
        lines.append(f"golden set: {g.metric} {g.value:.4g} [{g.ci_low:.4g}, {g.ci_high:.4g}]{base}"
                     f"{' -> DROPPED' if g.dropped else ''}")
    runner_up = [a for a in v.causes[1:] if a.score >= 0.3]
    if runner_up:
        lines.append("also considered: " + ", ".join(f"{a.cause} {a.score:.2f}" for a in runner_up[:3]))
    if insufficient:
        lines.append(f"insufficient data: {insufficient}")
    if v.not_checked:
        lines.append("not checked: " + "; ".join(v.not_checked))
    return "\n".join(lines)
