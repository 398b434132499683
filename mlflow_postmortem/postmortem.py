"""One post-mortem, end to end, recorded in MLflow: what the commands and entry points call.

A parent run (the `mlflow run` project run, or one created here) holds one child run per step
(steps.py) and, when the version is registered, the mitigation (mitigation.py). A finished
post-mortem with the same key (lifecycle.py) is reported as a repeat instead of run again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .adapters import registry, runs, tracking
from .config import Config, load_config
from .data import load_inputs
from .diagnose import diagnose
from .errors import PostmortemError
from .golden_refresh import golden_in_use
from .lifecycle import (Placement, Say, claimed_run, config_identity, data_digests, digest, fail_quietly, guarded,
                        placement, point_to)
from .records import golden_from_dict, record_parent, verdict_from_run, verdict_tags, write_verdict
from .reference_store import profile_in_use
from .steps import STEPS, diagnose_step, drift_report, golden_check, golden_eval, load_models, run_steps
from .types import FeatureStat, GoldenResult, Verdict

#: on a post-mortem an alert started: the monitoring run that raised it
TRIGGERED_BY_TAG = "postmortem.triggered_by"


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
    #: the post-mortem's page in the MLflow UI
    url: str | None = None


def run_postmortem(config_path: str | Path, output: str | Path, *, tracking_uri: str | None = None,
                   record: bool = True, experiment: str | None = None, mitigate: bool = True,
                   triggered_by: runs.RunRef | None = None, say: Say = lambda message: None) -> Outcome:
    """Run (or recognise) the post-mortem a config describes; write the verdict JSON; mitigate.

    `triggered_by`: the monitoring run whose alert started it; the post-mortem then gets a run of
    its own in that run's experiment (never the project run of a `mlflow run -e monitor`), tagged
    `postmortem.triggered_by`."""
    config = load_config(config_path)
    say(f"tracking store {tracking.use_tracking_uri(tracking_uri)}")
    tracking.check_tracking_reachable()
    where = placement(experiment, say) if triggered_by is None else Placement(triggered_by.experiment_id, None, None, ())
    project_run, exp = where.project_run, where.experiment

    pinned = registry.resolve_version(config.model)
    config = profile_in_use(golden_in_use(config, pinned, say), pinned, say)
    model_uri = pinned.uri if pinned else config.model
    digests = data_digests(config)
    key = digest({"model": model_uri, "config": config_identity(config), "data": digests})

    name = f"postmortem {pinned.name} v{pinned.version}" if pinned else f"postmortem {model_uri}"
    parent, earlier = claimed_run("postmortem", key, exp, name, say, project_run=project_run,
                                  tags={"postmortem.model_uri": model_uri,
                                        **({TRIGGERED_BY_TAG: triggered_by.run_id} if triggered_by else {})},
                                  anywhere=True)
    if earlier is not None:
        outcome = _repeat(earlier, config, Path(output), project_run, where.dangling, say)
        point_to(where.pointer, earlier, f"{name} (repeat)", verdict_tags(outcome.verdict))
        if mitigate and pinned is not None:  # an earlier `run --no-mitigate` left the mitigation to do
            outcome = replace(outcome, mitigation=_mitigate_step(runs.RunRef(earlier, runs.run_experiment(earlier)),
                                                                 key, say))
        return outcome
    say(f"post-mortem run {parent.run_id} (experiment {exp})")
    try:
        verdict = run_steps(config, model_uri, digests, parent, say, keep_profile=record)
        verdict = replace(verdict, run_id=parent.run_id)
        write_verdict(verdict, Path(output))
        record_parent(parent, verdict, config, digests)
        point_to(where.pointer, parent.run_id, name, verdict_tags(verdict))
        if pinned is not None and record:
            say(f"tagging {model_uri} with postmortem.root_cause={verdict.root_cause}")
            registry.record_version_tags(pinned.name, pinned.version, verdict)
        mitigation = _mitigate_step(parent, key, say) if mitigate and pinned is not None else None
        runs.finish_run(parent)
    except BaseException as exc:
        fail_quietly(parent, exc)
        raise
    return Outcome(verdict, config.model, Path(output), parent.run_id, dangling=where.dangling, mitigation=mitigation,
                   url=runs.ui_url(exp, parent.run_id))


def mitigate_run(diagnosis_run: str, *, tracking_uri: str | None = None, say: Say = lambda message: None):
    """`mitigate --from-run`: act on a finished post-mortem, in the project run or a new child run."""
    say(f"tracking store {tracking.use_tracking_uri(tracking_uri)}")
    tracking.check_tracking_reachable()
    diagnosis = runs.RunRef(diagnosis_run, runs.run_experiment(diagnosis_run))
    key = runs.run_tags(diagnosis_run).get(runs.KEY_TAG) or f"run {diagnosis_run}"
    return _mitigate_step(diagnosis, key, say, project_run=runs.project_run())


def _mitigate_step(parent: runs.RunRef, key: str, say: Say, project_run: runs.RunRef | None = None):
    """Mitigate the post-mortem `parent` once, however many processes ask at the same moment."""
    from .mitigation import mitigate, mitigation_from_run

    run, earlier = claimed_run("mitigate", key, parent.experiment_id, "mitigate", say, project_run=project_run,
                               parent=parent)
    if earlier is not None:
        say(f"mitigate: this post-mortem was already mitigated in run {earlier}")
        return mitigation_from_run(earlier)
    runs.set_tags(parent, {"postmortem.mitigate.run_id": run.run_id})
    return guarded(run, lambda: mitigate(parent.run_id, run, say=say))


def diagnose_config(config_path: str | Path, output: str | Path, *, tracking_uri: str | None = None,
                    record: bool = True, say: Say = lambda message: None) -> Outcome:
    """The verdict alone, no runs: `mlflow-postmortem diagnose`. Tags the version unless told not to."""
    config = load_config(config_path)
    say(f"tracking store {tracking.use_tracking_uri(tracking_uri)}")
    tracking.check_tracking_reachable()
    version = registry.resolve_version(config.model)
    config = profile_in_use(golden_in_use(config, version, say), version, say)
    model, baseline = load_models(config, say)
    say("reading data")
    verdict = diagnose(load_inputs(config, model.features, profile_reference=True, say=say), model, baseline=baseline, windows=config.windows,
                       detectors=config.detectors, progress=say)
    write_verdict(verdict, Path(output))
    if model.version != registry.UNREGISTERED and record:
        say(f"tagging models:/{model.name}/{model.version} with {registry.ROOT_CAUSE_TAG}={verdict.root_cause}")
        registry.record_version_tags(model.name, model.version, verdict)
    return Outcome(verdict, config.model, Path(output))


def run_step(step: str, config_path: str | Path, *, golden_uri: str | None = None, drift_run: str | None = None,
             say: Say = lambda message: None) -> Verdict | GoldenResult | tuple[FeatureStat, ...]:
    """One step as its own entry point, logging into the run `mlflow run` opened for it."""
    if step not in STEPS:
        raise PostmortemError(f"unknown step {step!r} (steps: {', '.join(STEPS)})")
    config = load_config(config_path)
    tracking.check_tracking_reachable()
    version = registry.resolve_version(config.model)
    config = profile_in_use(golden_in_use(config, version, say), version, say)
    run = runs.project_run() or runs.start_run(runs.experiment_id(None), step)
    runs.claim_run(run, {runs.STEP_TAG: step})

    def work() -> Any:
        model, baseline = load_models(config, say)
        inputs = load_inputs(config, model.features, profile_reference=True)
        digests = data_digests(config)
        if step == "golden_eval":
            return golden_eval(run, config, model, baseline, inputs, digests, say)
        if step == "drift_report":
            return drift_report(run, config, model, inputs, digests, say)
        golden = (golden_from_dict(json.loads(runs.read_artifact_uri_text(golden_uri))) if golden_uri
                  else golden_check(inputs, model, baseline, config.detectors))
        reports = runs.list_artifacts(drift_run, "evidently") if drift_run else []
        return diagnose_step(run, config, model, baseline, inputs, digests, golden, golden_uri or "computed here",
                             drift_run or "-", reports, say)

    return guarded(run, work)


def _repeat(earlier: str, config: Config, output: Path, project_run: runs.RunRef | None, dangling: tuple[str, ...],
            say: Say) -> Outcome:
    say(f"this post-mortem already ran: run {earlier} (same model version, config and data digests); reusing its verdict")
    verdict = verdict_from_run(earlier)
    write_verdict(verdict, output)
    if project_run is not None:
        runs.claim_run(project_run, {"postmortem.repeat_of": earlier, **verdict_tags(verdict)})
    return Outcome(verdict, config.model, output, project_run.run_id if project_run else None, repeat_of=earlier,
                   dangling=dangling, url=runs.ui_url(runs.run_experiment(earlier), earlier))
