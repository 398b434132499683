"""Mitigation end to end against the live `mlflow server`: drills on the churn data, real
registered models, `mlflow run` as a subprocess, and the registry read back over REST."""

from __future__ import annotations

import functools
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient
from mlflow.models import Model

from mlflow_postmortem import demo
from mlflow_postmortem.drills import inject, make_dataset, make_drill, split_dataset
from mlflow_postmortem.drills.models import degraded_fit

from support import run, run_cli, tracking
from test_postmortem import PROJECT, Rest, _tags

#: the drills' pipelines pass numeric columns through a ColumnTransformer, which skops sees as these
TRUSTED = [*demo.TRUSTED_TYPES, "functools.partial", "sklearn.utils.validation.check_array"]
VERSION_TAGS = {"postmortem.diagnosis_run_id", "postmortem.parent_version", "postmortem.mitigation",
                "postmortem.root_cause"}


@functools.cache
def _dataset():
    """One churn table per process: `split_dataset` caches its split (the two models it fits, ~11 s of CPU) per
    Dataset object, so every scenario below reuses the same split and trains nothing twice."""
    return make_dataset(demo.customers(20_000, seed=11), name="churn", task="classification", target=demo.TARGET,
                        categorical=demo.CATEGORICAL)


@pytest.fixture(autouse=True)
def _session_store(tracking_uri: str) -> None:
    """Whatever a test does not point at the server goes to the session's sqlite store."""


