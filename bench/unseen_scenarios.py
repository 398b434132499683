"""Scenarios of the unseen suite (round five's report): a fifth set of tables nobody had diagnosed
(`mlflow_postmortem.drills.unseen_datasets`), written before any of them was diagnosed and never
to be tuned against.

Every cause is drilled with strengths, unit factors, bucket counts, shares and onsets that none of
the tuning, evaluation, holdout, blind and fresh suites used, and causes are compounded in the six
pairs none of them drilled: a bad retrain with a changed relation, with a unit change and with
out-of-range rows; a changed relation with a serving skew and with out-of-range rows; a
re-bucketing (or reassigned codes) with out-of-range rows. The unit factors are real conversions
no earlier suite used: x1.609344 (miles to kilometres), x0.514444 (knots to metres per second),
x10 (centimetres to millimetres, from the first row), x0.092903 (square feet to square metres,
rolled out gradually), x1024 (MiB to KiB), x5/9 (a Fahrenheit difference read as Celsius, no
offset, rolled out); Celsius to Fahrenheit from the first row, 40 and 6 buckets, a grid of half a
spread rolled out, log10 from the first row. Serving skews round to a grid of 0.75 or 1.5 spreads,
truncate to 0.3, round to tens, or fill sentinels -99 and 9999; without a training view they
round and fill. A bad retrain also loses the most important categorical feature.

Faults go to the model's most important numeric features, as in the other suites, with guards
that only read the reference (no diagnosis): a feature one value fills (>= 98% of the reference)
gives a fault almost nothing to change, so it is passed over; a drift or a re-bucketing needs a
feature whose 1%-99% range is not one point; a classification's feature drift needs a feature
with rows above its median; a grid of half a spread, rounding to tens and a log10 need a feature
whose reference values that grid or rounding moves in a fifth of the rows, or that is positive.
Regression labels get a larger share of noise (they are shuffled among themselves, which a weak
model hardly feels).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fresh_scenarios import _other, picked
from mlflow_postmortem.drills.datasets import Dataset

Scenario = tuple[str, dict[str, Any]]


def _moves(reference: pd.DataFrame, features: list[str], change) -> list[str]:
    """Features whose reference values `change` moves in at least a fifth of the rows."""
    out = []
    for f in features:
        x = reference[f].astype(float)
        if x.notna().any() and ((change(x) != x) & x.notna()).mean() >= 0.2:
            out.append(f)
    return out


def unseen_scenarios(ds: Dataset, numeric: list[str], cat: str | None, positive: list[str],
                     reference: pd.DataFrame) -> list[Scenario]:
    """(cause, injector parameters) of the unseen suite on one table.

    `numeric`: numeric features by importance; `cat`: the most important categorical feature or
    None; `positive`: numeric features whose reference minimum is > 0; `reference`: the split's
    reference (training) frame.
    """
    usable, (f1, f2, f3), b3, (w1, w2), (d1, d2) = picked(ds, numeric, reference)
    classification = ds.task == "classification"
    # regression labels are shuffled among themselves, which a weak model hardly feels: a larger share
    noise = 0.38 if classification else 0.55
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": noise}),
        ("model_regression", {"variant": "small_subset", "magnitude": 0.015}),
        # the retrain lost the most important categorical feature (the second numeric one without any)
        ("model_regression", {"variant": "feature_constant", "feature": cat if cat is not None else f2}),
        ("data_drift", {"feature": w1, "variant": "shift", "magnitude": 2.1, "onset": "step", "share": 0.7}),
        ("data_drift", {"feature": w2, "variant": "shift", "magnitude": 3.3, "onset": "ramp"}),
        ("data_drift", {"feature": w2, "variant": "spread", "magnitude": 2.2, "onset": "from_start", "share": 0.65}),
        ("data_drift", {"feature": w1, "variant": "beyond_range", "magnitude": 3.5, "onset": "from_start",
                        "share": 0.5}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.3, "onset": "from_start", "share": 0.8}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.6, "onset": "ramp"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.2, "onset": "ramp", "labelled": False}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 4.2, "onset": "step", "share": 0.85,
                        "labelled": False}),
        ("feature_drift", {"feature": d1, "magnitude": 0.58 if classification else 1.25, "onset": "from_start",
                           "share": 0.75}),
        ("feature_drift", {"feature": d2, "magnitude": 0.72 if classification else 0.95, "onset": "ramp",
                           "share": 0.9}),
        # no feature to blame: labels flip (or the target moves) everywhere
        ("feature_drift", {"magnitude": 0.47 if classification else 0.85, "onset": "step", "share": 0.65}),
        ("feature_drift", {"magnitude": 0.36 if classification else 0.55, "onset": "ramp"}),
        # miles -> km, knots -> m/s, cm -> mm from the first row, square feet -> square metres rolled
        # out to more and more rows, MiB -> KiB, a Fahrenheit difference read as Celsius rolled out
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 1.609344, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 0.514444, "onset": "step"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 10.0, "onset": "from_start"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 0.092903, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 1024.0, "onset": "step"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 5 / 9, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f2, "variant": "c_to_f", "onset": "from_start"}),
        ("feature_recalibration", {"feature": w1, "variant": "bucket", "magnitude": 40, "onset": "step"}),
        ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "step", "share": 0.4}),
        ("feature_unavailability", {"feature": f2, "variant": "default_zero", "onset": "ramp", "share": 0.85}),
        ("feature_unavailability", {"feature": f3, "variant": "default_minus_one", "onset": "from_start",
                                    "share": 0.5}),
        ("feature_unavailability", {"feature": f1, "variant": "default_mean", "onset": "from_start", "share": 0.6}),
        ("feature_unavailability", {"feature": f3, "variant": "stale", "onset": "from_start", "share": 0.55}),
        ("feature_unavailability", {"feature": f2, "variant": "stale", "onset": "ramp", "share": 0.6}),
        ("training_serving_skew", {"feature": f1, "variant": "round", "magnitude": 0.75, "share": 0.45}),
        ("training_serving_skew", {"feature": f2, "variant": "null_fill", "magnitude": -99.0, "share": 0.45}),
        ("training_serving_skew", {"feature": f3, "variant": "truncate", "magnitude": 0.3, "share": 0.65}),
        ("training_serving_skew", {"feature": f1, "variant": "lagged", "share": 0.35}),
        ("training_serving_skew", {"feature": f2, "variant": "affine", "share": 0.85}),
        ("training_serving_skew", {"feature": f3, "variant": "round", "magnitude": 1.5, "share": 0.6,
                                   "training_view": False}),
        ("training_serving_skew", {"feature": f1, "variant": "null_fill", "magnitude": 9999.0, "share": 0.35,
                                   "training_view": False}),
        ("prediction_label_bias", {"feature": f2, "variant": "out_of_range", "magnitude": 1.2, "share": 0.18,
                                   "onset": "from_start"}),
        ("prediction_label_bias", {"feature": (f3, _other(usable, f3)), "variant": "out_of_range",
                                   "magnitude": 2.8, "share": 0.06, "onset": "step"}),
        # the six pairs of causes no earlier suite compounded
        ("compound", {"first": ("model_regression", {"variant": "label_noise", "magnitude": noise}),
                      "second": ("feature_drift", {"feature": d2, "magnitude": 0.68 if classification else 1.05,
                                                   "onset": "step"})}),
        ("compound", {"first": ("model_regression", {"variant": "small_subset", "magnitude": 0.015}),
                      "second": ("feature_recalibration", {"feature": f1, "variant": "scale",
                                                           "magnitude": 1.609344, "onset": "step"})}),
        ("compound", {"first": ("model_regression", {"variant": "label_noise", "magnitude": noise}),
                      "second": ("prediction_label_bias", {"feature": f2, "variant": "out_of_range",
                                                           "magnitude": 2.2, "share": 0.15, "onset": "ramp"})}),
        ("compound", {"first": ("feature_drift", {"magnitude": 0.4 if classification else 0.7, "onset": "ramp"}),
                      "second": ("training_serving_skew", {"feature": f1, "variant": "truncate", "magnitude": 0.3,
                                                           "share": 0.65})}),
        ("compound", {"first": ("feature_drift", {"feature": d1, "magnitude": 0.58 if classification else 1.25,
                                                  "onset": "step"}),
                      "second": ("prediction_label_bias", {"feature": _other(usable, d1), "variant": "out_of_range",
                                                           "magnitude": 1.8, "share": 0.1, "onset": "step"})}),
        ("compound", {"first": ("feature_recalibration", {"feature": b3, "variant": "bucket", "magnitude": 6,
                                                          "onset": "ramp"}),
                      "second": ("prediction_label_bias", {"feature": _other(usable, b3), "variant": "out_of_range",
                                                           "magnitude": 2.0, "share": 0.12, "onset": "step"})}),
    ]
    top = usable[:4]
    # a grid of half a spread rolled out: only a feature whose values the grid moves has anything to change
    grid = _moves(reference, top, lambda x: np.round(x / (0.5 * (x.std() or 1.0))) * (0.5 * (x.std() or 1.0)))
    if grid:
        out.append(("feature_recalibration", {"feature": grid[0], "variant": "coarse_grid", "magnitude": 0.5,
                                              "onset": "ramp"}))
    # a log10 from the first row
    positive = [f for f in positive if f in top] or [f for f in positive if f in usable]
    if positive:
        out.append(("feature_recalibration", {"feature": positive[0], "variant": "log10", "onset": "from_start"}))
    # serving rounds to tens: only a feature off the tens in a fifth of the rows has values to change
    tens = _moves(reference, top, lambda x: np.round(x, -1))
    if tens:
        out.append(("training_serving_skew", {"feature": tens[0], "variant": "decimals", "magnitude": -1,
                                              "share": 0.55}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "variant": "scores", "magnitude": 3.4, "onset": "step", "share": 0.75}),
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 2.2, "onset": "from_start",
                            "share": 0.6}),
            # the relation to the target moves in half of the categories, rolled out
            ("feature_drift", {"feature": cat, "magnitude": 0.62 if classification else 1.15, "onset": "ramp"}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "step", "share": 0.7}),
            ("feature_unavailability", {"feature": cat, "variant": "default_mode", "onset": "from_start",
                                        "share": 0.7}),
            ("feature_unavailability", {"feature": cat, "variant": "nulls", "onset": "ramp", "share": 0.6}),
            ("feature_unavailability", {"feature": cat, "variant": "stale", "onset": "ramp", "share": 0.8}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category", "share": 0.3, "onset": "step"}),
            ("compound", {"first": ("feature_recalibration", {"feature": cat, "variant": "permute",
                                                              "onset": "step"}),
                          "second": ("prediction_label_bias", {"feature": f1, "variant": "out_of_range",
                                                               "magnitude": 1.4, "share": 0.1, "onset": "ramp"})}),
        ]
    else:
        out.append(("compound", {"first": ("model_regression", {"variant": "small_subset", "magnitude": 0.015}),
                                 "second": ("feature_drift", {"magnitude": 0.4 if classification else 0.7,
                                                              "onset": "ramp"})}))
    if classification:
        out += [("prediction_label_bias", {"variant": "unseen_label", "share": 0.18, "onset": "ramp"})]
    return out
