"""Scenarios of the sealed suite (round nine's report): an eighth set of tables nobody had diagnosed
(`mlflow_postmortem.drills.sealed_datasets`), written before any of them was diagnosed or had a
model fitted on it, and never to be tuned against.

Every strength, share, bucket count, grid and unit factor below is a value no earlier scenario
file used (`bench/drills.py`, `bench/fresh_scenarios.py`, `bench/unseen_scenarios.py`,
`bench/untried_scenarios.py`, `bench/untouched_scenarios.py`): shares have three decimals where
every two-decimal one was taken. Onsets are the three named ones. The unit factors are real
conversions none used: x6.28318 (revolutions to radians, on a step), x4.44822 (pounds-force to
newtons, from the first row), x2.58999 (square miles to square kilometres, rolled out), x1e5 (bar
to pascals, a power of ten, on most rows), x0.0174533 (degrees to radians, rolled out) and x38.67
(cholesterol in mmol/L to mg/dL, a clinical factor in no unit table, from the first row).
Celsius to Fahrenheit on a step over most rows, 14 buckets from the first row, a grid of 0.875
spreads rolled out, a natural log on a step. Data drifts shift by 2.15 and 1.55 spreads, widen
2.85 times, reach 2.95 past the seen range; prior shifts x3.25 labelled, x3.75 and x2.55
unlabelled. Serving skews round to 1.125 spreads, fill -99999, truncate to 0.625 spreads, lag,
standardise, round to thousands; without a training view they round to 2.15 spreads or fill 65535
(a uint16's maximum). A bad retrain keeps 1.75% of the rows, or flips 46% of the labels (61.5% of
a regression's), or loses the most important numeric feature; a schema change drops one.

Every pair of causes has been compounded by some earlier suite, so these pair faults a team meets
together in variants no earlier file paired: a unit change beside serving rounding (one pipeline
rewrite), a re-bucketing beside a stale value (an aggregation job changed, then stalled), a retrain
on a starved sample beside a dropped column (one broken extract), a retrain on noisier labels
shipped as the class mix moved (no labels yet), values past the seen range beside another feature
defaulted to zero, a category defaulted to its mode beside a lagged aggregate (a stale dimension
table), or, without categories, a stale value beside a truncating serving path, and a class never
seen beside a changed relation (a new taxonomy).

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


def sealed_scenarios(ds: Dataset, numeric: list[str], cat: str | None, positive: list[str],
                     reference: pd.DataFrame) -> list[Scenario]:
    """(cause, injector parameters) of the sealed suite on one table; arguments as the unseen
    suite's `unseen_scenarios`."""
    usable, (f1, f2, f3), b3, (w1, w2), (d1, d2) = picked(ds, numeric, reference)
    classification = ds.task == "classification"
    noise = 0.46 if classification else 0.615
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": noise}),
        ("model_regression", {"variant": "small_subset", "magnitude": 0.0175}),
        ("model_regression", {"variant": "feature_constant", "feature": f1}),
        ("data_drift", {"feature": w1, "variant": "shift", "magnitude": 2.15, "onset": "ramp", "share": 0.905}),
        ("data_drift", {"feature": w2, "variant": "shift", "magnitude": 1.55, "onset": "step", "share": 0.695}),
        ("data_drift", {"feature": w2, "variant": "spread", "magnitude": 2.85, "onset": "step", "share": 0.715}),
        ("data_drift", {"feature": w1, "variant": "beyond_range", "magnitude": 2.95, "onset": "from_start",
                        "share": 0.535}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.25, "onset": "ramp", "share": 0.865}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.75, "onset": "step", "labelled": False}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.55, "onset": "from_start", "share": 0.645,
                        "labelled": False}),
        ("feature_drift", {"feature": d1, "magnitude": 0.465 if classification else 1.13, "onset": "ramp",
                           "share": 0.785}),
        ("feature_drift", {"feature": d2, "magnitude": 0.545 if classification else 1.28, "onset": "step",
                           "share": 0.945}),
        # no feature to blame: labels flip (or the target moves) everywhere
        ("feature_drift", {"magnitude": 0.435 if classification else 0.815, "onset": "step", "share": 0.855}),
        ("feature_drift", {"magnitude": 0.515 if classification else 1.02, "onset": "from_start", "share": 0.825}),
        # revolutions -> radians, pounds-force -> newtons from the first row, square miles -> square km
        # rolled out, bar -> pascals on most rows, degrees -> radians rolled out, cholesterol mmol/L ->
        # mg/dL (in no unit table) from the first row
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 6.28318, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 4.44822, "onset": "from_start"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 2.58999, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 1e5, "onset": "step",
                                   "share": 0.935}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 0.0174533, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 38.67, "onset": "from_start"}),
        ("feature_recalibration", {"feature": f1, "variant": "c_to_f", "onset": "step", "share": 0.955}),
        ("feature_recalibration", {"feature": w1, "variant": "bucket", "magnitude": 14, "onset": "from_start"}),
        ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "step", "share": 0.565}),
        ("feature_unavailability", {"feature": f2, "variant": "default_zero", "onset": "ramp", "share": 0.455}),
        ("feature_unavailability", {"feature": f3, "variant": "default_minus_one", "onset": "from_start",
                                    "share": 0.385}),
        ("feature_unavailability", {"feature": f1, "variant": "default_mean", "onset": "step", "share": 0.685}),
        ("feature_unavailability", {"feature": f2, "variant": "stale", "onset": "ramp", "share": 0.745}),
        # a schema change: the column is gone from the whole log
        ("feature_unavailability", {"feature": f3, "variant": "dropped"}),
        ("training_serving_skew", {"feature": f2, "variant": "round", "magnitude": 1.125, "share": 0.525}),
        ("training_serving_skew", {"feature": f3, "variant": "null_fill", "magnitude": -99999.0, "share": 0.355}),
        ("training_serving_skew", {"feature": f1, "variant": "truncate", "magnitude": 0.625, "share": 0.605}),
        ("training_serving_skew", {"feature": f2, "variant": "lagged", "share": 0.735}),
        ("training_serving_skew", {"feature": f3, "variant": "affine", "share": 0.805}),
        ("training_serving_skew", {"feature": f1, "variant": "round", "magnitude": 2.15, "share": 0.415,
                                   "training_view": False}),
        ("training_serving_skew", {"feature": f2, "variant": "null_fill", "magnitude": 65535.0, "share": 0.265,
                                   "training_view": False}),
        ("prediction_label_bias", {"feature": f1, "variant": "out_of_range", "magnitude": 1.95, "share": 0.13,
                                   "onset": "ramp"}),
        ("prediction_label_bias", {"feature": (f3, _other(usable, f3)), "variant": "out_of_range",
                                   "magnitude": 3.55, "share": 0.09, "onset": "step"}),
        ("compound", {"first": ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 6.28318,
                                                          "onset": "step"}),
                      "second": ("training_serving_skew", {"feature": _other(usable, f1), "variant": "round",
                                                           "magnitude": 1.125, "share": 0.775})}),
        ("compound", {"first": ("feature_recalibration", {"feature": b3, "variant": "bucket", "magnitude": 14,
                                                          "onset": "step"}),
                      "second": ("feature_unavailability", {"feature": _other(usable, b3), "variant": "stale",
                                                            "onset": "ramp", "share": 0.895})}),
        ("compound", {"first": ("model_regression", {"variant": "small_subset", "magnitude": 0.0175}),
                      "second": ("feature_unavailability", {"feature": f2, "variant": "dropped"})}),
        ("compound", {"first": ("model_regression", {"variant": "label_noise", "magnitude": noise}),
                      "second": ("data_drift", {"variant": "prior_shift", "magnitude": 3.65, "onset": "step",
                                                "labelled": False})}),
        ("compound", {"first": ("data_drift", {"feature": w1, "variant": "beyond_range", "magnitude": 3.05,
                                               "onset": "step"}),
                      "second": ("feature_unavailability", {"feature": _other(usable, w1), "variant": "default_zero",
                                                            "onset": "ramp", "share": 0.965})}),
    ]
    top = usable[:4]
    # a grid of 0.875 spreads rolled out: only a feature whose values the grid moves has anything to change
    grid = _moves(reference, top, lambda x: np.round(x / (0.875 * (x.std() or 1.0))) * (0.875 * (x.std() or 1.0)))
    if grid:
        out.append(("feature_recalibration", {"feature": grid[0], "variant": "coarse_grid", "magnitude": 0.875,
                                              "onset": "ramp"}))
    positive = [f for f in positive if f in top] or [f for f in positive if f in usable]
    if positive:
        out.append(("feature_recalibration", {"feature": positive[0], "variant": "log", "onset": "step",
                                              "share": 0.885}))
    # serving rounds to thousands: only a feature off the thousands in a fifth of the rows has values to change
    thousands = _moves(reference, top, lambda x: np.round(x, -3))
    if thousands:
        out.append(("training_serving_skew", {"feature": thousands[0], "variant": "decimals", "magnitude": -3,
                                              "share": 0.585}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "variant": "scores", "magnitude": 3.85, "onset": "ramp",
                            "share": 0.835}),
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 2.42, "onset": "step",
                            "share": 0.765}),
            ("feature_drift", {"feature": cat, "magnitude": 0.565 if classification else 1.33, "onset": "ramp"}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "step", "share": 0.795}),
            ("feature_unavailability", {"feature": cat, "variant": "default_mode", "onset": "from_start",
                                        "share": 0.665}),
            ("feature_unavailability", {"feature": cat, "variant": "nulls", "onset": "step", "share": 0.475}),
            ("feature_unavailability", {"feature": cat, "variant": "stale", "onset": "ramp", "share": 0.845}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category", "share": 0.325,
                                       "onset": "from_start"}),
            ("compound", {"first": ("feature_unavailability", {"feature": cat, "variant": "default_mode",
                                                               "onset": "step", "share": 0.925}),
                          "second": ("training_serving_skew", {"feature": f1, "variant": "lagged",
                                                               "share": 0.695})}),
        ]
    else:
        out.append(("compound", {"first": ("feature_unavailability", {"feature": f1, "variant": "stale",
                                                                      "onset": "step", "share": 0.915}),
                                 "second": ("training_serving_skew", {"feature": _other(usable, f1),
                                                                      "variant": "truncate", "magnitude": 0.625,
                                                                      "share": 0.645})}))
    if classification:
        out += [
            ("prediction_label_bias", {"variant": "unseen_label", "share": 0.195, "onset": "step"}),
            ("compound", {"first": ("prediction_label_bias", {"variant": "unseen_label", "share": 0.175,
                                                              "onset": "ramp"}),
                          "second": ("feature_drift", {"feature": d1, "magnitude": 0.485, "onset": "step"})}),
        ]
    return out