def scenario(server: str, root: Path, name: str, cause: str, **params: Any) -> Path:
    """A drill of `cause` on the churn data: files, a registered model (v1 good, v2 under review), pm.yaml."""
    from mlflow_postmortem.adapters import registry

    ds = _dataset()
    split = split_dataset(ds)
    drill = inject(make_drill(ds, n_rows=6_000, seed=3), cause, **params)
    root.mkdir(parents=True, exist_ok=True)
    frames = {"reference": drill.frames.reference, "golden": drill.frames.golden, "current": drill.frames.current}
    if drill.frames.training_view is not None and cause == "training_serving_skew":
        frames["training_view"] = drill.frames.training_view
    for role, frame in frames.items():
        frame.to_parquet(root / f"{role}.parquet", index=False)
    X = split.reference[list(ds.features)]
    reviewed = degraded_fit(ds, split.reference, variant="label_noise", magnitude=0.45) \
        if cause == "model_regression" else split.model
    with tracking(server, experiment="pm-mitigation-setup"):
        registry.register_sklearn_model(split.baseline, name, X, trusted_types=tuple(TRUSTED))
        version = registry.register_sklearn_model(reviewed, name, X, trusted_types=tuple(TRUSTED))
    config = {"model": f"models:/{name}/{version}", "task": "classification", "target": demo.TARGET,
              "timestamp": drill.timestamp, "entity_id": drill.entity_id, "categorical": list(ds.categorical),
              "skops_trusted_types": TRUSTED, "data": {role: f"{role}.parquet" for role in frames},
              "evidently": False}  # their pages are tested elsewhere; seconds saved in every run here
    (root / "pm.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root / "pm.yaml"


def _mlflow_run_postmortem(server: str, config: Path, experiment: str, cwd: Path) -> None:
    result = run(["mlflow", "run", str(PROJECT), "-e", "postmortem", "-P", f"config={config}", "--env-manager", "local",
                  "--experiment-name", experiment], env={"MLFLOW_TRACKING_URI": server}, cwd=cwd, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]


def _versions(rest: Rest, name: str) -> dict[str, dict[str, str]]:
    found = rest.get("model-versions/search", filter=f"name='{name}'").get("model_versions", [])
    return {v["version"]: {t["key"]: t["value"] for t in v.get("tags", [])} for v in found}


#: one cause per training action (feature_drift's fine_tune trains as data_drift's does)
RETRAINING = [
    ("model_regression", {}, "retrain"),
    ("data_drift", {"feature": "tenure_months", "magnitude": 2.0, "onset": "step"}, "fine_tune"),
    ("feature_recalibration", {"feature": "monthly_charges", "variant": "scale", "magnitude": 100.0}, "retrain_correct_feature_version"),
    ("prediction_label_bias", {"feature": "plan", "variant": "unseen_category", "share": 0.4}, "online_update"),
]


@pytest.mark.parametrize(("cause", "params", "action"), RETRAINING, ids=[c[0] for c in RETRAINING])
def test_retraining_cause_registers_a_tagged_version_trained_in_a_child_run_and_gated(
        mlflow_server_uri: str, tmp_path: Path, cause: str, params: dict, action: str) -> None:
    name = f"pm-mit-{cause}"
    config = scenario(mlflow_server_uri, tmp_path, name, cause, **params)

    _mlflow_run_postmortem(mlflow_server_uri, config, f"pm-mit-{cause}", tmp_path)

    rest = Rest(mlflow_server_uri)
    runs = rest.runs(f"pm-mit-{cause}")
    parent = next(r for r in runs if _tags(r).get("postmortem.step") == "postmortem")
    parent_id = parent["info"]["run_id"]
    assert _tags(parent)["postmortem.root_cause"] == cause
    mitigate = next(r for r in runs if _tags(r).get("postmortem.step") == "mitigate")
    training = next(r for r in runs if r["info"]["run_id"] == _tags(mitigate)["postmortem.training_run"])
    assert _tags(training)["mlflow.parentRunId"] == parent_id
    assert _tags(training)["postmortem.step"] == "train"
    assert {"postmortem.host", "postmortem.pid"} <= set(_tags(training))  # so a later post-mortem can tell it died
    assert all(r["info"]["status"] == "FINISHED" for r in runs)
    assert {i["tags"][0]["value"] for i in training["inputs"]["dataset_inputs"]} == {"reference", "recent_labelled"}
    fit = {m["key"]: m["value"] for m in training["data"]["metrics"]}  # the training run's page shows the fit
    assert 0.5 < fit["training.accuracy"] <= 1.0

    versions = _versions(rest, name)
    new = _tags(mitigate)["postmortem.new_version"]
    assert set(versions) == {"1", "2", new} and new == "3"
    assert VERSION_TAGS <= set(versions[new])
    assert versions[new]["postmortem.diagnosis_run_id"] == parent_id
    assert versions[new]["postmortem.parent_version"] == "2"
    assert versions[new]["postmortem.mitigation"] == action
    assert versions[new]["postmortem.root_cause"] == cause
    metrics = {m["key"]: m["value"] for m in mitigate["data"]["metrics"]}
    assert {"gate.golden.accuracy.candidate", "gate.recent.accuracy.candidate", "gate.passed"} <= set(metrics)
    assert "gate.json" in rest.artifacts(mitigate["info"]["run_id"])
    aliases = rest.get("registered-models/get", name=name)["registered_model"].get("aliases", [])
    passed = metrics["gate.passed"] == 1.0
    assert versions[new]["postmortem.gate"] == ("passed" if passed else "failed")
    assert aliases == ([{"alias": "challenger", "version": new}] if passed else [])  # only a version that passed
    # (champion never moves: promotion is off without a mitigation section)
    if cause == "data_drift":
        assert metrics["gate.recent.accuracy.candidate"] > metrics["gate.recent.accuracy.current"]

    # both versions evaluated side by side under the mitigate run, on the gate's rows, the same keys each
    evaluations = {_tags(r)["postmortem.version"]: r for r in runs if _tags(r).get("postmortem.step") == "evaluate_version"}
    assert set(evaluations) == {"2", new}
    assert all(_tags(r)["mlflow.parentRunId"] == mitigate["info"]["run_id"] for r in evaluations.values())
    scores = {v: {m["key"]: m["value"] for m in r["data"]["metrics"]} for v, r in evaluations.items()}
    assert set(scores["2"]) == set(scores[new]) and any(".slice." in k for k in scores[new])
    for where in ("golden", "recent"):
        assert scores[new][f"{where}.accuracy"] == pytest.approx(metrics[f"gate.{where}.accuracy.candidate"], abs=1e-4)
        assert scores["2"][f"{where}.accuracy"] == pytest.approx(metrics[f"gate.{where}.accuracy.current"], abs=1e-4)
    # the new version is a logged model with a signature and an input example, its metrics linked to it
    with tracking(mlflow_server_uri):
        client = MlflowClient()
        source = client.get_model_version(name, new).source
        assert source.startswith("models:/m-")
        logged = client.get_logged_model(source.removeprefix("models:/"))
        assert logged.source_run_id == training["info"]["run_id"]
        assert {"training.accuracy", "golden.accuracy", "recent.accuracy"} <= {m.key for m in logged.metrics}
        meta = Model.load(source)
        assert meta.signature is not None and meta.saved_input_example_info is not None


@pytest.mark.parametrize(("cause", "params"), [
    ("training_serving_skew", {"feature": "tenure_months", "variant": "affine"}),
    ("feature_unavailability", {"feature": "monthly_charges", "variant": "nulls"}),
], ids=["skew", "unavailability"])
def test_pipeline_faults_get_an_action_plan_naming_the_feature_and_no_new_version(
        mlflow_server_uri: str, tmp_path: Path, cause: str, params: dict) -> None:
    name = f"pm-mit-{cause}"
    config = scenario(mlflow_server_uri, tmp_path, name, cause, **params)
    env = {"MLFLOW_TRACKING_URI": mlflow_server_uri, "MLFLOW_EXPERIMENT_NAME": f"pm-mit-{cause}"}

    result = run_cli("run", str(config), "--output", str(tmp_path / "v.json"), env=env, cwd=tmp_path, timeout=600)

    assert result.returncode == 0, result.stderr
    rest = Rest(mlflow_server_uri)
    assert set(_versions(rest, name)) == {"1", "2"}
    mitigate = next(r for r in rest.runs(f"pm-mit-{cause}") if _tags(r).get("postmortem.step") == "mitigate")
    plan = json.loads(requests_get_artifact(mlflow_server_uri, mitigate["info"]["run_id"], "action_plan.json"))
    assert plan["feature"] == params["feature"]
    assert plan["root_cause"] == cause
    assert _versions(rest, name)["2"]["postmortem.action_required"].endswith(params["feature"])


def test_mitigating_one_diagnosis_twice_registers_one_version_and_two_diagnoses_at_once_get_two(
        mlflow_server_uri: str, tmp_path: Path) -> None:
    name = "pm-mit-twice"
    config = scenario(mlflow_server_uri, tmp_path, name, "feature_recalibration", feature="monthly_charges",
                      variant="scale", magnitude=100.0)
    env = {"MLFLOW_TRACKING_URI": mlflow_server_uri, "MLFLOW_EXPERIMENT_NAME": "pm-mit-twice"}
    diagnoses = []
    for windows in (6, 7):  # two post-mortems of the same version: two diagnoses
        raw = yaml.safe_load(config.read_text())
        path = tmp_path / f"pm{windows}.yaml"
        path.write_text(yaml.safe_dump({**raw, "windows": windows}))
        done = run_cli("run", str(path), "--no-mitigate", "--output", str(tmp_path / f"v{windows}.json"), env=env,
                       cwd=tmp_path, timeout=600)
        assert done.returncode == 0, done.stderr
        diagnoses.append(json.loads((tmp_path / f"v{windows}.json").read_text())["run_id"])

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda d: run_cli("mitigate", "--from-run", d, env=env, cwd=tmp_path, timeout=600),
                                diagnoses))
    again = run_cli("mitigate", "--from-run", diagnoses[0], env=env, cwd=tmp_path, timeout=600)

    assert all(r.returncode == 0 for r in results), [r.stderr[-2000:] for r in results if r.returncode]
    assert again.returncode == 0 and "reused from an earlier mitigation" in again.stdout
    versions = _versions(Rest(mlflow_server_uri), name)
    new = {v: tags for v, tags in versions.items() if "postmortem.diagnosis_run_id" in tags}
    assert len(new) == 2
    assert {tags["postmortem.diagnosis_run_id"] for tags in new.values()} == set(diagnoses)


