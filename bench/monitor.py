"""Monitoring measured: alerts over 12 weekly windows of real tables, the post-mortem each alert
starts, the label-free estimate beside NannyML's CBPE, and what one more window costs.

    pip install -e '.[bench]'
    python bench/monitor.py                       # alerts and estimates: 20 seeds (about 15 minutes on 2 cores)
    python bench/monitor.py --seeds 3 --dataset ccdrug      # a quick subset
    python bench/monitor.py --part cost           # one more 1M-row window, 1st against 11th (a few minutes)
    python bench/monitor.py --part lineage        # a refreshed golden set's lineage, read back from MLflow

Alerts. Each run is a production log of 12 weeks (800 rows a week) drawn from a table of the
evaluation suite, its rows exchangeable, so weeks 1 to 6 are healthy; a fault is injected from
week 7 on (the drills' step onset at the middle of the log) into the table's most important
numeric feature, one run per fault type and seed; healthy runs have no fault. A serving skew
exists from the first row by definition: its runs are scored on whether an alert fires by week 2.
The windows are computed as `monitor` computes them (`monitoring.Watch`, drift test `tv`), and
the alert rules are the README's starting set: any feature drifted (2 windows in a row), the
score's drift above 0.1 (2 in a row), the realised metric 5 points under the golden set's (RMSE:
20% over it; 2 in a row of 100+ labelled rows), and for classifiers the label-free estimate 5
points under it. The first alert at week 7 or later starts a post-mortem of its alerting
windows' rows, as `monitor` does; it counts as naming the fault when its root cause is the one
injected.

Label-free estimate. On the same runs' windows without a change in the relation between inputs
and label (healthy runs, and data drift from week 7: covariate shift), on the binary tables, the
mean absolute error of `monitor.estimated.accuracy` against the window's realised accuracy,
beside NannyML's CBPE fitted on the same golden set, one chunk per window.

Writes bench/results/monitor.json and .txt.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML reports usage over the network otherwise

from measure import measured  # bench/measure.py, beside this file
from mlflow_postmortem import demo
from mlflow_postmortem.alerts import Rule, WindowFigures, fire
from mlflow_postmortem.data import build_inputs
from mlflow_postmortem.diagnose import fill_values, reference_profiles
from mlflow_postmortem.drills import inject, load_dataset, make_drill, split_dataset
from mlflow_postmortem.drills.models import most_important_feature
from mlflow_postmortem.drills.suite import run_drill
from mlflow_postmortem.monitoring import Watch, calendar_windows, in_window, parse_every, window_at
from mlflow_postmortem.scoring import metrics, model_input, predict, primary_metric
from mlflow_postmortem.stats import wilson_interval

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = ("nyc_weather", "ccdrug", "county_murders", "scorecard")
#: faults that start at week 7; a serving skew is there from the first row
FROM_WEEK_7 = ("data_drift", "feature_drift", "feature_recalibration", "feature_unavailability", "prediction_label_bias")
FROM_START = ("training_serving_skew",)
WEEKS, FAULT_WEEK, ROWS_PER_WEEK = 12, 7, 800
EVERY = parse_every("7d")
#: week 1 of every log: a week start as monitor cuts weeks (aligned to the epoch), early in 2025
START = window_at(2_870, EVERY).start


def rules(task: str, golden: float) -> list[Rule]:
    """The README's starting set, thresholds set from the version's golden figure."""
    out = [Rule("monitor.drifted_features", 0.0, "above"), Rule("monitor.score_drift", 0.1, "above")]
    if task == "classification":
        out += [Rule("monitor.realised.accuracy", golden - 0.05, "below", min_rows=100),
                Rule("monitor.estimated.accuracy", golden - 0.05, "below")]
    else:
        out.append(Rule("monitor.realised.rmse", golden * 1.2, "above", min_rows=100))
    return out


def one_run(dataset: str, cause: str, seed: int, cbpe: bool) -> dict[str, Any]:
    ds = load_dataset(dataset)
    drill = make_drill(ds, n_rows=WEEKS * ROWS_PER_WEEK, seed=seed, exchangeable=True)
    if cause != "healthy":
        split = split_dataset(ds)
        feature = most_important_feature(ds, split.model, split.golden, numeric_only=True)
        params: dict[str, Any] = {"feature": feature}
        if cause in FROM_WEEK_7:
            params["onset"] = "step"
        if cause == "feature_drift":
            params["magnitude"] = 0.5 if ds.task == "classification" else 1.0
        drill = inject(drill, cause, **params)
    current = drill.frames.current.copy()
    offsets = np.arange(len(current)) / len(current) * WEEKS * EVERY.total_seconds()
    current[drill.timestamp] = START + pd.to_timedelta(np.round(offsets), unit="s")
    drill = replace(drill, frames=replace(drill.frames, current=current))

    inputs = build_inputs(**drill.build_inputs_kwargs())
    model, schema = drill.models.model, inputs.schema
    references = reference_profiles(inputs)
    fill = fill_values(inputs, references)
    watch = Watch.of(inputs, model, references, fill, "tv")
    metric = primary_metric(schema.task)[0]
    golden_pred, golden_proba, _ = predict(model, model_input(inputs.golden, schema, fill), fill)
    golden = metrics(schema.task, inputs.golden[schema.target].to_numpy(), golden_pred)[metric]
    times = inputs.current[schema.timestamp]
    windows = calendar_windows(times, EVERY)
    assert len(windows) == WEEKS and windows[0].start == START, (len(windows), windows[0].start)

    figures, estimates = [], []
    estimator = _cbpe(inputs, model, fill, golden_pred, golden_proba) if cbpe else None
    for week, window in enumerate(windows, start=1):
        rows = inputs.current[in_window(times, window)]
        report = watch.report(window, rows)
        figures.append(WindowFigures(week, window, report.rows, report.labelled, report.figures(metric)))
        if estimator is not None and report.estimated is not None and report.realised is not None:
            estimates.append({"week": week, "realised": report.realised, "ours": report.estimated,
                              "cbpe": estimator(rows)})
    alerts = sorted(fire(rules(schema.task, golden), figures, fired={}, fresh=range(1, WEEKS + 1)),
                    key=lambda a: a.fired_step)
    healthy_weeks = WEEKS if cause == "healthy" else 0 if cause in FROM_START else FAULT_WEEK - 1
    false_weeks = sorted({a.fired_step for a in alerts if a.fired_step <= healthy_weeks})
    out: dict[str, Any] = {
        "dataset": dataset, "cause": cause, "seed": seed, "feature": list(drill.feature),
        "healthy_weeks": healthy_weeks, "false_alert_weeks": false_weeks,
        "alerts": [{"rule": a.rule.name, "fired_week": a.fired_step, "weeks": [w.step for w in a.windows]}
                   for a in alerts],
        "estimates": estimates,
    }
    if cause != "healthy":
        first = FAULT_WEEK if cause in FROM_WEEK_7 else 1
        due = next((a for a in alerts if a.fired_step >= first), None)
        out["detected_week"] = due.fired_step if due else None
        if due is not None:
            rows = inputs.current[np.any([in_window(times, w.window) for w in due.windows], axis=0)]
            result = run_drill(replace(drill, frames=replace(drill.frames, current=rows.reset_index(drop=True))))
            out["postmortem"] = {"got": result.got, "correct": result.correct, "features": list(result.top_features),
                                 "rows": len(rows), "error": result.error}
    return out


def _cbpe(inputs, model, fill: dict[str, object], golden_pred: np.ndarray, golden_proba: np.ndarray | None):
    """NannyML's CBPE fitted on the golden set: estimated accuracy of one window, as one chunk."""
    import nannyml as nml

    if golden_proba is None or len(model.classes) != 2:
        return None
    schema, positive = inputs.schema, model.classes[1]

    def frame(rows: pd.DataFrame, pred: np.ndarray, proba: np.ndarray, with_truth: bool) -> pd.DataFrame:
        out = pd.DataFrame({"y_pred": (pred == positive).astype(int), "y_pred_proba": proba[:, 1]})
        if with_truth:
            out["y_true"] = (rows[schema.target].to_numpy() == positive).astype(int)
        return out

    estimator = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true", metrics=["accuracy"],
                         problem_type="classification_binary", chunk_number=1)
    estimator.fit(frame(inputs.golden, golden_pred, golden_proba, True))

    def estimate(rows: pd.DataFrame) -> float:
        pred, proba, _ = predict(model, model_input(rows, schema, fill), fill)
        result = estimator.estimate(frame(rows, pred, proba, False)).filter(period="analysis").to_df()
        return float(result[("accuracy", "value")].iloc[0])

    return estimate


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    def share(k: int, n: int) -> dict[str, Any]:
        lo, hi = wilson_interval(k, n)
        return {"k": k, "n": n, "share": k / n if n else None, "wilson": [lo, hi]}

    healthy_weeks = sum(r["healthy_weeks"] for r in results)
    false_weeks = sum(len(r["false_alert_weeks"]) for r in results)
    by_cause: dict[str, Any] = {}
    for cause in (*FROM_WEEK_7, *FROM_START):
        runs = [r for r in results if r["cause"] == cause]
        if not runs:
            continue
        due = 8 if cause in FROM_WEEK_7 else 2
        detected = [r for r in runs if r.get("detected_week") is not None and r["detected_week"] <= due]
        named = [r for r in runs if r.get("postmortem", {}).get("correct")]
        by_cause[cause] = {"due_week": due, "alert_by_due": share(len(detected), len(runs)),
                           "alert_at_all": share(sum(r.get("detected_week") is not None for r in runs), len(runs)),
                           "postmortem_names_it": share(len(named), len(runs)),
                           "named_when_alerted": share(len(named), sum("postmortem" in r for r in runs)),
                           "verdicts": pd.Series([r["postmortem"]["got"] for r in runs if "postmortem" in r],
                                                 dtype=object).value_counts().to_dict()}
    faulty = [r for r in results if r["cause"] in by_cause]
    estimates = [e for r in results if r["cause"] in ("healthy", "data_drift") for e in r["estimates"]
                 if r["cause"] == "healthy" or e["week"] >= FAULT_WEEK]
    mae = {}
    if estimates:
        frame = pd.DataFrame(estimates)
        mae = {"windows": len(frame), "ours": float((frame.ours - frame.realised).abs().mean()),
               "cbpe": float((frame.cbpe - frame.realised).abs().mean())}
    return {
        "runs": len(results),
        "false_alert_weeks": share(false_weeks, healthy_weeks),
        "alert_by_due_week": share(sum(by_cause[r["cause"]]["due_week"] >= (r.get("detected_week") or 99)
                                       for r in faulty), len(faulty)),
        "postmortem_names_it": share(sum(r.get("postmortem", {}).get("correct", False) for r in faulty), len(faulty)),
        "by_cause": by_cause,
        "estimate_mae": mae,
    }


