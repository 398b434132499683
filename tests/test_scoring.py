"""Scoring never swallows a model's error: only a refusal of missing values is imputed, and said."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mlflow_postmortem.diagnose import diagnose
from mlflow_postmortem.errors import ModelError

from synthetic import FEATURES, current, inputs, world


def _refusing_missing(model):
    """Like scikit-learn estimators without NaN support: 'Input X contains NaN.'"""
    def check(frame):
        if frame[FEATURES].isna().any().any():
            raise ValueError("Input X contains NaN.")
        return frame
    return replace(model, predict=lambda f: model.predict(check(f)), predict_proba=lambda f: model.predict_proba(check(f)))


def test_a_model_error_on_rows_with_missing_values_is_raised_not_retried():
    model = world().model
    def broken(frame):
        if frame[FEATURES].isna().any().any():
            raise RuntimeError("feature store timeout")
        return model.predict_proba(frame)
    cur = current()
    cur.loc[cur.index[:50], "age"] = np.nan

    with pytest.raises(ModelError, match="failed to score: feature store timeout"):
        diagnose(inputs(cur), replace(model, predict_proba=broken))


def test_a_model_that_refuses_missing_values_is_scored_imputed_and_the_verdict_says_so():
    cur = current()
    cur.loc[cur.index[:50], "age"] = np.nan

    verdict = diagnose(inputs(cur), _refusing_missing(world().model))

    assert verdict.production["imputed_rows"] == 50
    assert any("50 labelled rows have missing values the model refuses" in item for item in verdict.not_checked)
