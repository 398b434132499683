"""`mlflow-postmortem diagnose` run as a user runs it: a subprocess against a real registry."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import jsonschema
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from support import RECALIBRATED_FEATURE, Dataset, free_port, register, run_cli

#: the verdict contract (DESIGN's schema with issue 7's changes: `score`, typed evidence, `explains`), in the repo
#: so a fresh clone can validate on its own
SCHEMA = json.loads((Path(__file__).parent / "verdict.schema.json").read_text())


def _diagnose(config: Path, output: Path, *extra: str, **kwargs) -> tuple[dict, subprocess.CompletedProcess[str]]:
    """Run a diagnosis that must complete; returns the schema-checked verdict and the process."""
    result = run_cli("diagnose", str(config), "--output", str(output), *extra, **kwargs)
    assert result.returncode == 0, result.stderr
    verdict = json.loads(output.read_text())
    jsonschema.validate(verdict, SCHEMA)
    return verdict, result


@pytest.mark.parametrize(("dataset", "models"), [("cancer", "cancer_models"), ("diabetes", "diabetes_models")])
def test_healthy_data_completes_with_a_schema_valid_verdict(
    request: pytest.FixtureRequest, make_config: Callable[..., Path], tmp_path: Path, dataset: str, models: str,
) -> None:
    name = request.getfixturevalue(models)
    config = make_config(request.getfixturevalue(dataset), f"models:/{name}@champion")

    verdict, result = _diagnose(config, tmp_path / "verdict.json", "--no-record")

    assert verdict["model"] == {"name": name, "version": "2"}
    assert verdict["causes"][0]["cause"] == verdict["root_cause"]
    assert f"root cause: {verdict['root_cause']}" in result.stdout
    assert f"[postmortem] loading baseline models:/{name}/1" in result.stderr


def test_recalibrated_feature_is_named_in_the_verdict(
    cancer_models: str, cancer: Dataset, make_config: Callable[..., Path], tmp_path: Path,
) -> None:
    current = pd.read_parquet(cancer.current)
    current.loc[len(current) // 2:, RECALIBRATED_FEATURE] *= 1000
    current.to_parquet(tmp_path / "current.parquet", index=False)
    data = {"reference": str(cancer.reference), "golden": str(cancer.golden), "current": str(tmp_path / "current.parquet")}

    verdict, _ = _diagnose(make_config(cancer, f"models:/{cancer_models}@champion", data=data), tmp_path / "v.json", "--no-record")

    assert verdict["root_cause"] != "healthy"
    assert RECALIBRATED_FEATURE in verdict["causes"][0]["features"]


def test_quiet_keeps_progress_off_stderr(cancer_models: str, cancer: Dataset, make_config: Callable[..., Path], tmp_path: Path) -> None:
    _, result = _diagnose(make_config(cancer, f"models:/{cancer_models}/2"), tmp_path / "v.json", "--no-record", "--quiet")

    assert "[postmortem]" not in result.stderr


def test_diagnosis_tags_the_reviewed_version_with_its_root_cause(
    tracking_uri: str, cancer: Dataset, make_config: Callable[..., Path], tmp_path: Path,
) -> None:
    X, y = cancer.xy()
    version = register("pm-cli-tags", LogisticRegression(max_iter=5000), X, y)

    verdict, _ = _diagnose(make_config(cancer, f"models:/pm-cli-tags/{version}"), tmp_path / "v.json")

    tags = MlflowClient().get_model_version("pm-cli-tags", version).tags
    assert tags["postmortem.root_cause"] == verdict["root_cause"]


def _missing_config(tmp_path: Path, write: Callable[..., Path], dataset: Dataset) -> list[str]:
    return [str(tmp_path / "absent.yaml")]


def _malformed_yaml(tmp_path: Path, write: Callable[..., Path], dataset: Dataset) -> list[str]:
    path = tmp_path / "broken.yaml"
    path.write_text("model: [models:/pm-cancer/2\ntask: classification\n")
    return [str(path)]


def _unknown_key(tmp_path: Path, write: Callable[..., Path], dataset: Dataset) -> list[str]:
    return [str(write(modle="models:/pm-cancer/2"))]


def _target_absent_from_golden(tmp_path: Path, write: Callable[..., Path], dataset: Dataset) -> list[str]:
    pd.read_csv(dataset.golden).drop(columns=dataset.target).to_csv(tmp_path / "golden.csv", index=False)
    data = {"reference": str(dataset.reference), "golden": str(tmp_path / "golden.csv"), "current": str(dataset.current)}
    return [str(write(data=data))]


def _mixed_type_reference_column(tmp_path: Path, write: Callable[..., Path], dataset: Dataset) -> list[str]:
    reference = pd.read_parquet(dataset.reference).astype({"mean_radius": object})
    reference.loc[reference.index[:5], "mean_radius"] = "unknown"
    reference.to_csv(tmp_path / "reference.csv", index=False)
    data = {"reference": str(tmp_path / "reference.csv"), "golden": str(dataset.golden), "current": str(dataset.current)}
    return [str(write(data=data))]


def _regression_on_a_class_label(tmp_path: Path, write: Callable[..., Path], dataset: Dataset) -> list[str]:
    return [str(write(task="regression"))]


def _model_not_in_registry(tmp_path: Path, write: Callable[..., Path], dataset: Dataset) -> list[str]:
    return [str(write(model="models:/pm-cancer/9"))]


def _unreachable_tracking_server(tmp_path: Path, write: Callable[..., Path], dataset: Dataset) -> list[str]:
    return [str(write()), "--tracking-uri", f"http://127.0.0.1:{free_port()}"]


@pytest.mark.parametrize(("make_args", "expected"), [
    (_missing_config, "config file not found: .*absent.yaml"),
    (_malformed_yaml, r"broken.yaml is not valid YAML \(line \d+\)"),
    (_unknown_key, "unknown key 'modle'"),
    (_target_absent_from_golden, "target column 'label' is absent from data.golden"),
    (_mixed_type_reference_column, r"data.reference \(.*reference.csv\): column 'mean_radius' mixes numbers and text "
                                   r"\(5 of \d+ values are not numbers, the first at row 1\)"),
    (_regression_on_a_class_label, r"task is 'regression' but target 'label' in data.reference \(.*\) has only 2"),
    (_model_not_in_registry, "model URI models:/pm-cancer/9 not found in the registry at sqlite:///"),
    (_unreachable_tracking_server, r"tracking server http://127.0.0.1:\d+ is not reachable: Connection refused"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else "")
def test_bad_input_exits_2_with_one_readable_line(
    cancer_models: str, cancer: Dataset, make_config: Callable[..., Path], tmp_path: Path,
    make_args: Callable[..., list[str]], expected: str,
) -> None:
    args = make_args(tmp_path, lambda **kw: make_config(cancer, kw.pop("model", f"models:/{cancer_models}/2"), **kw), cancer)
    start = time.monotonic()

    result = run_cli("diagnose", *args, "--output", str(tmp_path / "verdict.json"), "--quiet", timeout=60)

    assert time.monotonic() - start < 30
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mlflow-postmortem: error: ")
    assert re.search(expected, lines[0]), lines[0]
    assert not (tmp_path / "verdict.json").exists()


def test_demo_finds_its_injected_unit_change_and_reuses_its_models_on_a_rerun(tmp_path: Path) -> None:
    """The README's first command, in a clean folder with the embedded default store."""
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}

    first = run_cli("demo", env=env, cwd=tmp_path)
    second = run_cli("demo", env=env, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    verdict = json.loads((tmp_path / "postmortem-demo" / "verdict.json").read_text())
    jsonschema.validate(verdict, SCHEMA)
    assert verdict["root_cause"] == "feature_recalibration"
    assert verdict["causes"][0]["features"][0] == "monthly_charges"
    assert "reusing postmortem-demo@champion" in second.stderr
    assert "this exact post-mortem already ran" in second.stdout
    versions = {str(v.version): v.tags for v in MlflowClient(env["MLFLOW_TRACKING_URI"]).search_model_versions(
        "name='postmortem-demo'")}
    assert set(versions) == {"1", "2", "3"}  # the mitigation's retrain; the repeat registered nothing
    assert versions["3"]["postmortem.mitigation"] == "retrain_correct_feature_version"
    assert versions["3"]["postmortem.diagnosis_run_id"] == verdict["run_id"]


def test_drill_help_lists_every_built_in_dataset_with_its_description() -> None:
    """Descriptions hold percentages ("held, 17%"), which argparse reads as format codes unless escaped."""
    result = run_cli("drill", "--help")

    assert result.returncode == 0, result.stderr
    assert "toronto_arrests: 5.2k Toronto marijuana arrests" in " ".join(result.stdout.split())
    assert "doctor_visits: 19.6k German person-years" in " ".join(result.stdout.split())
    assert "(classification, 37%)" in " ".join(result.stdout.split())


def test_commands_other_than_drill_parse_their_arguments_without_importing_scikit_learn() -> None:
    """Help and argument errors come back at once: only `drill` lists the drills' datasets."""
    code = ("import sys\nfrom mlflow_postmortem.cli import main\n"
            "for argv in (['--help'], ['run', '--help'], ['diagnose']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('imported:', sorted(m for m in ('sklearn', 'mlflow_postmortem.drills') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    assert result.stdout.strip().splitlines()[-1] == "imported: []", result.stderr
    assert "the following arguments are required: CONFIG" in result.stderr


def test_drill_command_prints_a_confusion_matrix_and_writes_results(tmp_path: Path) -> None:
    result = run_cli("drill", "--dataset", "fair", "--n-rows", "1000", "--cause", "healthy",
                     "--cause", "feature_unavailability", "--output", str(tmp_path / "drills.json"))

    assert result.returncode == 0, result.stderr
    assert "expected \\ got" in result.stdout
    results = json.loads((tmp_path / "drills.json").read_text())
    assert results["drills"] == 2
    assert results["per_cause"]["healthy"]["total"] == 1
