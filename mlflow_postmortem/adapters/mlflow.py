"""The one module that talks to MLflow: registry look-ups, model loading, version tags.

Everything returned is MLflow-free (a `ModelHandle` of plain callables), so the core never
sees an MLflow object, and every MLflow failure leaves here as a one-line `PostmortemError`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import mlflow
import numpy as np
import pandas as pd
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model

from ..errors import ModelError, TrackingError
from ..types import ModelHandle, Verdict

#: version tags holding a version's launch golden metrics, e.g. `postmortem.golden.roc_auc`
GOLDEN_TAG_PREFIX = "postmortem.golden."
ROOT_CAUSE_TAG = "postmortem.root_cause"
RUN_ID_TAG = "postmortem.run_id"
#: the version of a model loaded from outside the registry (runs:/, a path)
UNREGISTERED = "unregistered"

_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/]+)|@(?P<alias>[^/]+))$")


@dataclass(frozen=True)
class RegisteredVersion:
    """A registry URI pinned to one version, so an alias moving mid-run changes nothing."""

    name: str
    version: str
    tags: dict[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def use_tracking_uri(uri: str | None) -> str:
    """Point MLflow at `uri` (when given) and return the tracking URI in effect."""
    if uri:
        mlflow.set_tracking_uri(uri)
    return mlflow.get_tracking_uri()


def check_tracking_reachable(timeout_s: float = 10.0) -> None:
    """Fail fast on an unreachable tracking server.

    MLflow's own client retries with backoff for minutes before giving up, so a typo in the
    URI would look like a hang. A direct `/health` probe answers within `timeout_s`, and the
    client's retries are bounded (unless the user set them) for failures later in the run.
    sqlite and file stores need no check.
    """
    uri = mlflow.get_tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    try:
        response = requests.get(f"{uri.rstrip('/')}/health", timeout=timeout_s)
    except requests.Timeout:
        raise TrackingError(f"tracking server {uri} did not answer within {timeout_s:g}s") from None
    except requests.RequestException as exc:
        raise TrackingError(f"tracking server {uri} is not reachable: {_os_reason(exc)}") from None
    if response.status_code >= 500:
        raise TrackingError(f"tracking server {uri} answered HTTP {response.status_code} on /health")


def resolve_version(uri: str) -> RegisteredVersion | None:
    """Resolve `models:/name/3` or `models:/name@alias`; None for any non-registry URI."""
    match = _REGISTRY_URI.match(uri)
    if match is None:
        return None
    name, version, alias = match["name"], match["version"], match["alias"]
    if version is not None and not version.isdigit():
        raise ModelError(f"model URI {uri} names neither a version number nor an @alias (stages are not supported)")
    client = MlflowClient()
    try:
        mv = client.get_model_version(name, version) if alias is None else client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        raise _registry_error(uri, exc) from None
    return RegisteredVersion(name=mv.name, version=str(mv.version), tags=dict(mv.tags or {}))


def load_model_handle(uri: str, *, trusted_types: tuple[str, ...] = ()) -> ModelHandle:
    """Load a model version as plain callables the core can score with.

    Models with the sklearn flavor load as the estimator itself (for `predict_proba` and
    `classes_`); others load through pyfunc. A URI outside the registry (runs:/, a path) is
    allowed: its name is the URI and its version UNREGISTERED.
    """
    registered = resolve_version(uri)
    source = registered.uri if registered else uri
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=source)
        meta = Model.load(local)
    except MlflowException as exc:
        raise ModelError(f"model URI {uri} could not be downloaded: {_first_line(exc)}") from None
    except OSError as exc:
        raise ModelError(f"model URI {uri} has no readable MLmodel file: {exc.strerror or exc}") from None

    signature_features = _signature_features(meta)
    flavor = meta.flavors.get("sklearn")
    if flavor is not None:
        estimator = _load_sklearn(uri, local, flavor, trusted_types)
        names = getattr(estimator, "feature_names_in_", None)
        features = signature_features or (tuple(str(n) for n in names) if names is not None else None)
        predict = _on_features(estimator.predict, features)
        has_proba = hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")
        predict_proba = _on_features(estimator.predict_proba, features) if has_proba else None
        classes = tuple(np.asarray(estimator.classes_).tolist()) if has_proba else None
    else:
        try:
            pyfunc = mlflow.pyfunc.load_model(local)
        except MlflowException as exc:
            raise ModelError(f"model URI {uri} could not be loaded: {_first_line(exc)}") from None
        features = signature_features
        predict = _on_features(pyfunc.predict, features)
        predict_proba, classes = None, None

    return ModelHandle(
        name=registered.name if registered else uri,
        version=registered.version if registered else UNREGISTERED,
        predict=predict,
        predict_proba=predict_proba,
        classes=classes,
        features=features,
        recorded_golden=_recorded_golden(registered) if registered else None,
    )


def previous_version_uri(uri: str) -> str | None:
    """The default baseline: the highest existing version below the reviewed one, if any."""
    reviewed = resolve_version(uri)
    if reviewed is None:
        return None
    try:
        versions = MlflowClient().search_model_versions(f"name='{reviewed.name}'")
    except MlflowException as exc:
        raise _registry_error(uri, exc) from None
    below = [int(v.version) for v in versions if int(v.version) < int(reviewed.version)]
    return f"models:/{reviewed.name}/{max(below)}" if below else None


def record_version_tags(name: str, version: str, verdict: Verdict) -> None:
    """Tag the reviewed version with the verdict, so the registry page tells the story.

    The version's golden metrics are recorded as its baseline only when it has none yet and
    the golden check found no drop: a regressed version must not become its own yardstick.
    """
    client = MlflowClient()
    uri = f"models:/{name}/{version}"
    try:
        tags = dict(client.get_model_version(name, version).tags or {})
        client.set_model_version_tag(name, version, ROOT_CAUSE_TAG, verdict.root_cause)
        if verdict.run_id:
            client.set_model_version_tag(name, version, RUN_ID_TAG, verdict.run_id)
        golden = verdict.golden
        if golden is not None and not golden.dropped and not any(k.startswith(GOLDEN_TAG_PREFIX) for k in tags):
            for metric, value in golden.metrics.items():
                if math.isfinite(value):
                    client.set_model_version_tag(name, version, f"{GOLDEN_TAG_PREFIX}{metric}", repr(float(value)))
    except MlflowException as exc:
        raise TrackingError(f"could not tag {uri} in the registry at {mlflow.get_registry_uri()}: {_first_line(exc)}") from None


def _load_sklearn(uri: str, local: str, flavor: dict[str, Any], trusted_types: tuple[str, ...]) -> Any:
    """Load the estimator, trusting only the types the user listed.

    `mlflow.sklearn.load_model` trusts the skops types listed in the model's own MLmodel file,
    which whoever logged the model controls; here only the config's `skops_trusted_types`
    (plus skops' built-in safe set) are trusted. Pickle formats stay behind MLflow's own
    MLFLOW_ALLOW_PICKLE_DESERIALIZATION gate.
    """
    if flavor.get("serialization_format") != "skops":
        try:
            return mlflow.sklearn.load_model(local)
        except MlflowException as exc:
            raise ModelError(f"model URI {uri} could not be loaded: {_first_line(exc)}") from None
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    path = Path(local) / flavor["pickled_model"]
    try:
        return skops.io.load(path, trusted=list(trusted_types))
    except UntrustedTypesFoundException:
        untrusted = sorted(set(skops.io.get_untrusted_types(file=path)) - set(trusted_types))
        raise ModelError(
            f"model URI {uri} needs skops types that are not trusted: {', '.join(untrusted)}; "
            "list them under 'skops_trusted_types' in the config if you trust this model"
        ) from None


def _signature_features(meta: Model) -> tuple[str, ...] | None:
    inputs = meta.signature.inputs if meta.signature is not None else None
    if inputs is None or not inputs.has_input_names():
        return None
    return tuple(str(n) for n in inputs.input_names())


def _on_features(fn: Callable[[pd.DataFrame], Any], features: tuple[str, ...] | None) -> Callable[[pd.DataFrame], np.ndarray]:
    """Score on the model's own columns in its own order, whatever else the frame carries."""
    columns = list(features) if features else None

    def call(frame: pd.DataFrame) -> np.ndarray:
        out = np.asarray(fn(frame[columns] if columns else frame))
        return out.ravel() if out.ndim == 2 and out.shape[1] == 1 else out

    return call


def _recorded_golden(version: RegisteredVersion) -> dict[str, float] | None:
    golden: dict[str, float] = {}
    for key, value in version.tags.items():
        if key.startswith(GOLDEN_TAG_PREFIX):
            try:
                golden[key.removeprefix(GOLDEN_TAG_PREFIX)] = float(value)
            except ValueError:
                raise ModelError(f"tag {key} on {version.uri} is not a number: {value!r}") from None
    return golden or None


def _registry_error(uri: str, exc: MlflowException) -> ModelError | TrackingError:
    if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
        return ModelError(f"model URI {uri} not found in the registry at {mlflow.get_registry_uri()}")
    return TrackingError(f"registry at {mlflow.get_registry_uri()} failed to resolve {uri}: {_first_line(exc)}")


def _os_reason(exc: BaseException) -> str:
    """The socket-level reason ("Connection refused") buried under requests' and urllib3's wrappers."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
        raise TrackingError(f"could not register {name} at {mlflow.get_tracking_uri()}: {_first_line(exc)}") from None
    return str(info.registered_model_version)


def alias_version(name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the model or the alias does not exist."""
    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise TrackingError(f"registry at {mlflow.get_registry_uri()} failed to look up {name}@{alias}: {_first_line(exc)}") from None


def set_alias(name: str, alias: str, version: str) -> None:
    try:
        MlflowClient().set_registered_model_alias(name, alias, version)
    except MlflowException as exc:
        raise TrackingError(f"could not set {name}@{alias} -> {version}: {_first_line(exc)}") from None
