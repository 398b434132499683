"""The model registry: versions resolved and pinned, their tags (verdicts, history, launch
golden metrics), new versions and aliases."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ..errors import ModelError, TrackingError
from ..types import GoldenResult, RecordedGolden, Verdict
from .tracking import call, first_line, patient


#: version tags holding a version's launch golden metrics, e.g. `postmortem.launch.roc_auc` (not under
#: `postmortem.golden.`: that names the version's golden set, refresh-golden's uri and file digest)
LAUNCH_TAG_PREFIX = "postmortem.launch."
ROOT_CAUSE_TAG = "postmortem.root_cause"
RUN_ID_TAG = "postmortem.run_id"

#: every post-mortem of the version, newest first (the two tags above hold the latest)
HISTORY_TAG = "postmortem.history"
#: the version's latest alert (one line), and every alert, newest first
ALERT_TAG, ALERT_HISTORY_TAG = "postmortem.alert", "postmortem.alert.history"

#: the version of a model loaded from outside the registry (runs:/, a path)
UNREGISTERED = "unregistered"

_LOGGED_MODEL_SOURCE = re.compile(r"^models:/(?P<id>m-[0-9a-f]+)$")
_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/]+)|@(?P<alias>[^/]+))$")


@dataclass(frozen=True)
class RegisteredVersion:
    """A registry URI pinned to one version, so an alias moving mid-run changes nothing."""

    name: str
    version: str
    tags: dict[str, str]
    aliases: tuple[str, ...] = ()
    #: the logged model behind the version (MLflow 3), which metrics can be linked to; None for a
    #: version registered from a run's artifacts
    model_id: str | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def resolve_version(uri: str) -> RegisteredVersion | None:
    """Resolve `models:/name/3` or `models:/name@alias`; None for any non-registry URI."""
    match = _REGISTRY_URI.match(uri)
    if match is None:
        return None
    name, version, alias = match["name"], match["version"], match["alias"]
    if version is not None and not version.isdigit():
        raise ModelError(f"model URI {uri} names neither a version number nor an @alias (stages are not supported)")
    try:
        mv = patient(lambda c: c.get_model_version(name, version) if alias is None
                      else c.get_model_version_by_alias(name, alias))
    except MlflowException as exc:
        raise _registry_error(uri, exc) from None
    return _registered(mv)


def list_versions(name: str) -> list[RegisteredVersion]:
    """Every version of a registered model with its aliases, oldest first (a search returns no aliases:
    they are read from the registered model)."""
    def read(client: MlflowClient) -> tuple[list[Any], dict[str, str]]:
        return client.search_model_versions(f"name='{name}'"), dict(client.get_registered_model(name).aliases or {})

    try:
        found, aliases = patient(read)
    except MlflowException as exc:
        raise _registry_error(f"models:/{name}", exc) from None
    named: dict[str, list[str]] = {}
    for alias, version in sorted(aliases.items()):
        named.setdefault(str(version), []).append(alias)
    return sorted((replace(_registered(mv), aliases=tuple(named.get(str(mv.version), ()))) for mv in found),
                  key=lambda v: int(v.version))


def _registered(mv: Any) -> RegisteredVersion:
    return RegisteredVersion(name=mv.name, version=str(mv.version), tags=dict(mv.tags or {}),
                             aliases=tuple(getattr(mv, "aliases", None) or ()), model_id=_model_id(mv))


def _model_id(mv: Any) -> str | None:
    """The version's logged model: its `model_id`, or (the sqlite store leaves that empty) the id in
    its `models:/m-...` source."""
    if getattr(mv, "model_id", None):
        return mv.model_id
    match = _LOGGED_MODEL_SOURCE.match(mv.source or "")
    return match["id"] if match else None


def previous_version_uri(uri: str) -> str | None:
    """The default baseline: the highest existing version below the reviewed one, if any."""
    reviewed = resolve_version(uri)
    if reviewed is None:
        return None
    try:
        versions = patient(lambda c: c.search_model_versions(f"name='{reviewed.name}'"))
    except MlflowException as exc:
        raise _registry_error(uri, exc) from None
    below = [int(v.version) for v in versions if int(v.version) < int(reviewed.version)]
    return f"models:/{reviewed.name}/{max(below)}" if below else None


def record_version_tags(name: str, version: str, verdict: Verdict) -> None:
    """Tag the reviewed version with the verdict, so the registry page tells the story.

    The version's golden metrics are recorded as its baseline only when it has none yet and
    the golden check found no drop: a regressed version must not become its own yardstick. The
    primary metric keeps its interval, row count and a digest of the golden rows, so a later
    comparison is unpaired but honest, and a refreshed golden set is not mistaken for a drop.
    """
    uri = f"models:/{name}/{version}"

    def tag(client: MlflowClient) -> None:
        tags = dict(client.get_model_version(name, version).tags or {})
        client.set_model_version_tag(name, version, ROOT_CAUSE_TAG, verdict.root_cause)
        if verdict.run_id:
            client.set_model_version_tag(name, version, RUN_ID_TAG, verdict.run_id)
            client.set_model_version_tag(name, version, HISTORY_TAG, _history(tags.get(HISTORY_TAG, ""), verdict))
        golden = verdict.golden
        if golden is not None and not golden.dropped and not any(k.startswith(LAUNCH_TAG_PREFIX) for k in tags):
            for key, value in _golden_tags(golden).items():
                client.set_model_version_tag(name, version, key, value)

    try:
        patient(tag)
    except MlflowException as exc:
        raise TrackingError(f"could not tag {uri} in the registry at {mlflow.get_registry_uri()}: {first_line(exc)}") from None


def _history(earlier: str, verdict: Verdict) -> str:
    """The version's post-mortems, newest first, one line each: the latest verdict never hides the
    ones before it."""
    return _newest_first(earlier, f"{verdict.root_cause} (score {verdict.top.score:.2f})  run {verdict.run_id}")


def record_alert(name: str, version: str, line: str) -> None:
    """The alert on the version: `postmortem.alert` the latest, `postmortem.alert.history` every one, newest first."""
    def tag(client: MlflowClient) -> None:
        earlier = dict(client.get_model_version(name, version).tags or {}).get(ALERT_HISTORY_TAG, "")
        client.set_model_version_tag(name, version, ALERT_TAG, line)
        client.set_model_version_tag(name, version, ALERT_HISTORY_TAG, _newest_first(earlier, line))

    call(tag, f"tag models:/{name}/{version} with an alert")


def _newest_first(earlier: str, line: str) -> str:
    """A history tag: `line`, stamped now, above the earlier lines. Oldest lines go when the tag
    would pass MLflow's 8,000 characters."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"{when}  {line}", *(old for old in earlier.splitlines() if old.strip())]
    while len("\n".join(lines)) > 8000 and len(lines) > 1:
        lines.pop()
    return "\n".join(lines)


