"""`monitor`: the production log in calendar windows, recorded as curves on one run per model version.

Each call computes only the complete windows (ended before now) the version's monitoring run
has not recorded yet, so a cron job may call it every hour. Every figure is a step metric whose
step is the window's number since the epoch and whose timestamp is the window's start, so
MLflow's charts draw each one over time (`monitor.drift.<feature>`, `monitor.score_drift`,
`monitor.estimated.accuracy`, `monitor.realised.accuracy`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .adapters import models, registry, runs
from .config import Config, load_config
from .data import load_inputs
from .diagnose import fill_values, reference_profiles
from .errors import ConfigError
from .lifecycle import Say, digest, guarded, placement, point_to, registered_version
from .monitoring import (ConfidenceEstimate, Window, WindowReport, calendar_windows, fit_confidence, in_window,
                         model_score, parse_every, score_reference, window_report)
from .records import rounded
from .scoring import metrics, model_input, predict, primary_metric

STEP = "monitor"
#: the metric every window logs last: a window with it is recorded, one without it is computed (again)
RECORDED_METRIC = "monitor.rows"
#: how the label-free estimate was made, or why there is none
ESTIMATE_TAG = "postmortem.monitor.estimate"


@dataclass(frozen=True)
class Monitored:
    run_id: str
    new: tuple[WindowReport, ...]
    #: complete windows already recorded by earlier calls
    skipped: int
    #: the window still open (it ends after now): left for a later call
    open_window: Window | None
    estimate_note: str
    #: the primary metric the windows report (accuracy, rmse)
    metric: str


def monitor(config_path: str | Path, *, tracking_uri: str | None = None, experiment: str | None = None,
            now: pd.Timestamp | None = None, say: Say = lambda message: None) -> Monitored:
    """The command: record every complete window not yet recorded on the version's monitoring run."""
    config = load_config(config_path)
    if not config.timestamp:
        raise ConfigError(f"{config.source}: monitor needs key 'timestamp' (the column its calendar windows are cut by)")
    version = registered_version(config, tracking_uri, "monitor records on a registered version", say)
    where = placement(experiment, say)
    name = f"monitor {version.name} v{version.version}"
    key = digest({"model": version.uri, "window": config.monitor.window, "test": config.monitor.test})
    run = _monitoring_run(where.experiment, key, name, version)
    # under `mlflow run`, the project run only points at the monitoring run that outlives every call
    point_to(where.pointer, run.run_id, f"{name} (call)", {})
    if where.project_run is not None:
        runs.set_tags(where.project_run, {"postmortem.run_id": run.run_id, runs.RUN_NAME_TAG: f"{name} (call)",
                                          runs.NOTE_TAG: f"Windows recorded in run {run.run_id}, the version's "
                                                         "monitoring run, which every call adds to."})
    say(f"monitoring {version.uri} in run {run.run_id} ({config.monitor.window} windows, drift test "
        f"{config.monitor.test})")
    return guarded(run, lambda: _record(run, config, version, now or pd.Timestamp.now(tz="UTC"), say))


def _monitoring_run(experiment: str, key: str, name: str, version: registry.RegisteredVersion) -> runs.RunRef:
    """The version's monitoring run, reopened, or a new one: one run holds all its windows."""
    found = runs.keyed_runs(experiment, key, STEP)
    if found:
        run = runs.RunRef(found[0].run_id, experiment)
        runs.reopen_run(run)
        return run
    return runs.start_run(experiment, name, tags={runs.KEY_TAG: key, runs.STEP_TAG: STEP,
                                                  "postmortem.model": f"{version.name}/{version.version}",
                                                  "postmortem.version": version.version})


