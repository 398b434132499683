"""What a fired alert sets off: its record, the webhook, and a post-mortem of the alerting windows.

Each alert is remembered as a tag `postmortem.alert.<n>` on the monitoring run (JSON: the rule,
the window it fired at, its windows, its post-mortem), so every later call knows which breaches
have fired (alerts.py), however often monitor runs; the version gets `postmortem.alert` (the
latest) and `postmortem.alert.history`. The post-mortem reads the alerting windows' rows from a
copy written, with a config pointing at it, into the monitoring run's artifacts `alerts/<n>/`
(beside the config, and uploaded there, when the artifacts are not local files): a later
`mitigate --from-run` still finds them there.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from .adapters import registry, runs, webhook
from .alerts import Alert, WindowFigures, fire
from .config import Config
from .errors import ConfigError, PostmortemError
from .lifecycle import Say
from .postmortem import run_postmortem
from .production_log import LogScan

#: + the alert's number: its record on the monitoring run
RECORD_TAG = "postmortem.alert."


@dataclass(frozen=True)
class Fired:
    """An alert raised by this call, and what it set off."""

    alert: Alert
    number: int
    #: the post-mortem of the alerting windows (an identical earlier one when it repeats), None when it failed
    postmortem_run_id: str | None
    #: the verdict in a few words, or why the post-mortem failed
    outcome: str
    #: why the webhook POST failed; None when it was delivered or there is no webhook
    webhook_error: str | None

    def describe(self) -> str:
        done = f"post-mortem {self.postmortem_run_id}: {self.outcome}" if self.postmortem_run_id else self.outcome
        return f"alert {self.number}: {self.alert.describe()}; {done}"


def check_rules(config: Config, features: tuple[str, ...]) -> None:
    """A rule on one feature's drift must name a feature the model takes (else it could never fire)."""
    for i, rule in enumerate(config.alerts.rules):
        feature = rule.metric.removeprefix("monitor.drift.")
        if rule.metric.startswith("monitor.drift.") and feature not in features:
            shown = ", ".join(features[:10]) + (", ..." if len(features) > 10 else "")
            raise ConfigError(f"{config.source}: key 'alerts.rules[{i}].metric': {feature!r} is not a feature of the "
                              f"model (features: {shown})")


def raise_alerts(run: runs.RunRef, config: Config, version: registry.RegisteredVersion,
                 figures: list[WindowFigures], fresh: set[int], log: LogScan, *,
                 tracking_uri: str | None, say: Say) -> tuple[Fired, ...]:
    """The rules checked against every recorded window; each new breach raised once."""
    records = {int(k.removeprefix(RECORD_TAG)): json.loads(v) for k, v in runs.run_tags(run.run_id).items()
               if k.startswith(RECORD_TAG) and k.removeprefix(RECORD_TAG).isdigit()}
    fired: dict[str, set[int]] = {}
    for record in records.values():
        fired.setdefault(record["rule"], set()).add(record["fired_step"])
    alerts = fire(config.alerts.rules, figures, fired=fired, fresh=fresh)
    return tuple(_raise(run, config, version, alert, number, log, tracking_uri, say)
                 for number, alert in enumerate(alerts, start=max(records, default=0) + 1))


def _raise(run: runs.RunRef, config: Config, version: registry.RegisteredVersion, alert: Alert, number: int,
           log: LogScan, tracking_uri: str | None, say: Say) -> Fired:
    """Record first, then the webhook, then the post-mortem: a failure late in the line loses nothing before it."""
    record = {"rule": alert.rule.name, "fired_step": alert.fired_step, "start": alert.start.isoformat(),
              "end": alert.end.isoformat(), "windows": len(alert.windows)}
    runs.set_tags(run, {f"{RECORD_TAG}{number}": json.dumps(record)})
    registry.record_alert(version.name, version.version, f"alert {number}: {alert.describe()}  monitoring run {run.run_id}")
    say(f"alert {number}: {alert.describe()}")
    failed = None
    if config.alerts.webhook:
        failed = webhook.post_json(config.alerts.webhook, payload(alert, number, version, run))
        if failed:
            say(f"alert {number}: webhook {config.alerts.webhook} failed: {failed}")
    pm_config = _alerting_windows(run, config, alert, number, log)
    say(f"alert {number}: post-mortem of its windows ({pm_config})")
    try:
        outcome = run_postmortem(pm_config, pm_config.parent / "verdict.json", tracking_uri=tracking_uri,
                                 mitigate=config.alerts.mitigate, triggered_by=run, say=say)
    except PostmortemError as exc:
        fired = Fired(alert, number, None, f"its post-mortem failed: {' '.join(str(exc).split())}", failed)
    else:
        top = outcome.verdict.top
        features = f" of {', '.join(top.features[:3])}" if top.features else ""
        fired = Fired(alert, number, outcome.run_id or outcome.repeat_of,
                      f"{top.cause}{features} (score {top.score:.2f})", failed)
    runs.set_tags(run, {f"{RECORD_TAG}{number}": json.dumps(record | {"postmortem_run_id": fired.postmortem_run_id,
                                                                        "outcome": fired.outcome})})
    return fired


def payload(alert: Alert, number: int, version: registry.RegisteredVersion, run: runs.RunRef) -> dict:
    """The webhook's JSON: which model, which windows, which rule, the figures that broke it, where to look."""
    return {"model": version.name, "version": version.version, "alert": number,
            "window": {"start": alert.start.isoformat(), "end": alert.end.isoformat()},
            "rule": asdict(alert.rule), "summary": alert.describe(),
            "figures": [{"start": w.window.start.isoformat(), "end": w.window.end.isoformat(), "rows": w.rows,
                         "labelled": w.labelled, "value": value} for w, value in alert.figures()],
            "monitoring_run_id": run.run_id, "url": runs.ui_url(run.experiment_id, run.run_id)}


def _alerting_windows(run: runs.RunRef, config: Config, alert: Alert, number: int, log: LogScan) -> Path:
    """The production rows of the alert's windows (late labels joined) and a config reading them
    instead of `data.current`, without `alerts`; returns the config's path."""
    local = runs.local_artifact_dir(run)
    source = Path(config.source)
    folder = (local or source.parent / "postmortem-alerts" / run.run_id) / "alerts" / str(number)
    folder.mkdir(parents=True, exist_ok=True)
    log.between(alert.start, alert.end).to_parquet(folder / "current.parquet", index=False)
    raw = yaml.safe_load(source.read_text())
    raw.pop("alerts", None)
    raw["data"] = config.data.as_written() | {"current": "current.parquet"}
    (folder / "pm.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    if local is None:
        runs.log_artifacts(run, folder, f"alerts/{number}")
    return folder / "pm.yaml"