def requests_get_artifact(server: str, run_id: str, path: str) -> str:
    import requests

    response = requests.get(f"{server}/get-artifact", params={"run_uuid": run_id, "path": path}, timeout=30)
    response.raise_for_status()
    return response.text


def test_a_failed_training_run_leaves_the_aliases_alone_and_fails_the_post_mortem(
        tracking_uri: str, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    broken = tmp_path / "broken-trainer"
    broken.mkdir()
    (broken / "MLproject").write_text(
        "name: broken\nentry_points:\n  main:\n    parameters: {diagnosis_run: string, mitigation: string}\n"
        "    command: \"python -c 'import sys; sys.exit(\\\"out of memory in the trainer\\\")'\"\n")
    config = scenario(tracking_uri, tmp_path / "data", "pm-mit-broken", "feature_recalibration",
                      feature="monthly_charges", variant="scale", magnitude=100.0)
    raw = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**raw, "mitigation": {"project": str(broken), "promote": True}}))
    client = MlflowClient()
    client.set_registered_model_alias("pm-mit-broken", "champion", "2")

    result = run_cli("run", str(config), "--experiment", "pm-mit-broken", "--output", str(tmp_path / "v.json"))

    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("mlflow-postmortem: error: training run ") and "ended FAILED" in last
    model = client.get_registered_model("pm-mit-broken")
    assert {k: str(v) for k, v in model.aliases.items()} == {"champion": "2"}
    assert {str(v.version) for v in client.search_model_versions("name='pm-mit-broken'")} == {"1", "2"}
    runs = client.search_runs([client.get_experiment_by_name("pm-mit-broken").experiment_id])
    parent = next(r for r in runs if r.data.tags.get("postmortem.step") == "postmortem")
    assert parent.info.status == "FAILED"
    assert "ended FAILED" in parent.data.tags["postmortem.failure"]
    assert not [r for r in runs if r.info.status == "RUNNING"]


