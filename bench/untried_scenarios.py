"""Scenarios of the untried suite (round seven's report): a sixth set of tables nobody had diagnosed
(`mlflow_postmortem.drills.untried_datasets`), written before any of them was diagnosed and never
to be tuned against.

Round six worked on the unseen suite's misses, so this suite changes the scenarios too: every
strength, share and onset below is one no earlier suite used, and the unit factors are real
conversions none used: x1.852 (nautical miles to kilometres), x3.78541 (US gallons to litres,
from the first row), x0.1 (millimetres to centimetres, rolled out), x7 (weeks to days), x6.89476
(psi to kilopascals, rolled out), x1/24 (hours to days). Celsius to Fahrenheit on a step, 25
buckets, a grid of 0.4 spreads on a step, log10 rolled out. Serving skews round to one spread,
fill -1, truncate to half a spread, lag, standardise; without a training view they round to two
spreads, fill -999 or round to whole numbers. A bad retrain loses the most important numeric
feature. Compound incidents pair the faults a team meets together: a unit change beside a drift,
a stuck value beside a drift, a bad retrain beside a serving skew, a unit change beside a stuck
value, a changed relation beside a prior shift, and new categories beside missing values.

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


def untried_scenarios(ds: Dataset, numeric: list[str], cat: str | None, positive: list[str],
                      reference: pd.DataFrame) -> list[Scenario]:
    """(cause, injector parameters) of the untried suite on one table; arguments as the unseen
    suite's `unseen_scenarios`."""
    usable, (f1, f2, f3), b3, (w1, w2), (d1, d2) = picked(ds, numeric, reference)
    classification = ds.task == "classification"
    noise = 0.33 if classification else 0.5
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": noise}),
        ("model_regression", {"variant": "small_subset", "magnitude": 0.02}),
        ("model_regression", {"variant": "feature_constant", "feature": f1}),
        ("data_drift", {"feature": w1, "variant": "shift", "magnitude": 1.8, "onset": "step", "share": 0.8}),
        ("data_drift", {"feature": w2, "variant": "shift", "magnitude": 2.7, "onset": "from_start", "share": 0.55}),
        ("data_drift", {"feature": w1, "variant": "spread", "magnitude": 1.9, "onset": "ramp"}),
        ("data_drift", {"feature": w2, "variant": "beyond_range", "magnitude": 3.0, "onset": "ramp", "share": 0.6}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.8, "onset": "step", "share": 0.75}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.6, "onset": "from_start", "share": 0.7,
                        "labelled": False}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.4, "onset": "ramp", "labelled": False}),
        ("feature_drift", {"feature": d1, "magnitude": 0.52 if classification else 1.1, "onset": "step",
                           "share": 0.8}),
        ("feature_drift", {"feature": d2, "magnitude": 0.65 if classification else 1.0, "onset": "from_start",
                           "share": 0.7}),
        # no feature to blame: labels flip (or the target moves) everywhere
        ("feature_drift", {"magnitude": 0.42 if classification else 0.75, "onset": "from_start", "share": 0.7}),
        ("feature_drift", {"magnitude": 0.5 if classification else 0.9, "onset": "ramp", "share": 0.85}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 1.852, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 3.78541, "onset": "from_start"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 0.1, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 7.0, "onset": "step",
                                   "share": 0.9}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 6.89476, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 1 / 24, "onset": "step"}),
        ("feature_recalibration", {"feature": f1, "variant": "c_to_f", "onset": "step"}),
        ("feature_recalibration", {"feature": w2, "variant": "bucket", "magnitude": 25, "onset": "from_start"}),
        ("feature_unavailability", {"feature": f2, "variant": "nulls", "onset": "from_start", "share": 0.5}),
        ("feature_unavailability", {"feature": f3, "variant": "default_zero", "onset": "step", "share": 0.65}),
        ("feature_unavailability", {"feature": f1, "variant": "default_minus_one", "onset": "ramp", "share": 0.75}),
        ("feature_unavailability", {"feature": f2, "variant": "default_mean", "onset": "step", "share": 0.55}),
        ("feature_unavailability", {"feature": f1, "variant": "stale", "onset": "step", "share": 0.65}),
        ("feature_unavailability", {"feature": f3, "variant": "stale", "onset": "from_start", "share": 0.45}),
        ("training_serving_skew", {"feature": f2, "variant": "round", "magnitude": 1.0, "share": 0.5}),
        ("training_serving_skew", {"feature": f3, "variant": "null_fill", "magnitude": -1.0, "share": 0.4}),
        ("training_serving_skew", {"feature": f1, "variant": "truncate", "magnitude": 0.5, "share": 0.55}),
        ("training_serving_skew", {"feature": f2, "variant": "lagged", "share": 0.5}),
        ("training_serving_skew", {"feature": f3, "variant": "affine", "share": 0.7}),
        ("training_serving_skew", {"feature": f1, "variant": "round", "magnitude": 2.0, "share": 0.5,
                                   "training_view": False}),
        ("training_serving_skew", {"feature": f2, "variant": "null_fill", "magnitude": -999.0, "share": 0.4,
                                   "training_view": False}),
        ("prediction_label_bias", {"feature": f1, "variant": "out_of_range", "magnitude": 1.5, "share": 0.2,
                                   "onset": "step"}),
        ("prediction_label_bias", {"feature": (f2, _other(usable, f2)), "variant": "out_of_range",
                                   "magnitude": 2.4, "share": 0.08, "onset": "ramp"}),
        ("compound", {"first": ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 1.852,
                                                          "onset": "step"}),
                      "second": ("data_drift", {"feature": _other(usable, f1), "variant": "shift",
                                                "magnitude": 2.5, "onset": "ramp"})}),
        ("compound", {"first": ("feature_unavailability", {"feature": f2, "variant": "default_zero",
                                                           "onset": "step", "share": 0.6}),
                      "second": ("data_drift", {"feature": _other(usable, f2), "variant": "spread",
                                                "magnitude": 2.0, "onset": "from_start", "share": 0.8})}),
        ("compound", {"first": ("model_regression", {"variant": "label_noise", "magnitude": noise}),
                      "second": ("training_serving_skew", {"feature": f1, "variant": "affine", "share": 0.6})}),
        ("compound", {"first": ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 7.0,
                                                          "onset": "step"}),
                      "second": ("feature_unavailability", {"feature": _other(usable, f3), "variant": "nulls",
                                                            "onset": "step", "share": 0.5})}),
        ("compound", {"first": ("feature_drift", {"magnitude": 0.45 if classification else 0.8,
                                                  "onset": "step"}),
                      "second": ("data_drift", {"variant": "prior_shift", "magnitude": 3.0, "onset": "step"})}),
    ]
    top = usable[:4]
    # a grid of 0.4 spreads on a step: only a feature whose values the grid moves has anything to change
    grid = _moves(reference, top, lambda x: np.round(x / (0.4 * (x.std() or 1.0))) * (0.4 * (x.std() or 1.0)))
    if grid:
        out.append(("feature_recalibration", {"feature": grid[0], "variant": "coarse_grid", "magnitude": 0.4,
                                              "onset": "step"}))
    positive = [f for f in positive if f in top] or [f for f in positive if f in usable]
    if positive:
        out.append(("feature_recalibration", {"feature": positive[0], "variant": "log10", "onset": "ramp"}))
    # serving rounds to whole numbers: only a feature with fractions in a fifth of the rows has values to change
    whole = _moves(reference, top, lambda x: np.round(x, 0))
    if whole:
        out.append(("training_serving_skew", {"feature": whole[0], "variant": "decimals", "magnitude": 0,
                                              "share": 0.6, "training_view": False}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "variant": "scores", "magnitude": 2.8, "onset": "ramp", "share": 0.7}),
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 2.6, "onset": "step", "share": 0.7}),
            ("feature_drift", {"feature": cat, "magnitude": 0.55 if classification else 1.0, "onset": "step"}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "from_start", "share": 0.6}),
            ("feature_unavailability", {"feature": cat, "variant": "default_mode", "onset": "step", "share": 0.6}),
            ("feature_unavailability", {"feature": cat, "variant": "nulls", "onset": "from_start", "share": 0.5}),
            ("feature_unavailability", {"feature": cat, "variant": "stale", "onset": "step", "share": 0.7}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category", "share": 0.25, "onset": "ramp"}),
            ("compound", {"first": ("prediction_label_bias", {"feature": cat, "variant": "unseen_category",
                                                              "share": 0.2, "onset": "step"}),
                          "second": ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "step",
                                                                "share": 0.5})}),
        ]
    else:
        out.append(("compound", {"first": ("feature_unavailability", {"feature": f1, "variant": "nulls",
                                                                      "onset": "step", "share": 0.5}),
                                 "second": ("prediction_label_bias", {"feature": f3, "variant": "out_of_range",
                                                                      "magnitude": 1.6, "share": 0.15,
                                                                      "onset": "step"})}))
    if classification:
        out += [("prediction_label_bias", {"variant": "unseen_label", "share": 0.2, "onset": "step"})]
    return out
