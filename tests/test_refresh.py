"""The next golden set, chosen on purpose: strata, edge cases, what is removed, and why it is the same twice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlflow_postmortem.diagnose import fill_values, reference_profiles
from mlflow_postmortem.errors import DataError
from mlflow_postmortem.golden import golden_digest
from mlflow_postmortem.refresh import BEFORE_LAUNCH, next_golden, novel_rows

from synthetic import current, inputs, world


def _production(n: int = 1500) -> pd.DataFrame:
    frame = current(n, seed=5)
    frame["event_time"] = pd.date_range("2026-01-01", periods=n, freq="2h")  # five calendar months
    return frame


def _refresh(production: pd.DataFrame, **kwargs):
    data = inputs(production)
    references = reference_profiles(data)
    return next_golden(data.golden, data.current, data.reference, data.schema, world().model,
                       fill_values(data, references), references, **kwargs), data, references


def test_rows_are_sampled_in_proportion_to_each_time_window_and_class() -> None:
    refreshed, data, _ = _refresh(_production(), size=600, edge_share=0.0)
    frame, lineage = refreshed.frame, refreshed.lineage

    assert len(frame) == lineage.size == 600 and sum(lineage.strata.values()) == 600
    windows = {key.split(" | ")[0] for key in lineage.strata}
    assert windows == {BEFORE_LAUNCH, "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"}
    pool = len(data.golden) + len(data.current)
    for key, taken in lineage.strata.items():  # each stratum's share of the pool, to within a row
        window, label = key.split(" | ")
        source = data.golden if window == BEFORE_LAUNCH else data.current[
            data.current["event_time"].dt.strftime("%Y-%m") == window]
        rows = int((source["label"].astype(str) == label.removeprefix("class ")).sum())
        assert abs(taken - rows * 600 / pool) <= 1, key
    assert lineage.kept == {"golden": int(frame["event_time"].isna().sum()),
                            "production": int(frame["event_time"].notna().sum())}


def test_novel_rows_and_worst_slice_rows_are_added_at_the_stated_share() -> None:
    production = _production()
    production.loc[:29, "age"] = 500.0  # 30 values far past the reference's range
    production.loc[30:39, "plan"] = "enterprise"  # 10 categories it never saw
    refreshed, _, references = _refresh(production, size=400, edge_share=0.1)
    lineage = refreshed.lineage

    assert lineage.edge_cases == {"novel": 20, "worst_slices": 20}  # 40 rows = 10%, half each
    assert novel_rows(refreshed.frame, references).sum() >= 20
    assert len(lineage.worst_slices) == 3
    assert sum(lineage.strata.values()) == 400 - 40


def test_duplicates_repeated_entities_and_training_rows_are_removed_before_sampling() -> None:
    production = _production()
    reference = world().reference
    trained = reference.iloc[:25].assign(event_time=production["event_time"].iloc[:25].to_numpy())
    copies = production.iloc[100:110].copy()
    copies["customer_id"] += 1  # other entities, the same features: duplicate rows
    again = production.iloc[200:205].copy()
    again["age"] += 1.0  # the same entities with other values: repeated entities
    production = pd.concat([production, trained, copies, again], ignore_index=True)
    refreshed, _, _ = _refresh(production, size=5000)

    assert refreshed.lineage.removed == {"trained_on": 25, "duplicate_rows": 10, "repeated_entity": 5}
    assert not refreshed.frame["customer_id"].isin(reference["customer_id"]).any()
    assert not refreshed.frame["customer_id"].duplicated().any()
    assert refreshed.lineage.notes == (f"asked for 5,000 rows, {len(refreshed.frame):,} available after removals: "
                                       "all used",)


def test_without_an_entity_id_training_rows_are_matched_by_their_features() -> None:
    production = _production()
    trained = world().reference.iloc[:12].assign(event_time=production["event_time"].iloc[:12].to_numpy(),
                                                 customer_id=-1)
    data = inputs(pd.concat([production, trained], ignore_index=True))
    schema = type(data.schema)(**{**data.schema.__dict__, "entity_id": None})
    references = reference_profiles(data)
    refreshed = next_golden(data.golden, data.current, data.reference, schema, world().model,
                            fill_values(data, references), references)

    assert refreshed.lineage.removed == {"trained_on": 12, "duplicate_rows": 0}


def test_the_same_inputs_and_seed_give_the_same_set_and_another_seed_another() -> None:
    first, _, _ = _refresh(_production(), size=500)
    again, _, _ = _refresh(_production(), size=500)
    other, _, _ = _refresh(_production(), size=500, seed=1)

    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert first.lineage == again.lineage
    assert other.lineage.digest != first.lineage.digest


def test_lineage_names_the_parent_and_the_new_set_by_their_rows() -> None:
    refreshed, data, _ = _refresh(_production(), size=300, window="7d", sources={"golden": "golden.csv"})
    lineage = refreshed.lineage

    assert lineage.parent_digest == golden_digest(data.golden, data.schema)
    assert lineage.digest == golden_digest(refreshed.frame, data.schema)
    assert lineage.sources == {"golden": "golden.csv"} and "time window (7d)" in lineage.rule
    assert len({k.split(" | ")[0] for k in lineage.strata}) > 10  # weekly windows


def test_a_regression_target_is_stratified_by_quintile() -> None:
    production = _production()
    data = inputs(production)
    schema = type(data.schema)(**{**data.schema.__dict__, "task": "regression", "target": "score",
                                  "features": ("age", "visits"), "numeric": ("age", "visits"), "categorical": ()})
    model = type(world().model)("linear", "1", lambda x: np.asarray(x["age"], float) / 20)
    references = {f: reference_profiles(data)[f] for f in schema.features}
    refreshed = next_golden(data.golden, data.current, data.reference, schema, model, {}, references, size=250)

    assert {k.split(" | ")[1] for k in refreshed.lineage.strata} == {"q1", "q2", "q3", "q4", "q5"}


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p.assign(label=np.nan), "no labelled production rows"),
    (lambda p: p.drop(columns="label"), "no labelled production rows"),
])
def test_production_without_labels_is_a_one_line_error(change, message: str) -> None:
    with pytest.raises(DataError, match=message):
        _refresh(change(_production()))
