"""`monitor`: the production log in calendar windows, recorded as curves on one run per model version.

Each call computes only the complete windows (ended before now) the version's monitoring run
has not recorded yet, so a cron job may call it every hour. Every figure is a step metric whose
step is the window's number since the epoch and whose timestamp is the window's start, so
MLflow's charts draw each one over time (`monitor.drift.<feature>`, `monitor.score_drift`,
`monitor.estimated.accuracy`, `monitor.realised.accuracy`, ...).

Labels arrive late: a recorded window whose labelled rows grew since it was recorded (the rows
gained their target, or label rows of their entities landed) gets its realised metric and
labelled count logged again at its step. Then the config's alert rules are checked (triggers.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .adapters import models, registry, runs
from .alerts import WindowFigures
from .config import Config, load_config
from .data import Inputs, Schema, load_inputs
from .diagnose import fill_values, reference_profiles
from .errors import ConfigError
from .golden_refresh import golden_in_use
from .lifecycle import Say, digest, guarded, placement, point_to, registered_version
from .monitoring import (LABELLED_METRIC, Watch, Window, WindowReport, calendar_windows, in_window, join_late_labels,
                         parse_every, realised_metric, step_of, window_at)
from .production_log import LogScan
from .records import rounded
from .reference_store import profile_in_use
from .scoring import model_input, predict, primary_metric
from .triggers import Fired, check_rules, raise_alerts
from .types import ModelHandle

STEP = "monitor"
#: the metric every window logs last: a window with it is recorded, one without it is computed (again)
RECORDED_METRIC = "monitor.rows"
#: how the label-free estimate was made, or why there is none
ESTIMATE_TAG = "postmortem.monitor.estimate"


@dataclass(frozen=True)
class Relabelled:
    """A recorded window whose labelled rows grew: its realised metric, logged again at its step."""

    window: Window
    labelled: int
    before: int
    realised: float


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
    relabelled: tuple[Relabelled, ...] = ()
    #: the alerts this call raised, each with its post-mortem
    alerts: tuple[Fired, ...] = ()


def monitor(config_path: str | Path, *, tracking_uri: str | None = None, experiment: str | None = None,
            now: pd.Timestamp | None = None, say: Say = lambda message: None) -> Monitored:
    """The command: record every complete window not yet recorded on the version's monitoring run."""
    config = load_config(config_path)
    if not config.timestamp:
        raise ConfigError(f"{config.source}: monitor needs key 'timestamp' (the column its calendar windows are cut by)")
    version = registered_version(config, tracking_uri, "monitor records on a registered version", say)
    config = golden_in_use(config, version, say)  # the label-free estimate is calibrated on it
    config = profile_in_use(config, version, say)
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
    return guarded(run, lambda: _record(run, config, version, now or pd.Timestamp.now(tz="UTC"), tracking_uri, say))


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
            tracking_uri: str | None, say: Say) -> Monitored:
    every = parse_every(config.monitor.window)
    trust = dict(trusted_types=config.skops_trusted_types, trust_pickle=config.trust_pickle)
    model = models.load_model_handle(version.uri, **trust)
    features = tuple(config.features or model.features or ())
    scan = LogScan.of(config.data.current, timestamp=config.timestamp, target=config.target,
                      entity_id=config.entity_id, features=features)
    windows = calendar_windows(scan.times, every)
    complete = [w for w in windows if w.end <= now]
    open_window = windows[-1] if windows and windows[-1].end > now else None
    recorded = runs.metric_by_step(run.run_id, RECORDED_METRIC)
    todo = [w for w in complete if step_of(w, every) not in recorded]
    grown = _labels_grown(run, scan.labelled_per_step(every), recorded)
    say(f"monitor: {len(windows)} {config.monitor.window} windows in the log, {len(complete) - len(todo)} recorded "
        f"before, {len(todo)} to compute" + (f", {len(grown)} with late labels" if grown else "")
        + (", the last still open" if open_window else ""))
    metric, _ = primary_metric(config.task)
    reports, relabelled, note = (), [], None
    if todo or grown:
        # every column only of the files that hold a window to compute or update
        inputs = load_inputs(config, model.features, profile_reference=True,
                             current=scan.read([*todo, *(window_at(step, every) for step in grown)]))
        schema = inputs.schema
        check_rules(config, schema.features)
        log = join_late_labels(inputs.current, entity_id=schema.entity_id, target=schema.target,
                               features=schema.features, labels=scan.labels)
        times = pd.to_datetime(log[schema.timestamp], utc=True)  # once, for every window below
        references = reference_profiles(inputs)
        fill = fill_values(inputs, references)
        for step, counts in grown.items():
            window = window_at(step, every)
            relabelled.append(_relabel(run, window, step, counts, log[in_window(times, window)], model, schema, fill,
                                       metric))
        if todo:
            reports, note = _new_windows(run, config, inputs, model, log, times, todo, every, references, fill)
    elif features:
        check_rules(config, features)
    if note is None:
        note = runs.run_tags(run.run_id).get(ESTIMATE_TAG, "")
    fresh = {step_of(w, every) for w in todo} | set(grown)
    fired = ()
    if fresh and config.alerts.rules:
        fired = raise_alerts(run, config, version, _figures(run.run_id, config, every), fresh, scan,
                             tracking_uri=tracking_uri, say=say)
    return Monitored(run.run_id, reports, len(complete) - len(todo), open_window, note, metric, tuple(relabelled),
                     fired)


