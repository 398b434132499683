"""`mlflow-postmortem monitor` as a cron job calls it: windows recorded once each, as curves on
one run per model version, the broken feature flagged from the week it broke."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from mlflow_postmortem.monitoring import calendar_windows, parse_every

from reliability.harness import scenario
from support import run, run_cli

PROJECT = Path(__file__).resolve().parents[1] / "projects" / "postmortem"


def _split_log(config: Path, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scenario's production log cut in time into logs/a.parquet (now) and the rest (returned for later)."""
    raw = yaml.safe_load(config.read_text())
    log = pd.read_parquet(config.parent / raw["data"]["current"])
    cut = log[raw["timestamp"]].quantile(share)
    early, late = log[log[raw["timestamp"]] <= cut], log[log[raw["timestamp"]] > cut]
    (config.parent / "logs").mkdir()
    early.to_parquet(config.parent / "logs" / "a.parquet", index=False)
    config.write_text(yaml.safe_dump({**raw, "data": {**raw["data"], "current": "logs/*.parquet"},
                                      "monitor": {"window": "7d", "test": "psi"}}))
    return early, late


def test_each_complete_window_is_recorded_once_as_step_metrics_and_a_later_file_adds_only_its_windows(
        tracking_uri: str, tmp_path: Path) -> None:
    config = scenario(tracking_uri, tmp_path, "pm-monitor")  # monthly_charges in cents from the middle of the log
    early, late = _split_log(config, 0.6)
    env = {"MLFLOW_EXPERIMENT_NAME": "pm-monitor"}
    week = parse_every("7d")

    first = run_cli("monitor", str(config), env=env, cwd=tmp_path)
    again = run_cli("monitor", str(config), env=env, cwd=tmp_path)
    late.to_parquet(tmp_path / "logs" / "b.parquet", index=False)  # the next batch of the log lands
    later = run_cli("monitor", str(config), env=env, cwd=tmp_path)

    assert first.returncode == again.returncode == later.returncode == 0, first.stderr + later.stderr
    log = pd.concat([early, late])
    before, windows = calendar_windows(early["event_time"], week), calendar_windows(log["event_time"], week)
    assert f"{len(before)} new window(s), 0 recorded before" in first.stdout
    assert f"0 new window(s), {len(before)} recorded before" in again.stdout
    # the window the first file ended in was complete (its end had passed) and stays as recorded then, but
    # for its realised metric: the rows that landed later for it carry labels, so it has more labelled rows
    assert f"{len(windows) - len(before)} new window(s), {len(before)} recorded before, 1 updated by late labels" \
        in later.stdout
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("pm-monitor").experiment_id],
                                "tags.`postmortem.step` = 'monitor'")
    assert run.info.status == "FINISHED" and run.info.run_name == "monitor pm-monitor v2"
    history = {key: {m.timestamp: m for m in client.get_metric_history(run.info.run_id, key)}
               for key in ("monitor.rows", "monitor.drift.monthly_charges", "monitor.realised.accuracy",
                           "monitor.estimated.accuracy")}
    starts = [int(w.start.value // 1_000_000) for w in windows]  # each window once, stamped with its start
    assert all(sorted(h) == starts for key, h in history.items() if key != "monitor.realised.accuracy")
    ended_in = int(before[-1].start.value // 1_000_000)  # its update: one millisecond after its first value
    assert sorted(history["monitor.realised.accuracy"]) == sorted([*starts, ended_in + 1])
    assert len({m.step for m in history["monitor.rows"].values()}) == len(windows)
    cents = pd.Timestamp(log.loc[log["monthly_charges"] > 1_000, "event_time"].min(), tz="UTC")
    for w, start in zip(windows, starts):
        psi = history["monitor.drift.monthly_charges"][start].value
        if w.end <= cents:
            assert psi < 0.2, w  # PSI's threshold
        elif w.start >= cents:
            assert psi >= 0.2, w
    assert run.data.tags["postmortem.monitor.estimate"].startswith("label-free accuracy from confidences recalibrated")


def test_a_window_still_open_is_left_for_a_later_call(tracking_uri: str, tmp_path: Path) -> None:
    from mlflow_postmortem.monitor import monitor

    config = scenario(tracking_uri, tmp_path, "pm-monitor-open")
    raw = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**raw, "monitor": {"window": "7d"}}))
    log = pd.read_parquet(tmp_path / "current.parquet")
    windows = calendar_windows(log["event_time"], parse_every("7d"))
    now = windows[-1].start + pd.Timedelta("1D")  # a day into the last window

    done = monitor(config, experiment="pm-monitor-open", now=now)
    finished = monitor(config, experiment="pm-monitor-open", now=windows[-1].end)

    assert done.open_window == windows[-1] and len(done.new) == len(windows) - 1
    assert [r.window for r in finished.new] == [windows[-1]] and finished.skipped == len(windows) - 1


@pytest.mark.parametrize(("change", "expected"), [
    ({"timestamp": None}, "monitor needs key 'timestamp' (the column its calendar windows are cut by)"),
    ({"monitor": {"window": "weekly"}}, "key 'monitor.window': a window length is a whole number of h, d or w (1d, 7d, 30d), "
                                         "got 'weekly'"),
    ({"monitor": {"test": "wasserstein"}}, "key 'monitor.test' must be one of tv, ks, psi, chi2, got 'wasserstein'"),
], ids=["no-timestamp", "bad-window", "unknown-test"])
def test_a_config_monitor_cannot_use_fails_in_one_line_naming_the_key(tracking_uri: str, tmp_path: Path,
                                                                        change: dict, expected: str) -> None:
    config = tmp_path / "pm.yaml"
    config.write_text(yaml.safe_dump({"model": "models:/pm-cancer/2", "task": "classification", "target": "label",
                                      "timestamp": "event_time", "data": {"reference": "r.parquet", "golden": "g.csv",
                                                                          "current": "c.parquet"}, **change}))

    result = run_cli("monitor", str(config))

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"mlflow-postmortem: error: {config}: {expected}"]


def test_the_entry_point_adds_to_the_version_s_monitoring_run_and_its_project_runs_point_at_it(
        tracking_uri: str, tmp_path: Path) -> None:
    config = scenario(tracking_uri, tmp_path, "pm-monitor-project")
    raw = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**raw, "monitor": {"window": "14d", "test": "ks"}}))
    command = ["mlflow", "run", str(PROJECT), "-e", "monitor", "-P", f"config={config}", "--env-manager", "local",
               "--experiment-name", "pm-monitor-project"]

    calls = [run(command, env={"MLFLOW_TRACKING_URI": tracking_uri}, cwd=tmp_path, timeout=600) for _ in range(2)]

    assert all(c.returncode == 0 for c in calls), calls[0].stderr[-3000:] + calls[1].stderr[-3000:]
    client = MlflowClient()
    found = client.search_runs([client.get_experiment_by_name("pm-monitor-project").experiment_id])
    (watching,) = [r for r in found if r.data.tags.get("postmortem.step") == "monitor"]
    projects = [r for r in found if "mlflow.project.entryPoint" in r.data.tags]
    assert len(projects) == 2 and all(p.data.tags["postmortem.run_id"] == watching.info.run_id for p in projects)
    assert all(p.info.status == "FINISHED" for p in found)
    windows = calendar_windows(pd.read_parquet(tmp_path / "current.parquet")["event_time"], parse_every("14d"))
    assert len(client.get_metric_history(watching.info.run_id, "monitor.rows")) == len(windows)
    assert "0 new window(s)" in calls[1].stdout
