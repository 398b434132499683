"""Bad data never crashes and never yields a silent verdict: a one-line error, or a finding
that says what is wrong with the data (the CLI's own bad-input cases are in test_cli.py).
An error names the file, the column and counts, never what the file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from mlflow_postmortem.data import build_inputs, read_table
from mlflow_postmortem.diagnose import diagnose
from mlflow_postmortem.errors import DataError

from support import Dataset, run_cli
from synthetic import FEATURES, current, inputs, world

#: the first line of a file a config should never have pointed at
SECRET_HEADER = "AKIA_SECRET_TOKEN_123,password=hunter2"


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


def test_target_absent_from_golden_is_named_with_a_count_not_the_file_columns():
    w = world()
    golden = w.golden.drop(columns="label")
    with pytest.raises(DataError, match=rf"^target column 'label' is absent from data.golden \(/data/golden.csv has "
                                        rf"{golden.shape[1]} columns, none named 'label'\)$"):
        build_inputs(w.reference, golden, current(), task="classification", target="label", features=FEATURES,
                     sources={"golden": "/data/golden.csv"})


def test_feature_absent_from_reference_is_named():
    w = world()
    with pytest.raises(DataError, match=r"^feature column 'score' is absent from data.reference \(the file has \d+ "
                                        r"columns, none named 'score'\)$"):
        build_inputs(w.reference.drop(columns="score"), w.golden, current(), task="classification", target="label",
                     features=FEATURES)


def test_a_column_named_like_the_config_up_to_case_and_spaces_is_suggested():
    w = world()
    reference = w.reference.rename(columns={"label": " Label "})
    with pytest.raises(DataError, match=r"none named 'label'; did you mean ' Label '\?\)$"):
        build_inputs(reference, w.golden, current(), task="classification", target="label", features=FEATURES)


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("current.csv", b"AKIA,\xff\xfe hunter2\n1,2\n", r"not utf-8 text \(undecodable byte at offset 5\)"),
    ("current.csv.gz", SECRET_HEADER.encode() + b"\n1,2\n", "not a gzip file"),
], ids=["not-utf8", "not-gzip"])
def test_an_unreadable_file_is_named_without_the_bytes_it_holds(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"^data.current: cannot read .*{name}: {reason}$") as err:
        read_table(path, "data.current")
    assert "AK" not in str(err.value).replace(str(path), "") and "xff" not in str(err.value)


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
    with pytest.raises(DataError, match=r"^timestamp column 'event_time' has 1 values that are not times "
                                        r"\(the first at row 4\)$"):
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
                                        r"\(40 of 4000 values are not numbers, the first at row 1\)"):
        build_inputs(reference, world().golden, current(), task="classification", target="label", features=FEATURES,
                     sources={"reference": "/data/train.csv"})


@pytest.mark.parametrize(("task", "target", "expected"), [
    ("regression", lambda frame: frame["label"], r"task is 'regression' but target 'y' .* has only 2 distinct values: a class label"),
    ("classification", lambda frame: frame["income"], r"task is 'classification' but target 'y' .* non-integer values"),
], ids=["regression-on-labels", "classification-on-amounts"])
def test_a_task_that_does_not_fit_the_target_is_a_one_line_error(task, target, expected):
    w = world()
    frames = [frame.assign(y=target(frame)) for frame in (w.reference, w.golden, current())]

    with pytest.raises(DataError, match=expected):
        build_inputs(*frames, task=task, target="y", features=FEATURES)


@pytest.mark.parametrize("role", ["current", "reference", "golden"])
def test_a_file_whose_header_is_a_secret_is_never_quoted_in_the_error_or_the_failed_run(
    cancer_models: str, cancer: Dataset, make_config: Callable[..., Path], tmp_path: Path, role: str,
) -> None:
    (tmp_path / "export.csv").write_text(f"{SECRET_HEADER}\n1,2\n3,4\n")
    data = {"reference": str(cancer.reference), "golden": str(cancer.golden), "current": str(cancer.current)}
    config = make_config(cancer, f"models:/{cancer_models}/2", data={**data, role: str(tmp_path / "export.csv")})

    diagnosed = run_cli("diagnose", str(config), "--output", str(tmp_path / "v.json"), "--no-record", "--quiet")
    ran = run_cli("run", str(config), "--experiment", f"pm-secret-{role}", "--no-mitigate", "--quiet",
                  "--output", str(tmp_path / "v.json"))

    expected = f"is absent from data.{role} ({tmp_path / 'export.csv'} has 2 columns, none named "
    for result in (diagnosed, ran):
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert expected in line
        assert "AKIA" not in result.stderr + result.stdout and "hunter2" not in result.stderr + result.stdout
    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name(f"pm-secret-{role}").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert expected in runs[0].data.tags["postmortem.failure"]
    recorded = " ".join([*runs[0].data.tags.values(), *runs[0].data.params.values()])
    assert "AKIA" not in recorded and "hunter2" not in recorded