def _golden_tags(golden: GoldenResult) -> dict[str, str]:
    tags = {f"{LAUNCH_TAG_PREFIX}{metric}": repr(float(value)) for metric, value in golden.metrics.items()
            if math.isfinite(value)}
    tags.update({f"{LAUNCH_TAG_PREFIX}{golden.metric}.ci_low": repr(float(golden.ci_low)),
                 f"{LAUNCH_TAG_PREFIX}{golden.metric}.ci_high": repr(float(golden.ci_high)),
                 f"{LAUNCH_TAG_PREFIX}rows": str(golden.n_rows), f"{LAUNCH_TAG_PREFIX}digest": golden.digest or ""})
    return tags


def recorded_golden(version: RegisteredVersion) -> RecordedGolden | None:
    """The primary golden metric recorded on the version, when it was recorded with its interval,
    row count and golden digest (tags from before those were kept compare nothing)."""
    tags = {k.removeprefix(LAUNCH_TAG_PREFIX): v for k, v in version.tags.items() if k.startswith(LAUNCH_TAG_PREFIX)}
    for metric in ("accuracy", "rmse"):
        keys = (metric, f"{metric}.ci_low", f"{metric}.ci_high", "rows", "digest")
        if not all(tags.get(k) for k in keys):
            continue
        try:
            return RecordedGolden(metric, float(tags[metric]), float(tags[f"{metric}.ci_low"]),
                                  float(tags[f"{metric}.ci_high"]), int(tags["rows"]), tags["digest"])
        except ValueError:
            raise ModelError(f"tags {LAUNCH_TAG_PREFIX}{metric}* on {version.uri} are not numbers: "
                             f"{ {k: tags[k] for k in keys[:4]} }") from None
    return None