def test_promote_moves_champion_only_when_the_gate_passes(tracking_uri: str, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    outcomes = {}
    for gate, name in [({}, "pm-mit-promote"), ({"min_absolute_change": 0.5}, "pm-mit-promote-strict")]:
        config = scenario(tracking_uri, tmp_path / name, name, "feature_recalibration", feature="monthly_charges",
                          variant="scale", magnitude=100.0)
        raw = yaml.safe_load(config.read_text())
        config.write_text(yaml.safe_dump({**raw, "mitigation": {"promote": True, "gate": gate}}))
        client.set_registered_model_alias(name, "champion", "2")

        result = run_cli("run", str(config), "--experiment", name, "--output", str(tmp_path / f"{name}.json"))

        assert result.returncode == 0, result.stderr
        outcomes[name] = ({k: str(v) for k, v in client.get_registered_model(name).aliases.items()}, result.stdout)

    assert outcomes["pm-mit-promote"][0] == {"champion": "3", "challenger": "3"}
    assert "gate passed; alias challenger; champion moved to it" in outcomes["pm-mit-promote"][1]
    # an improvement of 0.5 accuracy points is out of reach: the gate fails and no alias moves to the new version
    assert outcomes["pm-mit-promote-strict"][0] == {"champion": "2"}
    assert "gate failed; no alias moved" in outcomes["pm-mit-promote-strict"][1]
    assert client.get_model_version("pm-mit-promote-strict", "3").tags["postmortem.gate"] == "failed"
