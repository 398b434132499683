"""Runs: created, claimed, heartbeating, ended; their tags, metrics, datasets and artifacts.

Every run goes through MlflowClient with an explicit run id: no fluent active-run stack, so a
failure in one step can never leave another step's run open by accident. A run never ends
RUNNING: FINISHED, FAILED with the reason, or KILLED by a signal.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import urllib.parse
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ..errors import TrackingError
from .tracking import call


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
        return call(lambda c: c.get_run(self.run_id).info.artifact_uri, f"read run {self.run_id}")


#: the MLflow 3 UI opens an experiment in the view this tag names; without it, it may guess GenAI
EXPERIMENT_KIND_TAG, MODEL_DEVELOPMENT = "mlflow.experimentKind", "custom_model_development"
#: MLflow's Default experiment, where `mlflow run` records when it is given none
DEFAULT_EXPERIMENT_ID = "0"


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

    return call(get_or_create, f"open experiment {name!r}")


def open_as_model_development(experiment: str) -> None:
    """Tag the experiment so the MLflow 3 UI opens it in the model-training view, unless it already
    names a kind (`mlflow run` creates experiments without one, and the UI may then guess GenAI)."""
    def mark(client: MlflowClient) -> None:
        if EXPERIMENT_KIND_TAG not in (client.get_experiment(experiment).tags or {}):
            client.set_experiment_tag(experiment, EXPERIMENT_KIND_TAG, MODEL_DEVELOPMENT)

    call(mark, f"tag experiment {experiment}")


def project_run() -> RunRef | None:
    """The run `mlflow run` opened for this entry point (MLFLOW_RUN_ID), if any."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return None
    run = call(lambda c: c.get_run(run_id), f"read run {run_id}")
    return RunRef(run_id, run.info.experiment_id)


def start_run(experiment: str, name: str, *, parent: RunRef | None = None, tags: dict[str, str] | None = None) -> RunRef:
    """Create a RUNNING run owned by this process (host, pid and heartbeat tagged, for dangling-run
    checks), with all its tags in the one request: a claim is visible complete or not at all."""
    all_tags = {**_owner(), **(tags or {}), **({PARENT_TAG: parent.run_id} if parent else {})}
    run = call(lambda c: c.create_run(experiment, run_name=name, tags=all_tags), f"create run {name!r}", once=True)
    ref = RunRef(run.info.run_id, experiment)
    _open_runs.add(ref)
    return ref


def claim_run(run: RunRef, tags: dict[str, str] | None = None) -> None:
    """Mark a run someone else created (the project run) as owned by this process."""
    set_tags(run, {**_owner(), **(tags or {})})
    _open_runs.add(run)


def reopen_run(run: RunRef) -> None:
    """RUNNING again and owned by this process: a run that gathers what each call of a command adds."""
    call(lambda c: c.update_run(run.run_id, status="RUNNING"), f"reopen run {run.run_id}")
    claim_run(run)


def metric_by_step(run_id: str, key: str) -> dict[int, tuple[int, float]]:
    """Step -> (timestamp ms, value) of the newest value a run logged for metric `key` at each step."""
    history = call(lambda c: c.get_metric_history(run_id, _metric_key(key)), f"read metric {key} of run {run_id}")
    newest: dict[int, tuple[int, float]] = {}
    for m in sorted(history, key=lambda m: m.timestamp):
        newest[m.step] = (m.timestamp, m.value)
    return newest


def finish_run(run: RunRef, error: BaseException | None = None) -> None:
    """FINISHED; FAILED with the reason as a tag; KILLED when a signal stopped it. Never RUNNING."""
    if error is not None:
        reason = " ".join(str(error).split())[:4000] or type(error).__name__
        try:
            set_tags(run, {FAILURE_TAG: reason})
        except TrackingError:
            pass  # the status below matters more than the reason; a dead server fails both
    status = "FINISHED" if error is None else "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
    call(lambda c: c.set_terminated(run.run_id, status), f"end run {run.run_id}")
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


