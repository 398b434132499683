"""The three steps of a post-mortem, each logging into a run of its own.

`golden_eval` (is the model itself worse?), `drift_report` (per-feature drift curves and
Evidently's reports) and `diagnose` (the verdict and its report). Steps pass artifact URIs
downstream: `diagnose` reads the golden check from `golden_eval`'s `golden.json` and links the
Evidently reports of `drift_report`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from .adapters import models, registry, runs
from .config import Config, resolved_engine
from .data import Inputs, load_inputs
from .diagnose import diagnose, feature_table, profile_inputs
from .golden import evaluate_golden
from .lifecycle import Say, config_identity, digest, guarded, step_run
from .records import (evidently_skipped, feature_metrics, golden_from_dict, golden_metrics, plain, rounded,
                      verdict_from_run, verdict_metrics, verdict_tags)
from .report import render_html, render_markdown
from .scoring import score
from .types import FeatureStat, GoldenResult, ModelHandle, Verdict

STEPS = ("golden_eval", "drift_report", "diagnose")
#: rows Evidently's reports are computed on (the verdict always uses every row)
EVIDENTLY_MAX_ROWS = 50_000
#: on the drift_report and parent runs: the Evidently pages that could not be built, and why
EVIDENTLY_SKIPPED_TAG = "postmortem.evidently.skipped"
#: on the drift_report and diagnose runs: how data.current was read (engine, rows, sample)
ENGINE_TAG = "postmortem.engine"


def run_steps(config: Config, model_uri: str, digests: dict[str, str], parent: runs.RunRef, say: Say, *,
              keep_profile: bool = True) -> Verdict:
    """The three steps as child runs of `parent`, each reused when an identical one finished before.
    `keep_profile`: store the reference profile on the version if it has none (reference_store.py)."""
    model, baseline = load_models(config, say)
    say("reading data")
    inputs = load_inputs(config, model.features, profile_reference=True, say=say)
    common = {"model": model_uri, "baseline": f"{baseline.name}/{baseline.version}" if baseline else None}
    identity = config_identity(config)
    golden_identity = {k: v for k, v in identity.items() if k != "windows"}  # the golden check has no windows

    golden_run = step_run("golden_eval", parent, {**common, "config": digest(golden_identity),
                                                  "data.golden": digests["golden"]}, say)
    if golden_run.reused:
        golden = golden_from_dict(json.loads(runs.read_artifact_text(golden_run.run_id, "golden.json")))
    else:
        golden = guarded(golden_run.ref, lambda: golden_eval(golden_run.ref, config, model, baseline, inputs, digests, say))

    common["config"] = digest(identity)
    drift_keys = {**common, **{f"data.{k}": v for k, v in digests.items() if k != "golden"}}
    drift_run = step_run("drift_report", parent, drift_keys, say)
    if not drift_run.reused:
        guarded(drift_run.ref, lambda: drift_report(drift_run.ref, config, model, inputs, digests, say))
    reports = runs.list_artifacts(drift_run.run_id, "evidently")
    skipped = runs.run_tags(drift_run.run_id).get(EVIDENTLY_SKIPPED_TAG)
    if skipped:
        runs.set_tags(parent, {EVIDENTLY_SKIPPED_TAG: skipped})

    diag_run = step_run("diagnose", parent, {**common, **{f"data.{k}": v for k, v in digests.items()},
                                             "golden_run": golden_run.run_id}, say)
    if diag_run.reused:
        return verdict_from_run(diag_run.run_id)
    golden_uri = f"runs:/{golden_run.run_id}/golden.json"
    return guarded(diag_run.ref, lambda: diagnose_step(diag_run.ref, config, model, baseline, inputs, digests, golden,
                                                    golden_uri, drift_run.run_id, reports, say,
                                                    keep_profile=keep_profile))


def golden_eval(run: runs.RunRef, config: Config, model: ModelHandle, baseline: ModelHandle | None, inputs: Inputs,
                digests: dict[str, str], say: Say) -> GoldenResult:
    """Seed step 1: score the golden set with the version and its baseline; log the metrics."""
    say(f"golden_eval: scoring {len(inputs.golden):,} golden rows")
    golden = golden_check(inputs, model, baseline, config.detectors)
    _log_inputs(run, config, inputs, digests, ("golden",))
    runs.log_metrics(run, golden_metrics(golden))
    runs.set_tags(run, {"postmortem.golden.dropped": str(golden.dropped).lower(),
                        "postmortem.golden.baseline": golden.baseline_source or "none"})
    runs.log_artifact_text(run, "golden.json", json.dumps(plain(asdict(golden)), indent=2))
    return golden


def golden_check(inputs: Inputs, model: ModelHandle, baseline: ModelHandle | None,
                 detectors: dict[str, dict[str, float]] | None = None) -> GoldenResult:
    """The golden set scored with the version and its baseline, missing values filled as serving would."""
    from .detectors import golden_thresholds
    from .diagnose import fill_values, reference_profiles

    return evaluate_golden(model, inputs.golden, inputs.schema, fill_values(inputs, reference_profiles(inputs)),
                           baseline=baseline, **golden_thresholds(detectors))


def drift_report(run: runs.RunRef, config: Config, model: ModelHandle, inputs: Inputs, digests: dict[str, str],
                 say: Say) -> tuple[FeatureStat, ...]:
    """Per-feature drift, null and novelty shares as metrics and per-window curves; Evidently's reports."""
    profiled = profile_inputs(inputs, windows=config.windows, say=lambda m: say(f"drift_report: {m}"))
    table = feature_table(profiled)
    runs.set_tags(run, {ENGINE_TAG: engine_note(config, inputs)})
    _log_inputs(run, config, inputs, digests, ("reference", "current", "training_view"))
    runs.log_metrics(run, feature_metrics(table))
    _log_window_curves(run, profiled.labels,
                       {**{f"drift_tv_served_by_window.{f.feature}": f.per_window_served_tv for f in table if f.present},
                        **{f"drift_tv_seen_range_by_window.{f.feature}": f.per_window_tv for f in table if f.present}})

    if not config.evidently:
        reason = "turned off in the config (evidently: false)"
        say(f"drift_report: Evidently pages {reason}")
        runs.set_tags(run, {EVIDENTLY_SKIPPED_TAG: f"all: {reason}"})
        runs.log_artifact_text(run, "evidently/skipped.json", json.dumps([{"name": "all", "reason": reason}], indent=2))
        return table
    from .adapters import evidently  # seconds to import: only when its pages are wanted

    say(f"drift_report: Evidently reports on up to {EVIDENTLY_MAX_ROWS:,} rows per frame")
    schema = inputs.schema
    reference, current = _with_predictions(inputs.reference, model, inputs), _with_predictions(inputs.current, model, inputs)
    reports = evidently.build_reports(reference, current, target=schema.target, prediction="prediction",
                                      task=schema.task, numeric=list(schema.numeric),
                                      categorical=list(schema.categorical), max_rows=EVIDENTLY_MAX_ROWS,
                                      source_rows=(inputs.profile.rows if inputs.profile else len(inputs.reference),
                                                   inputs.current_rows))
    for report in reports.built:
        runs.log_artifact_text(run, f"evidently/{report.name}.html", report.html)
        runs.log_artifact_text(run, f"evidently/{report.name}.json", json.dumps(report.json, default=str))
        runs.log_params(run, {f"evidently.{report.name}.rows": f"{report.reference_rows} reference, {report.current_rows} current"})
    if reports.skipped:  # a page that cannot be drawn is a note, not the end of the post-mortem
        for skipped in reports.skipped:
            say(f"drift_report: Evidently {skipped.name} page not built: {skipped.reason}")
        runs.set_tags(run, {EVIDENTLY_SKIPPED_TAG: "; ".join(f"{s.name}: {s.reason}" for s in reports.skipped)})
        runs.log_artifact_text(run, "evidently/skipped.json", json.dumps([asdict(s) for s in reports.skipped], indent=2))
    return table


