"""The MLflow adapter against a real registry: sqlite for most tests, a real server for one."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from mlflow_postmortem.adapters import models, registry
from mlflow_postmortem.adapters.tracking import check_tracking_reachable
from mlflow_postmortem.errors import ModelError, TrackingError
from mlflow_postmortem.types import GoldenResult, RecordedGolden, Verdict
from support import HGB_TYPES, RF_TYPES, Dataset, free_port, register, tracking


def _golden_frame(dataset: Dataset) -> pd.DataFrame:
    return pd.read_csv(dataset.golden)


def test_load_by_version_gives_a_classifier_with_probabilities_and_features(cancer_models: str, cancer: Dataset) -> None:
    handle = models.load_model_handle(f"models:/{cancer_models}/1", trusted_types=RF_TYPES)
    golden = _golden_frame(cancer)

    assert (handle.name, handle.version) == (cancer_models, "1")
    assert handle.features == cancer.features
    assert handle.classes == (0, 1)
    proba = handle.predict_proba(golden)
    assert proba.shape == (len(golden), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert (handle.predict(golden) == golden[cancer.target]).mean() > 0.9


def test_load_by_alias_resolves_to_the_aliased_version(cancer_models: str) -> None:
    handle = models.load_model_handle(f"models:/{cancer_models}@champion", trusted_types=HGB_TYPES)

    assert handle.version == "2"


def test_prediction_ignores_extra_columns_and_column_order(cancer_models: str, cancer: Dataset) -> None:
    handle = models.load_model_handle(f"models:/{cancer_models}/2", trusted_types=HGB_TYPES)
    golden = _golden_frame(cancer)
    shuffled = golden[list(reversed(golden.columns))].assign(unrelated="x")

    assert np.array_equal(handle.predict(golden), handle.predict(shuffled))


def test_regressor_has_no_probabilities(diabetes_models: str, diabetes: Dataset) -> None:
    handle = models.load_model_handle(f"models:/{diabetes_models}/1")
    golden = _golden_frame(diabetes)

    assert handle.predict_proba is None and handle.classes is None
    assert handle.predict(golden).shape == (len(golden),)


def test_untrusted_skops_types_are_refused_and_named(cancer_models: str) -> None:
    with pytest.raises(ModelError, match=r"models:/pm-cancer/2 .*TreePredictor.*skops_trusted_types"):
        models.load_model_handle(f"models:/{cancer_models}/2")


def test_types_the_model_itself_declares_are_not_trusted_on_its_word(cancer_models: str) -> None:
    """The MLmodel file lists RF's types, but only the user's list counts."""
    with pytest.raises(ModelError, match="sklearn.tree._tree.Tree"):
        models.load_model_handle(f"models:/{cancer_models}/1", trusted_types=HGB_TYPES)


@pytest.mark.parametrize("uri", ["models:/pm-cancer/9", "models:/pm-cancer@nope", "models:/no-such-model/1"])
def test_missing_uri_is_a_one_line_error_naming_uri_and_registry(cancer_models: str, tracking_uri: str, uri: str) -> None:
    with pytest.raises(ModelError) as err:
        models.load_model_handle(uri)

    message = str(err.value)
    assert uri in message and tracking_uri in message and "\n" not in message


def test_stage_uri_is_refused_with_a_hint(cancer_models: str) -> None:
    with pytest.raises(ModelError, match="models:/pm-cancer/Production .*@alias"):
        models.load_model_handle("models:/pm-cancer/Production")


def test_run_uri_loads_as_an_unregistered_model(cancer_models: str) -> None:
    source = MlflowClient().get_model_version(cancer_models, "1").source
    handle = models.load_model_handle(source, trusted_types=RF_TYPES)

    assert (handle.name, handle.version) == (source, "unregistered")
    assert handle.recorded_golden is None


@pytest.mark.parametrize(("uri", "expected"), [
    ("models:/pm-cancer/2", "models:/pm-cancer/1"),
    ("models:/pm-cancer@champion", "models:/pm-cancer/1"),
    ("models:/pm-cancer/1", None),
])
def test_previous_version_is_the_highest_below_the_reviewed_one(cancer_models: str, uri: str, expected: str | None) -> None:
    assert registry.previous_version_uri(uri) == expected


def test_previous_version_skips_deleted_versions(tracking_uri: str, diabetes: Dataset) -> None:
    X, y = diabetes.xy()
    name = "pm-gaps"
    for _ in range(3):
        register(name, LogisticRegression(max_iter=200), X, y > y.median())
    MlflowClient().delete_model_version(name, "2")

    assert registry.previous_version_uri(f"models:/{name}/3") == f"models:/{name}/1"


RECORDED = {"postmortem.launch.accuracy": "0.91", "postmortem.launch.accuracy.ci_low": "0.88",
            "postmortem.launch.accuracy.ci_high": "0.94", "postmortem.launch.rows": "400",
            "postmortem.launch.digest": "0123456789abcdef", "postmortem.launch.roc_auc": "0.95"}


def test_recorded_golden_metric_comes_back_with_its_interval_rows_and_digest(tracking_uri: str, diabetes: Dataset) -> None:
    X, y = diabetes.xy()
    version = register("pm-recorded", LogisticRegression(max_iter=200), X, y > y.median())
    client = MlflowClient()
    for key, value in {**RECORDED, "postmortem.root_cause": "healthy"}.items():
        client.set_model_version_tag("pm-recorded", version, key, value)

    handle = models.load_model_handle(f"models:/pm-recorded/{version}")

    assert handle.recorded_golden == RecordedGolden("accuracy", 0.91, 0.88, 0.94, 400, "0123456789abcdef")


def test_golden_tags_without_an_interval_are_no_baseline(tracking_uri: str, diabetes: Dataset) -> None:
    X, y = diabetes.xy()
    version = register("pm-legacy-tags", LogisticRegression(max_iter=200), X, y > y.median())
    MlflowClient().set_model_version_tag("pm-legacy-tags", version, "postmortem.launch.accuracy", "0.91")

    assert models.load_model_handle(f"models:/pm-legacy-tags/{version}").recorded_golden is None


def test_non_numeric_golden_tag_is_named(tracking_uri: str, diabetes: Dataset) -> None:
    X, y = diabetes.xy()
    version = register("pm-bad-tag", LogisticRegression(max_iter=200), X, y > y.median())
    for key, value in {**RECORDED, "postmortem.launch.accuracy": "high"}.items():
        MlflowClient().set_model_version_tag("pm-bad-tag", version, key, value)

    with pytest.raises(ModelError, match="postmortem.launch.accuracy.* are not numbers: .*'high'"):
        models.load_model_handle(f"models:/pm-bad-tag/{version}")


def test_record_tags_writes_root_cause_and_golden_baseline_once(tracking_uri: str, diabetes: Dataset) -> None:
    X, y = diabetes.xy()
    version = register("pm-tagging", LogisticRegression(max_iter=200), X, y > y.median())

    registry.record_version_tags("pm-tagging", version, _verdict("data_drift", roc_auc=0.9, dropped=False))
    registry.record_version_tags("pm-tagging", version, _verdict("healthy", roc_auc=0.7, dropped=False))

    tags = MlflowClient().get_model_version("pm-tagging", version).tags
    assert tags["postmortem.root_cause"] == "healthy"
    assert float(tags["postmortem.launch.roc_auc"]) == 0.9
    assert (float(tags["postmortem.launch.roc_auc.ci_low"]), float(tags["postmortem.launch.roc_auc.ci_high"])) == (0.85, 0.95)
    assert tags["postmortem.launch.rows"] == "100" and tags["postmortem.launch.digest"] == "feedfacecafebeef"


def test_regressed_version_does_not_become_its_own_golden_baseline(tracking_uri: str, diabetes: Dataset) -> None:
    X, y = diabetes.xy()
    version = register("pm-regressed", LogisticRegression(max_iter=200), X, y > y.median())

    registry.record_version_tags("pm-regressed", version, _verdict("model_regression", roc_auc=0.6, dropped=True))

    tags = MlflowClient().get_model_version("pm-regressed", version).tags
    assert tags["postmortem.root_cause"] == "model_regression"
    assert not any(k.startswith("postmortem.launch.") for k in tags)


def test_a_refreshed_golden_set_named_on_the_version_neither_blocks_nor_overwrites_its_launch_metrics(
        tracking_uri: str, diabetes: Dataset) -> None:
    X, y = diabetes.xy()
    version = register("pm-launch-after-refresh", LogisticRegression(max_iter=200), X, y > y.median())
    client = MlflowClient()
    refreshed = {"postmortem.golden.uri": "/data/golden-v2.parquet", "postmortem.golden.digest": "aaaabbbbccccdddd"}
    for key, value in refreshed.items():
        client.set_model_version_tag("pm-launch-after-refresh", version, key, value)

    registry.record_version_tags("pm-launch-after-refresh", version, _verdict("healthy", roc_auc=0.9, dropped=False))

    tags = client.get_model_version("pm-launch-after-refresh", version).tags
    assert tags["postmortem.launch.digest"] == "feedfacecafebeef" and float(tags["postmortem.launch.roc_auc"]) == 0.9
    assert {k: tags[k] for k in refreshed} == refreshed


def test_local_stores_need_no_reachability_check(tracking_uri: str) -> None:
    check_tracking_reachable(timeout_s=0.1)


def test_unreachable_tracking_server_fails_fast_naming_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with tracking(uri), pytest.raises(TrackingError, match=f"tracking server {uri} "):
        check_tracking_reachable(timeout_s=2)
    assert time.monotonic() - start < 10


def test_model_registered_through_a_server_loads_back(mlflow_server_uri: str, cancer: Dataset) -> None:
    with tracking(mlflow_server_uri, experiment="postmortem-server-tests"):
        check_tracking_reachable(timeout_s=5)
        X, y = cancer.xy()
        version = register("pm-served", LogisticRegression(max_iter=5000), X, y, alias="champion")

        handle = models.load_model_handle("models:/pm-served@champion")

    golden = _golden_frame(cancer)
    assert (handle.name, handle.version) == ("pm-served", version)
    assert handle.predict_proba(golden).shape == (len(golden), 2)


def _verdict(root_cause: str, *, roc_auc: float, dropped: bool) -> Verdict:
    golden = GoldenResult(metric="roc_auc", higher_is_better=True, value=roc_auc, ci_low=round(roc_auc - 0.05, 2),
                          ci_high=round(roc_auc + 0.05, 2), n_rows=100, metrics={"roc_auc": roc_auc}, dropped=dropped,
                          digest="feedfacecafebeef")
    return Verdict(root_cause=root_cause, causes=(), golden=golden, production={}, model={})
