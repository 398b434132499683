"""The one module that talks to MLflow: registry look-ups, model loading, version tags.

Everything returned is MLflow-free (a `ModelHandle` of plain callables), so the core never
sees an MLflow object, and every MLflow failure leaves here as a one-line `PostmortemError`.
"""

from __future__ import annotations

import math
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
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

from ..config import TRUST_PICKLE_ENV
from ..errors import ModelError, TrackingError
from ..reachable import PROBE_TIMEOUT_S, probe_tracking_server
from ..types import GoldenResult, ModelHandle, RecordedGolden, Verdict

# progress bars for kilobyte artifacts drown the post-mortem's own progress lines
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

#: version tags holding a version's launch golden metrics, e.g. `postmortem.golden.roc_auc`
GOLDEN_TAG_PREFIX = "postmortem.golden."
ROOT_CAUSE_TAG = "postmortem.root_cause"
RUN_ID_TAG = "postmortem.run_id"
#: every post-mortem of the version, newest first (the two tags above hold the latest)
HISTORY_TAG = "postmortem.history"
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


def check_tracking_reachable(timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Fail fast on an unreachable tracking server (reachable.py), and bound the client's own
    retries (unless the user set them) for failures later in the run."""
    uri = mlflow.get_tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    probe_tracking_server(uri, timeout_s)


def resolve_version(uri: str) -> RegisteredVersion | None:
    """Resolve `models:/name/3` or `models:/name@alias`; None for any non-registry URI."""
    match = _REGISTRY_URI.match(uri)
    if match is None:
        return None
    name, version, alias = match["name"], match["version"], match["alias"]
    if version is not None and not version.isdigit():
        raise ModelError(f"model URI {uri} names neither a version number nor an @alias (stages are not supported)")
    try:
        mv = _patient(lambda c: c.get_model_version(name, version) if alias is None
                      else c.get_model_version_by_alias(name, alias))
    except MlflowException as exc:
        raise _registry_error(uri, exc) from None
    return RegisteredVersion(name=mv.name, version=str(mv.version), tags=dict(mv.tags or {}))


#: flavours whose files MLflow loads with pickle (behind MLFLOW_ALLOW_PICKLE_DESERIALIZATION, on by default)
PICKLE_FLAVORS = ("pytorch", "statsmodels", "pmdarima", "paddle", "dspy")


def load_model_handle(uri: str, *, trusted_types: tuple[str, ...] = (), trust_pickle: bool = False) -> ModelHandle:
    """Load a model version as plain callables the core can score with.

    Models with the sklearn flavor load as the estimator itself (for `predict_proba` and
    `classes_`); others load through pyfunc. A URI outside the registry (runs:/, a path) is
    allowed: its name is the URI and its version UNREGISTERED. A model whose files load with
    pickle or cloudpickle can run any code as it loads, so it loads only with `trust_pickle`;
    whatever a load raises or returns instead of a model ends in one ModelError line.
    """
    registered = resolve_version(uri)
    source = registered.uri if registered else uri
    try:
        local = _patient(lambda _: mlflow.artifacts.download_artifacts(artifact_uri=source))  # a download may repeat
        meta = Model.load(local)
    except MlflowException as exc:
        raise ModelError(f"model URI {uri} could not be downloaded: {_first_line(exc)}") from None
    except OSError as exc:
        raise ModelError(f"model URI {uri} has no readable MLmodel file: {exc.strerror or exc}") from None

    _refuse_untrusted_pickle(uri, meta, trust_pickle)
    signature_features = _signature_features(meta)
    flavor = meta.flavors.get("sklearn")
    if flavor is not None:
        estimator = _loaded(uri, lambda: _load_sklearn(uri, local, flavor, trusted_types))
        names = getattr(estimator, "feature_names_in_", None)
        features = signature_features or (tuple(str(n) for n in names) if names is not None else None)
        predict = _on_features(estimator.predict, features)
        has_proba = hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")
        predict_proba = _on_features(estimator.predict_proba, features) if has_proba else None
        classes = tuple(np.asarray(estimator.classes_).tolist()) if has_proba else None
    else:
        pyfunc = _loaded(uri, lambda: mlflow.pyfunc.load_model(local))
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
        versions = _patient(lambda c: c.search_model_versions(f"name='{reviewed.name}'"))
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
        if golden is not None and not golden.dropped and not any(k.startswith(GOLDEN_TAG_PREFIX) for k in tags):
            for key, value in _golden_tags(golden).items():
                client.set_model_version_tag(name, version, key, value)

    try:
        _patient(tag)
    except MlflowException as exc:
        raise TrackingError(f"could not tag {uri} in the registry at {mlflow.get_registry_uri()}: {_first_line(exc)}") from None


def _history(earlier: str, verdict: Verdict) -> str:
    """The version's post-mortems, newest first, one line each: the latest verdict never hides the
    ones before it. Oldest lines go when the tag would pass MLflow's 8,000 characters."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    line = f"{when}  {verdict.root_cause} (score {verdict.top.score:.2f})  run {verdict.run_id}"
    lines = [line, *(old for old in earlier.splitlines() if old.strip())]
    while len("\n".join(lines)) > 8000 and len(lines) > 1:
        lines.pop()
    return "\n".join(lines)


def _golden_tags(golden: GoldenResult) -> dict[str, str]:
    tags = {f"{GOLDEN_TAG_PREFIX}{metric}": repr(float(value)) for metric, value in golden.metrics.items()
            if math.isfinite(value)}
    tags.update({f"{GOLDEN_TAG_PREFIX}{golden.metric}.ci_low": repr(float(golden.ci_low)),
                 f"{GOLDEN_TAG_PREFIX}{golden.metric}.ci_high": repr(float(golden.ci_high)),
                 f"{GOLDEN_TAG_PREFIX}rows": str(golden.n_rows), f"{GOLDEN_TAG_PREFIX}digest": golden.digest or ""})
    return tags


def _refuse_untrusted_pickle(uri: str, meta: Model, trust_pickle: bool) -> None:
    pickled = _pickled(meta)
    if pickled and not trust_pickle:
        raise ModelError(f"model URI {uri} is saved with {pickled}, which runs code from the model's files as it "
                         f"loads; set trust_pickle: true in the config (or {TRUST_PICKLE_ENV}=1) only if you trust "
                         "whoever logged it")


def _pickled(meta: Model) -> str | None:
    """How the model's files load, when that is pickle or cloudpickle (code runs as they load)."""
    sklearn = meta.flavors.get("sklearn")
    if sklearn is not None and sklearn.get("serialization_format") != "skops":
        return f"{sklearn.get('serialization_format') or 'pickle'} (sklearn flavour)"
    pyfunc = meta.flavors.get("python_function") or {}
    if pyfunc.get("loader_module") == "mlflow.pyfunc.model" or "python_model" in pyfunc:
        return "cloudpickle (a custom python_function model)"
    return next((f"pickle ({name} flavour)" for name in PICKLE_FLAVORS if name in meta.flavors), None)


def _loaded(uri: str, load: Callable[[], Any]) -> Any:
    """What `load` returns, when it is a model: anything else, or anything it raises, is one line."""
    try:
        model = load()
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - a model's own files may raise anything as they load
        raise ModelError(f"model URI {uri} could not be loaded: {type(exc).__name__}: {_first_line(exc)}") from None
    if not callable(getattr(model, "predict", None)):
        raise ModelError(f"model URI {uri} loaded as a {type(model).__name__}, which has no predict(); "
                         "is it a model?")
    return model


def _load_sklearn(uri: str, local: str, flavor: dict[str, Any], trusted_types: tuple[str, ...]) -> Any:
    """Load the estimator, trusting only the types the user listed.

    `mlflow.sklearn.load_model` trusts the skops types listed in the model's own MLmodel file,
    which whoever logged the model controls; here only the config's `skops_trusted_types`
    (plus skops' built-in safe set) are trusted. Pickle formats arrive here only with
    `trust_pickle`.
    """
    if flavor.get("serialization_format") != "skops":
        return mlflow.sklearn.load_model(local)  # pickle: only reached with trust_pickle
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


def _recorded_golden(version: RegisteredVersion) -> RecordedGolden | None:
    """The primary golden metric recorded on the version, when it was recorded with its interval,
    row count and golden digest (tags from before those were kept compare nothing)."""
    tags = {k.removeprefix(GOLDEN_TAG_PREFIX): v for k, v in version.tags.items() if k.startswith(GOLDEN_TAG_PREFIX)}
    for metric in ("accuracy", "rmse"):
        keys = (metric, f"{metric}.ci_low", f"{metric}.ci_high", "rows", "digest")
        if not all(tags.get(k) for k in keys):
            continue
        try:
            return RecordedGolden(metric, float(tags[metric]), float(tags[f"{metric}.ci_low"]),
                                  float(tags[f"{metric}.ci_high"]), int(tags["rows"]), tags["digest"])
        except ValueError:
            raise ModelError(f"tags {GOLDEN_TAG_PREFIX}{metric}* on {version.uri} are not numbers: "
                             f"{ {k: tags[k] for k in keys[:4]} }") from None
    return None


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
        return str(_patient(lambda c: c.get_model_version_by_alias(name, alias)).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise TrackingError(f"registry at {mlflow.get_registry_uri()} failed to look up {name}@{alias}: {_first_line(exc)}") from None


def set_alias(name: str, alias: str, version: str, attempts: int = 5) -> None:
    """Point an alias at a version. Two mitigations of one model may set the same alias at the
    same moment; the store then refuses one of them (a unique-key race), which a retry settles."""
    for attempt in range(1, attempts + 1):
        try:
            _patient(lambda c: c.set_registered_model_alias(name, alias, version))
            return
        except MlflowException as exc:
            if attempt == attempts or "UNIQUE constraint" not in str(exc) and "already exists" not in str(exc):
                raise TrackingError(f"could not set {name}@{alias} -> {version}: {_first_line(exc)}") from None
            time.sleep(0.2 * attempt)


# --- runs ----------------------------------------------------------------------------------
# Every run goes through MlflowClient with an explicit run id: no fluent active-run stack, so
# a failure in one step can never leave another step's run open by accident.

PARENT_TAG = "mlflow.parentRunId"
#: the run's description in the MLflow UI (Markdown), and its name
NOTE_TAG = "mlflow.note.content"
RUN_NAME_TAG = "mlflow.runName"
STEP_TAG = "postmortem.step"
KEY_TAG = "postmortem.key"
FAILURE_TAG = "postmortem.failure"
HOST_TAG, PID_TAG = "postmortem.host", "postmortem.pid"
#: rewritten every HEARTBEAT_S while a run is open: how another machine tells a live run from a dead one
HEARTBEAT_TAG = "postmortem.heartbeat"
HEARTBEAT_S = 10.0


@dataclass(frozen=True)
class RunRef:
    """A run this process writes to."""

    run_id: str
    experiment_id: str

    @property
    def artifact_uri(self) -> str:
        return _call(lambda c: c.get_run(self.run_id).info.artifact_uri, f"read run {self.run_id}")


#: the MLflow 3 UI opens an experiment in the view this tag names; without it, it may guess GenAI
EXPERIMENT_KIND_TAG, MODEL_DEVELOPMENT = "mlflow.experimentKind", "custom_model_development"


def experiment_id(name: str | None) -> str:
    """The experiment in effect: `name`, else MLFLOW_EXPERIMENT_NAME, else _ID (MLflow's order), else `postmortem`."""
    name = name or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    env_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
    if name is None and env_id:
        return env_id
    name = name or "postmortem"

    def get_or_create(client: MlflowClient) -> str:
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return client.create_experiment(name)
        except MlflowException:  # created concurrently by another post-mortem
            return client.get_experiment_by_name(name).experiment_id

    return _call(get_or_create, f"open experiment {name!r}")


def open_as_model_development(experiment: str) -> None:
    """Tag the experiment so the MLflow 3 UI opens it in the model-training view, unless it already
    names a kind (`mlflow run` creates experiments without one, and the UI may then guess GenAI)."""
    def mark(client: MlflowClient) -> None:
        if EXPERIMENT_KIND_TAG not in (client.get_experiment(experiment).tags or {}):
            client.set_experiment_tag(experiment, EXPERIMENT_KIND_TAG, MODEL_DEVELOPMENT)

    _call(mark, f"tag experiment {experiment}")


def project_run() -> RunRef | None:
    """The run `mlflow run` opened for this entry point (MLFLOW_RUN_ID), if any."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return None
    run = _call(lambda c: c.get_run(run_id), f"read run {run_id}")
    return RunRef(run_id, run.info.experiment_id)


def start_run(experiment: str, name: str, *, parent: RunRef | None = None, tags: dict[str, str] | None = None) -> RunRef:
    """Create a RUNNING run owned by this process (host, pid and heartbeat tagged, for dangling-run
    checks), with all its tags in the one request: a claim is visible complete or not at all."""
    all_tags = {**_owner(), **(tags or {}), **({PARENT_TAG: parent.run_id} if parent else {})}
    run = _call(lambda c: c.create_run(experiment, run_name=name, tags=all_tags), f"create run {name!r}", once=True)
    ref = RunRef(run.info.run_id, experiment)
    _open_runs.add(ref)
    return ref


def claim_run(run: RunRef, tags: dict[str, str] | None = None) -> None:
    """Mark a run someone else created (the project run) as owned by this process."""
    set_tags(run, {**_owner(), **(tags or {})})
    _open_runs.add(run)


def finish_run(run: RunRef, error: BaseException | None = None) -> None:
    """FINISHED; FAILED with the reason as a tag; KILLED when a signal stopped it. Never RUNNING."""
    if error is not None:
        reason = " ".join(str(error).split())[:4000] or type(error).__name__
        try:
            set_tags(run, {FAILURE_TAG: reason})
        except TrackingError:
            pass  # the status below matters more than the reason; a dead server fails both
    status = "FINISHED" if error is None else "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
    _call(lambda c: c.set_terminated(run.run_id, status), f"end run {run.run_id}")
    _open_runs.discard(run)


def end_open_runs(error: BaseException) -> list[str]:
    """End every run this process opened and has not ended (after a signal); their ids."""
    ended = []
    for run in list(_open_runs):
        try:
            finish_run(run, error)
            ended.append(run.run_id)
        except TrackingError:
            pass  # left RUNNING: the next post-mortem on this host finds its dead process
    return ended


def give_up_by(deadline: float) -> None:
    """From now on a call to the store that starts after `deadline` (time.monotonic) fails at once,
    and each waits at most 2 s: a signal's clean-up must end within its budget."""
    global _deadline
    _deadline = deadline
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "2"
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"


def _owner() -> dict[str, str]:
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()), HEARTBEAT_TAG: "0"}


