"""Evidently reports on real data: the right presets, honest sample sizes, drift numbers, pages that open offline."""

from __future__ import annotations

import json
import re
from functools import lru_cache

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlflow_postmortem.adapters.evidently import EvidentlyError, EvidentlyReport, SkippedReport, build_reports

#: what would make a browser fetch from the network when opening the page
EXTERNAL = re.compile(r"""<script[^>]*\ssrc=|<link[^>]*\shref=["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""", re.I)
DASHBOARD = re.compile(r"<script>\s*var (metric_\w+) = (.*?);\n\s*var additional_graphs_\1 = (.*?);\n</script>", re.S)
FEW = ["mean_radius", "mean_texture", "worst_area", "worst_smoothness"]


@lru_cache(maxsize=None)
def cancer() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """breast_cancer, shuffled, split 300/269; a real logistic regression's int labels as `prediction`."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: c.replace(" ", "_"))
    frame = pd.concat([X, y.rename("label")], axis=1).sample(frac=1.0, random_state=0).reset_index(drop=True)
    reference, current = frame.iloc[:300].copy(), frame.iloc[300:].reset_index(drop=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(reference[X.columns], reference["label"])
    for part in (reference, current):
        part["prediction"] = model.predict(part[X.columns])
        part["probability"] = model.predict_proba(part[X.columns])[:, 1]
    return reference, current, list(X.columns)


@lru_cache(maxsize=None)
def sampled() -> dict[str, EvidentlyReport]:
    """All three reports on every column, each frame sampled down to 150 rows."""
    reference, current, features = cancer()
    reports = build_reports(reference, current, target="label", prediction="prediction", task="classification",
                            numeric=features, categorical=[], max_rows=150, seed=1)
    assert reports.skipped == ()
    return {r.name: r for r in reports.built}


def _dashboard(page: str) -> tuple[dict, dict]:
    """The data Evidently's inline script draws from: widget tree and additional graphs."""
    found = DASHBOARD.search(page)
    assert found, "no embedded dashboard data"
    return json.loads(found.group(2)), json.loads(found.group(3))


def test_drift_summary_and_classification_quality_when_labels_and_predictions_exist() -> None:
    reports = sampled()

    assert list(reports) == ["data_drift", "data_summary", "classification_quality"]
    quality = {m["metric_name"].split("(")[0]: m["value"] for m in reports["classification_quality"].json["metrics"]}
    assert 0.8 < quality["Accuracy"] <= 1.0 and "F1Score" in quality


def test_frames_longer_than_max_rows_are_sampled_and_the_pages_say_so() -> None:
    for report in sampled().values():
        assert (report.reference_rows, report.current_rows) == (150, 150)
        note = ("Evidently computed on a sample of 150 reference and 150 current rows; "
                "the post-mortem verdict&#x27;s statistics use all rows.")
        assert report.html.index(note) < report.html.index("<div id=\"root_metric_")


def test_drift_json_has_a_result_for_every_feature() -> None:
    _, _, features = cancer()
    metrics = sampled()["data_drift"].json["metrics"]

    count = next(m for m in metrics if m["metric_name"].startswith("DriftedColumnsCount"))
    per_column = {m["config"]["column"]: m["value"] for m in metrics if m["metric_name"].startswith("ValueDrift")}
    assert set(per_column) == set(features)
    assert all(0.0 <= v <= 1.0 for v in per_column.values())
    assert 0.0 <= count["value"]["share"] <= 1.0


def test_pages_are_self_contained_and_still_carry_their_chart_data() -> None:
    _, _, features = cancer()
    for report in sampled().values():
        assert EXTERNAL.search(report.html) is None, report.name
        assert "window.drawDashboard" in report.html or "drawDashboard(" in report.html
        assert "@font-face" in report.html and "url(data:font/ttf;base64," in report.html

    widgets, graphs = _dashboard(sampled()["data_drift"].html)
    table = next(w for w in widgets["widgets"][0]["widgets"] if w["type"] == "big_table")
    assert {row["column_name"] for row in table["params"]["data"]} == set(features)
    assert len(graphs) >= len(features)


def test_probabilities_and_a_missing_column_on_a_few_features() -> None:
    reference, current, _ = cancer()
    current = current.drop(columns=["worst_area"])

    reports = build_reports(reference, current, target="label", prediction="probability", task="classification",
                            numeric=FEW, categorical=[], max_rows=10_000).built

    assert [r.name for r in reports] == ["data_drift", "data_summary", "classification_quality"]
    assert (reports[0].reference_rows, reports[0].current_rows) == (300, 269)
    assert "Evidently computed on all 300 reference and 269 current rows. Not in both frames, so left out: worst_area." \
        in reports[0].html
    quality = {m["metric_name"].split("(")[0]: m["value"] for m in reports[2].json["metrics"]}
    assert quality["RocAuc"] > 0.9


