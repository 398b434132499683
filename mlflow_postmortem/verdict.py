"""Rank every cause from the detectors' findings into one verdict, with a plain-language summary."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from .types import CAUSES, MITIGATIONS, CauseAssessment, Finding, GoldenResult, Verdict

#: confidence of `healthy` when every check ran and none passed its threshold
HEALTHY_CONFIDENCE = 0.95
MAX_FEATURES_IN_EVIDENCE = 5


def build_verdict(
    findings: list[Finding],
    *,
    golden: GoldenResult | None,
    production: dict[str, Any],
    model: dict[str, str],
    not_checked: list[str],
    insufficient: str | None = None,
) -> Verdict:
    findings = _demote_superseded(findings)
    by_cause: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_cause[f.cause].append(f)

    assessments = []
    for cause in CAUSES:
        if cause == "healthy":
            continue
        group = sorted(by_cause.get(cause, []), key=lambda f: (f.confidence, f.strength), reverse=True)
        if not group:
            assessments.append(CauseAssessment(cause, 0.0, (), {"found": False}, MITIGATIONS[cause]))
            continue
        top = group[0]
        features = tuple(dict.fromkeys(f.feature for f in group if f.feature))
        evidence = dict(top.evidence, strength=round(top.strength, 3))
        if len(group) > 1:
            evidence["other_features"] = {f.feature: _headline(f) for f in group[1:MAX_FEATURES_IN_EVIDENCE] if f.feature}
        if "features_by_contribution" in top.evidence:
            features = tuple(dict.fromkeys([*features, *top.evidence["features_by_contribution"]]))
        assessments.append(CauseAssessment(cause, top.confidence, features, evidence, MITIGATIONS[cause], top.recovery, top.onset))

    worst = max((a.confidence for a in assessments), default=0.0)
    if worst > 0:
        # a finding past its threshold outranks `healthy`, however modest its own confidence
        healthy_conf, healthy_ev = 0.5 * min(worst, 1 - worst), {"why_not": "at least one detector passed its threshold"}
    elif insufficient:
        healthy_conf, healthy_ev = 0.3, {"insufficient_data": insufficient}
    else:
        healthy_conf = HEALTHY_CONFIDENCE - 0.05 * min(len(not_checked), 4)
        healthy_ev = {"detectors_above_threshold": 0, "checks_not_run": len(not_checked)}
        if golden is not None:
            healthy_ev["golden"] = {"metric": golden.metric, "value": golden.value, "baseline": golden.baseline,
                                    "dropped": golden.dropped}
        if "metric" in production:
            healthy_ev["production"] = {k: production[k] for k in ("metric", "value", "ci") if k in production}
    assessments.append(CauseAssessment("healthy", healthy_conf, (), healthy_ev, MITIGATIONS["healthy"]))

    strength = {c: max((f.strength for f in by_cause.get(c, [])), default=0.0) for c in CAUSES}
    ranked = tuple(sorted(assessments, key=lambda a: (round(a.confidence, 4), strength[a.cause]), reverse=True))
    verdict = Verdict(ranked[0].cause, ranked, golden, production, model, tuple(not_checked))
    return replace(verdict, summary=summarize(verdict, insufficient))


def _demote_superseded(findings: list[Finding]) -> list[Finding]:
    """A recalibration that was there from the first window reads, without a training view, as skew."""
    skewed = {f.feature: f.confidence for f in findings
              if f.cause == "training_serving_skew" and f.evidence.get("training_view") is False}
    return [replace(f, confidence=min(f.confidence, 0.9 * skewed[f.feature]))
            if f.cause == "feature_recalibration" and f.feature in skewed else f for f in findings]


def _headline(f: Finding) -> dict[str, Any]:
    keys = ("total_variation", "mismatch_share", "share_rise", "scale", "novel_share", "loss_shift_heterogeneity", "kind")
    return {"strength": round(f.strength, 3), **{k: f.evidence[k] for k in keys if k in f.evidence}}


def summarize(v: Verdict, insufficient: str | None = None) -> str:
    top = v.top
    lines = [f"root cause: {top.cause} (confidence {top.confidence:.2f}); mitigation: {top.mitigation}"]
    if top.features:
        lines.append(f"features: {', '.join(top.features[:5])}")
    facts = _facts(top)
    if facts:
        lines.append(f"evidence: {facts}")
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
    runner_up = [a for a in v.causes[1:] if a.confidence >= 0.3]
    if runner_up:
        lines.append("also considered: " + ", ".join(f"{a.cause} {a.confidence:.2f}" for a in runner_up[:3]))
    if insufficient:
        lines.append(f"insufficient data: {insufficient}")
    if v.not_checked:
        lines.append("not checked: " + "; ".join(v.not_checked))
    return "\n".join(lines)


def _facts(a: CauseAssessment) -> str:
    ev = a.evidence
    parts = []
    for key, fmt in (("kind", "{}"), ("scale", "scale x{:.4g}"), ("offset", "offset {:+.4g}"), ("total_variation", "TV {:.3f}"),
                     ("mismatch_share", "{:.1%} of paired rows differ"), ("share_rise", "+{:.1%} unusable rows"),
                     ("novel_share", "{:.1%} novel rows"), ("unseen_label_share", "{:.1%} unseen labels"),
                     ("loss_shift_heterogeneity", "loss shift concentrated by bin {:.3f}"), ("delta", "golden delta {:+.4g}"),
                     ("out_of_range_share", "{:.1%} outside the seen range"), ("q_value", "q={:.2g}")):
        if key in ev and ev[key] is not None:
            try:
                parts.append(fmt.format(ev[key]))
            except (TypeError, ValueError):
                continue
    return ", ".join(parts)