class _OpenRuns:
    """The runs this process holds open, each heartbeating until it ends.

    One daemon thread rewrites HEARTBEAT_TAG on each open run every HEARTBEAT_S, so a process
    waiting on a machine elsewhere can tell a slow run from a dead one (claims.py).
    """

    def __init__(self) -> None:
        self._runs: dict[RunRef, str] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, run: RunRef) -> None:
        with self._lock:
            self._runs[run] = mlflow.get_tracking_uri()
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name="postmortem-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, run: RunRef) -> None:
        with self._lock:
            self._runs.pop(run, None)

    def __iter__(self):
        with self._lock:
            return iter(list(self._runs))

    def _beat(self) -> None:
        from mlflow.entities import RunTag

        beat = 0
        while True:
            time.sleep(HEARTBEAT_S)
            beat += 1
            with self._lock:
                runs = list(self._runs.items())
            for run, uri in runs:
                try:
                    MlflowClient(uri).log_batch(run.run_id, tags=[RunTag(HEARTBEAT_TAG, str(beat))])
                except Exception:  # noqa: BLE001 - a missed beat is retried in HEARTBEAT_S; the main thread reports failures
                    pass


_open_runs = _OpenRuns()
_deadline: float | None = None


def set_tags(run: RunRef, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    batch = [RunTag(k, str(v)[:8000]) for k, v in tags.items()]
    _call(lambda c: c.log_batch(run.run_id, tags=batch), f"tag run {run.run_id}")


def log_params(run: RunRef, params: dict[str, Any]) -> None:
    from mlflow.entities import Param

    batch = [Param(k, str(v)[:6000]) for k, v in params.items() if v is not None]
    _call(lambda c: c.log_batch(run.run_id, params=batch), f"log params to run {run.run_id}")


def log_metrics(run: RunRef, metrics: dict[str, float], *, step: int = 0, timestamp_ms: int | None = None) -> None:
    """Finite values only (MLflow rejects NaN keys in some stores); batched 1000 at a time."""
    from mlflow.entities import Metric

    ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    batch = [Metric(_metric_key(k), float(v), ts, step) for k, v in metrics.items()
             if v is not None and math.isfinite(float(v))]
    for i in range(0, len(batch), 1000):
        _call(lambda c: c.log_batch(run.run_id, metrics=batch[i:i + 1000]), f"log metrics to run {run.run_id}")


def log_artifact_text(run: RunRef, name: str, text: str) -> None:
    """`name` may have folders (`evidently/data_drift.html`)."""
    folder, _, base = name.rpartition("/")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / base
        path.write_text(text)
        _call(lambda c: c.log_artifact(run.run_id, str(path), folder or None), f"upload {name} to run {run.run_id}")


def log_datasets(run: RunRef, datasets: list[tuple[str, pd.DataFrame, str, str, str | None]]) -> None:
    """(context, frame, source path, digest, target) as run inputs, e.g. context `reference`.

    The digest is the caller's (a hash of the file's bytes), so a later run can prove it saw
    the same data; MLflow's own pandas digest only looks at the first rows.
    """
    from mlflow.entities import DatasetInput, InputTag

    inputs = []
    for context, frame, source, digest, target in datasets:
        with warnings.catch_warnings():  # hints about integer columns and source types are for model signatures
            warnings.simplefilter("ignore")
            ds = mlflow.data.from_pandas(frame, source=_source_uri(source), name=context,
                                         targets=target if target in frame.columns else None, digest=digest)
            entity = ds._to_mlflow_entity()
        inputs.append(DatasetInput(entity, tags=[InputTag("mlflow.data.context", context)]))
    _call(lambda c: c.log_inputs(run.run_id, datasets=inputs), f"log datasets to run {run.run_id}")


def find_finished(experiment: str, key: str, step: str) -> str | None:
    """The newest FINISHED run of this experiment with this key and step, if any."""
    filt = f"tags.`{KEY_TAG}` = '{key}' and tags.`{STEP_TAG}` = '{step}' and attributes.status = 'FINISHED'"
    runs = _call(lambda c: c.search_runs([experiment], filt, max_results=1, order_by=["attributes.start_time DESC"]),
                 f"search for an earlier identical {step} run")
    return runs[0].info.run_id if runs else None


@dataclass(frozen=True)
class KeyedRun:
    """A run carrying a post-mortem key, as a claim sees it."""

    run_id: str
    status: str
    tags: dict[str, str]


def keyed_runs(experiment: str, key: str, step: str) -> list[KeyedRun]:
    """Every live (not deleted) run of this experiment with this key and step, in any status."""
    filt = f"tags.`{KEY_TAG}` = '{key}' and tags.`{STEP_TAG}` = '{step}'"
    runs = _call(lambda c: c.search_runs([experiment], filt, max_results=1000), "search runs with the same key")
    return [KeyedRun(r.info.run_id, r.info.status, dict(r.data.tags)) for r in runs]


def abandon_run(run_id: str, experiment: str, reason: str) -> None:
    """End someone else's run FAILED: its process is gone and it would block the line forever."""
    ref = RunRef(run_id, experiment)
    set_tags(ref, {FAILURE_TAG: f"abandoned: {reason}"})
    _call(lambda c: c.set_terminated(run_id, "FAILED"), f"end run {run_id}")


def withdraw_run(run: RunRef, *, delete: bool, tags: dict[str, str]) -> None:
    """A run that lost its claim to an identical one: deleted when this process made it (it
    was only a ticket), else kept as a repeat without the key (it is the user's `mlflow run`)."""
    _open_runs.discard(run)
    if delete:
        _call(lambda c: c.delete_run(run.run_id), f"delete run {run.run_id}")
        return
    set_tags(run, {**tags, STEP_TAG: "repeat"})
    _call(lambda c: c.delete_tag(run.run_id, KEY_TAG), f"untag run {run.run_id}")
    _open_runs.add(run)


def is_alive_here(tags: dict[str, str]) -> bool | None:
    """Whether the process that tagged a run is alive; None when it ran on another host."""
    pid = tags.get(PID_TAG, "")
    if tags.get(HOST_TAG) != socket.gethostname() or not pid.isdigit():
        return None
    return int(pid) == os.getpid() or _alive(int(pid))


def run_tags(run_id: str) -> dict[str, str]:
    return _call(lambda c: dict(c.get_run(run_id).data.tags), f"read run {run_id}")


def run_experiment(run_id: str) -> str:
    return _call(lambda c: c.get_run(run_id).info.experiment_id, f"read run {run_id}")


def run_params(run_id: str) -> dict[str, str]:
    return _call(lambda c: dict(c.get_run(run_id).data.params), f"read run {run_id}")


def fail_dangling_runs(experiment: str) -> list[str]:
    """Runs of this package left RUNNING by a process on this host that no longer exists.

    A crash, a kill or a tracking server that died mid-run leaves a run RUNNING forever; the
    next post-mortem marks it FAILED with the reason, and returns the ids to report them.
    """
    host = socket.gethostname()
    filt = f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'"
    runs = _call(lambda c: c.search_runs([experiment], filt, max_results=500), "search for dangling runs")
    dangling = []
    for run in runs:
        if is_alive_here(run.data.tags) is False:
            pid = run.data.tags[PID_TAG]
            abandon_run(run.info.run_id, experiment, f"process {pid} on {host} ended without finishing the run")
            dangling.append(run.info.run_id)
    return dangling


def set_version_tags(name: str, version: str, tags: dict[str, str]) -> None:
    def tag(client: MlflowClient) -> None:
        for k, v in tags.items():
            client.set_model_version_tag(name, version, k, v)

    _call(tag, f"tag models:/{name}/{version}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _metric_key(key: str) -> str:
    """MLflow keys allow letters, digits, _ - . space / : only."""
    return re.sub(r"[^A-Za-z0-9_\-. /:]", "_", key)


def _source_uri(source: str) -> str:
    return source if "://" in source else Path(source).resolve().as_uri()


#: refusals that wrote nothing and pass: a busy store (a sqlite file another process writes, a server whose
#: database connections concurrent post-mortems hold), or a row two of them inserted at once (the dataset
#: both log, which the second attempt finds and links)
_BUSY = ("database is locked", "QueuePool limit", "UniqueViolation", "UNIQUE constraint failed",
         "duplicate key value violates unique constraint")
#: a connection a busy server dropped mid-answer (a worker replaced under load): the request may have been
#: applied, so only calls that may safely run twice repeat it
_BROKEN = ("Connection broken", "IncompleteRead", "RemoteDisconnected", "Connection aborted")
#: how long a call waits, in all, for a busy store before it counts as failed
BUSY_WAIT_S = 120.0


def _call(fn: Callable[[MlflowClient], Any], what: str, *, once: bool = False) -> Any:
    """One MLflow call; its failure becomes one line naming what was being done and where.
    `once`: the call creates something, so a dropped connection is not a reason to repeat it."""
    try:
        return _patient(fn, once=once)
    except MlflowException as exc:
        raise TrackingError(f"could not {what} at {mlflow.get_tracking_uri()}: {_first_line(exc)}") from None
    except requests.RequestException as exc:
        raise TrackingError(f"could not {what}: tracking server {mlflow.get_tracking_uri()} "
                            f"is not reachable ({_os_reason(exc)})") from None


def _patient(fn: Callable[[MlflowClient], Any], *, once: bool = False) -> Any:
    """`fn(client)`, repeated while the store is busy rather than broken.

    A store refuses some requests for a moment without writing anything (_BUSY), and a busy
    server may drop a connection mid-answer (_BROKEN, repeated unless `once`); the call is
    repeated with growing pauses for up to BUSY_WAIT_S (not at all once a signal's clean-up
    has begun), then the store's error stands.
    """
    waited, pause = 0.0, 0.1
    while True:
        if _deadline is not None and time.monotonic() > _deadline:
            raise TrackingError("out of time after a signal")
        try:
            return fn(MlflowClient())
        except MlflowException as exc:
            passing = _BUSY if once else _BUSY + _BROKEN
            if not any(marker in str(exc) for marker in passing) or waited >= BUSY_WAIT_S or _deadline is not None:
                raise
            time.sleep(pause)
            waited, pause = waited + pause, min(pause * 2, 5.0)


def read_artifact_text(run_id: str, path: str) -> str:
    def read(client: MlflowClient) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            return Path(client.download_artifacts(run_id, path, tmp)).read_text()

    return _call(read, f"read artifact {path} of run {run_id}")


def list_artifacts(run_id: str, folder: str) -> list[str]:
    return _call(lambda c: [f.path for f in c.list_artifacts(run_id, folder) if not f.is_dir],
                 f"list artifacts {folder} of run {run_id}")


def read_artifact_uri_text(uri: str) -> str:
    """The text of an artifact named by URI (`runs:/<id>/golden.json`, a path, ...)."""
    def read(_: MlflowClient) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)).read_text()

    return _call(read, f"read artifact {uri}")