def diagnose_step(run: runs.RunRef, config: Config, model: ModelHandle, baseline: ModelHandle | None, inputs: Inputs,
                  digests: dict[str, str], golden: GoldenResult, golden_uri: str, drift_run_id: str,
                  reports: list[str], say: Say, *, keep_profile: bool = True) -> Verdict:
    """The verdict on every row, with the golden check passed downstream; its report and metrics."""
    from .reference_store import keep_first

    runs.log_params(run, {"golden_uri": golden_uri, "drift_report_run": drift_run_id})
    runs.set_tags(run, {ENGINE_TAG: engine_note(config, inputs)})
    verdict = diagnose(inputs, model, baseline=baseline, windows=config.windows, golden=golden,
                       detectors=config.detectors, progress=lambda m: say(f"diagnose: {m}"))
    _log_inputs(run, config, inputs, digests, ("reference", "golden", "current", "training_view"))
    runs.set_tags(run, verdict_tags(verdict))
    runs.log_metrics(run, verdict_metrics(verdict))
    windows = verdict.production.get("per_window") or []
    metric = verdict.production.get("metric")
    if metric and windows:
        _log_window_curves(run, verdict.production.get("windows") or (), {f"production.{metric}_by_window": windows})
    evidently_links = {}
    for path in reports:  # copied beside the report, so its links work in the artifact viewer
        if path.endswith(".html"):
            name = Path(path).name
            runs.log_artifact_text(run, f"evidently/{name}", runs.read_artifact_text(drift_run_id, path))
            evidently_links[f"Evidently {Path(path).stem.replace('_', ' ')}"] = f"evidently/{name}"
    runs.log_artifact_text(run, "verdict.json", json.dumps(verdict.to_dict(), indent=2))
    skipped = evidently_skipped(drift_run_id, reports)
    runs.log_artifact_text(run, "report.md", render_markdown(verdict, evidently=evidently_links, evidently_skipped=skipped))
    runs.log_artifact_text(run, "report.html", render_html(verdict, evidently=evidently_links, evidently_skipped=skipped))
    if keep_profile:
        keep_first(run, config, inputs, digests["reference"], model, lambda m: say(f"diagnose: {m}"))
    return verdict


