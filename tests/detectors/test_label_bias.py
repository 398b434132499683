"""Label bias: inputs the model never saw, over the whole log and over its most recent half."""

from __future__ import annotations

import numpy as np

from mlflow_postmortem.diagnose import diagnose
from synthetic import current, inputs, world


def test_novel_rows_growing_through_the_log_count_over_its_most_recent_half() -> None:
    """Ages past the oldest seen turn up in the last quarter of the log only: 2% of the whole
    log, under the 3-point bar, but 4% of its most recent half."""
    log = current(2000, seed=91)
    rng = np.random.default_rng(91)
    late = np.flatnonzero((np.arange(len(log)) >= 1500) & (rng.random(len(log)) < 0.08))
    log.loc[late, "age"] = rng.uniform(110, 140, len(late))

    verdict = diagnose(inputs(log), world().model)

    assert verdict.top.cause == "prediction_label_bias" and verdict.top.features == ("age",), verdict.summary
    assert verdict.top.evidence["over"] == "the most recent half of the log"
    assert 0.03 < verdict.top.evidence["novel_share"] < 0.06
