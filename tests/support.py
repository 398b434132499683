"""Helpers the tests share (fixtures live in conftest.py): real models, data files, ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature

#: skops types each tree model needs beyond skops' built-in safe set
RF_TYPES = ("sklearn.tree._tree.Tree",)
HGB_TYPES = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)
#: an important feature of both cancer models (by permutation importance), for injected faults
RECALIBRATED_FEATURE = "worst_texture"
#: the experiment the session's sqlite store logs into
EXPERIMENT = "postmortem-tests"
#: the venv's console scripts (mlflow-postmortem, mlflow) come first on a subprocess's PATH
BIN_DIR = Path(sys.executable).parent


@dataclass(frozen=True)
class Dataset:
    """Files of one post-mortem scenario, plus what a config needs to point at them."""

    task: str
    target: str
    features: tuple[str, ...]
    reference: Path
    golden: Path
    current: Path

    def xy(self) -> tuple[pd.DataFrame, pd.Series]:
        """The reference features and target: what the models are trained on."""
        reference = pd.read_parquet(self.reference)
        return reference[list(self.features)], reference[self.target]


def free_port() -> int:
    """A loopback port nothing listens on (closed again before it is returned)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def register(name: str, estimator: Any, X: pd.DataFrame, y: pd.Series, *,
             trusted_types: tuple[str, ...] = (), alias: str | None = None) -> str:
    """Fit, log and register a real sklearn model; returns the new version number."""
    estimator.fit(X, y)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            estimator,
            name="model",
            registered_model_name=name,
            signature=infer_signature(X, estimator.predict(X)),
            pip_requirements=["scikit-learn"],
            skops_trusted_types=list(trusted_types) or None,
        )
    version = str(info.registered_model_version)
    if alias:
        MlflowClient().set_registered_model_alias(name, alias, version)
    return version


@contextmanager
def tracking(uri: str, experiment: str | None = None) -> Iterator[None]:
    """Point this process at another store for a block, then back at the session's store, or at
    none where it had none (MLflow's default, ./mlflow.db, is never created: two workers would race
    to migrate it)."""
    previous = os.environ.get("MLFLOW_TRACKING_URI")  # set_tracking_uri keeps it in step; None: no store set
    mlflow.set_tracking_uri(uri)
    try:
        if experiment:
            mlflow.set_experiment(experiment)
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        if experiment and previous is not None:
            mlflow.set_experiment(EXPERIMENT)


def run(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run a program as a user would, with the venv's bin dir first on PATH."""
    env = env or {}
    full_env = {**os.environ, **env}
    if "MLFLOW_TRACKING_URI" in env:  # another store: the session's experiment means nothing there
        for key in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
            if key not in env:
                full_env.pop(key, None)
    full_env["PATH"] = f"{BIN_DIR}{os.pathsep}{full_env.get('PATH', '')}"
    return subprocess.run(argv, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout)


def run_cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """The installed console script, `mlflow-postmortem ARGS...`."""
    return run(["mlflow-postmortem", *args], **kwargs)


#: the smallest valid config, for tests of what one more key does to it
VALID = """\
model: models:/churn@champion
task: classification
target: label
data:
  reference: data/train.parquet
  golden: data/golden.parquet
  current: data/production.parquet
"""