def _record(run: runs.RunRef, config: Config, version: registry.RegisteredVersion, now: pd.Timestamp,
            say: Say) -> Monitored:
    every = parse_every(config.monitor.window)
    trust = dict(trusted_types=config.skops_trusted_types, trust_pickle=config.trust_pickle)
    model = models.load_model_handle(version.uri, **trust)
    inputs = load_inputs(config, model.features)
    schema = inputs.schema
    times = pd.to_datetime(inputs.current[schema.timestamp], utc=True)  # once, for every window below
    windows = calendar_windows(times, every)
    complete = [w for w in windows if w.end <= now]
    open_window = windows[-1] if windows and windows[-1].end > now else None
    recorded = runs.recorded_steps(run.run_id, RECORDED_METRIC)
    todo = [w for w in complete if _step(w, every) not in recorded]
    say(f"monitor: {len(windows)} {config.monitor.window} windows in the log, {len(complete) - len(todo)} recorded "
        f"before, {len(todo)} to compute" + (", the last still open" if open_window else ""))
    metric, _ = primary_metric(schema.task)
    if not todo:
        return Monitored(run.run_id, (), len(complete), open_window, runs.run_tags(run.run_id).get(ESTIMATE_TAG, ""),
                         metric)

    references = reference_profiles(inputs)
    fill = fill_values(inputs, references)
    ref_pred, ref_proba, _ = predict(model, model_input(inputs.reference, schema, fill), fill)
    reference_scores = model_score(ref_pred, ref_proba)
    scores_binned = score_reference(reference_scores)
    confidence = _confidence(model, inputs.golden, schema, fill) if schema.task == "classification" else None
    if confidence is not None:
        note = confidence.note
    elif schema.task == "regression":
        note = "no label-free estimate for regression: realised error only, once labels arrive"
    else:
        note = "no label-free estimate: the model gives no class probabilities"
    runs.set_tags(run, {"postmortem.monitor.window": config.monitor.window, "postmortem.monitor.test": config.monitor.test,
                        ESTIMATE_TAG: note})

    reports = []
    for window in todo:
        rows = inputs.current[in_window(times, window)]
        pred, proba, _ = predict(model, model_input(rows, schema, fill), fill)
        report = window_report(window, config.monitor.test, references, inputs.reference, scores_binned,
                               reference_scores, rows, pred, proba, _realised(schema, rows, pred, metric), confidence)
        at = dict(step=_step(window, every), timestamp_ms=int(window.start.value // 1_000_000))
        runs.log_metrics(run, _window_metrics(report, metric), **at)
        runs.log_metrics(run, {RECORDED_METRIC: report.rows}, **at)
        reports.append(report)
    return Monitored(run.run_id, tuple(reports), len(complete) - len(todo), open_window, note, metric)


def _confidence(model, golden: pd.DataFrame, schema, fill) -> ConfidenceEstimate | None:
    if model.predict_proba is None:
        return None
    pred, proba, _ = predict(model, model_input(golden, schema, fill), fill)
    return fit_confidence(proba, pred == golden[schema.target].to_numpy())


def _realised(schema, rows: pd.DataFrame, pred: np.ndarray, metric: str) -> tuple[float, int] | None:
    if schema.target not in rows.columns:
        return None
    labelled = rows[schema.target].notna().to_numpy()
    if not labelled.any():
        return None
    y = rows[schema.target].to_numpy()[labelled]
    return metrics(schema.task, y, pred[labelled])[metric], int(labelled.sum())


def _step(window: Window, every: pd.Timedelta) -> int:
    """The window's number since the epoch: the same window has the same step on every call."""
    return int((window.start - pd.Timestamp(0, tz="UTC")) // every)


def _window_metrics(report: WindowReport, metric: str) -> dict[str, float]:
    out = {f"monitor.drift.{d.feature}": d.effect for d in report.drift}
    out |= {"monitor.drifted_features": len(report.drifted), "monitor.score_drift": report.score_drift.effect,
            "monitor.labelled": report.labelled}
    if report.estimated is not None:
        out[f"monitor.estimated.{metric}"] = report.estimated
    if report.realised is not None:
        out[f"monitor.realised.{metric}"] = report.realised
    return rounded(out)


def describe(report: WindowReport, metric: str) -> str:
    """One line per window: when, how many rows, what moved, the metric estimated and realised."""
    parts = [f"{report.window.start:%Y-%m-%d %H:%M} {report.rows:,} rows",
             f"drifted: {', '.join(report.drifted) or 'none'}",
             f"score drift {report.score_drift.effect:.3f}{' (drifted)' if report.score_drift.drifted else ''}"]
    if report.estimated is not None:
        parts.append(f"estimated {metric} {report.estimated:.3f}")
    if report.realised is not None:
        parts.append(f"realised {metric} {report.realised:.3f} on {report.labelled:,} labelled rows")
    return "; ".join(parts)