def engine_note(config: Config, inputs: Inputs) -> str:
    """How the data were read, for whoever wonders why a run's datasets have fewer rows than the files."""
    if inputs.scan is None:
        note = f"pandas: {inputs.current_rows:,} rows in memory"
    else:
        note = (f"{resolved_engine(config)}: {inputs.current_rows:,} rows profiled in batches; row-level checks and "
                f"the `current` dataset on a uniform sample of {len(inputs.current):,}")
    if config.data.reference is not None and inputs.profile is not None:
        note += (f"; data.reference: {inputs.profile.rows:,} rows profiled in batches, the `reference` dataset a "
                 f"sample of {len(inputs.profile.sample):,}")
    return note


def load_models(config: Config, say: Say) -> tuple[ModelHandle, ModelHandle | None]:
    """The version under review and its baseline: the config's, else the previous version, scored
    on the same golden rows (golden metrics recorded on the version are the fallback when there
    is no previous version)."""
    say(f"loading model {config.model}")
    trust = dict(trusted_types=config.skops_trusted_types, trust_pickle=config.trust_pickle)
    model = models.load_model_handle(config.model, **trust)
    baseline_uri = config.baseline or registry.previous_version_uri(config.model)
    if baseline_uri is not None:
        say(f"loading baseline {baseline_uri}")
    elif model.recorded_golden is not None:
        say("baseline: the golden metric recorded on the version's tags")
    baseline = models.load_model_handle(baseline_uri, **trust) if baseline_uri else None
    return model, baseline


def _log_inputs(run: runs.RunRef, config: Config, inputs: Inputs, digests: dict[str, str], roles: tuple[str, ...]) -> None:
    """The data a step read, as run inputs with their contexts and file digests."""
    sources = {role: getattr(config.data, role) for role in roles}
    if "reference" in sources and config.data.reference is None:  # the stored profile's sample stood in
        sources["reference"] = config.data.profile
    runs.log_datasets(run, [(role, getattr(inputs, role), sources[role], digests[role], config.target)
                            for role in roles if getattr(inputs, role) is not None])


def _log_window_curves(run: runs.RunRef, labels: tuple[str, ...] | list[str], curves: dict[str, Any]) -> None:
    """Per-window values as step metrics stamped with the window's start (its label), so the UI
    draws curves. Keys end in `_by_window`, apart from the whole-period value of the same quantity."""
    for i, label in enumerate(labels):
        stamp = int(pd.Timestamp(label).value // 1_000_000) if label != "all" else None
        runs.log_metrics(run, rounded({k: v[i] for k, v in curves.items() if i < len(v) and v[i] is not None}),
                         step=i, timestamp_ms=stamp)


def _with_predictions(frame: pd.DataFrame, model: ModelHandle, inputs: Inputs) -> pd.DataFrame:
    """The frame plus the model's predictions, for Evidently's quality report (labelled frames only)."""
    schema = inputs.schema
    if schema.target not in frame.columns or frame[schema.target].isna().all():
        return frame
    sample = frame.sample(min(len(frame), EVIDENTLY_MAX_ROWS), random_state=0) if len(frame) > EVIDENTLY_MAX_ROWS else frame
    scored = score(model, sample, schema, {})
    return sample.loc[scored.frame.index].assign(prediction=scored.pred)