# --- mitigation: training runs, new versions, aliases --------------------------------------

def load_sklearn_estimator(uri: str, *, trusted_types: tuple[str, ...] = (), trust_pickle: bool = False) -> Any:
    """The fitted scikit-learn estimator behind a version, for training to continue from."""
    registered = resolve_version(uri)
    source = registered.uri if registered else uri
    try:
        local = _patient(lambda _: mlflow.artifacts.download_artifacts(artifact_uri=source))  # a download may repeat
        meta = Model.load(local)
    except (MlflowException, OSError) as exc:
        raise ModelError(f"model URI {uri} could not be downloaded: {_first_line(exc)}") from None
    flavor = meta.flavors.get("sklearn")
    if flavor is None:
        raise ModelError(f"model URI {uri} has no scikit-learn flavour: name your own training project under "
                         "'mitigation.project' in the config")
    _refuse_untrusted_pickle(uri, meta, trust_pickle)
    return _loaded(uri, lambda: _load_sklearn(uri, local, flavor, trusted_types))


def log_sklearn_model(run: RunRef, estimator: Any, X: pd.DataFrame, *, trusted_types: tuple[str, ...] = ()) -> str:
    """Save the estimator with its signature and upload it as the run's `model` artifact."""
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "model"
        mlflow.sklearn.save_model(estimator, str(path), signature=infer_signature(X, estimator.predict(X)),
                                  pip_requirements=["scikit-learn"], skops_trusted_types=list(trusted_types) or None)
        _call(lambda c: c.log_artifacts(run.run_id, str(path), "model"), f"upload the model to run {run.run_id}")
    return f"runs:/{run.run_id}/model"


