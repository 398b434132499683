"""End-to-end diagnoses on the synthetic world: each injected fault is named, with its feature."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from mlflow_postmortem.diagnose import diagnose

from synthetic import FEATURES, current, inputs, world

SCHEMA = json.loads((Path(__file__).parent / "verdict.schema.json").read_text())


def _step(frame, col, fn):
    late = frame.index >= len(frame) // 2
    frame.loc[late, col] = fn(frame.loc[late, col])
    return frame


def recalibrated():
    return {"cur": _step(current(), "income", lambda s: s / 1000)}


def nulls():
    return {"cur": _step(current(), "score", lambda s: np.nan)}


def dropped_column():
    return {"cur": current().drop(columns=["visits"])}


def skewed():
    cur = current()
    view = cur.copy()
    cur.loc[cur.index[::3], "age"] = (cur.loc[cur.index[::3], "age"] - 40) / 10  # serving forgot to un-standardise
    return {"cur": cur, "training_view": view}


def novel_categories():
    cur = current()
    rng = np.random.default_rng(4)
    rows = rng.random(len(cur)) < 0.2
    cur.loc[rows, "plan"] = rng.choice(["enterprise", "edu", "gov"], rows.sum())
    return {"cur": cur}


def relation_changed():
    cur = current(4000)
    rng = np.random.default_rng(5)
    flip = (cur["score"] > 0.5) & (rng.random(len(cur)) < 0.5)
    cur.loc[flip, "label"] = 1 - cur.loc[flip, "label"]
    return {"cur": cur}


def drifted():
    pool = current(20000, seed=8)
    rng = np.random.default_rng(6)
    z = (pool["age"] - 40) / 10
    w = np.exp(1.0 * z.to_numpy())
    rows = np.sort(rng.choice(len(pool), 3000, replace=False, p=w / w.sum()))
    cur = pool.iloc[rows].reset_index(drop=True)
    cur["event_time"] = pool["event_time"].iloc[:3000].to_numpy()
    return {"cur": cur}


CASES = [
    ("feature_recalibration", "income", recalibrated),
    ("feature_unavailability", "score", nulls),
    ("feature_unavailability", "visits", dropped_column),
    ("training_serving_skew", "age", skewed),
    ("prediction_label_bias", "plan", novel_categories),
    ("feature_drift", "score", relation_changed),
    ("data_drift", "age", drifted),
]


@pytest.mark.parametrize("cause,feature,make", CASES, ids=[c[2].__name__ for c in CASES])
def test_injected_fault_is_the_root_cause_and_names_its_feature(cause, feature, make):
    case = make()
    verdict = diagnose(inputs(case["cur"], training_view=case.get("training_view")), world().model)
    assert verdict.root_cause == cause, verdict.summary
    assert feature in verdict.top.features[:3]
    jsonschema.validate(verdict.to_dict(), SCHEMA)


def test_healthy_window_is_healthy_and_says_the_production_metric_held():
    verdict = diagnose(inputs(current(3000, seed=21)), world().model, baseline=world().model)
    assert verdict.root_cause == "healthy", verdict.summary
    assert verdict.production["within_golden_ci"] in (True, False)
    assert verdict.golden.dropped is False
    jsonschema.validate(verdict.to_dict(), SCHEMA)


def test_recovery_estimate_shows_the_inverse_rescale_recovers_the_metric():
    cur = _step(current(), "score", lambda s: s * 1.8 + 32)  # the model leans on score: the unit change hurts
    verdict = diagnose(inputs(cur), world().model)
    assert verdict.root_cause == "feature_recalibration"
    rec = verdict.top.recovery
    assert rec is not None and rec.metric == "accuracy"
    assert rec.after > rec.before + 0.02


def test_step_onset_is_located_in_the_middle_window():
    verdict = diagnose(inputs(recalibrated()["cur"]), world().model, windows=8)
    onset = verdict.top.onset
    assert onset.pattern == "step"
    assert onset.window_index in (3, 4)


def test_without_labels_feature_drift_is_reported_as_not_checked():
    cur = current().drop(columns=["label"])
    verdict = diagnose(inputs(cur), world().model)
    assert any("feature_drift" in item for item in verdict.not_checked)
    assert verdict.production["labelled"] is False


def test_five_row_window_gives_an_explicit_insufficient_data_verdict():
    verdict = diagnose(inputs(current(5)), world().model)
    assert verdict.root_cause == "healthy"
    assert verdict.top.score < 0.5
    assert "insufficient data" in verdict.summary


def test_feature_table_ranks_the_drifted_feature_first_and_has_one_value_per_window():
    verdict = diagnose(inputs(drifted()["cur"]), world().model, windows=4)
    table = sorted(verdict.features, key=lambda f: f.drift_tv, reverse=True)
    assert table[0].feature == "age"
    assert all(len(f.per_window_tv) == 4 for f in table)
    assert {f.feature for f in verdict.features} == {"age", "income", "visits", "score", "plan", "region"}
    assert verdict.to_dict()["features"][0].keys() >= {"feature", "drift_tv", "null_share", "novel_share"}


def test_new_terms_in_a_text_column_are_label_bias_naming_the_column_and_the_terms():
    from dataclasses import replace

    from mlflow_postmortem.data import build_inputs

    rng = np.random.default_rng(9)
    words = ["refund", "invoice", "login", "password", "upgrade", "cancel", "plan", "price"]
    def queries(n, new_share=0.0):
        new = ["chatbot", "crypto", "metaverse"]
        return [" ".join(rng.choice(new if rng.random() < new_share else words, 3)) for _ in range(n)]
    w = world()
    reference = w.reference.assign(query=queries(len(w.reference)))
    golden = w.golden.assign(query=queries(len(w.golden)))
    cur = current()
    cur["query"] = queries(len(cur) // 2) + queries(len(cur) - len(cur) // 2, new_share=0.5)
    model = replace(w.model, predict=lambda f: w.model.predict(f[FEATURES]),
                    predict_proba=lambda f: w.model.predict_proba(f[FEATURES]))

    data = build_inputs(reference, golden, cur, task="classification", target="label", features=[*FEATURES, "query"],
                        text=("query",), timestamp="event_time")
    verdict = diagnose(data, model)

    assert verdict.root_cause == "prediction_label_bias", verdict.summary
    assert verdict.top.features[0] == "query"
    assert set(verdict.top.evidence["examples"]) == {"chatbot", "crypto", "metaverse"}
