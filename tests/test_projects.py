"""`mlflow run projects/postmortem --env-manager uv`: MLflow builds the project's environment from
its python_env.yaml (a Python 3.11 found on this machine, never downloaded; the checkout's wheel
through UV_FIND_LINKS, since mlflow-postmortem is not on PyPI; the rest from PyPI) and the
post-mortem runs in it to FINISHED. About 30 s here: 5 s to build the environment with PyPI at
hand, the rest the post-mortem. Skipped without `uv` (the dev extra has it) or without PyPI.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from importlib.metadata import version
from pathlib import Path
from typing import Callable

import pytest

from support import BIN_DIR, Dataset, run
from test_postmortem import PROJECT
from test_wheel import build_wheel, package_version

EXPERIMENT = "pm-projects-uv"


def _pypi_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/mlflow/", timeout=5).close()
        return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(shutil.which("uv", path=f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}") is None,
                       reason="uv is not installed (pip install -e '.[dev]')"),
    pytest.mark.skipif(not _pypi_reachable(), reason="the project's environment installs its dependencies from PyPI"),
]


def test_postmortem_project_runs_in_the_environment_uv_builds_from_python_env(
        tracking_uri: str, cancer_models: str, cancer: Dataset, make_config: Callable[..., Path], tmp_path: Path) -> None:
    from mlflow import MlflowClient

    wheel = build_wheel(tmp_path / "wheel")
    # the environment's MLflow reads and writes this session's store: the same release as the tests' own
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("".join(f"{name}=={version(name)}\n" for name in ("mlflow", "mlflow-skinny", "mlflow-tracing")))
    envs = tmp_path / "envs"  # a fresh MLFLOW_ENV_ROOT: the environment is built, not found
    env = {"MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_ENV_ROOT": str(envs), "UV_FIND_LINKS": str(wheel.parent),
           "UV_CONSTRAINT": str(constraints), "UV_PYTHON_DOWNLOADS": "never"}
    # windows: 3, a config no other test runs: an identical post-mortem anywhere in the store would make this a repeat
    config = make_config(cancer, f"models:/{cancer_models}/2", windows=3)
    client = MlflowClient()
    try:
        result = run(["mlflow", "run", str(PROJECT), "-e", "postmortem", "-P", f"config={config}", "--env-manager", "uv",
                      "--experiment-name", EXPERIMENT], env=env, cwd=tmp_path, timeout=600)

        assert result.returncode == 0, result.stderr[-4000:]
        assert "Using CPython 3.11" in result.stderr  # a local interpreter
        assert f"+ mlflow-postmortem=={package_version()}" in result.stderr  # from the wheel
        assert f"source {envs}/" in result.stderr and "bin/activate && python entry.py run" in result.stderr
        runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
        (project,) = [r for r in runs if r.data.tags.get("mlflow.project.env") == "uv"]
        assert project.data.tags["postmortem.step"] == "postmortem"  # the project run is the post-mortem's parent
        assert project.data.tags["postmortem.root_cause"]
        assert {r.info.status for r in runs} == {"FINISHED"}
    finally:
        # a failed environment build leaves the run MLflow had already created RUNNING: end it here
        experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is not None:
            for left in client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'"):
                client.set_terminated(left.info.run_id, "FAILED")
        shutil.rmtree(envs, ignore_errors=True)  # ~0.9 GB, mostly hard links into uv's cache
