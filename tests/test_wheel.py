"""The package as a user installs it: its wheel in a fresh venv, run from a folder outside the
checkout. `mlflow-postmortem demo` diagnoses and mitigates with the reference trainer, which must
come from the installed wheel (the MLflow Project under site-packages), never from the checkout.

The fresh venv installs only the wheel (`--no-deps`); the dev venv's dependencies (MLflow,
Evidently, scikit-learn, ...) are made visible through a `.pth` file naming the dev venv's
site-packages. A `.pth` line that is a folder only appends it to `sys.path`: the `.pth` files
inside it, among them the editable install's finder that maps `mlflow_postmortem` to the
checkout, are not run, so the package can only be imported from the wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

from support import BIN_DIR

ROOT = Path(__file__).resolve().parents[1]
TRAINER_FILES = ("MLproject", "python_env.yaml", "train.py")


def package_version() -> str:
    """The version pyproject.toml builds."""
    return re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE).group(1)


def build_wheel(dest: Path) -> Path:
    """The checkout's wheel, built offline with the dev venv's setuptools from a copy of the sources
    (a build writes build/ and *.egg-info beside them, and must not into the checkout)."""
    src = dest / "src"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "mlflow_postmortem", src / "mlflow_postmortem",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = dest / "dist"
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
                             "--no-build-isolation", "--wheel-dir", str(dist), str(src)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"wheel build failed (setuptools>=77 in this venv?): {result.stderr[-3000:]}"
    (wheel,) = dist.glob("mlflow_postmortem-*.whl")
    return wheel


@dataclass(frozen=True)
class Venv:
    root: Path
    bin: Path
    site_packages: Path
    wheel: Path

    def env(self, tracking_uri: str) -> dict[str, str]:
        """A user's shell with this venv activated: its bin first, the dev venv's nowhere on PATH."""
        dev_bins = {BIN_DIR.resolve(), Path(sys.prefix, "bin").resolve()}
        path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() not in dev_bins]
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID",
                            "MLFLOW_REGISTRY_URI", "PYTHONSAFEPATH")}
        return {**env, "VIRTUAL_ENV": str(self.root), "PATH": os.pathsep.join([str(self.bin), *path]),
                "MLFLOW_TRACKING_URI": tracking_uri}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh venv holding only the wheel; the dev venv's dependencies visible through a `.pth`."""
    root = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(root / "build")
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    site_packages = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        capture_output=True, text=True, check=True).stdout.strip())
    (site_packages / "dev-venv-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                                "--no-index", str(wheel)], capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr[-3000:]
    # `mlflow run` (what mitigate launches) is MLflow's console script: written here as pip would have
    mlflow_cli = next(iter(entry_points(group="console_scripts", name="mlflow")))  # mlflow's, or mlflow-skinny's: the same
    module, function = mlflow_cli.value.split(":")
    script = env_dir / "bin" / "mlflow"
    script.write_text(f"#!{python}\nimport sys\nfrom {module} import {function}\n"
                      f"if __name__ == '__main__':\n    sys.exit({function}())\n")
    script.chmod(0o755)
    return Venv(env_dir, env_dir / "bin", site_packages, wheel)


def test_wheel_ships_the_reference_trainer(venv: Venv) -> None:
    names = set(zipfile.ZipFile(venv.wheel).namelist())
    assert {f"mlflow_postmortem/trainer/{name}" for name in TRAINER_FILES} <= names
    assert not any(name.startswith("projects/") for name in names)


def test_project_environments_pin_this_version() -> None:
    """Both python_env.yaml files name the package by the version pyproject.toml builds."""
    version = package_version()
    for folder in (ROOT / "mlflow_postmortem" / "trainer", ROOT / "projects" / "postmortem"):
        assert yaml.safe_load((folder / "MLproject").read_text())["python_env"] == "python_env.yaml"
        spec = yaml.safe_load((folder / "python_env.yaml").read_text())
        assert spec["python"] == f"{sys.version_info.major}.{sys.version_info.minor}"
        assert spec["build_dependencies"] == ["pip", "setuptools", "wheel"]
        assert spec["dependencies"] == [f"mlflow-postmortem=={version}"], folder


def test_installed_wheel_runs_the_demo_and_mitigates_with_the_trainer_it_ships(venv: Venv, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    work = tmp_path / "work"  # a user's folder: not the checkout, so nothing resolves against it
    work.mkdir()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = venv.env(uri)
    trainer = (venv.site_packages / "mlflow_postmortem" / "trainer").resolve()

    where = subprocess.run(["python", "-c", "import sys, mlflow, mlflow_postmortem; print(mlflow_postmortem.__file__); "
                            "print(mlflow.__file__); print(sys.executable); "
                            "print(' '.join(type(f).__name__ for f in sys.meta_path))"],
                           capture_output=True, text=True, env=env, cwd=work, timeout=120)
    assert where.returncode == 0, where.stderr
    package, mlflow_file, python, finders = where.stdout.splitlines()
    assert Path(package).resolve().is_relative_to(venv.site_packages.resolve())  # the wheel's copy
    assert not Path(package).resolve().is_relative_to(ROOT)
    assert Path(mlflow_file).resolve().is_relative_to(Path(sysconfig.get_path("purelib")).resolve())  # dev venv's deps
    assert Path(python).parent == venv.bin
    assert "Editable" not in finders, finders  # the dev install's finder is not active

    demo = subprocess.run(["mlflow-postmortem", "demo", "--folder", "demo"], capture_output=True, text=True, env=env,
                          cwd=work, timeout=600)

    assert demo.returncode == 0, demo.stderr[-4000:]
    assert f"launching {trainer} -e main" in demo.stderr
    assert "postmortem-demo version 3 (trained in run" in demo.stdout, demo.stdout
    diagnosis_run = re.search(r"MLflow run ([0-9a-f]{32})", demo.stdout).group(1)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version("postmortem-demo", "3")
    assert version.tags["postmortem.diagnosis_run_id"] == diagnosis_run
    assert version.tags["postmortem.mitigation"] == "retrain_correct_feature_version"
    training = client.get_run(version.run_id)
    assert training.info.status == "FINISHED"
    assert training.data.tags["mlflow.parentRunId"] == diagnosis_run
    assert training.data.tags["mlflow.source.type"] == "PROJECT"
    assert Path(training.data.tags["mlflow.source.name"]).resolve() == trainer  # the project inside the wheel
    assert "mlflow.source.git.commit" not in training.data.tags  # not a git checkout
    assert not any(str(ROOT) in value for value in training.data.tags.values())
    assert Path(training.info.artifact_uri.removeprefix("file://")).is_relative_to(work)  # artifacts stay in tmp

    again = subprocess.run(["mlflow-postmortem", "mitigate", "--from-run", diagnosis_run], capture_output=True, text=True,
                           env=env, cwd=work, timeout=300)

    assert again.returncode == 0, again.stderr[-4000:]
    assert "postmortem-demo version 3 (reused from an earlier mitigation" in again.stdout, again.stdout
    assert {str(v.version) for v in client.search_model_versions("name='postmortem-demo'")} == {"1", "2", "3"}
