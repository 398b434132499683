"""What a post-mortem writes to MLflow and reads back from it.

Metric and tag names, figures rounded to what they mean, the parent run's record (note,
report, verdict, config), and the verdict, golden check and config read back from runs by
reused steps, repeats and mitigation.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .adapters import runs
from .config import Config, parse_config
from .errors import PostmortemError
from .report import render_html, render_markdown, render_note
from .types import FeatureStat, GoldenResult, Verdict

#: decimals a logged figure keeps: metrics and shares 4 (a hundredth of a point), scores 3
DIGITS, SCORE_DIGITS = 4, 3


def rounded(metrics: dict[str, float], digits: int = DIGITS) -> dict[str, float]:
    """Figures as they mean something: 0.005, not 0.0050000000000000044; a value below 1 keeps
    `digits` significant digits too (an MSE of 0.00001234 stays that)."""
    def one(v: float) -> float:
        if not math.isfinite(v) or v == 0:
            return v
        return round(v, max(digits, digits - math.floor(math.log10(abs(v))) - 1))

    return {k: one(float(v)) for k, v in metrics.items()}


def golden_metrics(golden: GoldenResult) -> dict[str, float]:
    out = {f"golden.{k}": v for k, v in golden.metrics.items()}
    out.update({f"golden.{golden.metric}.ci_low": golden.ci_low, f"golden.{golden.metric}.ci_high": golden.ci_high})
    if golden.baseline is not None:
        out[f"golden.baseline.{golden.metric}"] = golden.baseline
        out[f"golden.delta.{golden.metric}"] = golden.delta
    return rounded(out)


def feature_metrics(table: tuple[FeatureStat, ...]) -> dict[str, float]:
    """Drift twice, so a broken feature never reads "no drift": as served (values outside the seen
    range count as moved) and within the seen range (what data_drift judges; the rest is novelty)."""
    out: dict[str, float] = {}
    for f in table:
        if f.present:
            out.update({f"drift_tv_served.{f.feature}": f.served_tv, f"drift_tv_seen_range.{f.feature}": f.drift_tv,
                        f"null_share.{f.feature}": f.null_share, f"novel_share.{f.feature}": f.novel_share})
    return rounded(out)


def verdict_tags(verdict: Verdict) -> dict[str, str]:
    top = verdict.top
    return {"postmortem.root_cause": verdict.root_cause, "postmortem.score": f"{top.score:.3f}",
            "postmortem.production_dropped": str(bool(verdict.production.get("dropped"))).lower(),
            "postmortem.features": ",".join(top.features) or "-", "postmortem.mitigation": top.mitigation,
            "postmortem.model": f"{verdict.model['name']}/{verdict.model['version']}"}


def verdict_metrics(verdict: Verdict) -> dict[str, float]:
    scores = {f"score.{c.cause}": c.score for c in verdict.causes}
    scores.update({f"explains.{c.cause}": c.explains.share for c in verdict.causes if c.explains is not None})
    out: dict[str, float] = {}
    for c in verdict.causes:
        if c.recovery is not None and c.score > 0:
            key = f"recovery.{c.cause}.{c.recovery.metric}"
            out.update({f"{key}.before": c.recovery.before, f"{key}.after": c.recovery.after})
    prod = verdict.production
    if prod.get("metric") and prod.get("value") is not None:
        out[f"production.{prod['metric']}"] = prod["value"]
    return {**rounded(scores, SCORE_DIGITS), **rounded(out)}


def record_parent(parent: runs.RunRef, verdict: Verdict, config: Config, digests: dict[str, str]) -> None:
    """The page a user lands on: the verdict as its description, tags, metrics and report (the
    Evidently pages stay in the diagnose run), and the config mitigate reads back."""
    runs.log_params(parent, {"config_file": config.source, "model_uri": config.model,
                             **{f"data.{k}": v for k, v in digests.items()}})
    runs.set_tags(parent, {**verdict_tags(verdict), runs.NOTE_TAG: render_note(verdict)})
    runs.log_metrics(parent, verdict_metrics(verdict))
    runs.log_artifact_text(parent, "verdict.json", json.dumps(verdict.to_dict(), indent=2))
    # without `alerts`: only monitor reads them, and a webhook URL may hold a token
    recorded = {k: v for k, v in asdict(config).items() if k != "alerts"}
    recorded["data"] = config.data.as_written()
    runs.log_artifact_text(parent, "config.json", json.dumps(plain(recorded), indent=2))
    runs.log_artifact_text(parent, "report.md", render_markdown(verdict))
    runs.log_artifact_text(parent, "report.html", render_html(verdict))


def verdict_from_run(run_id: str) -> Verdict:
    """A verdict read back from a run's verdict.json (reused steps, repeats, mitigation)."""
    return Verdict.from_dict(json.loads(runs.read_artifact_text(run_id, "verdict.json")))


def config_from_run(run_id: str) -> Config:
    """The config a post-mortem ran with, as its parent run recorded it (paths already absolute)."""
    raw = json.loads(runs.read_artifact_text(run_id, "config.json"))
    raw.pop("source", None)
    return parse_config({k: v for k, v in raw.items() if v not in (None, (), [], {})} | {"mitigation": raw.get("mitigation")},
                        source=f"config of run {run_id}")


def golden_from_dict(raw: dict[str, Any]) -> GoldenResult:
    raw = dict(raw)
    if raw.get("delta_ci") is not None:
        raw["delta_ci"] = tuple(raw["delta_ci"])
    return GoldenResult(**raw)


def evidently_skipped(drift_run_id: str, reports: list[str]) -> dict[str, str]:
    """The Evidently pages a drift_report run could not build (name -> reason), from its `evidently/skipped.json`.

    `reports` are the paths listed in that run's `evidently` folder: no file, nothing skipped."""
    if "evidently/skipped.json" not in reports:
        return {}
    return {s["name"]: s["reason"] for s in json.loads(runs.read_artifact_text(drift_run_id, "evidently/skipped.json"))}


def plain(value: Any) -> Any:
    """JSON-ready: numpy scalars as numbers, anything else unknown as its string."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def write_verdict(verdict: Verdict, output: Path) -> None:
    """The verdict JSON at `output`; `-` writes none (the runs keep it as an artifact)."""
    if str(output) == "-":
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(verdict.to_dict(), indent=2) + "\n")
    except OSError as exc:
        raise PostmortemError(f"cannot write --output {output}: {exc.strerror or exc}") from None
