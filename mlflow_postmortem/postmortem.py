"""One post-mortem, end to end, recorded in MLflow.

A parent run (the `mlflow run` project run, or one created here) holds three child runs, one
per step: `golden_eval` (is the model itself worse?), `drift_report` (per-feature drift curves
and Evidently's reports) and `diagnose` (the verdict, its report, the model-version tags).
Steps pass artifact URIs downstream: `diagnose` reads the golden check from `golden_eval`'s
`golden.json` and links the Evidently reports of `drift_report`.

Each step and the post-mortem as a whole carry a key: a hash of the pinned model version, the
config and the bytes of every data file. A finished step with the same key is reused, and a
finished post-mortem with the same key is reported as a repeat instead of run again.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from .config import Config, load_config, parse_config
from .data import Inputs, load_inputs
from .diagnose import diagnose, feature_table, profile_inputs
from .errors import PostmortemError
from .golden import evaluate_golden
from .report import render_html, render_markdown, render_note
from .scoring import score
from .types import FeatureStat, GoldenResult, ModelHandle, Verdict

STEPS = ("golden_eval", "drift_report", "diagnose")
#: rows Evidently's reports are computed on (the verdict always uses every row)
EVIDENTLY_MAX_ROWS = 50_000
#: on the drift_report and parent runs: the Evidently pages that could not be built, and why
EVIDENTLY_SKIPPED_TAG = "postmortem.evidently.skipped"
Say = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    model_uri: str
    output: Path
    run_id: str | None = None
    #: the earlier identical post-mortem this one repeats, if any
    repeat_of: str | None = None
    dangling: tuple[str, ...] = ()
    #: what the mitigate step did (a MitigationOutcome), when it ran
    mitigation: Any = None


def run_postmortem(config_path: str | Path, output: str | Path, *, tracking_uri: str | None = None,
                   record: bool = True, experiment: str | None = None, mitigate: bool = True,
                   say: Say = lambda message: None) -> Outcome:
    """Run (or recognise) the post-mortem a config describes; write the verdict JSON; mitigate."""
    from .adapters import mlflow as ml

    config = load_config(config_path)
    say(f"tracking store {ml.use_tracking_uri(tracking_uri)}")
    ml.check_tracking_reachable()
    project_run = ml.project_run()
    exp = project_run.experiment_id if project_run else ml.experiment_id(experiment)
    ml.open_as_model_development(exp)
    dangling = tuple(ml.fail_dangling_runs(exp))
    for run_id in dangling:
        say(f"run {run_id} was left RUNNING by a post-mortem that died; marked FAILED")

    pinned = ml.resolve_version(config.model)
    model_uri = pinned.uri if pinned else config.model
    digests = data_digests(config)
    key = _key({"model": model_uri, "config": _config_identity(config), "data": digests})

    name = f"postmortem {pinned.name} v{pinned.version}" if pinned else f"postmortem {model_uri}"
    parent, earlier = _claimed_run("postmortem", key, exp, name, say, project_run=project_run,
                                   tags={"postmortem.model_uri": model_uri})
    if earlier is not None:
        outcome = _repeat(earlier, config, model_uri, Path(output), project_run, dangling, say)
        if mitigate and pinned is not None:  # an earlier `run --no-mitigate` left the mitigation to do
            outcome = replace(outcome, mitigation=_mitigate_step(ml.RunRef(earlier, exp), key, say))
        return outcome
    say(f"post-mortem run {parent.run_id} (experiment {exp})")
    try:
        verdict = _steps(config, model_uri, digests, parent, say)
        verdict = replace(verdict, run_id=parent.run_id)
        _write(verdict, Path(output))
        _record_parent(parent, verdict, config, digests)
        if pinned is not None and record:
            say(f"tagging {model_uri} with postmortem.root_cause={verdict.root_cause}")
            ml.record_version_tags(pinned.name, pinned.version, verdict)
        mitigation = _mitigate_step(parent, key, say) if mitigate and pinned is not None else None
        ml.finish_run(parent)
    except BaseException as exc:
        _fail_quietly(parent, exc)
        raise
    return Outcome(verdict, config.model, Path(output), parent.run_id, dangling=dangling, mitigation=mitigation)


def mitigate_run(diagnosis_run: str, *, tracking_uri: str | None = None, say: Say = lambda message: None):
    """`mitigate --from-run`: act on a finished post-mortem, in the project run or a new child run."""
    from .adapters import mlflow as ml

    say(f"tracking store {ml.use_tracking_uri(tracking_uri)}")
    ml.check_tracking_reachable()
    diagnosis = ml.RunRef(diagnosis_run, ml.run_experiment(diagnosis_run))
    key = ml.run_tags(diagnosis_run).get(ml.KEY_TAG) or f"run {diagnosis_run}"
    return _mitigate_step(diagnosis, key, say, project_run=ml.project_run())


def _mitigate_step(parent, key: str, say: Say, project_run=None):
    """Mitigate the post-mortem `parent` once, however many processes ask at the same moment."""
    from .adapters import mlflow as ml
    from .mitigation import mitigate, mitigation_from_run

    run, earlier = _claimed_run("mitigate", key, parent.experiment_id, "mitigate", say, project_run=project_run,
                                parent=parent)
    if earlier is not None:
        say(f"mitigate: this post-mortem was already mitigated in run {earlier}")
        return mitigation_from_run(earlier)
    ml.set_tags(parent, {"postmortem.mitigate.run_id": run.run_id})
    return guarded(run, lambda: mitigate(parent.run_id, run, say=say))


def _claimed_run(step: str, key: str, experiment: str, name: str, say: Say, *, project_run=None, parent=None,
                 tags: dict[str, str] | None = None):
    """(the run to work in, None), or (None or the project run, the FINISHED run that already did
    the work). Identical runs started together queue in the tracking store (claims.py)."""
    from . import claims
    from .adapters import mlflow as ml

    earlier = ml.find_finished(experiment, key, step=step)
    if earlier is not None:  # the common repeat: no new run at all
        return project_run, earlier
    claim = {ml.STEP_TAG: step, ml.KEY_TAG: key, claims.CLAIM_TAG: claims.CHOOSING, **(tags or {}),
             **({ml.PARENT_TAG: parent.run_id} if parent is not None else {})}
    if project_run is not None:
        ml.claim_run(project_run, {**claim, ml.RUN_NAME_TAG: name})  # not the random name `mlflow run` gave it
        run = project_run
    else:
        run = ml.start_run(experiment, name, parent=parent, tags=claim)
    try:
        earlier = claims.wait_turn(run, key, step, say)
        if earlier is not None:
            ml.withdraw_run(run, delete=project_run is None, tags={"postmortem.repeat_of": earlier})
    except BaseException as exc:
        _fail_quietly(run, exc)
        raise
    return (project_run, earlier) if earlier is not None else (run, None)


def diagnose_config(config_path: str | Path, output: str | Path, *, tracking_uri: str | None = None,
                    record: bool = True, say: Say = lambda message: None) -> Outcome:
    """The verdict alone, no runs: `mlflow-postmortem diagnose`. Tags the version unless told not to."""
    from .adapters import mlflow as ml

    config = load_config(config_path)
    say(f"tracking store {ml.use_tracking_uri(tracking_uri)}")
    ml.check_tracking_reachable()
    model, baseline = load_models(config, say)
    say("reading data")
    verdict = diagnose(load_inputs(config, model.features), model, baseline=baseline, windows=config.windows,
                       detectors=config.detectors, progress=say)
    _write(verdict, Path(output))
    if model.version != ml.UNREGISTERED and record:
        say(f"tagging models:/{model.name}/{model.version} with {ml.ROOT_CAUSE_TAG}={verdict.root_cause}")
        ml.record_version_tags(model.name, model.version, verdict)
    return Outcome(verdict, config.model, Path(output))


def run_step(step: str, config_path: str | Path, *, golden_uri: str | None = None, drift_run: str | None = None,
             say: Say = lambda message: None) -> Verdict | GoldenResult | tuple[FeatureStat, ...]:
    """One step as its own entry point, logging into the run `mlflow run` opened for it."""
    from .adapters import mlflow as ml

    if step not in STEPS:
        raise PostmortemError(f"unknown step {step!r} (steps: {', '.join(STEPS)})")
    config = load_config(config_path)
    ml.check_tracking_reachable()
    run = ml.project_run() or ml.start_run(ml.experiment_id(None), step)
    ml.claim_run(run, {ml.STEP_TAG: step})

    def work() -> Any:
        model, baseline = load_models(config, say)
        inputs = load_inputs(config, model.features)
        digests = data_digests(config)
        if step == "golden_eval":
            return golden_eval(run, config, model, baseline, inputs, digests, say)
        if step == "drift_report":
            return drift_report(run, config, model, inputs, digests, say)
        golden = (golden_from_dict(json.loads(ml.read_artifact_uri_text(golden_uri))) if golden_uri
                  else golden_check(inputs, model, baseline, config.detectors))
        reports = ml.list_artifacts(drift_run, "evidently") if drift_run else []
        return diagnose_step(run, config, model, baseline, inputs, digests, golden, golden_uri or "computed here",
                             drift_run or "-", reports, say)

    return guarded(run, work)


# --- the steps ------------------------------------------------------------------------------

def _steps(config: Config, model_uri: str, digests: dict[str, str], parent, say: Say) -> Verdict:
    from .adapters import mlflow as ml

    model, baseline = load_models(config, say)
    say("reading data")
    inputs = load_inputs(config, model.features)
    common = {"model": model_uri, "baseline": f"{baseline.name}/{baseline.version}" if baseline else None}
    identity = _config_identity(config)
    golden_identity = {k: v for k, v in identity.items() if k != "windows"}  # the golden check has no windows

    golden_run = _step("golden_eval", parent, {**common, "config": _key(golden_identity),
                                               "data.golden": digests["golden"]}, say)
    if golden_run.reused:
        golden = golden_from_dict(json.loads(ml.read_artifact_text(golden_run.run_id, "golden.json")))
    else:
        golden = guarded(golden_run.ref, lambda: golden_eval(golden_run.ref, config, model, baseline, inputs, digests, say))

    common["config"] = _key(identity)
    drift_keys = {**common, **{f"data.{k}": v for k, v in digests.items() if k != "golden"}}
    drift_run = _step("drift_report", parent, drift_keys, say)
    if not drift_run.reused:
        guarded(drift_run.ref, lambda: drift_report(drift_run.ref, config, model, inputs, digests, say))
    reports = ml.list_artifacts(drift_run.run_id, "evidently")
    skipped = ml.run_tags(drift_run.run_id).get(EVIDENTLY_SKIPPED_TAG)
    if skipped:
        ml.set_tags(parent, {EVIDENTLY_SKIPPED_TAG: skipped})

    diag_run = _step("diagnose", parent, {**common, **{f"data.{k}": v for k, v in digests.items()},
                                          "golden_run": golden_run.run_id}, say)
    if diag_run.reused:
        return verdict_from_run(diag_run.run_id)
    golden_uri = f"runs:/{golden_run.run_id}/golden.json"
    return guarded(diag_run.ref, lambda: diagnose_step(diag_run.ref, config, model, baseline, inputs, digests, golden,
                                                    golden_uri, drift_run.run_id, reports, say))


def golden_eval(run, config: Config, model: ModelHandle, baseline: ModelHandle | None, inputs: Inputs,
                digests: dict[str, str], say: Say) -> GoldenResult:
    """Seed step 1: score the golden set with the version and its baseline; log the metrics."""
    from .adapters import mlflow as ml

    say(f"golden_eval: scoring {len(inputs.golden):,} golden rows")
    golden = golden_check(inputs, model, baseline, config.detectors)
    _log_inputs(run, config, inputs, digests, ("golden",))
    ml.log_metrics(run, golden_metrics(golden))
    ml.set_tags(run, {"postmortem.golden.dropped": str(golden.dropped).lower(),
                      "postmortem.golden.baseline": golden.baseline_source or "none"})
    ml.log_artifact_text(run, "golden.json", json.dumps(_plain(asdict(golden)), indent=2))
    return golden


def golden_check(inputs: Inputs, model: ModelHandle, baseline: ModelHandle | None,
                 detectors: dict[str, dict[str, float]] | None = None) -> GoldenResult:
    """The golden set scored with the version and its baseline, missing values filled as serving would."""
    from .detectors import golden_thresholds
    from .diagnose import fill_values, reference_profiles

    return evaluate_golden(model, inputs.golden, inputs.schema, fill_values(inputs, reference_profiles(inputs)),
                           baseline=baseline, **golden_thresholds(detectors))


def drift_report(run, config: Config, model: ModelHandle, inputs: Inputs, digests: dict[str, str], say: Say) -> tuple[FeatureStat, ...]:
    """Per-feature drift, null and novelty shares as metrics and per-window curves; Evidently's reports."""
    from .adapters import evidently
    from .adapters import mlflow as ml

    profiled = profile_inputs(inputs, windows=config.windows, say=lambda m: say(f"drift_report: {m}"))
    table = feature_table(profiled)
    _log_inputs(run, config, inputs, digests, ("reference", "current", "training_view"))
    ml.log_metrics(run, feature_metrics(table))
    _log_window_curves(run, inputs, profiled.bounds,
                       {**{f"drift_tv_served_by_window.{f.feature}": f.per_window_served_tv for f in table if f.present},
                        **{f"drift_tv_seen_range_by_window.{f.feature}": f.per_window_tv for f in table if f.present}})

    say(f"drift_report: Evidently reports on up to {EVIDENTLY_MAX_ROWS:,} rows per frame")
    schema = inputs.schema
    reference, current = _with_predictions(inputs.reference, model, inputs), _with_predictions(inputs.current, model, inputs)
    reports = evidently.build_reports(reference, current, target=schema.target, prediction="prediction",
                                      task=schema.task, numeric=list(schema.numeric),
                                      categorical=list(schema.categorical), max_rows=EVIDENTLY_MAX_ROWS,
                                      source_rows=(len(inputs.reference), len(inputs.current)))
    for report in reports.built:
        ml.log_artifact_text(run, f"evidently/{report.name}.html", report.html)
        ml.log_artifact_text(run, f"evidently/{report.name}.json", json.dumps(report.json, default=str))
        ml.log_params(run, {f"evidently.{report.name}.rows": f"{report.reference_rows} reference, {report.current_rows} current"})
    if reports.skipped:  # a page that cannot be drawn is a note, not the end of the post-mortem
        for skipped in reports.skipped:
            say(f"drift_report: Evidently {skipped.name} page not built: {skipped.reason}")
        ml.set_tags(run, {EVIDENTLY_SKIPPED_TAG: "; ".join(f"{s.name}: {s.reason}" for s in reports.skipped)})
        ml.log_artifact_text(run, "evidently/skipped.json", json.dumps([asdict(s) for s in reports.skipped], indent=2))
    return table