def launch_project(uri: str, entry_point: str, parameters: dict[str, Any], *, experiment: str,
                   parent_run_id: str, run_name: str, tags: dict[str, str]) -> tuple[str, str]:
    """Run an MLflow Project to completion in this environment; (run id, final status).

    `env_manager="local"` runs the project's command with the `python` first on PATH, so this
    interpreter's folder goes first. The run is made a child of `parent_run_id` and tagged with
    the training process's host and pid, so a later post-mortem can tell whether it still runs.
    A signal here stops the training process too, and ends its run KILLED. A failing project is
    not an exception here: the caller reads the status and decides.
    """
    from mlflow.exceptions import ExecutionException
    from mlflow.projects import run as run_project

    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    # the project runs under `mlflow run --run-id` in a process group of its own, told the experiment by
    # id; that command refuses an experiment name beside it, so the name stays out of its environment
    name = os.environ.pop("MLFLOW_EXPERIMENT_NAME", None)
    try:
        submitted = run_project(uri, entry_point=entry_point, parameters=parameters, experiment_id=experiment,
                                env_manager="local", synchronous=False, run_name=run_name)
    except (ExecutionException, MlflowException) as exc:
        raise TrackingError(f"could not launch project {uri} -e {entry_point}: {_first_line(exc)}") from None
    finally:
        if name is not None:
            os.environ["MLFLOW_EXPERIMENT_NAME"] = name
    ref = RunRef(submitted.run_id, experiment)
    child = submitted.command_proc
    try:
        set_tags(ref, {**tags, PARENT_TAG: parent_run_id, HOST_TAG: socket.gethostname(), PID_TAG: str(child.pid)})
        succeeded = submitted.wait()
    except BaseException as exc:
        _stop(child)
        finish_run(ref, exc)
        raise
    status = _call(lambda c: c.get_run(ref.run_id).info.status, f"read run {ref.run_id}")
    if status == "RUNNING":  # the project's code did not end its run itself
        status = "FINISHED" if succeeded else "FAILED"
        _call(lambda c: c.set_terminated(ref.run_id, status), f"end run {ref.run_id}")
    return ref.run_id, status


def _stop(process: Any, grace_s: float = 5.0) -> None:
    """SIGTERM to the process group the project runs in (`mlflow run` and the training process
    under it), SIGKILL to whatever of it is left after `grace_s`."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return  # it ended meanwhile
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        process.poll()  # reap the group's leader, so it no longer counts
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def register_run_model(name: str, run_id: str, tags: dict[str, str]) -> str:
    """Register `runs:/<run_id>/model` as a new version of `name`, tagged; returns the version."""
    def register(client: MlflowClient) -> str:
        source = f"{client.get_run(run_id).info.artifact_uri}/model"
        mv = client.create_model_version(name, source, run_id=run_id, tags=tags)
        return str(mv.version)

    return _call(register, f"register the model of run {run_id} as a version of {name}", once=True)


def version_tags(name: str, version: str) -> dict[str, str]:
    return _call(lambda c: dict(c.get_model_version(name, version).tags or {}), f"read models:/{name}/{version}")


def find_version_by_tag(name: str, key: str, value: str) -> str | None:
    versions = _call(lambda c: c.search_model_versions(f"name='{name}' and tags.`{key}` = '{value}'"),
                     f"search versions of {name}")
    return str(min(int(v.version) for v in versions)) if versions else None