def test_frames_the_caller_sampled_already_are_reported_as_a_sample() -> None:
    reference, current, _ = cancer()

    reports = build_reports(reference, current, target=None, prediction=None, task="classification",
                            numeric=FEW[:2], categorical=[], source_rows=(3_000, 269)).built

    assert [r.name for r in reports] == ["data_drift", "data_summary"]
    assert "Evidently computed on a sample of 300 reference and 269 current rows" in reports[0].html


def test_no_quality_report_without_predictions_in_both_frames() -> None:
    reference, current, _ = cancer()

    reports = build_reports(reference, current.drop(columns=["prediction"]), target="label", prediction="prediction",
                            task="classification", numeric=FEW[:2], categorical=[])

    assert [r.name for r in reports.built] == ["data_drift", "data_summary"] and reports.skipped == ()


def test_regression_quality_on_diabetes() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    frame = X[["age", "bmi", "bp"]].assign(sex=X["sex"].gt(0).map({True: "m", False: "f"}), target=y)
    model = make_pipeline(StandardScaler(), Ridge()).fit(frame[["age", "bmi", "bp"]], frame["target"])
    frame["prediction"] = model.predict(frame[["age", "bmi", "bp"]])

    reports = build_reports(frame.iloc[:250], frame.iloc[250:], target="target", prediction="prediction",
                            task="regression", numeric=["age", "bmi", "bp"], categorical=["sex"]).built

    assert [r.name for r in reports] == ["data_drift", "data_summary", "regression_quality"]
    names = [m["metric_name"] for m in reports[2].json["metrics"]]
    assert any(n.startswith("RMSE") for n in names) and any(n.startswith("MAE") for n in names)


def test_a_report_evidently_cannot_build_is_skipped_with_a_reason_and_the_others_are_built() -> None:
    frame = pd.DataFrame({"x": [0.1, 0.4, 0.3, 0.9] * 10, "y": ["AKIA_SECRET_1", "hunter2"] * 20, "p": [1.0, 2.0] * 20})

    reports = build_reports(frame, frame, target="y", prediction="p", task="regression", numeric=["x"], categorical=[])

    assert [r.name for r in reports.built] == ["data_drift", "data_summary"]
    [skipped] = reports.skipped
    assert skipped.name == "regression_quality"
    assert re.fullmatch(r"Evidently raised \w+ on 40 reference and 40 current rows", skipped.reason), skipped.reason


def _one_row(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return reference, current.iloc[:1]


def _no_shared_feature(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return reference, current[["label", "prediction"]]


def _every_feature_empty(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return reference, current.assign(**{f: float("nan") for f in FEW})


def _no_labelled_current_row(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return reference, current.assign(label=float("nan"))


@pytest.mark.parametrize(("frames", "skipped", "built"), [
    (_one_row, {name: "the current frame has 1 row; Evidently needs at least 2 in each"
                for name in ("data_drift", "data_summary", "classification_quality")}, []),
    (_no_shared_feature, {"data_drift": "no feature column is in both the reference and the current frame (of 4 named)"},
     ["data_summary", "classification_quality"]),
    (_every_feature_empty, {"data_drift": "every feature column in both frames (4) is empty (all null) in one of them"},
     ["data_summary", "classification_quality"]),
    (_no_labelled_current_row, {"classification_quality": "no current row has both 'label' and 'prediction'"},
     ["data_drift", "data_summary"]),
], ids=lambda v: v.__name__.strip("_") if callable(v) else "")
def test_frames_evidently_cannot_work_on_skip_the_reports_they_break_and_say_why(
        frames, skipped: dict[str, str], built: list[str]) -> None:
    reference, current = frames(*cancer()[:2])

    reports = build_reports(reference, current, target="label", prediction="prediction", task="classification",
                            numeric=FEW, categorical=[])

    assert [r.name for r in reports.built] == built
    assert reports.skipped == tuple(SkippedReport(name, reason) for name, reason in skipped.items())


@pytest.mark.parametrize("kwargs, words", [
    ({"task": "ranking"}, "task must be 'classification' or 'regression'"),
    ({"max_rows": 0}, "max_rows must be at least 1"),
])
def test_bad_arguments_are_named(kwargs: dict, words: str) -> None:
    reference, current, _ = cancer()
    args = {"target": "label", "prediction": "prediction", "task": "classification", "numeric": FEW,
            "categorical": [], **kwargs}

    with pytest.raises(EvidentlyError, match=re.escape(words)):
        build_reports(reference, current, **args)