def _run(args: tuple[str, str, int, bool]) -> dict[str, Any]:
    return one_run(*args)


def alerts_part(datasets: list[str], seeds: int, workers: int) -> dict[str, Any]:
    jobs = [(d, c, s, True) for d in datasets for c in ("healthy", *FROM_WEEK_7, *FROM_START) for s in range(seeds)]
    results = []
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for i, r in enumerate(pool.map(_run, jobs), start=1):
            results.append(r)
            pm = r.get("postmortem", {})
            print(f"[{i}/{len(jobs)} {time.perf_counter() - start:5.0f}s] {r['dataset']} {r['cause']} s{r['seed']}: "
                  f"false {r['false_alert_weeks']} detected {r.get('detected_week')} "
                  f"post-mortem {pm.get('got', '-')}", flush=True)
    return {"results": results, "summary": summarise(results)}


def text(summary: dict[str, Any]) -> str:
    def pct(s: dict[str, Any]) -> str:
        return f"{s['k']}/{s['n']} = {s['share']:.3f} (Wilson {s['wilson'][0]:.3f}-{s['wilson'][1]:.3f})" if s["n"] else "-"

    lines = [f"runs: {summary['runs']}",
             f"false alerts in healthy weeks: {pct(summary['false_alert_weeks'])}",
             f"alert by the due week (8; skew: 2): {pct(summary['alert_by_due_week'])}",
             f"automatic post-mortem names the fault: {pct(summary['postmortem_names_it'])}", ""]
    for cause, s in summary["by_cause"].items():
        lines.append(f"{cause:24} alert by week {s['due_week']}: {pct(s['alert_by_due'])}; post-mortem right "
                     f"{pct(s['postmortem_names_it'])}; verdicts {s['verdicts']}")
    mae = summary["estimate_mae"]
    if mae:
        lines += ["", f"label-free accuracy estimate, {mae['windows']} windows (healthy and covariate shift): "
                      f"MAE ours {mae['ours']:.4f}, NannyML CBPE {mae['cbpe']:.4f}"]
    return "\n".join(lines)


