"""Training-serving skew pairs each serving row with the training view's row in force at its time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlflow_postmortem.diagnose import diagnose

from synthetic import current, inputs, world


def _history(cur: pd.DataFrame) -> pd.DataFrame:
    """Each customer's visits as the training pipeline saw them: last week's count, then today's."""
    old = cur[["customer_id", "event_time", "visits"]].assign(event_time=cur["event_time"] - pd.Timedelta(days=7),
                                                              visits=cur["visits"] + 3)
    new = cur[["customer_id", "event_time", "visits"]].assign(event_time=cur["event_time"] - pd.Timedelta(hours=1))
    other = cur.drop(columns=["visits", "label", "event_time"])
    return pd.concat([old, new]).merge(other, on="customer_id")


def test_a_feature_that_changes_per_entity_over_time_is_not_skew():
    cur = current(3000, seed=51)

    verdict = diagnose(inputs(cur, training_view=_history(cur)), world().model)

    assert verdict.root_cause == "healthy", verdict.summary
    assert not any("training_serving_skew" in item for item in verdict.not_checked)


def test_serving_that_reads_last_weeks_value_is_skew_against_the_value_in_force():
    cur = current(3000, seed=52)
    view = _history(cur)
    cur["visits"] = cur["visits"] + 3  # serving joined the stale row

    verdict = diagnose(inputs(cur, training_view=view), world().model)

    assert verdict.root_cause == "training_serving_skew", verdict.summary
    assert verdict.top.features[0] == "visits"
    assert verdict.top.evidence["join"].startswith("entity_id and time")


def test_entities_with_several_view_rows_and_no_time_are_left_unpaired_and_said():
    cur = current(3000, seed=53)
    view = _history(cur).drop(columns="event_time")

    verdict = diagnose(inputs(cur, training_view=view), world().model)

    assert verdict.root_cause == "healthy", verdict.summary
    assert any("entities have several training-view rows" in item for item in verdict.not_checked)
    assert np.isfinite(verdict.top.score)


def test_part_of_the_rows_rounded_to_a_coarse_grid_from_the_first_row_is_skew_not_a_stuck_default():
    """Without a view, one pipeline rounding ages to 22.5-year steps serves a few codes (22.5, 45,
    67.5): the top one alone looks like one exact value taking a share of rows, a default."""
    log = current(2000, seed=81)
    rounded = np.random.default_rng(81).random(len(log)) < 0.4
    log.loc[rounded, "age"] = np.round(log.loc[rounded, "age"] / 22.5) * 22.5

    verdict = diagnose(inputs(log), world().model)

    assert verdict.top.cause == "training_serving_skew" and verdict.top.features == ("age",), verdict.summary
    assert {c.cause: c for c in verdict.causes}["feature_unavailability"].score == 0, verdict.summary


def test_part_of_a_count_s_rows_rounded_to_a_coarse_grid_is_skew_though_the_counts_moved_on_since_training():
    """Visits went up by two since training, and one pipeline serves a third of them rounded to
    steps of 4.4 (0, 4.4, 8.8): none of those values is a count the reference holds, and rounded,
    the other rows served beside them give the same codes."""
    log = current(2000, seed=82)
    log["visits"] += 2
    rounded = np.random.default_rng(82).random(len(log)) < 0.35
    log.loc[rounded, "visits"] = np.round(log.loc[rounded, "visits"] / 4.4) * 4.4

    verdict = diagnose(inputs(log), world().model)

    assert verdict.top.cause == "training_serving_skew" and verdict.top.features == ("visits",), verdict.summary
