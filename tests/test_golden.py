"""The golden check's baseline: another version on the same rows first; a recorded metric only
on the same golden rows, with both intervals counted."""

from __future__ import annotations

from dataclasses import replace

from mlflow_postmortem.diagnose import fill_values, reference_profiles
from mlflow_postmortem.golden import evaluate_golden, golden_digest
from mlflow_postmortem.types import RecordedGolden

from synthetic import current, inputs, world


def _golden(model, baseline=None):
    data = inputs(current(200))
    fill = fill_values(data, reference_profiles(data))
    return evaluate_golden(model, data.golden, data.schema, fill, baseline=baseline), data


def _recorded(value: float, digest: str, half_width: float = 0.03) -> RecordedGolden:
    return RecordedGolden("accuracy", value, value - half_width, value + half_width, 1000, digest)


def test_a_previous_version_on_the_same_rows_is_the_baseline_even_when_metrics_were_recorded():
    first, data = _golden(world().model)
    model = replace(world().model, recorded_golden=_recorded(0.99, first.digest))

    result, _ = _golden(model, baseline=world().model)

    assert result.baseline_source == "version 1 on the same golden rows"
    assert result.delta == 0 and not result.dropped


def test_a_recorded_metric_on_the_same_rows_is_compared_with_both_intervals():
    first, data = _golden(world().model)
    model = replace(world().model, recorded_golden=_recorded(first.value + 0.1, first.digest))

    result, _ = _golden(model)

    assert result.dropped
    own_half = (first.ci_high - first.ci_low) / 2
    assert result.delta_ci[1] - result.delta_ci[0] > 2 * own_half  # wider than the version's own interval
    assert "recorded for this version" in result.baseline_source


def test_a_metric_recorded_on_another_golden_set_compares_nothing():
    model = replace(world().model, recorded_golden=_recorded(0.99, "0000000000000000"))

    result, _ = _golden(model)

    assert result.baseline is None and not result.dropped
    assert "another golden set" in result.note


def test_the_golden_digest_ignores_row_order_and_notices_a_changed_label():
    data = inputs(current(200))
    golden = data.golden
    changed = golden.copy()
    changed.loc[changed.index[0], "label"] = 1 - changed.loc[changed.index[0], "label"]

    assert golden_digest(golden.iloc[::-1], data.schema) == golden_digest(golden, data.schema)
    assert golden_digest(changed, data.schema) != golden_digest(golden, data.schema)