def _new_windows(run: runs.RunRef, config: Config, inputs: Inputs, model: ModelHandle, log: pd.DataFrame,
                 times: pd.Series, todo: list[Window], every: pd.Timedelta, references: dict, fill: dict[str, object]
                 ) -> tuple[tuple[WindowReport, ...], str]:
    """Compute and log the windows not recorded yet; with how the label-free estimate was made."""
    watch = Watch.of(inputs, model, references, fill, config.monitor.test)
    runs.set_tags(run, {"postmortem.monitor.window": config.monitor.window, "postmortem.monitor.test": config.monitor.test,
                        ESTIMATE_TAG: watch.note})
    reports = []
    for window in todo:
        report = watch.report(window, log[in_window(times, window)])
        at = dict(step=step_of(window, every), timestamp_ms=int(window.start.value // 1_000_000))
        runs.log_metrics(run, rounded(report.figures(watch.metric)), **at)
        runs.log_metrics(run, {RECORDED_METRIC: report.rows}, **at)
        reports.append(report)
    return tuple(reports), watch.note


def _labels_grown(run: runs.RunRef, now: dict[int, int], recorded: dict[int, tuple[int, float]]
                  ) -> dict[int, tuple[int, int, int]]:
    """Recorded windows with more labelled rows now (`now`: step -> labelled rows) than when last
    logged: step -> (labelled now, labelled before, timestamp of the last `monitor.labelled` value)."""
    if not recorded:
        return {}
    out = {}
    for step, (stamp, before) in runs.metric_by_step(run.run_id, LABELLED_METRIC).items():
        if step in recorded and now.get(step, 0) > before:
            out[step] = (now[step], int(before), stamp)
    return out


def _relabel(run: runs.RunRef, window: Window, step: int, counts: tuple[int, int, int], rows: pd.DataFrame,
             model: ModelHandle, schema: Schema, fill: dict[str, object], metric: str) -> Relabelled:
    """Log a window's realised metric and labelled rows again, at its step, one millisecond after
    its newest value: the update is the newer value, and the chart's time axis still puts it at the
    window's start."""
    labelled, before, stamp = counts
    pred, _, _ = predict(model, model_input(rows, schema, fill), fill)
    realised, _ = realised_metric(schema, rows, pred, metric)  # labelled rows grew: there are some
    runs.log_metrics(run, rounded({f"monitor.realised.{metric}": realised, LABELLED_METRIC: labelled}), step=step,
                     timestamp_ms=stamp + 1)
    return Relabelled(window, labelled, before, realised)


def _figures(run_id: str, config: Config, every: pd.Timedelta) -> list[WindowFigures]:
    """Every recorded window's rows, labelled rows and the figures the alert rules watch, as logged (newest per step)."""
    rows, labelled = runs.metric_by_step(run_id, RECORDED_METRIC), runs.metric_by_step(run_id, LABELLED_METRIC)
    watched = {m: runs.metric_by_step(run_id, m) for m in {rule.metric for rule in config.alerts.rules}}
    return [WindowFigures(step, window_at(step, every), int(n), int(labelled.get(step, (0, 0))[1]),
                          {m: values[step][1] for m, values in watched.items() if step in values})
            for step, (_, n) in rows.items()]


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
