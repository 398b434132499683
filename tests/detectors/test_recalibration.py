"""Recalibration's bucket fit: the map from a feature to its bucket numbers, recovered from shares."""

from __future__ import annotations

import numpy as np
import pytest

from mlflow_postmortem.detectors.recalibration import Recalibration, _bucket_maps
from mlflow_postmortem.profile import numeric_reference


def test_bucket_numbers_over_a_reference_with_point_masses_map_back_to_the_buckets_used() -> None:
    """Route distances: a few values carry a large share of rows, so several code boundaries fall
    on one value of the reference; a line through every boundary misses the map, the pairs do not."""
    rng = np.random.default_rng(0)
    reference = np.concatenate([rng.uniform(100, 3000, 12_000), np.full(6_000, 1620.0), np.full(2_000, 760.0)])
    lo, hi = np.quantile(reference, [0.01, 0.99])
    current = rng.choice(reference, 5_000)
    buckets = np.clip(np.floor((current - lo) / ((hi - lo) / 20)), 0, 19)
    codes, counts = np.unique(buckets, return_counts=True)

    tv, mode, a, b = min(_bucket_maps(np.sort(reference), codes, counts), key=lambda c: c[0])

    assert mode == "floor"
    assert tv < 0.02
    assert abs(a * (hi - lo) / 20 - 1) < 0.03  # the bucket width recovered within 3%


def test_a_conversion_with_an_offset_counts_only_where_the_offset_is_material() -> None:
    """Celsius to kelvin adds 273.15: on temperatures that is the whole story, on incomes of
    20,000 it is less than any sample could tell, so it must not be a candidate there."""
    rng = np.random.default_rng(1)
    incomes = numeric_reference("income", rng.lognormal(10, 0.5, 5_000)).summary
    temperatures = numeric_reference("temperature", rng.normal(15, 8, 5_000)).summary

    assert not Recalibration()._moves(1.0, 273.15, incomes)
    assert Recalibration()._moves(1.0, 273.15, temperatures)
    assert Recalibration()._moves(1.8, 32.0, temperatures)


def test_a_unit_change_halfway_through_a_log_too_short_for_windows_is_a_recalibration() -> None:
    from mlflow_postmortem.diagnose import diagnose
    from synthetic import current, inputs, world

    log = current(300, seed=61)  # one window: windows need 200 rows each
    log.loc[150:, "income"] *= 100  # dollars served as cents from the middle on

    verdict = diagnose(inputs(log), world().model)

    assert verdict.root_cause == "feature_recalibration", verdict.summary
    assert verdict.top.features == ("income",)


def test_a_factor_no_unit_table_holds_from_the_first_row_is_a_recalibration_and_a_shift_past_the_range_is_not() -> None:
    """A clinical factor (creatinine in mg/dL served as micromol/L, x88.4) leaves nothing to point
    at but itself: every value out of the seen range, and mapped back by one plain factor the
    reference again. Drift past the range from the first row moves values by a shift, which no
    plain factor maps back."""
    from mlflow_postmortem.diagnose import diagnose
    from synthetic import FEATURES, current, inputs, world

    rescaled = current(2000, seed=62)
    rescaled["income"] *= 88.4
    shifted = current(2000, seed=63)
    shifted["age"] += 60  # every value past the reference's oldest

    # the training pipeline reads the same upstream values (no skew): the change is the source's
    found = diagnose(inputs(rescaled, training_view=rescaled[["customer_id", *FEATURES]]), world().model).top
    drifted = diagnose(inputs(shifted, training_view=shifted[["customer_id", *FEATURES]]), world().model)

    assert found.cause == "feature_recalibration" and found.features == ("income",)
    assert abs(found.evidence["scale"] / 88.4 - 1) < 0.05 and found.evidence["offset"] == 0
    assert all(c.cause != "feature_recalibration" or c.score == 0 for c in drifted.causes), drifted.summary


@pytest.mark.parametrize("seed", [64, 68])
def test_a_factor_from_the_first_row_on_few_distinct_values_is_found_though_its_quantile_fit_is_off(seed) -> None:
    """A diary's patients, each on many rows (60 distinct ages), served x71.9 on a 500-row log:
    quantiles jumping between so few values put the factor off by enough to fail the shape test
    at the fit. The factor that maps production back closest is the one to judge."""
    from mlflow_postmortem.diagnose import diagnose
    from synthetic import FEATURES, current, inputs, world

    patients = np.random.default_rng(5).normal(40, 10, 60).round(1)

    def diary(frame, rows_seed):
        return frame.assign(age=np.random.default_rng(rows_seed).choice(patients, len(frame)))

    log = diary(current(500, seed=seed), seed)
    log["age"] *= 71.9  # no unit's factor

    found = diagnose(inputs(log, training_view=log[["customer_id", *FEATURES]],
                            reference=diary(world().reference.iloc[:1000], 1)), world().model).top

    assert found.cause == "feature_recalibration" and found.features == ("age",), found
    assert abs(found.evidence["scale"] / 71.9 - 1) < 0.01


def test_a_grid_needs_values_far_more_common_than_the_reference_has_them() -> None:
    """Zeros and round figures that the reference holds as often are no grid, however evenly
    spaced; the same feature with a third of its rows rounded to steps of 25 is one."""
    from mlflow_postmortem.detectors.recalibration import grid_codes

    rng = np.random.default_rng(3)

    def spend(n: int) -> np.ndarray:  # a tenth spend nothing, a twentieth exactly 50 or 100
        values = rng.gamma(2.0, 20.0, n)
        kind = rng.random(n)
        return np.where(kind < 0.1, 0.0, np.where(kind < 0.125, 50.0, np.where(kind < 0.15, 100.0, values)))

    reference, current = spend(4000), spend(2000)
    rounded = current.copy()
    part = rng.random(len(rounded)) < 0.3
    rounded[part] = np.round(rounded[part] / 25.0) * 25.0

    ref = numeric_reference("spend", reference)
    assert grid_codes(ref, current, reference) is None
    step, codes = grid_codes(ref, rounded, reference)
    assert step == 25.0 and {25.0, 75.0} <= set(codes)
