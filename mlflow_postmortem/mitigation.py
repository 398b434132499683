"""Act on a verdict, and only in the way it calls for.

`mitigate` reads a finished post-mortem run and, per the root cause's mitigation id:
- `retrain`, `fine_tune`, `online_update`, `retrain_correct_feature_version`: launches a
  training run (the user's MLflow Project named in `mitigation.project`, or the reference
  trainer `mlflow_postmortem/trainer`, in the package) as a child of the post-mortem run, registers the model it
  logged as a new version of the same registered model, tags it with the diagnosis, runs the
  challenger gate, sets `challenger`, and moves `champion` only if the gate passes and the
  config says `mitigation.promote: true`;
- `patch_pipeline`, `fix_feature_computation`: no training; an action plan artifact and the
  version tagged `postmortem.action_required`;
- `none`: nothing.
A second `mitigate` of the same diagnosis finds the version the first one registered.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import retrain, scoring
from .adapters import models, projects, registry, runs
from .config import Config
from .data import Inputs, load_inputs
from .errors import ConfigError, PostmortemError
from .evaluate_versions import evaluate_into
from .gate import Check, Rule, judge
from .golden_refresh import refresh_after_mitigation
from .records import config_from_run, rounded, verdict_from_run
from .reference_store import profile_in_use
from .scoring import metric_value, primary_metric, score
from .types import Verdict

#: the reference trainer (an MLflow Project), shipped inside the package: found in a wheel install too
REFERENCE_TRAINER = Path(__file__).resolve().parent / "trainer"
TRAINING_ACTIONS = ("retrain", "fine_tune", "online_update", "retrain_correct_feature_version")
PLAN_ACTIONS = ("patch_pipeline", "fix_feature_computation")
#: on a version a mitigation registered: `passed` or `failed`, written once its gate finished
GATE_TAG = "postmortem.gate"
Say = Callable[[str], None]


@dataclass(frozen=True)
class MitigationOutcome:
    action: str
    model: str
    version: str | None = None
    training_run: str | None = None
    gate_passed: bool | None = None
    promoted: bool = False
    reused: bool = False
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.version is None:
            return f"mitigation: {self.action}" + (f" ({'; '.join(self.notes)})" if self.notes else "")
        gate = ("gate passed; alias challenger; " + ("champion moved to it" if self.promoted else "champion unchanged")
                if self.gate_passed else "gate failed; no alias moved")
        how = f"reused from an earlier mitigation of this diagnosis; {gate}" if self.reused else (
            f"trained in run {self.training_run}; {gate}")
        return f"mitigation: {self.action}: {self.model} version {self.version} ({how})"


def mitigate(diagnosis_run: str, run, *, say: Say = lambda message: None) -> MitigationOutcome:
    """Mitigate the verdict of `diagnosis_run`, logging into `run` (a RunRef).

    Each step leaves a mark a rerun picks up from: a finished training run of this post-mortem's
    key is registered rather than trained again, and a registered version without a finished
    gate (its `postmortem.gate` tag) is gated rather than trained again.
    """
    config, verdict = config_from_run(diagnosis_run), verdict_from_run(diagnosis_run)
    action, cause = verdict.top.mitigation, verdict.root_cause
    diagnosis_tags = runs.run_tags(diagnosis_run)
    model_uri = diagnosis_tags.get("postmortem.model_uri") or config.model
    key = diagnosis_tags.get(runs.KEY_TAG) or f"run {diagnosis_run}"
    pinned = registry.resolve_version(model_uri)
    if pinned is None:
        raise PostmortemError(f"mitigation needs a registered model version; the post-mortem reviewed {model_uri}")
    config = profile_in_use(config, pinned, say)  # the gate fills missing values as the diagnosis did
    runs.log_params(run, {"diagnosis_run": diagnosis_run, "mitigation": action, "root_cause": cause})
    runs.set_tags(run, {"postmortem.mitigation": action, "postmortem.root_cause": cause, "postmortem.model_name": pinned.name})

    if action == "none":
        say("mitigate: the verdict is healthy, nothing to do")
        return MitigationOutcome(action, pinned.name)
    if action in PLAN_ACTIONS:
        return _action_plan(run, verdict, pinned, say)

    existing = registry.find_version_by_tag(pinned.name, runs.KEY_TAG, key)
    if existing is not None:
        gate = registry.version_tags(pinned.name, existing).get(GATE_TAG)
        if gate is not None:
            say(f"mitigate: this post-mortem already produced {pinned.name} version {existing} (gate {gate}); reusing it")
            runs.set_tags(run, {"postmortem.new_version": existing, "postmortem.reused": "true"})
            return MitigationOutcome(action, pinned.name, existing, gate_passed=gate == "passed", reused=True)
        say(f"mitigate: {pinned.name} version {existing} was registered by an interrupted mitigation; gating it now")
        return _gate(run, config, verdict, pinned, existing, None, say)

    settings = mitigation_settings(config)
    training_run = runs.find_finished(run.experiment_id, key, step="train")
    if training_run is not None:
        say(f"mitigate: training run {training_run} finished before an interruption; registering its model")
    else:
        project = settings.get("project") or str(REFERENCE_TRAINER)
        if project == str(REFERENCE_TRAINER) and config.data.reference is None:
            raise ConfigError(f"{action} with the reference trainer needs the training rows, and the post-mortem's "
                              "config has no 'data.reference' (it diagnosed from the version's stored profile, which "
                              "holds a sample): add data.reference and run the post-mortem again")
        entry_point = settings.get("entry_point", "main")
        params = {"diagnosis_run": diagnosis_run, "mitigation": action, **settings.get("parameters", {})}
        say(f"mitigate: {action} for {cause}: launching {project} -e {entry_point}")
        training_run, status = projects.launch_project(project, entry_point, params, experiment=run.experiment_id,
                                                 parent_run_id=diagnosis_run, run_name=f"{action} {pinned.name}",
                                                 tags={runs.STEP_TAG: "train", runs.KEY_TAG: key})
        runs.set_tags(run, {"postmortem.training_run": training_run})
        if status != "FINISHED":
            raise PostmortemError(f"training run {training_run} ended {status}; no version registered, aliases untouched")

    tags = {"postmortem.diagnosis_run_id": diagnosis_run, "postmortem.parent_version": pinned.version,
            "postmortem.mitigation": action, "postmortem.root_cause": cause, runs.KEY_TAG: key}
    version = registry.register_run_model(pinned.name, training_run, tags)
    say(f"mitigate: registered {pinned.name} version {version}")
    return _gate(run, config, verdict, pinned, version, training_run, say)


def _gate(run, config: Config, verdict: Verdict, pinned, version: str, training_run: str | None,
          say: Say) -> MitigationOutcome:
    """The challenger gate on a registered version; aliases move only to a version that passed.

    The version's `postmortem.gate` tag is written last: until it is there, a rerun gates again.
    """
    settings = mitigation_settings(config)
    checks = challenger_gate(config, verdict, pinned.uri, f"models:/{pinned.name}/{version}",
                             Rule.from_config(settings.get("gate")), settings.get("holdout_fraction", retrain.HOLDOUT_FRACTION))
    passed = all(c.passed for c in checks)
    runs.log_metrics(run, {k: v for c in checks for k, v in _gate_metrics(c).items()} | {"gate.passed": float(passed)})
    runs.log_artifact_text(run, "gate.json", json.dumps({"passed": passed, "checks": [asdict(c) for c in checks]}, indent=2))
    promoted = passed and bool(settings.get("promote", False))
    if passed:
        registry.set_alias(pinned.name, "challenger", version)
    if promoted:
        registry.set_alias(pinned.name, "champion", version)
    outcome = "passed" if passed else "failed"
    # both versions side by side, in runs of their own with the same metric keys (evaluate-versions)
    evaluate_into(run, config, pinned, [registry.resolve_version(f"models:/{pinned.name}/{v}") for v in (pinned.version, version)],
                  say)
    runs.set_tags(run, {"postmortem.new_version": version, "postmortem.gate": outcome,
                      "postmortem.promoted": str(promoted).lower(),
                      **({"postmortem.training_run": training_run} if training_run else {})})
    registry.set_version_tags(pinned.name, version, {GATE_TAG: outcome, "postmortem.gate.run_id": run.run_id})
    if passed and config.golden.refresh:
        refresh_after_mitigation(run, config, pinned.name, version,
                                 settings.get("holdout_fraction", retrain.HOLDOUT_FRACTION), say)
    for c in checks:
        say(f"mitigate: gate on {c.slice}: {'pass' if c.passed else 'FAIL'} ({c.reason})")
    moved = (f"{pinned.name}@challenger -> {version}" + ("; champion moved" if promoted else "; champion unchanged")
             if passed else f"gate failed: {pinned.name} version {version} gets no alias")
    say(f"mitigate: {moved}")
    return MitigationOutcome(verdict.top.mitigation, pinned.name, version, training_run, passed, promoted)


def mitigation_from_run(run_id: str) -> MitigationOutcome:
    """What a finished mitigate run did, read back from its tags (for repeats)."""
    tags = runs.run_tags(run_id)
    gate = tags.get("postmortem.gate")
    notes = (f"action required: {tags['postmortem.action_required']}",) if "postmortem.action_required" in tags else ()
    return MitigationOutcome(tags.get("postmortem.mitigation", "none"), tags.get("postmortem.model_name", "-"),
                             tags.get("postmortem.new_version"), tags.get("postmortem.training_run"),
                             None if gate is None else gate == "passed", tags.get("postmortem.promoted") == "true",
                             reused=True, notes=notes)


def challenger_gate(config: Config, verdict: Verdict, current_uri: str, candidate_uri: str, rule: Rule,
                    holdout_fraction: float) -> list[Check]:
    """Both versions on the golden set and on the newest labelled production rows."""
    from .diagnose import fill_values, reference_profiles

    trust = dict(trusted_types=config.skops_trusted_types, trust_pickle=config.trust_pickle)
    current = models.load_model_handle(current_uri, **trust)
    candidate = models.load_model_handle(candidate_uri, **trust)
    inputs = load_inputs(config, current.features, profile_reference=True)
    schema = inputs.schema
    fill = fill_values(inputs, reference_profiles(inputs))
    metric, higher = primary_metric(schema.task)
    _, holdout = retrain.split_recent(inputs.current, schema.target, holdout_fraction)
    golden_for_candidate = inputs.golden
    if verdict.top.mitigation == "retrain_correct_feature_version":  # the new version reads the new definition
        golden_for_candidate = retrain.transform_feature(inputs.golden, verdict.top.features[0], verdict.top.evidence)

    def value(model, frame: pd.DataFrame) -> float:
        scored = score(model, frame, schema, fill)
        return metric_value(schema.task, metric, scored.y, scored.pred)

    return [
        judge("golden", metric, higher, value(candidate, golden_for_candidate), value(current, inputs.golden),
              len(inputs.golden), rule),
        judge("recent", metric, higher, value(candidate, holdout), value(current, holdout), len(holdout), rule),
    ]


def train_reference(diagnosis_run: str, action: str, run, *, say: Say = lambda message: None) -> tuple[str, ...]:
    """The reference trainer (the package's `trainer` project): a new scikit-learn version shaped by the diagnosis."""
    if action not in TRAINING_ACTIONS:
        raise PostmortemError(f"the reference trainer does {', '.join(TRAINING_ACTIONS)}, not {action!r}")
    config, verdict = config_from_run(diagnosis_run), verdict_from_run(diagnosis_run)
    model_uri = runs.run_tags(diagnosis_run).get("postmortem.model_uri") or config.model
    fitted = models.load_sklearn_estimator(model_uri, trusted_types=config.skops_trusted_types,
                                       trust_pickle=config.trust_pickle)
    inputs = load_inputs(config, tuple(getattr(fitted, "feature_names_in_", ())) or None)
    schema, features = inputs.schema, list(inputs.schema.features)
    holdout_fraction = mitigation_settings(config).get("holdout_fraction", retrain.HOLDOUT_FRACTION)
    current = inputs.current
    if action == "retrain_correct_feature_version":  # rows logged before the change get the new definition too
        current = _before_onset_transformed(current, verdict, schema.timestamp)
    recent, holdout = retrain.split_recent(_raw(current, inputs), schema.target, holdout_fraction)
    reference = _raw(inputs.reference, inputs)
    notes: list[str] = [f"{len(holdout):,} newest labelled rows held out for the challenger gate"]
    if current is not inputs.current:
        notes.append(f"production rows logged before the onset ({verdict.top.onset.first_window}) moved to the new definition")
    if action == "retrain":
        data = retrain.training_set("retrain", reference, recent)
        result = retrain.fit(fitted, data, features, schema.target)
    elif action == "retrain_correct_feature_version":
        data = retrain.training_set(action, reference, recent, recalibrated=(verdict.top.features[0], verdict.top.evidence))
        result = retrain.fit(fitted, data, features, schema.target)
    else:
        novel = None
        if action == "online_update":
            novel = _novel_rows(recent, inputs, verdict.top.features)
            all_novel = _novel_rows(inputs.current, inputs, verdict.top.features)
            unlabelled = all_novel & inputs.current[schema.target].isna().to_numpy()
            notes.append(f"{unlabelled.sum() / max(all_novel.sum(), 1):.1%} of novel production rows had no label")
            if novel.sum() < 10:
                raise PostmortemError(f"online_update: only {int(novel.sum())} labelled novel rows to learn from")
        data = retrain.training_set(action, reference, recent, novel=novel)
        result = retrain.fit(fitted, data, features, schema.target, reference=reference, continue_training=True)
    notes += result.notes
    for note in notes:
        say(f"train: {note}")
    model_id = models.log_sklearn_model(run, result.estimator, data.frame[features], trusted_types=config.skops_trusted_types)
    runs.log_metrics(run, _fit_metrics(result.estimator, data.frame, features, schema.target, schema.task),
                     model_id=model_id)
    runs.log_datasets(run, [("reference", reference, config.data.reference, _digest(diagnosis_run, "reference"), schema.target),
                          ("recent_labelled", recent, config.data.current, _digest(diagnosis_run, "current"), schema.target)])
    runs.log_params(run, {"diagnosis_run": diagnosis_run, "mitigation": action, "training_rows": len(data.frame),
                        "model_uri": model_uri})
    runs.set_tags(run, {"postmortem.training_notes": " | ".join(notes), "postmortem.mitigation": action,
                      "postmortem.root_cause": verdict.root_cause})
    return tuple(notes)


def _fit_metrics(estimator: Any, frame: pd.DataFrame, features: list[str], target: str, task: str) -> dict[str, float]:
    """`training.<metric>` on the rows the model was fitted on, so the training run's page shows how
    the fit went (the held-out rows are scored by the gate, in the mitigate run)."""
    labelled = frame[frame[target].notna()]
    if not len(labelled):
        return {}
    pred = np.asarray(estimator.predict(labelled[features]))
    return rounded({f"training.{k}": v for k, v in scoring.metrics(task, labelled[target].to_numpy(), pred).items()})


def mitigation_settings(config: Config) -> dict[str, Any]:
    """The config's `mitigation` section (validated when the config was read)."""
    return dict(config.mitigation or {})


def _action_plan(run, verdict: Verdict, pinned, say: Say) -> MitigationOutcome:
    """No retraining can fix a broken pipeline: say what to fix, where, and what it is worth."""
    top = verdict.top
    feature = top.features[0] if top.features else "-"
    share = next((top.evidence[k] for k in ("mismatch_share", "share_rise", "out_of_range_share") if k in top.evidence), None)
    plan = {
        "action": top.mitigation, "root_cause": verdict.root_cause, "feature": feature, "features": list(top.features),
        "model": f"{pinned.name}/{pinned.version}", "score": top.score,
        "offending_rows_share": share, "evidence": top.evidence,
        "onset": asdict(top.onset) if top.onset else None,
        "recovery_estimate": asdict(top.recovery) if top.recovery else None,
        "what_to_do": ("make serving compute the feature as the training pipeline does" if top.mitigation == "patch_pipeline"
                       else "restore the feature's source; until then the model sees defaults or nulls"),
    }
    lines = [f"# Action plan: {top.mitigation} for `{feature}`", "",
             f"- root cause: `{verdict.root_cause}` (score {top.score:.2f}) on {pinned.name} version {pinned.version}",
             f"- what to do: {plan['what_to_do']}; no retraining (it would learn the broken feature)"]
    if share is not None:
        lines.append(f"- offending rows: {float(share):.1%}")
    if top.recovery:
        lines.append(f"- estimated recovery once fixed: {top.recovery.metric} {top.recovery.before:.4f} -> "
                     f"{top.recovery.after:.4f} ({top.recovery.repair})")
    lines += ["", "Evidence:", "```json", json.dumps(top.evidence, indent=2, default=str), "```"]
    runs.log_artifact_text(run, "action_plan.md", "\n".join(lines) + "\n")
    runs.log_artifact_text(run, "action_plan.json", json.dumps(plan, indent=2, default=str))
    registry.set_version_tags(pinned.name, pinned.version, {"postmortem.action_required": f"{top.mitigation}: {feature}"})
    runs.set_tags(run, {"postmortem.action_required": f"{top.mitigation}: {feature}"})
    say(f"mitigate: {top.mitigation} for {feature}: action plan written, no new version")
    return MitigationOutcome(top.mitigation, pinned.name, notes=(f"action plan for {feature}",))


def _before_onset_transformed(current: pd.DataFrame, verdict: Verdict, timestamp: str | None) -> pd.DataFrame:
    """Production rows from before the recalibration's onset, moved to the new definition, so
    the new version never learns from a silently mixed feature."""
    top, onset = verdict.top, verdict.top.onset
    if onset is None or onset.pattern == "from_start" or not onset.first_window or not timestamp:
        return current
    start = pd.Timestamp(onset.first_window)
    times = current[timestamp]
    if (times.dt.tz is None) != (start.tz is None):
        start = start.tz_localize(None) if start.tz is not None else start.tz_localize("UTC")
    before = (times < start).to_numpy()
    out = current.copy()
    out.loc[before, top.features[0]] = retrain.transform_feature(current.loc[before], top.features[0], top.evidence)[top.features[0]]
    return out


def _gate_metrics(check: Check) -> dict[str, float]:
    key = f"gate.{check.slice}.{check.metric}"
    return {f"{key}.candidate": check.candidate, f"{key}.current": check.current, f"{key}.passed": float(check.passed)}


def _novel_rows(frame: pd.DataFrame, inputs: Inputs, features: tuple[str, ...]) -> np.ndarray:
    """Rows with a value the reference never had on any of the verdict's features."""
    novel = np.zeros(len(frame), dtype=bool)
    for f in features:
        if f not in frame.columns:
            continue
        ref = inputs.reference[f]
        if f in inputs.schema.numeric:
            v = pd.to_numeric(frame[f], errors="coerce").to_numpy(float)
            novel |= (v < ref.min()) | (v > ref.max())
        else:
            novel |= (~frame[f].isin(set(ref.dropna()))).to_numpy() & frame[f].notna().to_numpy()
    return novel


def _raw(frame: pd.DataFrame, inputs: Inputs) -> pd.DataFrame:
    """Feature and target columns as the model was trained on them (numbers, category strings)."""
    return frame[[*inputs.schema.features, inputs.schema.target]].reset_index(drop=True) \
        if inputs.schema.target in frame.columns else frame[list(inputs.schema.features)]


def _digest(run_id: str, role: str) -> str:

    return runs.run_params(run_id).get(f"data.{role}", "unknown")
