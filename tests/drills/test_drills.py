"""Table-driven drills: one fault per cause on a real dataset, the diagnosis must name it.

A small subset of bench/drills.py (the full suite, with its confusion matrix, lives there):
fair is a survey with integer-coded answers and two categorical features; its models train in
about a second and each diagnosis takes a fraction of one.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mlflow_postmortem.drills import inject, make_drill, run_drill, run_suite
from mlflow_postmortem.errors import DataError

DRILLS = [
    ("healthy", {}),
    ("model_regression", {"variant": "label_noise", "magnitude": 0.4}),
    ("data_drift", {"feature": "yrs_married", "magnitude": 1.5, "onset": "ramp"}),
    ("feature_drift", {"feature": "rate_marriage", "magnitude": 0.5, "onset": "step"}),
    ("feature_recalibration", {"feature": "age", "variant": "scale", "magnitude": 1 / 12, "onset": "step"}),
    ("feature_recalibration", {"feature": "occupation", "variant": "permute", "onset": "step"}),
    ("feature_unavailability", {"feature": "rate_marriage", "variant": "nulls", "onset": "step"}),
    ("feature_unavailability", {"feature": "occupation", "variant": "default_mode", "onset": "step"}),
    ("training_serving_skew", {"feature": "yrs_married", "variant": "round", "magnitude": 2.0}),
    ("training_serving_skew", {"feature": "age", "variant": "affine", "share": 1.0, "training_view": False}),
    ("prediction_label_bias", {"feature": "age", "variant": "out_of_range"}),
    ("prediction_label_bias", {"feature": "occupation", "variant": "unseen_category"}),
]


@pytest.mark.parametrize(("cause", "params"), DRILLS, ids=lambda v: v if isinstance(v, str) else v.get("variant", ""))
def test_drill_diagnosis_names_the_injected_cause_and_feature(cause: str, params: dict) -> None:
    drill = inject(make_drill("fair", n_rows=2000, seed=1), cause, **params)

    result = run_drill(drill)

    assert result.error is None
    assert result.got == cause, result.ranking
    assert result.feature_hit in (None, True), result.top_features


def test_label_free_prior_shift_is_found_from_a_weak_model_s_probabilities() -> None:
    """fair's model is a few points better than the majority class: on this log its hard labels
    move too little for the shift test (p = 0.03 on the recent half, 0.005 needed); its class
    probabilities move enough (p = 0.0006), and soft BBSE estimates the new balance from them."""
    drill = inject(make_drill("fair", n_rows=2000, seed=8), "data_drift", variant="prior_shift", magnitude=3.0,
                   onset="step", labelled=False)

    result = run_drill(drill)

    assert result.got == "data_drift", result.ranking
    assert result.top_features == ("affair",)


def test_a_step_fault_leaves_the_first_half_of_the_log_untouched() -> None:
    drill = make_drill("fair", n_rows=1000, seed=2)
    faulty = inject(drill, "feature_unavailability", feature="age", variant="nulls", onset="step")

    ages = faulty.frames.current["age"]
    half = len(ages) // 2
    assert ages.iloc[: half - 50].notna().all()
    assert ages.iloc[half + 50:].isna().all()
    pd.testing.assert_frame_equal(faulty.frames.reference, drill.frames.reference)


def test_suite_counts_a_wrong_answer_in_the_confusion_matrix() -> None:
    healthy = inject(make_drill("fair", n_rows=1000, seed=3), "healthy")
    mislabelled = healthy.with_fault(cause="data_drift", feature=("age",), variant="none", magnitude=0.0,
                                     onset="from_start", share=0.0)

    suite = run_suite([healthy, mislabelled])

    assert suite.confusion()["data_drift"]["healthy"] == 1
    assert suite.accuracy == 0.5
    assert suite.healthy_flagged == 0


def test_unknown_feature_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="unknown feature 'agee'"):
        inject(make_drill("fair", n_rows=500), "data_drift", feature="agee")
