"""Bad data never crashes and never yields a silent verdict: a one-line error, or a finding
that says what is wrong with the data (the CLI's own bad-input cases are in test_cli.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlflow_postmortem.data import build_inputs, read_table
from mlflow_postmortem.diagnose import diagnose
from mlflow_postmortem.errors import DataError

from synthetic import FEATURES, current, inputs, world


def test_empty_current_window_is_a_one_line_error():
    with pytest.raises(DataError, match="data.current has no rows") as err:
        inputs(current().iloc[:0])
    assert "\n" not in str(err.value)


def test_missing_data_file_names_the_role_and_the_path(tmp_path):
    with pytest.raises(DataError, match=f"data.golden: file not found: {tmp_path / 'gold.parquet'}"):
        read_table(tmp_path / "gold.parquet", "data.golden")


def test_unreadable_data_file_names_the_file(tmp_path):
    path = tmp_path / "current.parquet"
    path.write_text("this is not parquet")
    with pytest.raises(DataError, match="data.current: cannot read .*current.parquet"):
        read_table(path, "data.current")


def test_target_absent_from_golden_is_named():
    w = world()
    with pytest.raises(DataError, match="target column 'label' is absent from data.golden"):
        build_inputs(w.reference, w.golden.drop(columns="label"), current(), task="classification", target="label",
                     features=FEATURES)


def test_feature_absent_from_reference_is_named():
    w = world()
    with pytest.raises(DataError, match="feature column 'score' is absent from data.reference"):
        build_inputs(w.reference.drop(columns="score"), w.golden, current(), task="classification", target="label",
                     features=FEATURES)


def test_all_nan_current_column_is_reported_as_unavailable():
    cur = current()
    cur["income"] = np.nan

    verdict = diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "feature_unavailability"
    assert verdict.top.features[0] == "income"
    assert verdict.top.evidence["problem"] == "null" and verdict.top.evidence["current_share"] == 1.0


def test_all_nan_reference_feature_is_a_one_line_error_naming_the_column():
    reference = world().reference.assign(visits=np.nan)

    with pytest.raises(DataError, match=r"^data.reference: feature 'visits' has no values"):
        inputs(current(), reference=reference)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_values_count_as_unusable_not_as_a_crash(bad):
    cur = current()
    cur.loc[cur.index[len(cur) // 2:], "score"] = bad

    verdict = diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "feature_unavailability"
    assert verdict.top.features[0] == "score"
    assert verdict.top.evidence["infinite_values"] == len(cur) - len(cur) // 2


def test_mixed_type_column_counts_unparsable_entries_as_unusable():
    cur = current()
    cur["age"] = cur["age"].astype(object)
    cur.loc[cur.index[len(cur) // 2:], "age"] = "n/a"  # a pipeline started writing strings

    verdict = diagnose(inputs(cur), world().model)

    assert verdict.root_cause == "feature_unavailability"
    assert verdict.top.features[0] == "age"


def test_id_like_column_of_unique_strings_is_skipped_not_called_drift():
    rng = np.random.default_rng(0)
    def with_ids(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(order_ref=[f"ord-{v:012d}" for v in rng.integers(0, 10**12, len(frame))])
    w = world()

    data = build_inputs(with_ids(w.reference), with_ids(w.golden), with_ids(current()), task="classification",
                        target="label", features=[*FEATURES, "order_ref"], timestamp="event_time")
    verdict = diagnose(data, w.model)

    assert verdict.root_cause == "healthy", verdict.summary
    assert any(item.startswith("order_ref: skipped (ID-like") for item in verdict.not_checked)


def test_unparsable_timestamps_are_a_one_line_error():
    cur = current().astype({"event_time": object})
    cur.loc[3, "event_time"] = "yesterday-ish"
    with pytest.raises(DataError, match="timestamp column 'event_time' has 1 values that are not times, e.g. 'yesterday-ish'"):
        inputs(cur)


def test_integer_codes_read_as_floats_with_gaps_match_the_reference_codes():
    w = world()
    reference = w.reference.assign(tier=np.where(w.reference["age"] > 40, 1, 2))
    cur = current()
    cur["tier"] = np.where(cur["age"] > 40, 1.0, 2.0)
    cur.loc[cur.index[:10], "tier"] = np.nan  # a pipeline wrote floats, with a few gaps

    data = build_inputs(reference, w.golden.assign(tier=1), cur, task="classification", target="label",
                        features=[*FEATURES, "tier"], categorical=("plan", "region", "tier"))

    assert set(data.current["tier"].dropna()) == {"1", "2"}
    assert data.current["tier"].isna().sum() == 10


def test_mixed_type_reference_column_is_a_one_line_error_naming_file_and_column():
    reference = world().reference.astype({"income": object})
    reference.loc[reference.index[:40], "income"] = "unknown"

    with pytest.raises(DataError, match=r"^data.reference \(/data/train.csv\): column 'income' mixes numbers and text "
                                        r"\(40 of 4000 values are not numbers, e.g. 'unknown'\)"):
        build_inputs(reference, world().golden, current(), task="classification", target="label", features=FEATURES,
                     sources={"reference": "/data/train.csv"})


@pytest.mark.parametrize(("task", "target", "expected"), [
    ("regression", lambda frame: frame["label"], r"task is 'regression' but target 'y' .* has only 2 distinct values \(0, 1\)"),
    ("classification", lambda frame: frame["income"], r"task is 'classification' but target 'y' .* non-integer values"),
], ids=["regression-on-labels", "classification-on-amounts"])
def test_a_task_that_does_not_fit_the_target_is_a_one_line_error(task, target, expected):
    w = world()
    frames = [frame.assign(y=target(frame)) for frame in (w.reference, w.golden, current())]

    with pytest.raises(DataError, match=expected):
        build_inputs(*frames, task=task, target="y", features=FEATURES)