def cost_part(rows: int, weeks: int, columns: int) -> dict[str, Any]:
    """`mlflow-postmortem monitor` as cron calls it, in a fresh process each time a week's file lands:
    wall time and peak RSS of each call, which computes one new window."""
    import tempfile

    import mlflow
    import yaml
    from sklearn.linear_model import LogisticRegression

    from mlflow_postmortem.adapters import registry

    rng = np.random.default_rng(0)
    features = [f"x{i}" for i in range(columns)]
    weights = rng.normal(size=columns)

    def frame(n: int) -> pd.DataFrame:
        x = rng.normal(size=(n, columns)).astype("float64")
        out = pd.DataFrame(x, columns=features)
        out["label"] = (x @ weights + rng.logistic(size=n) > 0).astype(int)
        return out

    calls = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        reference, golden = frame(50_000), frame(5_000)
        reference.to_parquet(root / "reference.parquet")
        golden.to_parquet(root / "golden.parquet")
        (root / "logs").mkdir()
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
        mlflow.set_experiment("monitor-cost")
        model = LogisticRegression(max_iter=200).fit(reference[features], reference["label"])
        version = registry.register_sklearn_model(model, "monitor-cost", reference[features])
        (root / "pm.yaml").write_text(yaml.safe_dump({
            "model": f"models:/monitor-cost/{version}", "task": "classification", "target": "label",
            "timestamp": "event_time", "evidently": False, "monitor": {"window": "7d", "test": "tv"},
            "data": {"reference": "reference.parquet", "golden": "golden.parquet", "current": "logs/*.parquet"}}))
        for week in range(weeks):
            log = frame(rows)
            start = window_at(2_870 + week, EVERY).start
            log.insert(0, "event_time", start + pd.to_timedelta(np.sort(rng.random(rows)) * EVERY.total_seconds(), unit="s"))
            log.to_parquet(root / "logs" / f"week-{week + 1:02d}.parquet", index=False)
            del log
            call = measured(["mlflow-postmortem", "monitor", str(root / "pm.yaml"), "--quiet", "--experiment",
                             "monitor-cost"], env=env, cwd=root)
            if call.returncode != 0:
                raise RuntimeError(f"monitor failed on week {week + 1}: " + "\n".join(l for _, l in call.stderr))
            line = call.stdout.strip().splitlines()[0]
            calls.append({"week": week + 1, "seconds": call.seconds, "peak_rss_mib": round(call.peak_rss_mb), "output": line})
            print(f"week {week + 1}: {call.seconds:.1f} s, peak RSS {call.peak_rss_mb:.0f} MiB: {line}", flush=True)
    first, last = calls[0]["seconds"], calls[-1]["seconds"]
    return {"rows_per_week": rows, "columns": columns, "calls": calls, "ratio_last_to_first": round(last / first, 3)}


