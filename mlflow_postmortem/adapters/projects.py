"""MLflow Projects launched from the package (the trainer a mitigation runs), as child runs
that end with a status, never RUNNING, even when a signal stops the launcher."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from ..errors import TrackingError
from .runs import HOST_TAG, PARENT_TAG, PID_TAG, RunRef, finish_run, set_tags
from .tracking import call, first_line


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
        raise TrackingError(f"could not launch project {uri} -e {entry_point}: {first_line(exc)}") from None
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
    status = call(lambda c: c.get_run(ref.run_id).info.status, f"read run {ref.run_id}")
    if status == "RUNNING":  # the project's code did not end its run itself
        status = "FINISHED" if succeeded else "FAILED"
        call(lambda c: c.set_terminated(ref.run_id, status), f"end run {ref.run_id}")
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
