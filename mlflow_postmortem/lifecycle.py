"""The life of a post-mortem's runs: keys, claims, reuse, and an end that is never RUNNING.

Each step and the post-mortem as a whole carry a key: a hash of the pinned model version, the
config and the bytes of every data file. A finished step with the same key is reused, and a
finished post-mortem with the same key is a repeat, not run again. Identical post-mortems
started together queue in the tracking store (claims.py), and runs left RUNNING by a process
that died are marked FAILED by the next post-mortem.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from . import claims
from .adapters import registry, runs, tracking
from .config import TABLE_PREFIX, Config
from .errors import PostmortemError

Say = Callable[[str], None]


@dataclass(frozen=True)
class Placement:
    """Where a command records: an experiment, and the run `mlflow run` opened, if any."""

    experiment: str
    #: the project run, when the work is recorded in it
    project_run: runs.RunRef | None
    #: the project run, when `mlflow run` was given no experiment: it stays in Default and only points
    #: at the runs recorded in `postmortem` (the project's default experiment)
    pointer: runs.RunRef | None
    #: runs a dead process left RUNNING in the experiment, now marked FAILED
    dangling: tuple[str, ...]


def placement(experiment: str | None, say: Say) -> Placement:
    """The experiment to work in: the project run's (unless `mlflow run` fell back to Default), else
    `experiment`, else MLflow's environment, else `postmortem`; opened in the UI's model-training view."""
    project_run, pointer = runs.project_run(), None
    if project_run is not None and project_run.experiment_id == runs.DEFAULT_EXPERIMENT_ID:
        project_run, pointer = None, project_run
        experiment = experiment or "postmortem"
    exp = project_run.experiment_id if project_run else runs.experiment_id(experiment)
    runs.open_as_model_development(exp)
    dangling = tuple(runs.fail_dangling_runs(exp))
    for run_id in dangling:
        say(f"run {run_id} was left RUNNING by a post-mortem that died; marked FAILED")
    return Placement(exp, project_run, pointer, dangling)


def registered_version(config: Config, tracking_uri: str | None, why: str, say: Say) -> registry.RegisteredVersion:
    """Connect to the store, then the registered version the config's model names; `why` says, in the
    error, why the command needs one."""
    say(f"tracking store {tracking.use_tracking_uri(tracking_uri)}")
    tracking.check_tracking_reachable()
    version = registry.resolve_version(config.model)
    if version is None:
        raise PostmortemError(f"{why}; model {config.model} is not a models:/ URI of the registry")
    return version


def command_run(experiment: str | None, step: str, name: str, version: registry.RegisteredVersion,
                say: Say) -> runs.RunRef:
    """The run a command about one version records into: under `mlflow run`, the project run, named
    and tagged as the command; else a new run in the experiment `placement` picks."""
    where = placement(experiment, say)
    tags = {runs.STEP_TAG: step, "postmortem.model": f"{version.name}/{version.version}"}
    if where.project_run is not None:
        runs.claim_run(where.project_run, {**tags, runs.RUN_NAME_TAG: name})
    run = where.project_run or runs.start_run(where.experiment, name, tags=tags)
    point_to(where.pointer, run.run_id, name, {})
    return run


def point_to(pointer: runs.RunRef | None, run_id: str, what: str, tags: dict[str, str]) -> None:
    """Name, in the Default experiment's project run, where the work it started is recorded."""
    if pointer is None:
        return
    where = runs.run_experiment(run_id)
    runs.set_tags(pointer, {**tags, "postmortem.run_id": run_id, runs.RUN_NAME_TAG: what,
                            runs.NOTE_TAG: f"Recorded in experiment {where}, run {run_id} (`mlflow run` was given no "
                                           "experiment; the project's default is `postmortem`)."})


