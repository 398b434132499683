"""Shared fixtures: one real sqlite MLflow registry per session, real scikit-learn models in it.

Creating an MLflow store runs its schema migrations (seconds), so the store, the models and
the data files are built once per session; tests that change registry state register a
model of their own.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

# One thread per process, set before numpy or scikit-learn load: two workers share two cores, and
# each process's OpenMP threads (HistGradientBoosting's fit, BLAS) spun waiting for cores the other
# worker held; the suite took 11.5 minutes with them and 8.4 without. Subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from servers import TrackingServer
from support import EXPERIMENT, HGB_TYPES, RF_TYPES, Dataset, register


#: the modules that take longest, longest first (seconds on two workers, per module, measured with --durations);
#: they run first, so no long module starts while the other worker runs out of work. The rest follow in
#: collection order. With it, addopts' --no-loadscope-reorder: xdist's own order (most tests first) ran the
#: longest modules, with few tests each, last.
LONGEST_FIRST = (
    "reliability/test_interruptions.py",  # ~390 s
    "reliability/test_concurrency.py",    # ~245 s
    "test_mitigation.py",                 # ~190 s
    "test_postmortem.py",                 # ~155 s
    "test_scan.py",                       # ~140 s
    "test_cli.py",                        # ~140 s
    "test_calibration.py",                # ~125 s
    "test_alerts.py",                     # ~100 s
    "test_reference_profile.py",          # ~95 s
    "ui/test_ui.py",                      # ~70 s
    "test_monitor.py",                    # ~70 s
    "test_bad_input.py",                  # ~50 s
    "test_wheel.py",                      # ~50 s
    "test_projects.py",                   # ~45 s
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The LONGEST_FIRST modules first, in that order; each module's tests stay together and in their order."""
    here = Path(__file__).parent
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    first_seen: dict[Path, int] = {}
    for i, item in enumerate(items):
        first_seen.setdefault(item.path, i)

    def key(item: pytest.Item) -> tuple[int, int]:
        module = item.path.relative_to(here).as_posix() if item.path.is_relative_to(here) else ""
        return rank.get(module, len(rank)), first_seen[item.path]

    items.sort(key=key)


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh sqlite store for this session; subprocesses inherit it via MLFLOW_TRACKING_URI."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    patch = pytest.MonkeyPatch()
    # experiments the tests create by name get MLflow's default artifact root, ./mlruns: keep it here,
    # not in the checkout (subprocesses started without a cwd of their own inherit this one)
    patch.chdir(root)
    patch.setenv("MLFLOW_TRACKING_URI", uri)
    patch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mlflow.set_tracking_uri(uri)
    MlflowClient().create_experiment(EXPERIMENT, artifact_location=(root / "artifacts").as_uri())
    mlflow.set_experiment(EXPERIMENT)
    yield uri
    patch.undo()


def _write_split(root: Path, loader: Callable[..., Any], task: str) -> Dataset:
    """Reference 50% (Parquet), golden 20% (CSV), current 30% (Parquet, hourly timestamps)."""
    X, y = loader(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: c.replace(" ", "_"))
    frame = pd.concat([X, y.rename("label")], axis=1).sample(frac=1.0, random_state=0).reset_index(drop=True)
    n_ref, n_gold = int(len(frame) * 0.5), int(len(frame) * 0.2)
    reference, golden, current = frame[:n_ref], frame[n_ref:n_ref + n_gold], frame[n_ref + n_gold:].copy()
    current.insert(0, "event_time", pd.date_range("2025-01-01", periods=len(current), freq="h"))
    reference.to_parquet(root / "reference.parquet", index=False)
    golden.to_csv(root / "golden.csv", index=False)
    current.to_parquet(root / "current.parquet", index=False)
    return Dataset(task, "label", tuple(X.columns), root / "reference.parquet", root / "golden.csv", root / "current.parquet")


@pytest.fixture(scope="session")
def cancer(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """breast_cancer split into the three files of a healthy post-mortem."""
    return _write_split(tmp_path_factory.mktemp("cancer"), load_breast_cancer, "classification")


@pytest.fixture(scope="session")
def diabetes(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """load_diabetes split the same way, for the regression path."""
    return _write_split(tmp_path_factory.mktemp("diabetes"), load_diabetes, "regression")


@pytest.fixture(scope="session")
def cancer_models(tracking_uri: str, cancer: Dataset) -> str:
    """`pm-cancer`: v1 a random forest, v2 (alias champion) a gradient-boosted model."""
    X, y = cancer.xy()
    register("pm-cancer", RandomForestClassifier(n_estimators=50, random_state=0), X, y, trusted_types=RF_TYPES)
    register("pm-cancer", HistGradientBoostingClassifier(max_iter=100, random_state=0), X, y,
             trusted_types=HGB_TYPES, alias="champion")
    return "pm-cancer"


@pytest.fixture(scope="session")
def diabetes_models(tracking_uri: str, diabetes: Dataset) -> str:
    """`pm-diabetes`: two ridge regressions (no extra skops types needed), v2 aliased champion."""
    X, y = diabetes.xy()
    register("pm-diabetes", make_pipeline(StandardScaler(), Ridge(alpha=1.0)), X, y)
    register("pm-diabetes", make_pipeline(StandardScaler(), Ridge(alpha=3.0)), X, y, alias="champion")
    return "pm-diabetes"


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a pm.yaml for a dataset into this test's tmp dir; keyword overrides replace keys.

    Evidently's pages are off (seconds per post-mortem): the tests of those pages turn them on."""

    def write(dataset: Dataset, model: str, **overrides: Any) -> Path:
        raw: dict[str, Any] = {
            "model": model,
            "task": dataset.task,
            "target": dataset.target,
            "timestamp": "event_time",
            "skops_trusted_types": list(RF_TYPES + HGB_TYPES),
            "data": {"reference": str(dataset.reference), "golden": str(dataset.golden), "current": str(dataset.current)},
            "evidently": False,
            **overrides,
        }
        path = tmp_path / "pm.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def mlflow_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` on loopback: CI's (MLFLOW_TEST_SERVER_URI) or one started here."""
    given = os.environ.get("MLFLOW_TEST_SERVER_URI")
    if given:
        yield given.rstrip("/")
        return
    with TrackingServer("sqlite", tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server.uri


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local Spark session (one core) for the spark engine's tests, stopped at the end; the tests
    that need it skip where there is no Java (.ci/run installs Debian's openjdk-17-jre-headless)."""
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java for Spark (.ci/run installs openjdk-17-jre-headless with apt-get)")
    from pyspark.sql import SparkSession

    scratch = tmp_path_factory.mktemp("spark")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Spark's Python workers: this venv's, not PATH's
    session = (SparkSession.builder.master("local[1]").appName("mlflow-postmortem-tests")
               .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true").config("spark.sql.shuffle.partitions", "2")
               .config("spark.local.dir", str(scratch)).config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
               .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={scratch}")
               .getOrCreate())
    yield session
    session.stop()