def lineage_part() -> dict[str, Any]:
    """The demo's model, its golden set refreshed from the labelled production rows, and the
    lineage as anyone reads it back: the MLflow client only (tags, dataset inputs, params, artifact)."""
    import subprocess
    import tempfile

    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        for argv in (["demo", "--folder", str(root / "demo"), "--quiet"],
                     ["refresh-golden", str(root / "demo" / "pm.yaml"), "--quiet"]):
            done = subprocess.run(["mlflow-postmortem", *argv], env=env, cwd=root, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"mlflow-postmortem {argv[0]} failed: {done.stderr.strip()}")
        client = MlflowClient(env["MLFLOW_TRACKING_URI"])
        version = client.get_model_version_by_alias(demo.MODEL, "champion")
        tags = {k: v for k, v in version.tags.items() if k.startswith("postmortem.golden.")}
        run = client.get_run(tags["postmortem.golden.run_id"])
        datasets = [{"name": d.dataset.name, "digest": d.dataset.digest, "source": json.loads(d.dataset.source),
                     "context": {t.key: t.value for t in d.tags}} for d in run.inputs.dataset_inputs]
        local = client.download_artifacts(run.info.run_id, "golden_lineage.json", str(root))
        lineage = json.loads(Path(local).read_text())
        return {"version": f"{demo.MODEL}/{version.version}", "version_tags": tags, "run": run.info.run_id,
                "run_name": run.info.run_name, "datasets": datasets,
                "params": {k: v for k, v in run.data.params.items() if k.startswith("golden.")},
                "lineage_artifact": lineage}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("alerts", "cost", "lineage"), default="alerts")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--dataset", action="append", help=f"default: {', '.join(DATASETS)}")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    parser.add_argument("--rows", type=int, default=1_000_000, help="cost: rows per weekly file (default: %(default)s)")
    parser.add_argument("--weeks", type=int, default=11, help="cost: files landing one by one (default: %(default)s)")
    parser.add_argument("--columns", type=int, default=10, help="cost: features (default: %(default)s)")
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.part == "alerts":
        done = alerts_part(args.dataset or list(DATASETS), args.seeds, args.workers)
        report = text(done["summary"])
        (args.output_dir / "monitor.json").write_text(json.dumps(done, indent=1, default=str))
        (args.output_dir / "monitor.txt").write_text(report + "\n")
        print(report)
    elif args.part == "cost":
        done = cost_part(args.rows, args.weeks, args.columns)
        (args.output_dir / "monitor_cost.json").write_text(json.dumps(done, indent=1))
        print(f"one new window of {args.rows:,} rows: call {len(done['calls'])} took "
              f"{done['ratio_last_to_first']:.2f}x call 1")
    else:
        done = lineage_part()
        (args.output_dir / "monitor_lineage.json").write_text(json.dumps(done, indent=1))
        print(json.dumps(done, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
