"""`evaluate-versions` against a real registry: one run per version, linked to its logged model."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from mlflow import MlflowClient

from support import Dataset, run, run_cli
from test_postmortem import PROJECT


def test_each_version_gets_a_run_with_the_same_metric_keys_linked_to_its_model_and_datasets(
        cancer_models: str, cancer: Dataset, make_config: Callable[..., Path], tmp_path: Path) -> None:
    config = make_config(cancer, f"models:/{cancer_models}@champion", slices=["mean_radius"])

    result = run_cli("evaluate-versions", str(config), "--versions", "all", "--experiment", "pm-versions", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    client = MlflowClient()
    experiment = client.get_experiment_by_name("pm-versions")
    found = client.search_runs([experiment.experiment_id], "tags.`postmortem.step` = 'evaluate_version'")
    by_version = {r.data.tags["postmortem.version"]: r for r in found}
    assert set(by_version) == {"1", "2"} and all(r.info.status == "FINISHED" for r in found)
    keys = [set(r.data.metrics) for r in by_version.values()]
    assert keys[0] == keys[1]
    assert {"golden.accuracy", "golden.roc_auc", "recent.accuracy", "golden.slice.mean_radius:q1.accuracy"} <= keys[0]
    automatic = {k.split(".")[2] for k in keys[0] if ".slice." in k and ":" in k and "mean_radius:" not in k}
    # 170 production rows hold no slice of 30 labelled rows: nothing is ranked worst (the mitigation tests find some)
    assert by_version["2"].data.tags["postmortem.slices.worst"] == "-" and not automatic
    assert by_version["2"].data.tags["postmortem.aliases"] == "champion"
    parent = client.get_run(by_version["1"].data.tags["mlflow.parentRunId"])
    assert parent.data.tags["postmortem.step"] == "evaluate_versions" and parent.info.status == "FINISHED"
    assert experiment.tags.get("mlflow.experimentKind") == "custom_model_development"

    for version, evaluated in by_version.items():
        model_id = client.get_model_version(cancer_models, version).source.removeprefix("models:/")
        assert evaluated.data.params["model_id"] == model_id
        logged = client.get_logged_model(model_id)
        linked = {m.key: m.value for m in logged.metrics if m.run_id == evaluated.info.run_id}
        assert linked["golden.accuracy"] == evaluated.data.metrics["golden.accuracy"]
        assert {m.dataset_name for m in logged.metrics if m.run_id == evaluated.info.run_id} == {"golden", "recent"}
        contexts = {i.dataset.name for i in evaluated.inputs.dataset_inputs}
        assert contexts == {"golden", "recent"}
        assert [m.model_id for m in client.get_run(evaluated.info.run_id).inputs.model_inputs] == [model_id]
    assert "version" in result.stdout and "golden.accuracy" in result.stdout


def test_unknown_versions_are_named_with_the_ones_there_are(
        cancer_models: str, cancer: Dataset, make_config: Callable[..., Path], tmp_path: Path) -> None:
    config = make_config(cancer, f"models:/{cancer_models}/2")

    result = run_cli("evaluate-versions", str(config), "--versions", "2,9", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "mlflow-postmortem: error: --versions '2,9': expected aliases or all or version numbers of pm-cancer "
        "(it has 1, 2)")


def test_the_entry_point_records_into_the_run_mlflow_run_opened(
        tracking_uri: str, cancer_models: str, cancer: Dataset, make_config: Callable[..., Path], tmp_path: Path) -> None:
    config = make_config(cancer, f"models:/{cancer_models}/2")

    result = run(["mlflow", "run", str(PROJECT), "-e", "evaluate_versions", "-P", f"config={config}", "-P", "versions=1,2",
                  "--env-manager", "local", "--experiment-name", "pm-versions-project"],
                 env={"MLFLOW_TRACKING_URI": tracking_uri}, cwd=tmp_path, timeout=600)

    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient()
    found = client.search_runs([client.get_experiment_by_name("pm-versions-project").experiment_id])
    (project,) = [r for r in found if "mlflow.project.entryPoint" in r.data.tags]
    assert project.data.tags["mlflow.project.entryPoint"] == "evaluate_versions"
    assert project.info.run_name == f"evaluate versions {cancer_models}" and project.info.status == "FINISHED"
    children = [r for r in found if r.data.tags.get("mlflow.parentRunId") == project.info.run_id]
    assert sorted(r.data.tags["postmortem.version"] for r in children) == ["1", "2"]
