"""The golden check's baseline: another version on the same rows first; a recorded metric only
on the same golden rows, with both intervals counted. And its level: every check's 0.5%."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mlflow_postmortem.diagnose import fill_values, reference_profiles
from mlflow_postmortem.golden import evaluate_golden, golden_digest
from mlflow_postmortem.types import ModelHandle, RecordedGolden

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


def _scripted(version: str, wrong: set[int], y):
    """A model that gets the golden rows in `wrong` wrong and every other one right."""
    labels = np.asarray(y)

    def predict(frame):
        rows = frame.index.to_numpy()
        return np.where(np.isin(rows, list(wrong)), 1 - labels[rows], labels[rows])

    return ModelHandle("scripted", version, predict, None, (0, 1), tuple(world().model.features))


def test_a_version_is_worse_only_at_every_check_s_level_not_at_a_95_percent_interval():
    """70 golden rows lost and 45 won against the baseline: 2.5 points worse, material, and past a
    95% interval (z about 2.3), but not at the 0.5% every other check runs at; 60 lost and 10
    won (z about 6) is."""
    data = inputs(current(200))
    golden = data.golden.reset_index(drop=True)
    data = replace(data, golden=golden)
    y = golden["label"].to_numpy()
    base_wrong = set(range(0, 200))
    fill = fill_values(data, reference_profiles(data))

    def check(lost: int, won: int):
        wrong = (base_wrong - set(range(0, won))) | set(range(200, 200 + lost))
        return evaluate_golden(_scripted("2", wrong, y), golden, data.schema, fill,
                               baseline=_scripted("1", base_wrong, y))

    borderline, clear = check(70, 45), check(60, 10)

    assert abs(borderline.delta + 0.025) < 1e-9 and borderline.delta_ci[1] < 0  # a 95% interval excludes 0 ...
    assert not borderline.dropped  # ... but the one-sided test at 0.5% does not pass
    assert clear.dropped and abs(clear.delta + 0.05) < 1e-9
