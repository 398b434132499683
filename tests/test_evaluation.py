"""Versions side by side: slices fixed once, the worst slice found, the same keys for every version."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlflow_postmortem.data import build_inputs
from mlflow_postmortem.errors import DataError
from mlflow_postmortem.evaluation import slices_of, version_scores, worst_slices
from mlflow_postmortem.scoring import score
from mlflow_postmortem.types import ModelHandle


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    plan = rng.choice(["basic", "plus", "pro"], size=n)
    return pd.DataFrame({"x": x, "plan": plan, "label": (x > 0).astype(int)})


def _model(wrong_on: str | None) -> ModelHandle:
    """Right on every row (the label is x > 0), except on `wrong_on` plan rows, where it says the opposite."""
    def predict(frame: pd.DataFrame) -> np.ndarray:
        right = (frame["x"].to_numpy() > 0).astype(int)
        flip = (frame["plan"].to_numpy() == wrong_on) if wrong_on else np.zeros(len(frame), dtype=bool)
        return np.where(flip, 1 - right, right)

    return ModelHandle(name="m", version=wrong_on or "good", predict=predict, features=("x", "plan"))


@pytest.fixture
def inputs():
    return build_inputs(_frame(2000, 0), _frame(500, 1), _frame(1000, 2), task="classification", target="label",
                        categorical=["plan"])


def test_a_number_is_sliced_at_the_reference_quartiles_and_a_category_by_value(inputs) -> None:
    slices = slices_of(inputs.reference, inputs.schema, ("x", "plan"))

    assert [s.key for s in slices] == ["x:q1", "x:q2", "x:q3", "x:q4", *(f"plan:{p}" for p in
                                                                       inputs.reference["plan"].value_counts().index)]
    quarters = [s.mask(inputs.reference).mean() for s in slices[:4]]
    assert quarters == pytest.approx([0.25] * 4, abs=0.01)
    assert slices[0].description.startswith("x in [-inf, ")


def test_a_slice_of_a_column_the_data_lacks_names_it(inputs) -> None:
    with pytest.raises(DataError, match="slices: 'region' is not a column of the reference data"):
        slices_of(inputs.reference, inputs.schema, ("region",))


def test_the_worst_slice_is_where_the_model_is_wrong(inputs) -> None:
    model = _model(wrong_on="plus")
    scored = score(model, inputs.current, inputs.schema, {})
    candidates = slices_of(inputs.reference, inputs.schema, ("x", "plan"))

    worst = worst_slices(scored, candidates, "classification", k=1)

    assert [s.key for s in worst] == ["plan:plus"]


def test_every_version_gets_the_same_metric_keys_on_the_same_rows(inputs) -> None:
    slices = slices_of(inputs.reference, inputs.schema, ("plan",))
    good = version_scores("1", _model(None), inputs.golden, inputs.current, inputs.schema, {}, slices)
    bad = version_scores("2", _model("pro"), inputs.golden, inputs.current, inputs.schema, {}, slices)

    assert set(good.golden) == set(bad.golden) and set(good.recent) == set(bad.recent)
    assert good.recent["accuracy"] == 1.0 and good.recent["slice.plan:pro.accuracy"] == 1.0
    assert bad.recent["slice.plan:pro.accuracy"] == 0.0 and bad.recent["slice.plan:basic.accuracy"] == 1.0
    assert bad.recent["slice.plan:pro.rows"] == good.recent["slice.plan:pro.rows"] == (inputs.current["plan"] == "pro").sum()


def test_no_labelled_recent_rows_scores_nothing_there(inputs) -> None:
    scores = version_scores("1", _model(None), inputs.golden, inputs.current.iloc[0:0], inputs.schema, {}, [])

    assert scores.recent == {} and scores.golden["rows"] == 500
