"""Alerts: rules in the config, the pure core that decides what fires (once per breach, a bounded
false-alarm rate under no change), and what a fired alert sets off in a real store: version tags,
a webhook POST to a real local HTTP server, one post-mortem of the alerting windows; and late
labels joined back to the window they belong to."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from mlflow_postmortem.alerts import Rule, WindowFigures, fire
from mlflow_postmortem.config import load_config
from mlflow_postmortem.errors import ConfigError
from mlflow_postmortem.monitoring import EFFECT_THRESHOLDS, TESTS, Window, feature_drift, window_at
from mlflow_postmortem.profile import categorical_reference, numeric_reference

from reliability.harness import TRUSTED, scenario
from support import VALID, free_port, run_cli

WEEK = pd.Timedelta("7D")


# --- the config ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("alerts", "expected"), [
    ("alerts: [monitor.score_drift]\n", "key 'alerts' must be a mapping with rules, webhook and mitigate"),
    ("alerts:\n  rule: []\n", r"unknown key 'alerts.rule' \(known: rules, webhook, mitigate\)"),
    ("alerts:\n  rules: {metric: monitor.score_drift}\n", "key 'alerts.rules' must be a list of rules"),
    ("alerts:\n  rules: [monitor.score_drift]\n", "key 'alerts.rules\\[0\\]' must be a mapping with metric and threshold"),
    ("alerts:\n  rules:\n  - {metric: monitor.score_drift, threshold: 0.1, windows: 3}\n",
     r"unknown key 'alerts.rules\[0\].windows' \(known: metric, threshold, direction, consecutive, min_rows\)"),
    ("alerts:\n  rules:\n  - {threshold: 0.1}\n", r"key 'alerts.rules\[0\].metric' must name a monitor metric, got None"),
    ("alerts:\n  rules:\n  - {metric: monitor.accuracy, threshold: 0.8}\n",
     r"key 'alerts.rules\[0\].metric': 'monitor.accuracy' is not a figure monitor records \(monitor.drifted_features"),
    ("alerts:\n  rules:\n  - {metric: monitor.drift., threshold: 0.1}\n", "'monitor.drift.' is not a figure monitor records"),
    ("alerts:\n  rules:\n  - {metric: monitor.realised.rmse, threshold: 3}\n",
     r"'monitor.realised.rmse' is not recorded for a classification model \(it records monitor.realised.accuracy\)"),
    ("alerts:\n  rules:\n  - {metric: monitor.score_drift, threshold: 0.1}\n  - {metric: monitor.score_drift, threshold: high}\n",
     r"key 'alerts.rules\[1\].threshold' must be a number, got 'high'"),
    ("alerts:\n  rules:\n  - {metric: monitor.score_drift}\n", r"key 'alerts.rules\[0\].threshold' must be a number, got None"),
    ("alerts:\n  rules:\n  - {metric: monitor.score_drift, threshold: 0.1, direction: up}\n",
     r"key 'alerts.rules\[0\].direction' must be above or below, got 'up'"),
    ("alerts:\n  rules:\n  - {metric: monitor.score_drift, threshold: 0.1, consecutive: 0}\n",
     r"key 'alerts.rules\[0\].consecutive' must be a whole number >= 1, got 0"),
    ("alerts:\n  rules:\n  - {metric: monitor.score_drift, threshold: 0.1, min_rows: 99.5}\n",
     r"key 'alerts.rules\[0\].min_rows' must be a whole number >= 0, got 99.5"),
    ("alerts:\n  webhook: hooks.example.com/x\n", "key 'alerts.webhook' must be an http:// or https:// URL, got 'hooks.example.com/x'"),
    ("alerts:\n  mitigate: please\n", "key 'alerts.mitigate' must be true or false, got 'please'"),
], ids=["not-a-mapping", "unknown-key", "rules-not-a-list", "rule-not-a-mapping", "unknown-rule-key", "no-metric",
        "unknown-metric", "drift-without-feature", "metric-of-the-other-task", "threshold-not-a-number", "no-threshold",
        "bad-direction", "consecutive-below-1", "min-rows-not-whole", "webhook-not-a-url", "mitigate-not-a-boolean"])
def test_a_malformed_alerts_section_fails_in_one_line_naming_the_key(tmp_path: Path, alerts: str, expected: str) -> None:
    path = tmp_path / "pm.yaml"
    path.write_text(VALID + alerts)

    with pytest.raises(ConfigError, match=expected) as err:
        load_config(path)

    assert str(err.value).startswith(f"{path}: ")
    assert "\n" not in str(err.value)


def test_rules_default_to_the_bad_side_of_their_metric_two_windows_and_200_rows(tmp_path: Path) -> None:
    path = tmp_path / "pm.yaml"
    path.write_text(VALID + "alerts:\n  rules:\n  - {metric: monitor.drift.plan, threshold: 0.2}\n"
                            "  - {metric: monitor.realised.accuracy, threshold: 0.8, consecutive: 1}\n"
                            "  - {metric: monitor.estimated.accuracy, threshold: 0.8, direction: above, min_rows: 0}\n")

    alerts = load_config(path).alerts

    assert alerts.rules == (Rule("monitor.drift.plan", 0.2, "above", 2, 200), Rule("monitor.realised.accuracy", 0.8, "below", 1, 200),
                            Rule("monitor.estimated.accuracy", 0.8, "above", 2, 0))
    assert alerts.webhook is None and alerts.mitigate is False
    assert load_config(tmp_path / "pm.yaml").alerts.rules[1].name == \
        "monitor.realised.accuracy below 0.8 in 1 window of 200+ labelled rows"


def test_a_rule_on_the_drift_of_a_feature_the_model_does_not_take_fails_naming_the_rule(tmp_path: Path) -> None:
    from mlflow_postmortem.triggers import check_rules

    path = tmp_path / "pm.yaml"
    path.write_text(VALID + "alerts:\n  rules:\n  - {metric: monitor.drift.plan, threshold: 0.2}\n"
                            "  - {metric: monitor.drift.tenur, threshold: 0.2}\n")
    config = load_config(path)

    with pytest.raises(ConfigError) as err:
        check_rules(config, ("plan", "tenure"))

    assert str(err.value) == (f"{path}: key 'alerts.rules[1].metric': 'tenur' is not a feature of the model "
                              "(features: plan, tenure)")


# --- the pure core ------------------------------------------------------------------------------

def _windows(values: list[float | None], rows: int = 1_000, small: tuple[int, ...] = (), labelled: int | None = None,
             metric: str = "monitor.score_drift") -> list[WindowFigures]:
    """Weekly windows from step 100 on, one value each (None: the figure was not recorded)."""
    return [WindowFigures(100 + i, window_at(100 + i, WEEK), 50 if i in small else rows,
                          rows if labelled is None else labelled, {} if v is None else {metric: v})
            for i, v in enumerate(values)]


RULE = Rule("monitor.score_drift", 0.1)  # above, 2 windows of 200+ rows


@dataclass(frozen=True)
class Case:
    values: list[float | None]
    #: steps (from 100) of each alert's windows
    expected: list[list[int]]
    fired: tuple[int, ...] = ()
    fresh: tuple[int, ...] | None = None  # None: every window is new
    small: tuple[int, ...] = ()
    rule: Rule = RULE
    labelled: int | None = None
    metric: str = "monitor.score_drift"


CASES = {
    "two-in-a-row-fire-once": Case([0.0, 0.3, 0.3, 0.3, 0.0], [[101, 102, 103]]),
    "one-at-a-time-never": Case([0.3, 0.0, 0.3, 0.0, 0.3], []),
    "at-the-threshold-is-not-past-it": Case([0.1, 0.1, 0.1], []),
    "already-fired-and-extended": Case([0.0, 0.3, 0.3, 0.3, 0.3], [], fired=(102,), fresh=(103, 104)),
    "recovered-then-broke-again": Case([0.3, 0.3, 0.0, 0.3, 0.3], [[103, 104]], fired=(101,), fresh=(103, 104)),
    "an-old-breach-is-not-news": Case([0.3, 0.3, 0.0, 0.0], [], fresh=(103,)),
    "a-late-update-before-a-fired-run-does-not-refire": Case([0.3, 0.3, 0.3], [], fired=(102,), fresh=(100,)),
    "a-small-window-neither-counts-nor-interrupts": Case([0.3, 0.3, 0.3, 0.0], [[100, 102]], small=(1,)),
    "small-windows-alone-never": Case([0.3, 0.3, 0.3], [], small=(0, 1, 2)),
    "a-window-without-the-figure-is-skipped": Case([0.3, None, 0.3], [[100, 102]]),
    "accuracy-breaks-by-falling": Case([0.9, 0.7, 0.75, 0.9], [[101, 102]],
                                       rule=Rule("monitor.realised.accuracy", 0.8, "below"),
                                       metric="monitor.realised.accuracy"),
    "realised-counts-labelled-rows": Case([0.7, 0.7], [], rule=Rule("monitor.realised.accuracy", 0.8, "below"),
                                          labelled=150, metric="monitor.realised.accuracy"),
    "consecutive-one-fires-at-once": Case([0.3, 0.0, 0.3], [[100], [102]], rule=Rule("monitor.score_drift", 0.1,
                                                                                   consecutive=1)),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_rule_fires_once_per_run_of_breaking_windows(case: Case) -> None:
    figures = _windows(case.values, small=case.small, labelled=case.labelled, metric=case.metric)
    fresh = [f.step for f in figures] if case.fresh is None else case.fresh

    alerts = fire([case.rule], figures, fired={case.rule.name: set(case.fired)}, fresh=fresh)

    assert [[w.step for w in a.windows] for a in alerts] == case.expected
    assert all(a.fired_step == a.windows[case.rule.consecutive - 1].step for a in alerts)


def test_an_edited_rule_is_a_new_rule_and_each_rule_fires_on_its_own() -> None:
    figures = _windows([0.3, 0.3])
    strict = Rule("monitor.score_drift", 0.2)

    alerts = fire([RULE, strict], figures, fired={RULE.name: {101}}, fresh=[101])

    assert [a.rule for a in alerts] == [strict]
    assert alerts[0].describe() == ("monitor.score_drift above 0.2 in 2 windows from 1971-12-02 00:00 to "
                                    "1971-12-16 00:00 UTC (0.3, 0.3)")


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({f"x{i}": rng.normal(shift if i == 0 else 0.0, 1.0, n) for i in range(8)}
                        | {"plan": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])})


def _drift_figures(test: str, rows: int, windows: int, seed: int, shifted: range = range(0)) -> list[WindowFigures]:
    """Each window's drift figures, as monitor logs them, for windows drawn from the reference's distribution
    (those in `shifted` with x0 moved by one standard deviation)."""
    rng = np.random.default_rng(seed)
    reference = _frame(rng, 20_000)
    refs = {c: categorical_reference(c, reference[c]) if c == "plan" else numeric_reference(c, reference[c].to_numpy(float))
            for c in reference.columns}
    out = []
    for i in range(windows):
        drift = feature_drift(test, refs, reference, _frame(rng, rows, shift=1.0 if i in shifted else 0.0))
        values = {f"monitor.drift.{d.feature}": d.effect for d in drift} | {"monitor.drifted_features": sum(d.drifted for d in drift)}
        out.append(WindowFigures(i, window_at(i, WEEK), rows, 0, values))
    return out


def _false_alarm_rules(test: str) -> dict[Rule, float]:
    """Rules with the README's false-alarm bound of each: a feature flags at most 1% of unchanged windows
    (tests/test_monitoring.py), so any of 9 features at most 9%, and c windows in a row that to the power c."""
    return {Rule("monitor.drifted_features", 0, consecutive=1): 0.09,
            Rule("monitor.drifted_features", 0, consecutive=2): 0.09 ** 2,
            Rule("monitor.drift.x0", EFFECT_THRESHOLDS[test], consecutive=2): 0.01 ** 2}


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("rows", [300, 2_000, 20_000])
def test_windows_with_no_change_raise_alerts_at_most_at_the_stated_rate(test: str, rows: int) -> None:
    windows = 40
    figures = _drift_figures(test, rows, windows, seed=11)

    for rule, bound in _false_alarm_rules(test).items():
        alerts = fire([rule], figures, fired={}, fresh=range(windows))
        assert len(alerts) / windows <= bound, f"{rule.name}: {len(alerts)} alerts in {windows} unchanged windows"


@pytest.mark.parametrize("test", TESTS)
def test_the_same_rules_fire_once_on_a_feature_that_moved_for_four_windows(test: str) -> None:
    figures = _drift_figures(test, 2_000, 12, seed=12, shifted=range(6, 10))

    for rule in _false_alarm_rules(test):
        (alert,) = fire([rule], figures, fired={}, fresh=range(12))
        assert [w.step for w in alert.windows] == [6, 7, 8, 9], rule.name


# --- in a real store ----------------------------------------------------------------------------

#: the scenario's production log (naive UTC times) is cut here, a Thursday, where 7-day windows start
CUT = pd.Timestamp("2025-02-20")
ALERT_ON_DRIFT = {"metric": "monitor.drifted_features", "threshold": 0}


class Webhook:
    """A real HTTP server on 127.0.0.1 that keeps the JSON bodies POSTed to it and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> "Webhook":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def churn(tracking_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The churn scenario (monthly_charges arrives in cents from early February 2025), registered once here."""
    return scenario(tracking_uri, tmp_path_factory.mktemp("alerts"), "pm-alerts")


def _config(churn: Path, folder: Path, log: pd.DataFrame, **changes) -> Path:
    """A pm.yaml in `folder` whose production log is `folder/logs/*.parquet`, `log` its first file."""
    raw = yaml.safe_load(churn.read_text())
    raw["data"] = {role: str(churn.parent / f"{role}.parquet") for role in ("reference", "golden")} | {"current": "logs/*.parquet"}
    (folder / "logs").mkdir()
    log.to_parquet(folder / "logs" / "a.parquet", index=False)
    (folder / "pm.yaml").write_text(yaml.safe_dump({**raw, **changes}))
    return folder / "pm.yaml"


def _log(churn: Path) -> pd.DataFrame:
    return pd.read_parquet(churn.parent / "current.parquet")


def _triggered(client: MlflowClient, monitoring_run: str) -> list:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, f"tags.`postmortem.triggered_by` = '{monitoring_run}'")


def _monitoring_run(client: MlflowClient, experiment: str):
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id],
                                "tags.`postmortem.step` = 'monitor'")
    return run


def test_a_drift_fires_one_alert_that_tags_the_version_posts_the_webhook_and_starts_one_postmortem_naming_the_feature(
        churn: Path, tmp_path: Path) -> None:
    from mlflow_postmortem.monitor import monitor

    log = _log(churn)
    onset = pd.Timestamp(log.loc[log["monthly_charges"] > 1_000, "event_time"].min(), tz="UTC")
    with Webhook() as hook:
        config = _config(churn, tmp_path, log[log["event_time"] < CUT], alerts={"rules": [ALERT_ON_DRIFT], "webhook": hook.url})
        first = run_cli("monitor", str(config), env={"MLFLOW_EXPERIMENT_NAME": "pm-alerts"}, cwd=tmp_path)
        log[log["event_time"] >= CUT].to_parquet(tmp_path / "logs" / "b.parquet", index=False)
        extended = monitor(config, experiment="pm-alerts")  # the breach goes on for one more full window
        again = monitor(config, experiment="pm-alerts")

    assert first.returncode == 0, first.stderr[-3000:]
    (line,) = [line for line in first.stdout.splitlines() if line.startswith("alert ")]
    assert line.startswith("alert 1: monitor.drifted_features above 0 in ")
    assert "feature_recalibration of monthly_charges" in line
    assert extended.new and extended.alerts == () and again.new == () and again.alerts == ()

    client = MlflowClient()
    watching = _monitoring_run(client, "pm-alerts")
    (body,) = hook.bodies
    start, end = pd.Timestamp(body["window"]["start"]), pd.Timestamp(body["window"]["end"])
    assert start <= onset < start + WEEK and end == pd.Timestamp(CUT, tz="UTC")  # from the onset's window to the cut
    assert body["model"] == "pm-alerts" and body["version"] == "2" and body["alert"] == 1
    assert body["rule"] == {"metric": "monitor.drifted_features", "threshold": 0.0, "direction": "above",
                            "consecutive": 2, "min_rows": 200}
    assert [f["start"] for f in body["figures"]][0] == body["window"]["start"]
    assert all(f["value"] >= 1 and f["rows"] >= 200 for f in body["figures"]) and len(body["figures"]) >= 2
    assert body["monitoring_run_id"] == watching.info.run_id
    assert body["url"].endswith(f"#/experiments/{watching.info.experiment_id}/runs/{watching.info.run_id}"
                                "?workflowType=machine_learning")
    assert body["summary"] in line

    (postmortem,) = _triggered(client, watching.info.run_id)  # one, however often monitor ran
    assert postmortem.info.status == "FINISHED" and postmortem.info.run_id in line
    assert postmortem.data.tags["postmortem.root_cause"] == "feature_recalibration"
    assert "monthly_charges" in postmortem.data.tags["postmortem.features"].split(",")
    assert "postmortem.mitigate.run_id" not in postmortem.data.tags  # alerts.mitigate is off by default
    rows = pd.read_parquet(Path(watching.info.artifact_uri.removeprefix("file://")) / "alerts" / "1" / "current.parquet")
    times = pd.to_datetime(rows["event_time"], utc=True)  # the post-mortem read the alerting windows' rows only
    assert times.min() >= start and times.max() < end and len(rows) == sum(f["rows"] for f in body["figures"])

    record = json.loads(watching.data.tags["postmortem.alert.1"])
    assert record["postmortem_run_id"] == postmortem.info.run_id and "postmortem.alert.2" not in watching.data.tags
    version = client.get_model_version("pm-alerts", "2").tags
    assert version["postmortem.alert"].startswith("alert 1: monitor.drifted_features above 0")
    assert [h for h in version["postmortem.alert.history"].splitlines() if watching.info.run_id in h] != []


@pytest.mark.parametrize("answer", ["refused", 500])
def test_a_webhook_that_fails_warns_in_one_line_and_loses_neither_the_alert_nor_its_postmortem(
        churn: Path, tmp_path: Path, answer: str | int) -> None:
    experiment = f"pm-alerts-webhook-{answer}"
    with Webhook(status=500) as hook:
        url = f"http://127.0.0.1:{free_port()}/hook" if answer == "refused" else hook.url
        log = _log(churn)
        config = _config(churn, tmp_path, log[log["event_time"] < CUT], alerts={"rules": [ALERT_ON_DRIFT], "webhook": url})
        result = run_cli("monitor", str(config), "--quiet", env={"MLFLOW_EXPERIMENT_NAME": experiment}, cwd=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    why = "Connection refused" if answer == "refused" else "HTTP 500"
    assert [line for line in result.stderr.splitlines() if "warning" in line] == [
        f"mlflow-postmortem: warning: the webhook of alert 1 failed ({why}); the alert is recorded on the model "
        "version and its post-mortem started all the same"]
    client = MlflowClient()
    watching = _monitoring_run(client, experiment)
    record = json.loads(watching.data.tags["postmortem.alert.1"])
    assert record["rule"] == "monitor.drifted_features above 0 in 2 windows of 200+ rows"
    assert client.get_run(record["postmortem_run_id"]).info.status == "FINISHED"  # run, or an identical one reused
    assert record["outcome"].startswith("feature_recalibration of monthly_charges")
    assert watching.info.run_id in client.get_model_version("pm-alerts", "2").tags["postmortem.alert.history"]


def test_an_alert_on_a_server_that_proxies_artifacts_keeps_its_windows_rows_in_the_monitoring_run(
        mlflow_server_uri: str, tmp_path: Path) -> None:
    """The artifacts are not local files there: the rows the post-mortem read are uploaded to the
    monitoring run, where a later `mitigate --from-run` finds them."""
    churn = scenario(mlflow_server_uri, tmp_path / "scenario", "pm-alerts-server")
    (tmp_path / "watch").mkdir()
    log = _log(churn)
    config = _config(churn, tmp_path / "watch", log[log["event_time"] < CUT], alerts={"rules": [ALERT_ON_DRIFT]})
    env = {"MLFLOW_TRACKING_URI": mlflow_server_uri, "MLFLOW_EXPERIMENT_NAME": "pm-alerts-server"}

    result = run_cli("monitor", str(config), env=env, cwd=tmp_path / "watch")

    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("alert ")]
    assert "feature_recalibration of monthly_charges" in line
    client = MlflowClient(mlflow_server_uri)
    watching = _monitoring_run(client, "pm-alerts-server")
    assert watching.info.artifact_uri.startswith("mlflow-artifacts:")
    record = json.loads(watching.data.tags["postmortem.alert.1"])
    assert client.get_run(record["postmortem_run_id"]).info.status == "FINISHED"
    kept = Path(client.download_artifacts(watching.info.run_id, "alerts/1", str(tmp_path / "downloaded")))
    assert yaml.safe_load((kept / "pm.yaml").read_text())["data"]["current"] == "current.parquet"
    times = pd.to_datetime(pd.read_parquet(kept / "current.parquet")["event_time"], utc=True)
    assert times.min() >= pd.Timestamp(record["start"]) and times.max() < pd.Timestamp(record["end"])


def test_late_labels_update_their_window_s_realised_metric_once(churn: Path, tmp_path: Path) -> None:
    from mlflow_postmortem.adapters.models import load_model_handle
    from mlflow_postmortem.monitor import monitor

    log = _log(churn)
    cut = CUT.tz_localize("UTC")
    x, y = Window(cut - WEEK, cut), Window(cut, cut + WEEK)  # two full windows whose labels come late
    late = ((log["event_time"] >= CUT - WEEK) & (log["event_time"] < CUT + WEEK)).to_numpy()
    in_x = late & (log["event_time"] < CUT).to_numpy()
    config = _config(churn, tmp_path, log.assign(churned=log["churned"].where(~late)))
    experiment = "pm-alerts-late-labels"

    first = monitor(config, experiment=experiment)
    # a label file lands in the log's folder: entity and label only, for window x
    log.loc[in_x, ["entity_id", "churned"]].to_parquet(tmp_path / "logs" / "labels.parquet", index=False)
    joined = monitor(config, experiment=experiment)
    # the log's own rows gain their labels (the file is rewritten), for window y too
    log.to_parquet(tmp_path / "logs" / "a.parquet", index=False)
    backfilled = monitor(config, experiment=experiment)
    again = monitor(config, experiment=experiment)

    model = load_model_handle(yaml.safe_load(config.read_text())["model"], trusted_types=tuple(TRUSTED))
    rows = log[in_x]
    expected = float(np.mean(model.predict(rows[list(model.features)]) == rows["churned"].to_numpy()))
    assert first.new and first.relabelled == ()
    (update,) = joined.relabelled
    assert update.window == x and update.before == 0 and update.labelled == in_x.sum()
    assert update.realised == pytest.approx(expected, abs=1e-4)
    assert [r.window for r in backfilled.relabelled] == [y]
    assert joined.new == backfilled.new == again.new == () and again.relabelled == ()

    client = MlflowClient()
    run_id = _monitoring_run(client, experiment).info.run_id
    start = int(x.start.value // 1_000_000)
    labelled = [m for m in client.get_metric_history(run_id, "monitor.labelled") if m.timestamp in (start, start + 1)]
    assert sorted((m.timestamp, m.value) for m in labelled) == [(start, 0), (start + 1, in_x.sum())]
    realised = [m for m in client.get_metric_history(run_id, "monitor.realised.accuracy") if m.timestamp == start + 1]
    assert [m.value for m in realised] == [pytest.approx(expected, abs=1e-4)]
    assert len(client.get_metric_history(run_id, "monitor.rows")) == len(first.new)  # each window computed once


def test_an_alert_with_mitigate_on_retrains_gates_and_refreshes_the_golden_set_of_the_version_it_registers(
        tracking_uri: str, tmp_path: Path) -> None:
    churn = scenario(tracking_uri, tmp_path / "scenario", "pm-alert-mitigate")
    config = _config(churn, tmp_path, _log(churn), alerts={"rules": [ALERT_ON_DRIFT], "mitigate": True},
                     golden={"refresh": True})

    done = run_cli("monitor", str(config), env={"MLFLOW_EXPERIMENT_NAME": "pm-alert-mitigate"}, cwd=tmp_path,
                   timeout=600)

    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient()
    (postmortem,) = _triggered(client, _monitoring_run(client, "pm-alert-mitigate").info.run_id)
    assert postmortem.data.tags["postmortem.root_cause"] == "feature_recalibration"
    mitigation = client.get_run(postmortem.data.tags["postmortem.mitigate.run_id"])
    assert mitigation.info.status == "FINISHED"
    new = client.get_model_version("pm-alert-mitigate", mitigation.data.tags["postmortem.new_version"])
    assert new.tags["postmortem.diagnosis_run_id"] == postmortem.info.run_id
    assert new.tags["postmortem.mitigation"] == "retrain_correct_feature_version"
    assert new.tags["postmortem.gate"] == "passed"
    assert new.tags["postmortem.golden.uri"] == str(churn.parent / "golden-v2.parquet")
    assert (churn.parent / "golden-v2.parquet").exists()