def claimed_run(step: str, key: str, experiment: str, name: str, say: Say, *, project_run: runs.RunRef | None = None,
                parent: runs.RunRef | None = None, tags: dict[str, str] | None = None, anywhere: bool = False
                ) -> tuple[runs.RunRef | None, str | None]:
    """(the run to work in, None), or (None or the project run, the FINISHED run that already did
    the work: in any experiment of the store when `anywhere`). Identical runs started together
    queue in the tracking store (claims.py)."""
    earlier = runs.find_finished(None if anywhere else experiment, key, step=step)
    if earlier is not None:  # the common repeat: no new run at all
        return project_run, earlier
    claim = {runs.STEP_TAG: step, runs.KEY_TAG: key, claims.CLAIM_TAG: claims.CHOOSING, **(tags or {}),
             **({runs.PARENT_TAG: parent.run_id} if parent is not None else {})}
    if project_run is not None:
        runs.claim_run(project_run, {**claim, runs.RUN_NAME_TAG: name})  # not the random name `mlflow run` gave it
        run = project_run
    else:
        run = runs.start_run(experiment, name, parent=parent, tags=claim)
    try:
        earlier = claims.wait_turn(run, key, step, say)
        if earlier is not None:
            runs.withdraw_run(run, delete=project_run is None, tags={"postmortem.repeat_of": earlier})
    except BaseException as exc:
        fail_quietly(run, exc)
        raise
    return (project_run, earlier) if earlier is not None else (run, None)


@dataclass(frozen=True)
class StepRun:
    """A step's run: a new one to work in (`ref`), or the finished run of an identical earlier step."""

    ref: runs.RunRef | None
    run_id: str
    reused: bool


def step_run(name: str, parent: runs.RunRef, identity: dict[str, Any], say: Say) -> StepRun:
    """A child run for the step, or the finished run of an identical earlier step."""
    key = digest({"step": name, **identity})
    earlier = runs.find_finished(parent.experiment_id, key, step=name)
    if earlier is not None:
        say(f"{name}: reusing finished run {earlier} (same parameters and data digests)")
        runs.set_tags(parent, {f"postmortem.{name}.run_id": earlier, f"postmortem.{name}.reused": "true"})
        return StepRun(None, earlier, True)
    ref = runs.start_run(parent.experiment_id, name, parent=parent, tags={runs.STEP_TAG: name, runs.KEY_TAG: key})
    runs.log_params(ref, identity)
    runs.set_tags(parent, {f"postmortem.{name}.run_id": ref.run_id})
    return StepRun(ref, ref.run_id, False)


def guarded(run: runs.RunRef, work: Callable[[], Any]) -> Any:
    """Do a run's work; the run ends FINISHED, or FAILED with the reason."""
    try:
        result = work()
    except BaseException as exc:
        fail_quietly(run, exc)
        raise
    runs.finish_run(run)
    return result


def fail_quietly(run: runs.RunRef, exc: BaseException) -> None:
    """Mark a run FAILED without hiding the original error behind a second one."""
    try:
        runs.finish_run(run, exc)
    except PostmortemError:
        pass  # the tracking server is gone too; the next post-mortem marks this run FAILED


def data_digests(config: Config, roles: tuple[str, ...] = ("reference", "golden", "current", "training_view")
                 ) -> dict[str, str]:
    """sha256 of each data file's bytes (a folder's or a glob's files, one after another in name
    order): two runs with equal digests saw the same data. `roles`: only these files."""
    out = {}
    for role in roles:
        path = getattr(config.data, role) or (config.data.profile if role == "reference" else None)
        if path is None:
            continue
        total = hashlib.sha256()
        if path.startswith(TABLE_PREFIX):  # a Spark table: its name (a run cannot prove it read the same rows)
            out[role] = hashlib.sha256(path.encode()).hexdigest()[:16]
            continue
        try:
            for file in _files(path):
                with open(file, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        total.update(chunk)
        except OSError as exc:
            raise PostmortemError(f"data.{role}: cannot read {path}: {exc.strerror or exc}") from None
        out[role] = total.hexdigest()[:16]
    return out


def _files(path: str) -> list[str]:
    """The files a data path names: itself, a folder's files, or a glob's matches."""
    if glob.has_magic(path):
        return sorted(glob.glob(path))
    if os.path.isdir(path):
        return sorted(str(f) for f in Path(path).rglob("*") if f.is_file())
    return [path]


def config_identity(config: Config) -> dict[str, Any]:
    """The config's meaning to a post-mortem: not where it was read from, where its data lives, or
    what only evaluate-versions (slices), monitor (monitor, alerts) and refresh-golden (golden) read."""
    raw = asdict(config)
    for key in ("source", "data", "slices", "monitor", "alerts", "golden"):
        raw.pop(key, None)
    return raw


def digest(payload: dict[str, Any]) -> str:
    """The key of a payload: equal payloads, equal keys, whatever their order."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]
