"""Scenarios of the unopened suite (round eleven's report): a tenth set of tables nobody had diagnosed
(`mlflow_postmortem.drills.unopened_datasets`), written before any of them was diagnosed and
without reading anything a model fitted on them learned, and never to be tuned against.

The causes and variants are the pristine suite's (the sealed suite's), slot for slot, so that the
rounds compare; every strength, share, bucket count, grid, sentinel and unit factor below is a value
no earlier scenario file used (`bench/drills.py`, `bench/fresh_scenarios.py`,
`bench/unseen_scenarios.py`, `bench/untried_scenarios.py`, `bench/untouched_scenarios.py`,
`bench/sealed_scenarios.py`, `bench/pristine_scenarios.py`), and onsets come with shares no earlier
suite gave them. The unit factors are real conversions none used (nor the same conversion to other
digits), of the kinds production pipelines meet: acres read as hectares, cubic inches as cubic
centimetres (an engine's displacement), US fluid ounces as millilitres, terabytes as bytes (a power
of ten), yards as metres, and a clinical unit change of the kind labs make (bilirubin in mg/dL
reported in micromol/L). Sentinels are an int32's minimum and a uint32's maximum; serving keeps
three decimals.

Every pair of causes has been compounded by some earlier suite, so these pair faults a team meets
together in variants no earlier file paired: a unit change beside another feature frozen at its
last value (a migration that half-failed), a re-bucketing beside a serving path that truncates
another feature (one aggregation rewrite), a retrain on a starved extract beside a fallback that
fills a feature with its mean (one broken extract), a retrain on noisier labels while a new segment
runs past the seen range, a class mix that moved (no labels yet) beside an online aggregate that
lags, a category a failed join leaves empty while another feature's spread widens (or, without
categories, a feature defaulted to zero while its relation to the target moved), and a new class
arriving with a feature its new source leaves empty.

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

#: unit changes: acres -> hectares, cubic inches -> cubic centimetres, US fluid ounces -> millilitres,
#: terabytes -> bytes, yards -> metres, total bilirubin mg/dL -> micromol/L
_ACRES_TO_HECTARES = 0.404686
_CUBIC_INCHES_TO_CC = 16.3871
_FL_OZ_TO_ML = 29.5735
_TERABYTES_TO_BYTES = 1e12
_YARDS_TO_METRES = 0.9144
_BILIRUBIN_MG_DL_TO_UMOL_L = 17.1
#: sentinels: an int32's minimum, a uint32's maximum
_INT32_MIN = -2147483648.0
_UINT32_MAX = 4294967295.0


def unopened_scenarios(ds: Dataset, numeric: list[str], cat: str | None, positive: list[str],
                       reference: pd.DataFrame) -> list[Scenario]:
    """(cause, injector parameters) of the unopened suite on one table; arguments as the unseen
    suite's `unseen_scenarios`."""
    usable, (f1, f2, f3), b3, (w1, w2), (d1, d2) = picked(ds, numeric, reference)
    classification = ds.task == "classification"
    noise = 0.395 if classification else 0.655
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": noise}),
        ("model_regression", {"variant": "small_subset", "magnitude": 0.0225}),
        ("model_regression", {"variant": "feature_constant", "feature": f1}),
        ("data_drift", {"feature": w1, "variant": "shift", "magnitude": 2.36, "onset": "ramp", "share": 0.888}),
        ("data_drift", {"feature": w2, "variant": "shift", "magnitude": 1.58, "onset": "step", "share": 0.664}),
        ("data_drift", {"feature": w2, "variant": "spread", "magnitude": 2.78, "onset": "step", "share": 0.736}),
        ("data_drift", {"feature": w1, "variant": "beyond_range", "magnitude": 3.08, "onset": "from_start",
                        "share": 0.562}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.32, "onset": "ramp", "share": 0.846}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.96, "onset": "step", "labelled": False}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.62, "onset": "from_start", "share": 0.628,
                        "labelled": False}),
        ("feature_drift", {"feature": d1, "magnitude": 0.472 if classification else 1.19, "onset": "ramp",
                           "share": 0.794}),
        ("feature_drift", {"feature": d2, "magnitude": 0.534 if classification else 1.29, "onset": "step",
                           "share": 0.948}),
        # no feature to blame: labels flip (or the target moves) everywhere
        ("feature_drift", {"magnitude": 0.456 if classification else 0.866, "onset": "step", "share": 0.836}),
        ("feature_drift", {"magnitude": 0.518 if classification else 1.04, "onset": "from_start", "share": 0.828}),
        # acres -> hectares on a step, cubic inches -> cc from the first row, fluid ounces -> ml rolled
        # out, terabytes -> bytes (a power of ten) on most rows, yards -> metres rolled out,
        # bilirubin mg/dL -> micromol/L from the first row
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": _ACRES_TO_HECTARES,
                                   "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": _CUBIC_INCHES_TO_CC,
                                   "onset": "from_start"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": _FL_OZ_TO_ML, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": _TERABYTES_TO_BYTES,
                                   "onset": "step", "share": 0.944}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": _YARDS_TO_METRES,
                                   "onset": "ramp"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": _BILIRUBIN_MG_DL_TO_UMOL_L,
                                   "onset": "from_start"}),
        ("feature_recalibration", {"feature": f1, "variant": "c_to_f", "onset": "step", "share": 0.926}),
        ("feature_recalibration", {"feature": w1, "variant": "bucket", "magnitude": 32, "onset": "ramp"}),
        ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "from_start", "share": 0.586}),
        ("feature_unavailability", {"feature": f2, "variant": "default_zero", "onset": "ramp", "share": 0.436}),
        ("feature_unavailability", {"feature": f3, "variant": "default_minus_one", "onset": "from_start",
                                    "share": 0.394}),
        ("feature_unavailability", {"feature": f1, "variant": "default_mean", "onset": "step", "share": 0.694}),
        ("feature_unavailability", {"feature": f2, "variant": "stale", "onset": "ramp", "share": 0.758}),
        # a schema change: the column is gone from the whole log
        ("feature_unavailability", {"feature": f3, "variant": "dropped"}),
        ("training_serving_skew", {"feature": f2, "variant": "round", "magnitude": 1.225, "share": 0.468}),
        ("training_serving_skew", {"feature": f3, "variant": "null_fill", "magnitude": _INT32_MIN, "share": 0.326}),
        ("training_serving_skew", {"feature": f1, "variant": "truncate", "magnitude": 0.575, "share": 0.596}),
        ("training_serving_skew", {"feature": f2, "variant": "lagged", "share": 0.604}),
        ("training_serving_skew", {"feature": f3, "variant": "affine", "share": 0.852}),
        ("training_serving_skew", {"feature": f1, "variant": "round", "magnitude": 1.675, "share": 0.352,
                                   "training_view": False}),
        ("training_serving_skew", {"feature": f2, "variant": "null_fill", "magnitude": _UINT32_MAX, "share": 0.254,
                                   "training_view": False}),
        ("prediction_label_bias", {"feature": f1, "variant": "out_of_range", "magnitude": 2.06, "share": 0.124,
                                   "onset": "ramp"}),
        ("prediction_label_bias", {"feature": (f3, _other(usable, f3)), "variant": "out_of_range",
                                   "magnitude": 3.14, "share": 0.066, "onset": "step"}),
        ("compound", {"first": ("feature_recalibration", {"feature": f1, "variant": "scale",
                                                          "magnitude": _ACRES_TO_HECTARES, "onset": "step"}),
                      "second": ("feature_unavailability", {"feature": _other(usable, f1), "variant": "stale",
                                                            "onset": "step", "share": 0.934})}),
        ("compound", {"first": ("feature_recalibration", {"feature": b3, "variant": "bucket", "magnitude": 11,
                                                          "onset": "step"}),
                      "second": ("training_serving_skew", {"feature": _other(usable, b3), "variant": "truncate",
                                                           "magnitude": 0.575, "share": 0.816})}),
        ("compound", {"first": ("model_regression", {"variant": "small_subset", "magnitude": 0.0225}),
                      "second": ("feature_unavailability", {"feature": f1, "variant": "default_mean",
                                                            "onset": "ramp", "share": 0.868})}),
        ("compound", {"first": ("model_regression", {"variant": "label_noise", "magnitude": noise}),
                      "second": ("data_drift", {"feature": w1, "variant": "beyond_range", "magnitude": 2.92,
                                                "onset": "step", "share": 0.878})}),
        ("compound", {"first": ("data_drift", {"variant": "prior_shift", "magnitude": 3.54, "onset": "ramp",
                                               "labelled": False}),
                      "second": ("training_serving_skew", {"feature": f2, "variant": "lagged", "share": 0.754})}),
    ]
    top = usable[:4]
    # a grid of 0.975 spreads on most rows: only a feature whose values the grid moves has anything to change
    grid = _moves(reference, top, lambda x: np.round(x / (0.975 * (x.std() or 1.0))) * (0.975 * (x.std() or 1.0)))
    if grid:
        out.append(("feature_recalibration", {"feature": grid[0], "variant": "coarse_grid", "magnitude": 0.975,
                                              "onset": "ramp", "share": 0.904}))
    positive = [f for f in positive if f in top] or [f for f in positive if f in usable]
    if positive:
        out.append(("feature_recalibration", {"feature": positive[0], "variant": "log", "onset": "step",
                                              "share": 0.914}))
    # serving keeps three decimals: only a feature with finer values in a fifth of the rows has values to change
    thousandths = _moves(reference, top, lambda x: np.round(x, 3))
    if thousandths:
        out.append(("training_serving_skew", {"feature": thousandths[0], "variant": "decimals", "magnitude": 3,
                                              "share": 0.626}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "variant": "scores", "magnitude": 3.72, "onset": "ramp",
                            "share": 0.896}),
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 2.52, "onset": "step",
                            "share": 0.706}),
            ("feature_drift", {"feature": cat, "magnitude": 0.586 if classification else 1.42, "onset": "ramp",
                               "share": 0.864}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "step", "share": 0.742}),
            ("feature_unavailability", {"feature": cat, "variant": "default_mode", "onset": "from_start",
                                        "share": 0.676}),
            ("feature_unavailability", {"feature": cat, "variant": "nulls", "onset": "ramp", "share": 0.518}),
            ("feature_unavailability", {"feature": cat, "variant": "stale", "onset": "step", "share": 0.782}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category", "share": 0.346,
                                       "onset": "step"}),
            ("compound", {"first": ("feature_unavailability", {"feature": cat, "variant": "nulls",
                                                               "onset": "step", "share": 0.862}),
                          "second": ("data_drift", {"feature": w2, "variant": "spread", "magnitude": 2.64,
                                                    "onset": "ramp", "share": 0.916})}),
        ]
    else:
        out.append(("compound", {"first": ("feature_unavailability", {"feature": f1, "variant": "default_zero",
                                                                      "onset": "step", "share": 0.898}),
                                 "second": ("feature_drift", {"feature": _other([d1, d2], f1),
                                                              "magnitude": 0.494 if classification else 1.12,
                                                              "onset": "ramp"})}))
    if classification:
        out += [
            ("prediction_label_bias", {"variant": "unseen_label", "share": 0.226, "onset": "ramp"}),
            ("compound", {"first": ("prediction_label_bias", {"variant": "unseen_label", "share": 0.166,
                                                              "onset": "step"}),
                          "second": ("feature_unavailability", {"feature": f1, "variant": "nulls",
                                                                "onset": "step", "share": 0.822})}),
        ]
    return out
