"""Served against offline predictions: serving must return what this version predicts for the logged features."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from mlflow_postmortem.data import Inputs, build_inputs
from mlflow_postmortem.detectors import ServedPredictions
from mlflow_postmortem.diagnose import build_context, diagnose
from mlflow_postmortem.types import ModelHandle

from synthetic import CATEGORICAL, FEATURES, current, make_rows, world

SCHEMA = json.loads((Path(__file__).parent.parent / "verdict.schema.json").read_text())


def _fit(estimator, frame: pd.DataFrame, target: pd.Series):
    encode = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                                 CATEGORICAL)], remainder="passthrough")
    return make_pipeline(encode, estimator).fit(frame[FEATURES], target)


def _amount(frame: pd.DataFrame) -> pd.DataFrame:
    """The same world with a continuous target (a regression)."""
    noise = np.random.default_rng(5).normal(0, 0.5, len(frame))
    return frame.assign(label=3 * frame["score"] - frame["visits"] + 2.0 * (frame["plan"] == "pro")
                        + 0.5 * np.log(frame["income"] / 22000) + noise)


@lru_cache(maxsize=None)
def _regressor() -> ModelHandle:
    est = _fit(HistGradientBoostingRegressor(max_iter=60, random_state=0), _amount(make_rows(4000, 1)),
               _amount(make_rows(4000, 1))["label"])
    return ModelHandle("amount", "1", est.predict, features=tuple(FEATURES))


def _inputs(cur: pd.DataFrame, task: str = "classification") -> Inputs:
    w = world()
    reference, golden = (w.reference, w.golden) if task == "classification" else (_amount(w.reference), _amount(w.golden))
    return build_inputs(reference, golden, cur, task=task, target="label", features=FEATURES, prediction="served",
                        timestamp="event_time")


def _detect(cur: pd.DataFrame, model: ModelHandle, task: str = "classification"):
    return ServedPredictions().detect(build_context(_inputs(cur, task), model))


def test_served_by_the_version_itself_is_no_finding():
    cur = current(5000, seed=61)
    cur["served"] = world().model.predict(cur[FEATURES])

    assert _detect(cur, world().model) == []


def test_regression_served_rounded_to_two_decimals_is_no_mismatch():
    cur = _amount(current(5000, seed=62))
    cur["served"] = np.round(_regressor().predict(cur[FEATURES]), 2)

    assert _detect(cur, _regressor(), "regression") == []


def test_one_odd_row_in_five_thousand_is_no_finding():
    cur = current(5000, seed=63)
    cur["served"] = world().model.predict(cur[FEATURES])
    cur.loc[cur.index[100], "served"] = 1 - cur.loc[cur.index[100], "served"]

    assert _detect(cur, world().model) == []


def test_another_model_served_is_skew_spread_over_the_rows():
    cur = current(5000, seed=64)
    other = make_rows(4000, 99)
    cur["served"] = _fit(HistGradientBoostingClassifier(max_iter=30, max_depth=3, random_state=1), other,
                         other["label"]).predict(cur[FEATURES])

    verdict = diagnose(_inputs(cur), world().model)

    jsonschema.validate(verdict.to_dict(), SCHEMA)
    assert verdict.root_cause == "training_serving_skew", verdict.summary
    evidence = verdict.top.evidence
    assert evidence["kind"] == "served_mismatch" and evidence["likely"] == "another model served"
    assert evidence["feature"] is None and evidence["mismatching_rows"] > 0.05 * evidence["compared_rows"]
    assert verdict.top.mitigation == "patch_pipeline"


def test_a_feature_prepared_differently_in_serving_is_named():
    cur = _amount(current(5000, seed=65))
    served = cur[FEATURES].assign(score=(cur["score"] - cur["score"].mean()) / cur["score"].std())
    cur["served"] = _regressor().predict(served)

    (finding,) = _detect(cur, _regressor(), "regression")

    assert finding.cause == "training_serving_skew"
    assert finding.evidence.likely == "preprocessing differs" and finding.evidence.feature == "score"
    assert finding.evidence.largest_difference > 0.1
    assert "'score'" in finding.evidence.sentence()