def evidently_skipped(drift_run_id: str, reports: list[str]) -> dict[str, str]:
    """The Evidently pages a drift_report run could not build (name -> reason), from its `evidently/skipped.json`.

    `reports` are the paths listed in that run's `evidently` folder: no file, nothing skipped."""
    from .adapters import mlflow as ml

    if "evidently/skipped.json" not in reports:
        return {}
    return {s["name"]: s["reason"] for s in json.loads(ml.read_artifact_text(drift_run_id, "evidently/skipped.json"))}


def diagnose_step(run, config: Config, model: ModelHandle, baseline: ModelHandle | None, inputs: Inputs,
                  digests: dict[str, str], golden: GoldenResult, golden_uri: str, drift_run_id: str,
                  reports: list[str], say: Say) -> Verdict:
    """The verdict on every row, with the golden check passed downstream; its report and metrics."""
    from .adapters import mlflow as ml

    ml.log_params(run, {"golden_uri": golden_uri, "drift_report_run": drift_run_id})
    verdict = diagnose(inputs, model, baseline=baseline, windows=config.windows, golden=golden,
                       detectors=config.detectors, progress=lambda m: say(f"diagnose: {m}"))
    _log_inputs(run, config, inputs, digests, ("reference", "golden", "current", "training_view"))
    ml.set_tags(run, verdict_tags(verdict))
    ml.log_metrics(run, verdict_metrics(verdict))
    windows = verdict.production.get("per_window") or []
    metric = verdict.production.get("metric")
    if metric and windows:
        _log_window_curves(run, inputs, _bounds(inputs, len(windows)), {f"production.{metric}_by_window": windows})
    evidently_links = {}
    for path in reports:  # copied beside the report, so its links work in the artifact viewer
        if path.endswith(".html"):
            name = Path(path).name
            ml.log_artifact_text(run, f"evidently/{name}", ml.read_artifact_text(drift_run_id, path))
            evidently_links[f"Evidently {Path(path).stem.replace('_', ' ')}"] = f"evidently/{name}"
    ml.log_artifact_text(run, "verdict.json", json.dumps(verdict.to_dict(), indent=2))
    skipped = evidently_skipped(drift_run_id, reports)
    ml.log_artifact_text(run, "report.md", render_markdown(verdict, evidently=evidently_links, evidently_skipped=skipped))
    ml.log_artifact_text(run, "report.html", render_html(verdict, evidently=evidently_links, evidently_skipped=skipped))
    return verdict


