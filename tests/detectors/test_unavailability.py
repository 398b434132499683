"""Unavailability's sentinel codes: one "no value" code served outside the seen range is a stuck
default, not inputs the model never saw, whatever its rank and whatever the other rows do."""

from __future__ import annotations

import numpy as np

from mlflow_postmortem.diagnose import diagnose
from synthetic import current, inputs, world


def test_minus_one_on_part_of_a_count_s_rows_is_a_stuck_default_though_not_its_most_common_value() -> None:
    log = current(2000, seed=71)
    stuck = np.random.default_rng(71).random(len(log)) < 0.15  # 3 visits stays the most common value
    log.loc[stuck, "visits"] = -1

    top = diagnose(inputs(log), world().model).top

    assert top.cause == "feature_unavailability" and top.features[:1] == ("visits",)
    assert top.evidence["default_value"] == -1


def test_a_sentinel_beside_a_shift_of_the_other_rows_is_a_stuck_default() -> None:
    log = current(2000, seed=72)
    log["age"] += 8  # the population got older ...
    filled = np.random.default_rng(72).random(len(log)) < 0.3
    log.loc[filled, "age"] = 32767  # ... and a third of the rows lost the value to an int16 fill

    verdict = diagnose(inputs(log), world().model)

    found = {c.cause: c for c in verdict.causes}["feature_unavailability"]
    assert found.features[:1] == ("age",) and found.evidence["default_value"] == 32767
    assert {c.cause: c for c in verdict.causes}["prediction_label_bias"].score == 0, verdict.summary


def test_a_factor_on_a_count_is_not_a_sentinel() -> None:
    log = current(2000, seed=73)
    log["visits"] *= 88.4  # many values out of range, none a "no value" code

    causes = {c.cause: c for c in diagnose(inputs(log), world().model).causes}

    assert causes["feature_unavailability"].score == 0