def set_tags(run: RunRef, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    batch = [RunTag(k, str(v)[:8000]) for k, v in tags.items()]
    call(lambda c: c.log_batch(run.run_id, tags=batch), f"tag run {run.run_id}")


def log_params(run: RunRef, params: dict[str, Any]) -> None:
    from mlflow.entities import Param

    batch = [Param(k, str(v)[:6000]) for k, v in params.items() if v is not None]
    call(lambda c: c.log_batch(run.run_id, params=batch), f"log params to run {run.run_id}")


def log_metrics(run: RunRef, metrics: dict[str, float], *, step: int = 0, timestamp_ms: int | None = None,
                model_id: str | None = None, dataset: tuple[str, str] | None = None) -> None:
    """Finite values only (MLflow rejects NaN keys in some stores); batched 1000 at a time.

    `model_id` and `dataset` (name, digest) link the metrics to a logged model and a dataset the
    run logged as input, so they show on the model's page and beside the dataset in the UI."""
    from mlflow.entities import Metric

    ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    name, digest = dataset or (None, None)
    batch = [Metric(_metric_key(k), float(v), ts, step, model_id=model_id, dataset_name=name, dataset_digest=digest)
             for k, v in metrics.items() if v is not None and math.isfinite(float(v))]
    for i in range(0, len(batch), 1000):
        call(lambda c: c.log_batch(run.run_id, metrics=batch[i:i + 1000]), f"log metrics to run {run.run_id}")


def log_artifact_text(run: RunRef, name: str, text: str) -> None:
    """`name` may have folders (`evidently/data_drift.html`)."""
    folder, _, base = name.rpartition("/")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / base
        path.write_text(text)
        call(lambda c: c.log_artifact(run.run_id, str(path), folder or None), f"upload {name} to run {run.run_id}")


def log_artifacts(run: RunRef, folder: Path, artifact_path: str) -> None:
    call(lambda c: c.log_artifacts(run.run_id, str(folder), artifact_path), f"upload {folder} to run {run.run_id}")


def local_artifact_dir(run: RunRef) -> Path | None:
    """The folder holding the run's artifacts, when they are files on this machine (a local store)."""
    uri = run.artifact_uri
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        return Path(urllib.parse.unquote(parsed.path))
    return Path(uri) if parsed.scheme == "" else None


def log_datasets(run: RunRef, datasets: list[tuple[str, pd.DataFrame, str, str, str | None]],
                 models: tuple[str, ...] = ()) -> None:
    """(context, frame, source path, digest, target) as run inputs, e.g. context `reference`, and the
    logged models (ids) the run read.

    The digest is the caller's (a hash of the file's bytes), so a later run can prove it saw
    the same data; MLflow's own pandas digest only looks at the first rows.
    """
    from mlflow.entities import DatasetInput, InputTag, LoggedModelInput

    inputs = []
    for context, frame, source, digest, target in datasets:
        with warnings.catch_warnings():  # hints about integer columns and source types are for model signatures
            warnings.simplefilter("ignore")
            ds = mlflow.data.from_pandas(frame, source=_source_uri(source), name=context,
                                         targets=target if target in frame.columns else None, digest=digest)
            entity = ds._to_mlflow_entity()
        inputs.append(DatasetInput(entity, tags=[InputTag("mlflow.data.context", context)]))
    read = [LoggedModelInput(m) for m in models]
    call(lambda c: c.log_inputs(run.run_id, datasets=inputs, models=read or None), f"log datasets to run {run.run_id}")


def find_finished(experiment: str | None, key: str, step: str) -> str | None:
    """The newest FINISHED run with this key and step in this experiment, or in any (None), if any."""
    filt = f"tags.`{KEY_TAG}` = '{key}' and tags.`{STEP_TAG}` = '{step}' and attributes.status = 'FINISHED'"

    def search(client: MlflowClient) -> list[Any]:
        where = [experiment] if experiment is not None else _every_experiment(client)
        found = []
        for i in range(0, len(where), 100):  # a server answers a bounded list of experiments per search
            found += client.search_runs(where[i:i + 100], filt, max_results=1, order_by=["attributes.start_time DESC"])
        return sorted(found, key=lambda r: r.info.start_time, reverse=True)

    runs = call(search, f"search for an earlier identical {step} run")
    return runs[0].info.run_id if runs else None


def _every_experiment(client: MlflowClient) -> list[str]:
    ids, token = [], None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        ids += [e.experiment_id for e in page]
        token = page.token
        if not token:
            return ids


@dataclass(frozen=True)
class KeyedRun:
    """A run carrying a post-mortem key, as a claim sees it."""

    run_id: str
    status: str
    tags: dict[str, str]


def keyed_runs(experiment: str, key: str, step: str) -> list[KeyedRun]:
    """Every live (not deleted) run of this experiment with this key and step, in any status."""
    filt = f"tags.`{KEY_TAG}` = '{key}' and tags.`{STEP_TAG}` = '{step}'"
    runs = call(lambda c: c.search_runs([experiment], filt, max_results=1000), "search runs with the same key")
    return [KeyedRun(r.info.run_id, r.info.status, dict(r.data.tags)) for r in runs]


def abandon_run(run_id: str, experiment: str, reason: str) -> None:
    """End someone else's run FAILED: its process is gone and it would block the line forever."""
    ref = RunRef(run_id, experiment)
    set_tags(ref, {FAILURE_TAG: f"abandoned: {reason}"})
    call(lambda c: c.set_terminated(run_id, "FAILED"), f"end run {run_id}")


def withdraw_run(run: RunRef, *, delete: bool, tags: dict[str, str]) -> None:
    """A run that lost its claim to an identical one: deleted when this process made it (it
    was only a ticket), else kept as a repeat without the key (it is the user's `mlflow run`)."""
    _open_runs.discard(run)
    if delete:
        call(lambda c: c.delete_run(run.run_id), f"delete run {run.run_id}")
        return
    set_tags(run, {**tags, STEP_TAG: "repeat"})
    call(lambda c: c.delete_tag(run.run_id, KEY_TAG), f"untag run {run.run_id}")
    _open_runs.add(run)


def is_alive_here(tags: dict[str, str]) -> bool | None:
    """Whether the process that tagged a run is alive; None when it ran on another host."""
    pid = tags.get(PID_TAG, "")
    if tags.get(HOST_TAG) != socket.gethostname() or not pid.isdigit():
        return None
    return int(pid) == os.getpid() or _alive(int(pid))


def run_tags(run_id: str) -> dict[str, str]:
    return call(lambda c: dict(c.get_run(run_id).data.tags), f"read run {run_id}")


def run_experiment(run_id: str) -> str:
    return call(lambda c: c.get_run(run_id).info.experiment_id, f"read run {run_id}")


def run_params(run_id: str) -> dict[str, str]:
    return call(lambda c: dict(c.get_run(run_id).data.params), f"read run {run_id}")


def fail_dangling_runs(experiment: str) -> list[str]:
    """Runs of this package left RUNNING by a process on this host that no longer exists.

    A crash, a kill or a tracking server that died mid-run leaves a run RUNNING forever; the
    next post-mortem marks it FAILED with the reason, and returns the ids to report them.
    """
    host = socket.gethostname()
    filt = f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'"
    runs = call(lambda c: c.search_runs([experiment], filt, max_results=500), "search for dangling runs")
    dangling = []
    for run in runs:
        if is_alive_here(run.data.tags) is False:
            pid = run.data.tags[PID_TAG]
            abandon_run(run.info.run_id, experiment, f"process {pid} on {host} ended without finishing the run")
            dangling.append(run.info.run_id)
    return dangling


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


def read_artifact_text(run_id: str, path: str) -> str:
    def read(client: MlflowClient) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            return Path(client.download_artifacts(run_id, path, tmp)).read_text()

    return call(read, f"read artifact {path} of run {run_id}")


def list_artifacts(run_id: str, folder: str) -> list[str]:
    return call(lambda c: [f.path for f in c.list_artifacts(run_id, folder) if not f.is_dir],
                 f"list artifacts {folder} of run {run_id}")


def read_artifact_uri_text(uri: str) -> str:
    """The text of an artifact named by URI (`runs:/<id>/golden.json`, a path, ...)."""
    def read(_: MlflowClient) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)).read_text()

    return call(read, f"read artifact {uri}")


