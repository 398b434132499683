"""`refresh-golden` against a real store: golden-v2 written, logged with its lineage, named on the
version, and read by the next post-mortem unless the config pins its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from sklearn.ensemble import RandomForestClassifier

from mlflow_postmortem.config import parse_config
from mlflow_postmortem.errors import ConfigError
from mlflow_postmortem.postmortem import run_postmortem

from support import RF_TYPES, Dataset, register, run_cli

EXPERIMENT = "pm-refresh"


@pytest.fixture(scope="module")
def model(tracking_uri: str, cancer: Dataset) -> str:
    """A version of its own: the tags refresh-golden writes must not reach other tests' versions."""
    X, y = cancer.xy()
    return register("pm-refresh", RandomForestClassifier(n_estimators=30, random_state=0), X, y, trusted_types=RF_TYPES)


def _config(tmp_path: Path, cancer: Dataset, make_config, version: str, **overrides) -> Path:
    for f in (cancer.reference, cancer.golden, cancer.current):  # golden-v2 is written beside the golden set
        shutil.copy(f, tmp_path / f.name)
    data = {"reference": cancer.reference.name, "golden": cancer.golden.name, "current": cancer.current.name}
    return make_config(cancer, f"models:/pm-refresh/{version}", data=data, **overrides)


def _golden_source(run_id: str) -> str:
    """The source of the golden dataset the post-mortem's golden_eval run logged."""
    client = MlflowClient()
    child = client.get_run(client.get_run(run_id).data.tags["postmortem.golden_eval.run_id"])
    (golden,) = [d for d in child.inputs.dataset_inputs if d.dataset.name == "golden"]
    return json.loads(golden.dataset.source)["uri"]


def test_refresh_writes_golden_v2_logs_it_with_its_lineage_and_the_next_post_mortem_reads_it(
        model: str, cancer: Dataset, make_config, tmp_path: Path) -> None:
    config = _config(tmp_path, cancer, make_config, model, golden={"size": 150, "edge_share": 0.2})

    done = run_cli("refresh-golden", str(config), "--experiment", EXPERIMENT, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    path = tmp_path / "golden-v2.parquet"
    assert f"golden set {path}: 150 rows" in done.stdout and "[postmortem] refresh-golden: wrote" in done.stderr
    client = MlflowClient()
    tags = client.get_model_version("pm-refresh", model).tags
    assert tags["postmortem.golden.uri"] == str(path)
    (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id],
                                "tags.`postmortem.step` = 'refresh-golden'")
    assert run.info.status == "FINISHED" and tags["postmortem.golden.run_id"] == run.info.run_id
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.digest == tags["postmortem.golden.digest"]
    assert json.loads(dataset.dataset.source)["uri"].endswith("golden-v2.parquet")
    lineage = json.loads(client.download_artifacts(run.info.run_id, "golden_lineage.json", str(tmp_path)) and
                         (tmp_path / "golden_lineage.json").read_text())
    assert lineage["size"] == 150 and sum(lineage["strata"].values()) + sum(lineage["edge_cases"].values()) == 150
    assert run.data.params["golden.parent_digest"] == lineage["parent_digest"]
    assert run.data.params["golden.kept.production"] == str(lineage["kept"]["production"])
    assert len(pd.read_parquet(path)) == 150

    outcome = run_postmortem(config, "-", mitigate=False, experiment=EXPERIMENT)
    assert _golden_source(outcome.run_id).endswith("golden-v2.parquet")
    assert outcome.verdict.golden.n_rows == 150

    again = run_cli("refresh-golden", str(config), "-q", "--experiment", EXPERIMENT, cwd=tmp_path)
    assert again.returncode == 0 and (tmp_path / "golden-v3.parquet").exists(), again.stderr  # v2 kept as it was
    assert client.get_model_version("pm-refresh", model).tags["postmortem.golden.uri"].endswith("golden-v3.parquet")


def test_a_pinned_config_keeps_its_own_golden_set(model: str, cancer: Dataset, make_config, tmp_path: Path) -> None:
    client = MlflowClient()
    named = client.get_model_version("pm-refresh", model).tags.get("postmortem.golden.uri")
    client.set_model_version_tag("pm-refresh", model, "postmortem.golden.uri", str(tmp_path / "elsewhere.parquet"))
    config = _config(tmp_path, cancer, make_config, model, golden={"pin": True})
    try:
        outcome = run_postmortem(config, "-", mitigate=False, experiment=EXPERIMENT)
    finally:  # the version names what it named before, for the tests after this one
        if named:
            client.set_model_version_tag("pm-refresh", model, "postmortem.golden.uri", named)
        else:
            client.delete_model_version_tag("pm-refresh", model, "postmortem.golden.uri")

    assert _golden_source(outcome.run_id).endswith(cancer.golden.name)


def test_production_without_labels_and_a_config_without_timestamp_are_one_line_errors(
        model: str, cancer: Dataset, make_config, tmp_path: Path) -> None:
    config = _config(tmp_path, cancer, make_config, model)
    pd.read_parquet(cancer.current).drop(columns="label").to_parquet(tmp_path / cancer.current.name)
    unlabelled = run_cli("refresh-golden", str(config), "-q", "--experiment", EXPERIMENT, cwd=tmp_path)
    untimed = run_cli("refresh-golden", str(make_config(cancer, f"models:/pm-refresh/{model}", timestamp=None)), "-q",
                      cwd=tmp_path)

    assert unlabelled.returncode == 2 and "no labelled production rows" in unlabelled.stderr
    assert len(unlabelled.stderr.strip().splitlines()) == 1
    assert untimed.returncode == 2 and "refresh-golden needs key 'timestamp'" in untimed.stderr
    client = MlflowClient()
    failed = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id],
                                "tags.`postmortem.step` = 'refresh-golden' and attributes.status = 'FAILED'")
    assert failed, "the run of the failed refresh ends FAILED"


@pytest.mark.parametrize(("golden", "key"), [
    ({"size": 0}, "golden.size"), ({"edge_share": 1.5}, "golden.edge_share"), ({"window": "monthly"}, "golden.window"),
    ({"pin": "yes"}, "golden.pin"), ({"refresh": 1}, "golden.refresh"), ({"sise": 10}, "golden.sise"), ("big", "golden"),
])
def test_a_malformed_golden_key_is_a_config_error_naming_it(golden, key: str) -> None:
    raw = yaml.safe_load("model: m\ntask: classification\ntarget: y\ndata: {reference: r.csv, golden: g.csv, current: c.csv}")
    with pytest.raises(ConfigError, match=f"'{key}'"):
        parse_config({**raw, "golden": golden})


def test_golden_windows_follow_monitor_unless_set() -> None:
    raw = yaml.safe_load("model: m\ntask: classification\ntarget: y\ndata: {reference: r.csv, golden: g.csv, current: c.csv}")

    assert parse_config(raw).golden.window is None  # calendar months
    assert parse_config({**raw, "monitor": {"window": "1d"}}).golden.window == "1d"
    assert parse_config({**raw, "monitor": {"window": "1d"}, "golden": {"window": "7d"}}).golden.window == "7d"
