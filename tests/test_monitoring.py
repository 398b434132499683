"""The monitoring core: calendar windows, per-window drift that holds its false-alarm level, and
an accuracy estimate without labels that tracks the realised one while the relation holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlflow_postmortem.alerts import metric_problem
from mlflow_postmortem.monitoring import (TESTS, calendar_windows, feature_drift, fit_confidence, in_window, parse_every,
                                          score_reference, window_report)
from mlflow_postmortem.profile import categorical_reference, numeric_reference


def test_windows_are_aligned_to_the_epoch_so_every_call_cuts_the_same_ones() -> None:
    times = pd.Series(pd.date_range("2025-01-01 03:00", "2025-01-20 22:00", freq="5h", tz="UTC"))
    week = parse_every("7d")

    windows = calendar_windows(times, week)
    later = calendar_windows(times[times >= "2025-01-10"], week)

    assert all(w.start.day_name() == "Thursday" and w.end - w.start == week for w in windows)  # 1970-01-01 was one
    assert [w.start for w in later] == [w.start for w in windows if w.end > pd.Timestamp("2025-01-10", tz="UTC")]
    assert sum(in_window(times, w).sum() for w in windows) == len(times)
    assert calendar_windows(pd.Series(pd.date_range("2025-01-01", periods=48, freq="h")), parse_every("1d"))[1].start \
        == pd.Timestamp("2025-01-02", tz="UTC")  # naive timestamps read as UTC


@pytest.mark.parametrize("text", ["7 days", "0d", "1m", "", "d"])
def test_a_window_length_that_is_not_a_whole_number_of_hours_days_or_weeks_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="whole number of h, d or w"):
        parse_every(text)


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    """Eight numbers and a plan; one number and the plan missing now and then, as real logs are."""
    frame = pd.DataFrame({f"x{i}": rng.normal(shift if i == 0 else 0.0, 1.0, n) for i in range(8)}
                         | {"plan": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])})
    frame.loc[rng.random(n) < 0.05, "x1"] = np.nan
    frame.loc[rng.random(n) < 0.05, "plan"] = None
    return frame


def _references(reference: pd.DataFrame) -> dict:
    return {c: categorical_reference(c, reference[c]) if c == "plan" else numeric_reference(c, reference[c].to_numpy(float))
            for c in reference.columns}


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("rows", [300, 20_000])
def test_windows_with_no_change_flag_almost_no_feature_whatever_the_test(test: str, rows: int) -> None:
    rng = np.random.default_rng(7)
    reference = _frame(rng, 20_000)
    refs = _references(reference)

    flags = [d.drifted for _ in range(40) for d in feature_drift(test, refs, reference, _frame(rng, rows))]

    assert np.mean(flags) <= 0.01, f"{np.mean(flags):.3f} of features flagged under no change"


@pytest.mark.parametrize("test", TESTS)
def test_a_shifted_feature_is_the_one_flagged(test: str) -> None:
    rng = np.random.default_rng(8)
    reference = _frame(rng, 20_000)

    found = feature_drift(test, _references(reference), reference, _frame(rng, 2_000, shift=1.0))

    assert [d.feature for d in found if d.drifted] == ["x0"]
    assert next(d for d in found if d.feature == "plan").test == ("chi2" if test == "ks" else test)


@pytest.mark.parametrize("test", TESTS)
def test_features_that_stop_arriving_are_flagged_whatever_the_test(test: str) -> None:
    rng = np.random.default_rng(9)
    reference = _frame(rng, 20_000)
    window = _frame(rng, 2_000)
    window.loc[:599, ["x2", "plan"]] = None  # 30% of the window's rows lost them

    found = feature_drift(test, _references(reference), reference, window)

    assert sorted(d.feature for d in found if d.drifted) == ["plan", "x2"]


def _world(rng: np.random.Generator, n: int, centre: float) -> tuple[pd.DataFrame, np.ndarray]:
    x = pd.DataFrame({"a": rng.normal(centre, 1.0, n), "b": rng.normal(0.0, 1.0, n)})
    p = 1 / (1 + np.exp(-(1.5 * x["a"] - x["b"])))
    return x, (rng.random(n) < p).astype(int)


@pytest.mark.parametrize("squash", [1.0, 0.3], ids=["calibrated", "overconfident"])
def test_label_free_accuracy_tracks_realised_accuracy_when_inputs_move_and_the_relation_holds(squash: float) -> None:
    rng = np.random.default_rng(9)
    model = LogisticRegression().fit(*_world(rng, 5_000, 0.0))

    def proba(x: pd.DataFrame) -> np.ndarray:  # squash < 1 sharpens the logits: an overconfident model
        logit = model.decision_function(x) / squash
        p1 = 1 / (1 + np.exp(-logit))
        return np.column_stack([1 - p1, p1])

    golden_x, golden_y = _world(rng, 2_000, 0.0)
    confidence = fit_confidence(proba(golden_x), proba(golden_x).argmax(axis=1) == golden_y)
    moved_x, moved_y = _world(rng, 5_000, 1.5)  # inputs move to where the model is surer: accuracy rises

    estimated = confidence.estimate(proba(moved_x))
    realised = float(np.mean(proba(moved_x).argmax(axis=1) == moved_y))

    assert estimated == pytest.approx(realised, abs=0.02)
    assert ("not calibrated" in confidence.note) == (squash < 1)


def test_too_few_golden_rows_give_no_estimate_and_say_why() -> None:
    confidence = fit_confidence(np.full((50, 2), 0.5), np.ones(50, dtype=bool))

    assert confidence.estimate(np.full((10, 2), 0.5)) is None
    assert confidence.note.startswith("no label-free estimate: 50 golden rows, at least 100")


def test_a_window_report_watches_the_model_score_as_a_feature_of_its_own() -> None:
    rng = np.random.default_rng(10)
    reference, window = _frame(rng, 5_000), _frame(rng, 1_000)
    ref_scores, scores = rng.beta(2, 5, 5_000), rng.beta(5, 2, 1_000)  # the model now scores most rows high
    proba = np.column_stack([1 - scores, scores])
    span = calendar_windows(pd.Series(pd.to_datetime(["2025-03-03"])), parse_every("1d"))[0]

    report = window_report(span, "tv", _references(reference), reference, score_reference(ref_scores), ref_scores, window,
                           (scores > 0.5).astype(int), proba, realised=(0.7, 200), confidence=None)

    assert report.score_drift.drifted and report.drifted == ()
    assert (report.rows, report.realised, report.labelled, report.estimated) == (1_000, 0.7, 200, None)


def test_a_window_report_counts_served_predictions_that_differ_from_the_model() -> None:
    rng = np.random.default_rng(11)
    reference, window = _frame(rng, 2_000), _frame(rng, 1_000)
    ref_scores, scores = rng.beta(2, 5, 2_000), rng.beta(2, 5, 1_000)
    pred = (scores > 0.5).astype(int)
    served = pd.Series(np.where(np.arange(1_000) < 50, 1 - pred, pred), index=window.index)
    span = calendar_windows(pd.Series(pd.to_datetime(["2025-03-03"])), parse_every("1d"))[0]

    report = window_report(span, "tv", _references(reference), reference, score_reference(ref_scores), ref_scores, window,
                           pred, None, realised=None, confidence=None, served=served)

    assert report.served_mismatch == 0.05
    assert metric_problem("monitor.served_mismatch", "regression") is None