def cached_artifacts(uri: str, key: str) -> Path:
    """A finished run's artifact folder (`runs:/<id>/<folder>`) on this machine, downloaded once
    into the temporary folder under `key` (a run's artifacts never change once it has finished)."""
    folder = Path(tempfile.gettempdir()) / "mlflow-postmortem" / key
    local = folder / uri.rstrip("/").rpartition("/")[2]
    if (folder / ".complete").exists():
        return local

    def fetch(_: MlflowClient) -> Path:
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=folder.parent))
        mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(partial))
        (partial / ".complete").touch()
        try:
            partial.rename(folder)
        except OSError:  # another process finished the same download first
            shutil.rmtree(partial, ignore_errors=True)
        return local

    return call(fetch, f"download {uri}")


def ui_url(experiment: str, run_id: str | None = None, *, base: str | None = None) -> str:
    """The MLflow UI's page of a run (or an experiment) in the model-training view.

    MLflow 3's UI picks its view from a global switch (GenAI by default), not from the experiment's
    tags, so the link names the view. `base` defaults to the tracking server, else `mlflow ui`'s address."""
    uri = mlflow.get_tracking_uri()
    base = (base or (uri if uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000")).rstrip("/")
    page = f"#/experiments/{experiment}" + (f"/runs/{run_id}" if run_id else "")
    return f"{base}/{page}?workflowType=machine_learning"