def _registry_error(uri: str, exc: MlflowException) -> ModelError | TrackingError:
    if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
        return ModelError(f"model URI {uri} not found in the registry at {mlflow.get_registry_uri()}")
    return TrackingError(f"registry at {mlflow.get_registry_uri()} failed to resolve {uri}: {first_line(exc)}")


def register_sklearn_model(estimator: Any, name: str, X: pd.DataFrame, *, trusted_types: tuple[str, ...] = (),
                           run_name: str | None = None) -> str:
    """Log a fitted estimator with its signature and register it; returns the new version."""
    from mlflow.models import infer_signature

    try:
        with mlflow.start_run(run_name=run_name):
            info = mlflow.sklearn.log_model(
                estimator, name="model", registered_model_name=name, pip_requirements=["scikit-learn"],
                signature=infer_signature(X, estimator.predict(X)), skops_trusted_types=list(trusted_types) or None,
            )
    except MlflowException as exc:
        raise TrackingError(f"could not register {name} at {mlflow.get_tracking_uri()}: {first_line(exc)}") from None
    return str(info.registered_model_version)


def alias_version(name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the model or the alias does not exist."""
    try:
        return str(patient(lambda c: c.get_model_version_by_alias(name, alias)).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise TrackingError(f"registry at {mlflow.get_registry_uri()} failed to look up {name}@{alias}: {first_line(exc)}") from None


def set_alias(name: str, alias: str, version: str, attempts: int = 5) -> None:
    """Point an alias at a version. Two mitigations of one model may set the same alias at the
    same moment; the store then refuses one of them (a unique-key race), which a retry settles."""
    for attempt in range(1, attempts + 1):
        try:
            patient(lambda c: c.set_registered_model_alias(name, alias, version))
            return
        except MlflowException as exc:
            if attempt == attempts or "UNIQUE constraint" not in str(exc) and "already exists" not in str(exc):
                raise TrackingError(f"could not set {name}@{alias} -> {version}: {first_line(exc)}") from None
            time.sleep(0.2 * attempt)


def set_version_tags(name: str, version: str, tags: dict[str, str]) -> None:
    def tag(client: MlflowClient) -> None:
        for k, v in tags.items():
            client.set_model_version_tag(name, version, k, v)

    call(tag, f"tag models:/{name}/{version}")


def register_run_model(name: str, run_id: str, tags: dict[str, str]) -> str:
    """Register the model a training run logged as a new version of `name`, tagged; returns the version.

    The run's logged model named `model` (MLflow 3's `log_model`) when it has one, so the version
    links to it; else the run's `model` artifact folder (a trainer that saved files itself).
    """
    def register(client: MlflowClient) -> str:
        run = client.get_run(run_id)
        outputs = run.outputs.model_outputs if run.outputs is not None else []
        logged = [m for m in (client.get_logged_model(o.model_id) for o in outputs) if m.name == "model"]
        if logged:
            model_id = logged[-1].model_id
            mv = client.create_model_version(name, f"models:/{model_id}", run_id=run_id, tags=tags, model_id=model_id)
        else:
            mv = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run_id, tags=tags)
        return str(mv.version)

    return call(register, f"register the model of run {run_id} as a version of {name}", once=True)


def version_tags(name: str, version: str) -> dict[str, str]:
    return call(lambda c: dict(c.get_model_version(name, version).tags or {}), f"read models:/{name}/{version}")


def find_version_by_tag(name: str, key: str, value: str) -> str | None:
    versions = call(lambda c: c.search_model_versions(f"name='{name}' and tags.`{key}` = '{value}'"),
                     f"search versions of {name}")
    return str(min(int(v.version) for v in versions)) if versions else None
