"""Every detector passes the same checks: quiet on identical data, deterministic, NaN-tolerant."""

from __future__ import annotations

import numpy as np
import pytest

from mlflow_postmortem.detectors import ALL
from mlflow_postmortem.diagnose import build_context

from synthetic import current, inputs, world

DETECTORS = [pytest.param(d, id=type(d).__name__) for d in ALL]


def _run(detector, inp, seed=0):
    ctx = build_context(inp, world().model, baseline=world().model, seed=seed)
    return detector.detect(ctx)


@pytest.mark.parametrize("detector", DETECTORS)
def test_no_finding_when_current_is_the_reference_itself(detector):
    ref = world().reference
    cur = ref.assign(event_time=np.datetime64("2026-01-01") + np.arange(len(ref)) * np.timedelta64(1, "m"))
    assert _run(detector, inputs(cur, training_view=ref)) == []


@pytest.mark.parametrize("detector", DETECTORS)
def test_no_finding_on_a_fresh_sample_of_the_same_distribution(detector):
    assert _run(detector, inputs(current(3000, seed=11))) == []


@pytest.mark.parametrize("detector", DETECTORS)
def test_same_seed_gives_the_same_findings(detector):
    cur = current(2000, seed=5)
    cur["age"] = cur["age"] * 12  # something for every detector to look at
    cur.loc[cur.index[:300], "income"] = np.nan
    first, second = _run(detector, inputs(cur), seed=3), _run(detector, inputs(cur), seed=3)
    assert [(f.cause, f.feature, round(f.strength, 9)) for f in first] == [(f.cause, f.feature, round(f.strength, 9)) for f in second]


@pytest.mark.parametrize("detector", DETECTORS)
def test_scattered_missing_values_at_the_reference_rate_raise_nothing(detector):
    rng = np.random.default_rng(0)
    ref = world().reference.copy()
    cur = current(3000, seed=12)
    for frame in (ref, cur):
        for col in ("age", "income", "plan"):
            frame.loc[rng.random(len(frame)) < 0.03, col] = np.nan
    assert _run(detector, inputs(cur, reference=ref)) == []
