"""Scenarios of the untouched suite (round eight's report): a seventh set of tables nobody had
diagnosed (`mlflow_postmortem.drills.untouched_datasets`), written before any of them was diagnosed
and never to be tuned against.

Every strength, share, bucket count, grid and unit factor below is a value no earlier scenario
file used (`bench/drills.py`, `bench/fresh_scenarios.py`, `bench/unseen_scenarios.py`,
`bench/untried_scenarios.py`); onsets are the three named ones, so each comes with a share no
earlier suite gave it. The unit factors are real conversions none used: x14.5038 (bar to psi),
x3600 (hours to seconds, from the first row), x0.44704 (miles per hour to metres per second,
rolled out), x1e-4 (square metres to hectares, on most rows), x33.8639 (inches of mercury to
hectopascals, rolled out), x88.4 (creatinine in mg/dL to micromol/L, from the first row).
Celsius to Fahrenheit rolled out, 18 buckets, a grid of 0.66 spreads from the first row, a
natural log from the first row. Serving skews round to 1.35 spreads, fill -9999, truncate to
1.45 spreads, lag, standardise, round to hundreds; without a training view they round to 2.25
spreads or fill 32767 (an int16's maximum). A bad retrain loses the most important numeric
feature; a schema change drops one.

Every pair of causes has been compounded by some earlier suite, so these pair faults a team meets
together in variants no earlier file paired: a unit change beside a lagged aggregate (one pipeline
rewrite), a retrain that lost a feature beside the same feature frozen in serving (one upstream job
stalled), values past the seen range beside a feature defaulted to its mean, a population shift
beside a sentinel fill, an unlabelled class-mix shift beside a Celsius-to-Fahrenheit switch, a
category frozen beside a numeric shift (or, without categories, a dropped column beside a wider
spread), and a class-mix shift beside a class never seen.

Faults go to the model's most important numeric features with the guards the unseen suite's
scenarios use (they read the reference only, never a diagnosis).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fresh_scenarios import _other, picked
from mlflow_postmortem.drills.datasets import Dataset
from unseen_scenarios import _moves

Scenario = tuple[str, dict[str, Any]]


def untouched_scenarios(ds: Dataset, numeric: list[str], cat: str | None, positive: list[str],
                        reference: pd.DataFrame) -> list[Scenario]:
    """(cause, injector parameters) of the untouched suite on one table; arguments as the unseen
    suite's `unseen_scenarios`."""
    usable, (f1, f2, f3), b3, (w1, w2), (d1, d2) = picked(ds, numeric, reference)
    classification = ds.task == "classification"
    noise = 0.44 if classification else 0.64
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": noise}),
        ("model_regression", {"variant": "small_subset", "magnitude": 0.025}),
        ("model_regression", {"variant": "feature_constant", "feature": f1}),
        ("data_drift", {"feature": w1, "variant": "shift", "magnitude": 2.3, "onset": "ramp", "share": 0.93}),
        ("data_drift", {"feature": w2, "variant": "shift", "magnitude": 1.65, "onset": "step", "share": 0.67}),
        ("data_drift", {"feature": w2, "variant": "spread", "magnitude": 2.65, "onset": "step", "share": 0.73}),
        ("data_drift", {"feature": w1, "variant": "beyond_range", "magnitude": 2.75, "onset": "from_start",
                        "share": 0.57}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.1, "onset": "ramp", "share": 0.88}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.9, "onset": "step", "labelled": False}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.9, "onset": "from_start", "share": 0.63,
                        "labelled": False}),
        ("feature_drift", {"feature": d1, "magnitude": 0.49 if classification else 1.08, "onset": "ramp",
                           "share": 0.77}),
        ("feature_drift", {"feature": d2, "magnitude": 0.57 if classification else 1.35, "onset": "step",
                           "share": 0.96}),
        # no feature to blame: labels flip (or the target moves) everywhere
        ("feature_drift", {"magnitude": 0.41 if classification else 0.78, "onset": "step", "share": 0.87}),
        ("feature_drift", {"magnitude": 0.53 if classification else 0.97, "onset": "from_start", "share": 0.83}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 14.5038, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 3600.0, "onset": "from_start"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 0.44704, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 1e-4, "onset": "step",
                                   "share": 0.92}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 33.8639, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 88.4, "onset": "from_start"}),
        ("feature_recalibration", {"feature": f2, "variant": "c_to_f", "onset": "ramp", "share": 0.86}),
        ("feature_recalibration", {"feature": w1, "variant": "bucket", "magnitude": 18, "onset": "ramp"}),
        ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "ramp", "share": 0.53}),
        ("feature_unavailability", {"feature": f2, "variant": "default_zero", "onset": "from_start", "share": 0.48}),
        ("feature_unavailability", {"feature": f3, "variant": "default_minus_one", "onset": "step", "share": 0.37}),
        ("feature_unavailability", {"feature": f1, "variant": "default_mean", "onset": "ramp", "share": 0.74}),
        ("feature_unavailability", {"feature": f2, "variant": "stale", "onset": "from_start", "share": 0.69}),
        # a schema change: the column is gone from the whole log
        ("feature_unavailability", {"feature": f3, "variant": "dropped"}),
        ("training_serving_skew", {"feature": f2, "variant": "round", "magnitude": 1.35, "share": 0.51}),
        ("training_serving_skew", {"feature": f3, "variant": "null_fill", "magnitude": -9999.0, "share": 0.34}),
        ("training_serving_skew", {"feature": f1, "variant": "truncate", "magnitude": 1.45, "share": 0.59}),
        ("training_serving_skew", {"feature": f2, "variant": "lagged", "share": 0.71}),
        ("training_serving_skew", {"feature": f3, "variant": "affine", "share": 0.79}),
        ("training_serving_skew", {"feature": f1, "variant": "round", "magnitude": 2.25, "share": 0.39,
                                   "training_view": False}),
        ("training_serving_skew", {"feature": f2, "variant": "null_fill", "magnitude": 32767.0, "share": 0.29,
                                   "training_view": False}),
        ("prediction_label_bias", {"feature": f1, "variant": "out_of_range", "magnitude": 1.75, "share": 0.14,
                                   "onset": "from_start"}),
        ("prediction_label_bias", {"feature": (f3, _other(usable, f3)), "variant": "out_of_range",
                                   "magnitude": 3.7, "share": 0.07, "onset": "ramp"}),
        ("compound", {"first": ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 3600.0,
                                                          "onset": "step"}),
                      "second": ("training_serving_skew", {"feature": _other(usable, f1), "variant": "lagged",
                                                           "share": 0.74})}),
        ("compound", {"first": ("model_regression", {"variant": "feature_constant", "feature": f2}),
                      "second": ("feature_unavailability", {"feature": f2, "variant": "stale", "onset": "step",
                                                            "share": 0.97})}),
        ("compound", {"first": ("data_drift", {"feature": w2, "variant": "beyond_range", "magnitude": 3.35,
                                               "onset": "ramp"}),
                      "second": ("feature_unavailability", {"feature": _other(usable, w2), "variant": "default_mean",
                                                            "onset": "step", "share": 0.94})}),
        ("compound", {"first": ("data_drift", {"feature": w1, "variant": "shift", "magnitude": 2.05, "onset": "step",
                                               "share": 0.78}),
                      "second": ("training_serving_skew", {"feature": _other(usable, w1), "variant": "null_fill",
                                                           "magnitude": -9999.0, "share": 0.31,
                                                           "training_view": False})}),
        ("compound", {"first": ("data_drift", {"variant": "prior_shift", "magnitude": 3.45, "onset": "step",
                                               "labelled": False}),
                      "second": ("feature_recalibration", {"feature": f1, "variant": "c_to_f", "onset": "step"})}),
    ]
    top = usable[:4]
    # a grid of 0.66 spreads from the first row: only a feature whose values the grid moves has anything to change
    grid = _moves(reference, top, lambda x: np.round(x / (0.66 * (x.std() or 1.0))) * (0.66 * (x.std() or 1.0)))
    if grid:
        out.append(("feature_recalibration", {"feature": grid[0], "variant": "coarse_grid", "magnitude": 0.66,
                                              "onset": "from_start"}))
    positive = [f for f in positive if f in top] or [f for f in positive if f in usable]
    if positive:
        out.append(("feature_recalibration", {"feature": positive[0], "variant": "log", "onset": "from_start",
                                              "share": 0.82}))
    # serving rounds to hundreds: only a feature off the hundreds in a fifth of the rows has values to change
    hundreds = _moves(reference, top, lambda x: np.round(x, -2))
    if hundreds:
        out.append(("training_serving_skew", {"feature": hundreds[0], "variant": "decimals", "magnitude": -2,
                                              "share": 0.56}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "variant": "scores", "magnitude": 4.4, "onset": "from_start",
                            "share": 0.81}),
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 2.35, "onset": "ramp", "share": 0.91}),
            ("feature_drift", {"feature": cat, "magnitude": 0.59 if classification else 1.22, "onset": "from_start"}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "ramp", "share": 0.84}),
            ("feature_unavailability", {"feature": cat, "variant": "default_mode", "onset": "step", "share": 0.76}),
            ("feature_unavailability", {"feature": cat, "variant": "nulls", "onset": "from_start", "share": 0.61}),
            ("feature_unavailability", {"feature": cat, "variant": "stale", "onset": "from_start", "share": 0.54}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category", "share": 0.28, "onset": "step"}),
            ("compound", {"first": ("data_drift", {"feature": w1, "variant": "shift", "magnitude": 1.85,
                                                   "onset": "ramp"}),
                          "second": ("feature_unavailability", {"feature": cat, "variant": "stale", "onset": "step",
                                                                "share": 0.89})}),
        ]
    else:
        out.append(("compound", {"first": ("data_drift", {"feature": w2, "variant": "spread", "magnitude": 2.45,
                                                          "onset": "step"}),
                                 "second": ("feature_unavailability", {"feature": _other(usable, w2),
                                                                       "variant": "dropped"})}))
    if classification:
        out += [
            ("prediction_label_bias", {"variant": "unseen_label", "share": 0.24, "onset": "ramp"}),
            ("compound", {"first": ("data_drift", {"variant": "prior_shift", "magnitude": 3.15, "onset": "ramp"}),
                          "second": ("prediction_label_bias", {"variant": "unseen_label", "share": 0.16,
                                                               "onset": "step"})}),
        ]
    return out