# --- what lands in MLflow -------------------------------------------------------------------

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


def _record_parent(parent, verdict: Verdict, config: Config, digests: dict[str, str]) -> None:
    from .adapters import mlflow as ml

    ml.log_params(parent, {"config_file": config.source, "model_uri": config.model,
                           **{f"data.{k}": v for k, v in digests.items()}})
    ml.set_tags(parent, {**verdict_tags(verdict), ml.NOTE_TAG: render_note(verdict)})
    ml.log_metrics(parent, verdict_metrics(verdict))
    ml.log_artifact_text(parent, "verdict.json", json.dumps(verdict.to_dict(), indent=2))
    ml.log_artifact_text(parent, "config.json", json.dumps(_plain(asdict(config)), indent=2))  # what mitigate reads
    # the page a user lands on has the report too (the Evidently pages stay in the diagnose run)
    ml.log_artifact_text(parent, "report.md", render_markdown(verdict))
    ml.log_artifact_text(parent, "report.html", render_html(verdict))


def _log_window_curves(run, inputs: Inputs, bounds: list[tuple[int, int]], curves: dict[str, Any]) -> None:
    """Per-window values as step metrics stamped with the window's start, so the UI draws curves.

    Keys end in `_by_window`, apart from the whole-period value of the same quantity."""
    from .adapters import mlflow as ml

    ts = inputs.current[inputs.schema.timestamp] if inputs.schema.timestamp else None
    for i, (a, _) in enumerate(bounds):
        stamp = int(pd.Timestamp(ts.iloc[a]).value // 1_000_000) if ts is not None else None
        ml.log_metrics(run, rounded({k: v[i] for k, v in curves.items() if i < len(v) and v[i] is not None}),
                       step=i, timestamp_ms=stamp)


# --- reuse, repeats, failure ----------------------------------------------------------------

@dataclass(frozen=True)
class _StepRun:
    ref: Any
    run_id: str
    reused: bool


def _step(name: str, parent, identity: dict[str, Any], say: Say) -> _StepRun:
    """A child run for the step, or the finished run of an identical earlier step."""
    from .adapters import mlflow as ml

    key = _key({"step": name, **identity})
    earlier = ml.find_finished(parent.experiment_id, key, step=name)
    if earlier is not None:
        say(f"{name}: reusing finished run {earlier} (same parameters and data digests)")
        ml.set_tags(parent, {f"postmortem.{name}.run_id": earlier, f"postmortem.{name}.reused": "true"})
        return _StepRun(None, earlier, True)
    ref = ml.start_run(parent.experiment_id, name, parent=parent, tags={ml.STEP_TAG: name, ml.KEY_TAG: key})
    ml.log_params(ref, identity)
    ml.set_tags(parent, {f"postmortem.{name}.run_id": ref.run_id})
    return _StepRun(ref, ref.run_id, False)


def guarded(run, work: Callable[[], Any]) -> Any:
    """Do a run's work; the run ends FINISHED, or FAILED with the reason."""
    from .adapters import mlflow as ml

    try:
        result = work()
    except BaseException as exc:
        _fail_quietly(run, exc)
        raise
    ml.finish_run(run)
    return result


def _fail_quietly(run, exc: BaseException) -> None:
    """Mark a run FAILED without hiding the original error behind a second one."""
    from .adapters import mlflow as ml

    try:
        ml.finish_run(run, exc)
    except PostmortemError:
        pass  # the tracking server is gone too; the next post-mortem marks this run FAILED


def _repeat(earlier: str, config: Config, model_uri: str, output: Path, project_run, dangling, say: Say) -> Outcome:
    from .adapters import mlflow as ml

    say(f"this post-mortem already ran: run {earlier} (same model version, config and data digests); reusing its verdict")
    verdict = verdict_from_run(earlier)
    _write(verdict, output)
    if project_run is not None:
        ml.claim_run(project_run, {"postmortem.repeat_of": earlier, **verdict_tags(verdict)})
    return Outcome(verdict, config.model, output, project_run.run_id if project_run else None, repeat_of=earlier,
                   dangling=dangling)


def verdict_from_run(run_id: str) -> Verdict:
    """A verdict read back from a run's verdict.json (reused steps, repeats, mitigation)."""
    from .adapters import mlflow as ml

    return Verdict.from_dict(json.loads(ml.read_artifact_text(run_id, "verdict.json")))


def config_from_run(run_id: str) -> Config:
    """The config a post-mortem ran with, as its parent run recorded it (paths already absolute)."""
    from .adapters import mlflow as ml

    raw = json.loads(ml.read_artifact_text(run_id, "config.json"))
    raw.pop("source", None)
    return parse_config({k: v for k, v in raw.items() if v not in (None, (), [], {})} | {"mitigation": raw.get("mitigation")},
                        source=f"config of run {run_id}")


# --- helpers --------------------------------------------------------------------------------

def load_models(config: Config, say: Say) -> tuple[ModelHandle, ModelHandle | None]:
    """The version under review and its baseline: the config's, else the previous version, scored
    on the same golden rows (golden metrics recorded on the version are the fallback when there
    is no previous version)."""
    from .adapters import mlflow as ml

    say(f"loading model {config.model}")
    trust = dict(trusted_types=config.skops_trusted_types, trust_pickle=config.trust_pickle)
    model = ml.load_model_handle(config.model, **trust)
    baseline_uri = config.baseline or ml.previous_version_uri(config.model)
    if baseline_uri is not None:
        say(f"loading baseline {baseline_uri}")
    elif model.recorded_golden is not None:
        say("baseline: the golden metric recorded on the version's tags")
    baseline = ml.load_model_handle(baseline_uri, **trust) if baseline_uri else None
    return model, baseline


def data_digests(config: Config) -> dict[str, str]:
    """sha256 of each data file's bytes: two runs with equal digests saw the same data."""
    out = {}
    for role in ("reference", "golden", "current", "training_view"):
        path = getattr(config.data, role)
        if path is None:
            continue
        try:
            with open(path, "rb") as handle:
                out[role] = hashlib.file_digest(handle, "sha256").hexdigest()[:16]
        except OSError as exc:
            raise PostmortemError(f"data.{role}: cannot read {path}: {exc.strerror or exc}") from None
    return out


def golden_from_dict(raw: dict[str, Any]) -> GoldenResult:
    raw = dict(raw)
    if raw.get("delta_ci") is not None:
        raw["delta_ci"] = tuple(raw["delta_ci"])
    return GoldenResult(**raw)


def _log_inputs(run, config: Config, inputs: Inputs, digests: dict[str, str], roles: tuple[str, ...]) -> None:
    """The data a step read, as run inputs with their contexts and file digests."""
    from .adapters import mlflow as ml

    ml.log_datasets(run, [(role, getattr(inputs, role), getattr(config.data, role), digests[role], config.target)
                          for role in roles if getattr(inputs, role) is not None])


def _with_predictions(frame: pd.DataFrame, model: ModelHandle, inputs: Inputs) -> pd.DataFrame:
    """The frame plus the model's predictions, for Evidently's quality report (labelled frames only)."""
    schema = inputs.schema
    if schema.target not in frame.columns or frame[schema.target].isna().all():
        return frame
    sample = frame.sample(min(len(frame), EVIDENTLY_MAX_ROWS), random_state=0) if len(frame) > EVIDENTLY_MAX_ROWS else frame
    scored = score(model, sample, schema, {})
    return sample.loc[scored.frame.index].assign(prediction=scored.pred)


def _bounds(inputs: Inputs, n_windows: int) -> list[tuple[int, int]]:
    from .profile import window_bounds

    return window_bounds(len(inputs.current), n_windows)


def _config_identity(config: Config) -> dict[str, Any]:
    """The config's meaning, without where it was read from or where its data lives."""
    raw = asdict(config)
    raw.pop("source", None)
    raw.pop("data", None)
    return raw


def _key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _write(verdict: Verdict, output: Path) -> None:
    """The verdict JSON at `output`; `-` writes none (the runs keep it as an artifact)."""
    if str(output) == "-":
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(verdict.to_dict(), indent=2) + "\n")
    except OSError as exc:
        raise PostmortemError(f"cannot write --output {output}: {exc.strerror or exc}") from None
