"""Post-mortems recorded in MLflow, checked the way a user would: through `mlflow run`, the
CLI and the tracking server's REST API, against real stores and real registered models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from mlflow_postmortem import demo

from support import run, run_cli

PROJECT = Path(__file__).resolve().parents[1] / "projects" / "postmortem"
STEPS = {"golden_eval", "drift_report", "diagnose"}


class Rest:
    """The few REST calls the checks need (what the MLflow UI itself reads)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def get(self, endpoint: str, **params: Any) -> dict:
        response = requests.get(f"{self.uri}/api/2.0/mlflow/{endpoint}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, endpoint: str, body: dict) -> dict:
        response = requests.post(f"{self.uri}/api/2.0/mlflow/{endpoint}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def runs(self, experiment: str) -> list[dict]:
        exp = self.get("experiments/get-by-name", experiment_name=experiment)["experiment"]["experiment_id"]
        return self.post("runs/search", {"experiment_ids": [exp], "max_results": 100}).get("runs", [])

    def artifacts(self, run_id: str, path: str = "") -> set[str]:
        files = self.get("artifacts/list", run_id=run_id, path=path).get("files", [])
        return {f["path"] for f in files}


def _tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


@pytest.fixture(scope="module")
def demo_on_server(mlflow_server_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's registered models and data, set up on the live server (its own experiment)."""
    folder = tmp_path_factory.mktemp("demo-server")
    env = {"MLFLOW_TRACKING_URI": mlflow_server_uri, "MLFLOW_EXPERIMENT_NAME": "pm-demo-setup"}
    made = run_cli("demo", "--folder", str(folder / "postmortem-demo"), "--quiet", env=env, cwd=folder, timeout=600)
    assert made.returncode == 0, made.stderr
    return folder / "postmortem-demo" / "pm.yaml"


def test_mlflow_run_of_a_post_mortem_recorded_in_another_experiment_is_a_repeat_pointing_at_it(
        mlflow_server_uri: str, demo_on_server: Path, tmp_path: Path) -> None:
    experiment = "pm-mlflow-run"
    env = {"MLFLOW_TRACKING_URI": mlflow_server_uri}
    result = run(["mlflow", "run", str(PROJECT), "-e", "postmortem", "-P", f"config={demo_on_server}",
                  "-P", f"output={tmp_path / 'verdict.json'}", "--env-manager", "local", "--experiment-name", experiment],
                 env=env, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]

    rest = Rest(mlflow_server_uri)
    project_runs = rest.runs(experiment)
    assert len(project_runs) == 1 and project_runs[0]["info"]["status"] == "FINISHED"
    parent_id = _tags(project_runs[0])["postmortem.repeat_of"]  # the demo's post-mortem, in pm-demo-setup
    assert json.loads((tmp_path / "verdict.json").read_text())["run_id"] == parent_id
    runs = rest.runs("pm-demo-setup")
    parent = next(r for r in runs if r["info"]["run_id"] == parent_id)
    assert _tags(parent)["postmortem.step"] == "postmortem"
    linked = [r for r in runs if _tags(r).get("mlflow.parentRunId") == parent_id]
    children = {_tags(r)["postmortem.step"]: r for r in linked if "postmortem.step" in _tags(r)}
    assert set(children) == STEPS | {"mitigate", "train"}
    mitigated = _tags(children["mitigate"])
    assert mitigated["postmortem.mitigation"] == "retrain_correct_feature_version"
    assert mitigated["postmortem.new_version"] == "3" and "postmortem.reused" not in mitigated
    assert all(r["info"]["status"] == "FINISHED" for r in runs)
    versions = rest.get("model-versions/search", filter=f"name='{demo.MODEL}'")["model_versions"]
    assert sorted(v["version"] for v in versions) == ["1", "2", "3"]  # the repeat trained nothing

    tags = _tags(parent)
    assert tags["postmortem.root_cause"] == "feature_recalibration"
    assert tags["postmortem.features"].split(",")[0] == demo.FAULTY_FEATURE
    assert tags["postmortem.mitigation"] == "retrain_correct_feature_version"
    assert float(tags["postmortem.score"]) > 0.5
    assert tags["postmortem.production_dropped"] == "true"  # the cents halve the demo's accuracy
    # the page a user lands on: named for what it is, the verdict as its description, the report beside it
    assert parent["info"]["run_name"] == f"postmortem {demo.MODEL} v2"
    assert tags["mlflow.note.content"].startswith(f"### Post-mortem: {demo.MODEL} v2: feature_recalibration")
    assert "accuracy dropped by" in tags["mlflow.note.content"]
    assert {"report.html", "report.md", "verdict.json"} <= rest.artifacts(parent_id)
    opened_as = {t["key"]: t["value"] for t in rest.get("experiments/get-by-name", experiment_name="pm-demo-setup")
                 ["experiment"].get("tags", [])}
    assert opened_as["mlflow.experimentKind"] == "custom_model_development"  # the model-training view, not GenAI's
    figures = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
    assert all(len(repr(v).split(".")[-1]) <= 8 for v in figures.values()), figures  # no 0.0050000000000000044

    contexts = {inp["tags"][0]["value"] for inp in children["diagnose"]["inputs"]["dataset_inputs"]}
    assert contexts == {"reference", "golden", "current"}
    digests = {i["dataset"]["name"]: i["dataset"]["digest"] for i in children["diagnose"]["inputs"]["dataset_inputs"]}
    assert len(set(digests.values())) == 3

    diagnose_id = children["diagnose"]["info"]["run_id"]
    assert {"verdict.json", "report.md", "report.html", "evidently"} <= rest.artifacts(diagnose_id)
    drift = rest.artifacts(children["drift_report"]["info"]["run_id"], "evidently")
    assert {"evidently/data_drift.html", "evidently/data_drift.json", "evidently/data_summary.html",
            "evidently/classification_quality.html"} <= drift
    assert "golden.json" in rest.artifacts(children["golden_eval"]["info"]["run_id"])

    metrics = {m["key"]: m["value"] for m in children["drift_report"]["data"]["metrics"]}
    assert f"novel_share.{demo.FAULTY_FEATURE}" in metrics
    # the broken feature reads as moved as served, though inside the seen range nothing is left to drift
    assert metrics[f"drift_tv_served.{demo.FAULTY_FEATURE}"] > 0.3
    assert metrics[f"drift_tv_seen_range.{demo.FAULTY_FEATURE}"] < metrics[f"drift_tv_served.{demo.FAULTY_FEATURE}"]
    history = rest.get("metrics/get-history", run_id=children["drift_report"]["info"]["run_id"],
                       metric_key=f"drift_tv_served_by_window.{demo.FAULTY_FEATURE}")["metrics"]
    assert len({m["step"] for m in history}) == 8 and len({m["timestamp"] for m in history}) == 8

    version = rest.get("model-versions/get", name=demo.MODEL, version="2")["model_version"]
    version_tags = {t["key"]: t["value"] for t in version.get("tags", [])}
    assert version_tags["postmortem.root_cause"] == "feature_recalibration"
    assert version_tags["postmortem.run_id"] == parent_id
    # one post-mortem of version 2 so far: the repeat adds no line to its history
    history = version_tags["postmortem.history"].splitlines()
    assert len(history) == 1 and parent_id in history[0] and "feature_recalibration (score " in history[0]


def test_the_readme_s_mlflow_run_twice_gives_one_post_mortem_in_postmortem_and_one_new_version(
        mlflow_server_uri: str, demo_on_server: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load(demo_on_server.read_text())
    config = demo_on_server.with_name("pm-readme.yaml")  # another config than the demo's: a post-mortem of its own
    config.write_text(yaml.safe_dump({**raw, "model": f"models:/{demo.MODEL}/2", "windows": 6}, sort_keys=False))
    command = ["mlflow", "run", str(PROJECT), "-e", "postmortem", "-P", f"config={config}", "--env-manager", "local"]
    rest = Rest(mlflow_server_uri)
    versions_before = len(rest.get("model-versions/search", filter=f"name='{demo.MODEL}'")["model_versions"])

    for _ in range(2):
        result = run(command, env={"MLFLOW_TRACKING_URI": mlflow_server_uri}, cwd=tmp_path, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]

    recorded = [r for r in rest.runs("postmortem") if _tags(r).get("postmortem.step") == "postmortem"
                and {p["key"]: p["value"] for p in r["data"].get("params", [])}.get("config_file") == str(config)]
    assert len(recorded) == 1 and recorded[0]["info"]["status"] == "FINISHED"
    parent_id = recorded[0]["info"]["run_id"]
    pointers = [r for r in rest.runs("Default") if _tags(r).get("postmortem.run_id") == parent_id]
    assert len(pointers) == 2 and all(r["info"]["status"] == "FINISHED" for r in pointers)
    assert sorted(r["info"]["run_name"] for r in pointers) == [f"postmortem {demo.MODEL} v2",
                                                                f"postmortem {demo.MODEL} v2 (repeat)"]
    versions = rest.get("model-versions/search", filter=f"name='{demo.MODEL}'")["model_versions"]
    assert len(versions) == versions_before + 1  # the first run's mitigation; the second is a repeat


def test_bad_data_found_mid_run_ends_the_run_failed_with_the_reason(tracking_uri: str, cancer_models: str, cancer,
                                                                    make_config, tmp_path: Path) -> None:
    import pandas as pd
    from mlflow import MlflowClient

    pd.read_csv(cancer.golden).drop(columns=cancer.target).to_csv(tmp_path / "golden.csv", index=False)
    data = {"reference": str(cancer.reference), "golden": str(tmp_path / "golden.csv"), "current": str(cancer.current)}
    config = make_config(cancer, f"models:/{cancer_models}/2", data=data)

    result = run_cli("run", str(config), "--experiment", "pm-bad-data", "--output", str(tmp_path / "v.json"))

    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert f"target column 'label' is absent from data.golden ({tmp_path / 'golden.csv'} has 30 columns, " in last
    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("pm-bad-data").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert "target column 'label' is absent from data.golden" in runs[0].data.tags["postmortem.failure"]


@pytest.mark.parametrize(("name", "cut", "skipped", "overrides"), [
    ("one-row", lambda frame: frame.iloc[:1], {
        "data_drift": "the current frame has 1 row; Evidently needs at least 2 in each",
        "data_summary": "the current frame has 1 row; Evidently needs at least 2 in each",
        "classification_quality": "the current frame has 1 row; Evidently needs at least 2 in each"}, {"evidently": True}),
    ("no-feature-column", lambda frame: frame[["event_time", "label"]], {
        "data_drift": "no feature column is in both the reference and the current frame (of 30 named)"},
     {"evidently": True}),
    ("turned-off", lambda frame: frame, {"all": "turned off in the config (evidently: false)"}, {"evidently": False}),
], ids=["one-row", "no-feature-column", "turned-off"])
def test_a_current_file_evidently_cannot_draw_gets_a_finished_post_mortem_that_says_so(
        tracking_uri: str, cancer_models: str, cancer, make_config, tmp_path: Path, name: str, cut, skipped,
        overrides) -> None:
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient

    from mlflow_postmortem.postmortem import diagnose_config, run_postmortem

    cut(pd.read_parquet(cancer.current)).to_parquet(tmp_path / "current.parquet", index=False)
    data = {"reference": str(cancer.reference), "golden": str(cancer.golden), "current": str(tmp_path / "current.parquet")}
    config = make_config(cancer, f"models:/{cancer_models}/2", data=data, **overrides)
    diagnosed = diagnose_config(config, tmp_path / "diagnosed.json", record=False)  # what `run` must record too

    outcome = run_postmortem(config, tmp_path / "v.json", experiment=f"pm-evidently-{name}", record=False, mitigate=False)

    assert outcome.verdict.root_cause == diagnosed.verdict.root_cause
    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name(f"pm-evidently-{name}").experiment_id])
    steps = {r.data.tags["postmortem.step"]: r for r in runs}
    assert set(steps) == STEPS | {"postmortem"} and all(r.info.status == "FINISHED" for r in runs)
    drift = steps["drift_report"]
    assert drift.data.tags["postmortem.evidently.skipped"] == "; ".join(f"{k}: {v}" for k, v in skipped.items())
    assert steps["postmortem"].data.tags["postmortem.evidently.skipped"] == drift.data.tags["postmortem.evidently.skipped"]
    recorded = json.loads(mlflow.artifacts.load_text(f"runs:/{drift.info.run_id}/evidently/skipped.json"))
    assert recorded == [{"name": k, "reason": v} for k, v in skipped.items()]
    built = {f.path for f in client.list_artifacts(drift.info.run_id, "evidently")} - {"evidently/skipped.json"}
    assert not any(Path(path).stem in skipped or "all" in skipped for path in built)
    diagnose_id = steps["diagnose"].info.run_id
    md = mlflow.artifacts.load_text(f"runs:/{diagnose_id}/report.md")
    page = mlflow.artifacts.load_text(f"runs:/{diagnose_id}/report.html")
    for report, reason in skipped.items():
        note = (f"Evidently pages not built: {reason}" if report == "all"
                else f"Evidently {report.replace('_', ' ')} page not built: {reason}")
        assert f"- {note}" in md and note in page


def test_a_changed_config_reruns_the_post_mortem_but_reuses_the_unchanged_golden_step(
        tracking_uri: str, cancer_models: str, cancer, make_config, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    # windows no other test uses: a post-mortem recorded by another test, in any experiment, would be a repeat
    first = run_cli("run", str(make_config(cancer, f"models:/{cancer_models}/2", windows=6)), "--experiment", "pm-reuse",
                    "--no-record", "--output", str(tmp_path / "v1.json"))
    again = run_cli("run", str(make_config(cancer, f"models:/{cancer_models}/2", windows=6)), "--experiment", "pm-reuse",
                    "--no-record", "--output", str(tmp_path / "v2.json"))
    changed = run_cli("run", str(make_config(cancer, f"models:/{cancer_models}/2", windows=4)), "--experiment",
                      "pm-reuse", "--no-record", "--output", str(tmp_path / "v3.json"))

    assert first.returncode == again.returncode == changed.returncode == 0, first.stderr + changed.stderr
    assert "this post-mortem already ran" in again.stderr
    assert "golden_eval: reusing finished run" in changed.stderr
    assert "drift_report: reusing" not in changed.stderr
    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("pm-reuse").experiment_id])
    parents = [r for r in runs if r.data.tags.get("postmortem.step") == "postmortem"]
    assert len(parents) == 2  # the repeat made no new run
    golden_runs = {p.data.tags["postmortem.golden_eval.run_id"] for p in parents}
    assert len(golden_runs) == 1
    assert json.loads((tmp_path / "v2.json").read_text())["run_id"] == json.loads((tmp_path / "v1.json").read_text())["run_id"]


def test_step_entry_points_chain_by_artifact_uri(tracking_uri: str, cancer_models: str, cancer, make_config,
                                                 tmp_path: Path) -> None:
    """golden_eval, then diagnose reading its golden.json by URI: each an `mlflow run` of its own."""
    from mlflow import MlflowClient

    config = make_config(cancer, f"models:/{cancer_models}/2")
    base = ["mlflow", "run", str(PROJECT), "--env-manager", "local", "--experiment-name", "pm-steps"]
    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    golden = run([*base, "-e", "golden_eval", "-P", f"config={config}"], env=env, cwd=tmp_path, timeout=600)
    assert golden.returncode == 0, golden.stderr[-3000:]
    client = MlflowClient()
    exp = client.get_experiment_by_name("pm-steps").experiment_id
    golden_run = client.search_runs([exp], "tags.`postmortem.step` = 'golden_eval'")[0].info.run_id

    diagnosed = run([*base, "-e", "diagnose", "-P", f"config={config}", "-P", f"golden_uri=runs:/{golden_run}/golden.json"],
                    env=env, cwd=tmp_path, timeout=600)

    assert diagnosed.returncode == 0, diagnosed.stderr[-3000:]
    diag = client.search_runs([exp], "tags.`postmortem.step` = 'diagnose'")[0]
    assert diag.info.status == "FINISHED"
    assert diag.data.params["golden_uri"] == f"runs:/{golden_run}/golden.json"
    assert {"verdict.json", "report.html"} <= {f.path for f in client.list_artifacts(diag.info.run_id)}
    import mlflow

    checked = json.loads(mlflow.artifacts.load_text(f"runs:/{golden_run}/golden.json"))
    verdict = json.loads(mlflow.artifacts.load_text(f"runs:/{diag.info.run_id}/verdict.json"))
    for key in ("value", "ci_low", "ci_high", "baseline", "delta"):  # the golden check came downstream
        assert verdict["golden"][key] == pytest.approx(checked[key], abs=1e-6)
    assert verdict["golden"]["baseline_source"] == checked["baseline_source"]
