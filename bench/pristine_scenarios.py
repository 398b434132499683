"""Scenarios of the pristine suite (round ten's report): a ninth set of tables nobody had diagnosed
(`mlflow_postmortem.drills.pristine_datasets`), written before any of them was diagnosed and
without reading anything a model fitted on them learned, and never to be tuned against.

The causes and variants are the sealed suite's, slot for slot, so that the two rounds compare;
every strength, share, bucket count, grid, sentinel and unit factor below is a value no earlier
scenario file used (`bench/drills.py`, `bench/fresh_scenarios.py`, `bench/unseen_scenarios.py`,
`bench/untried_scenarios.py`, `bench/untouched_scenarios.py`, `bench/sealed_scenarios.py`), and
onsets come with shares no earlier suite gave them. The unit factors are real conversions none
used, of the kinds production pipelines meet: days read as seconds, horsepower as watts, millimetres
of mercury as kilopascals, nanoseconds as seconds, psi as bar, and a clinical unit change of the
kind labs make (a glucose reading in mmol/L reported in mg/dL). Sentinels are an int16's minimum
and an int32's maximum.

Every pair of causes has been compounded by some earlier suite, so these pair faults a team meets
together in variants no earlier file paired: a vendor feed that changed its units and encodes a
missing value as -1, a re-bucketed reading that reports 0 when its source is offline, a retrain on
a starved extract beside an online aggregate that lags (one stalled upstream job), a retrain on
noisier labels while a new segment widens a feature, a class mix that moved while a new serving
path standardises a feature, re-coded categories beside a join that zero-fills (or, without
categories, a mean-imputation fallback while the relation moved), and a new class arriving with a
shifted feature.

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

#: unit changes: days -> seconds, mechanical horsepower -> watts, mmHg -> kPa, nanoseconds -> seconds,
#: psi -> bar, blood glucose mmol/L -> mg/dL
_DAYS_TO_SECONDS = 86400.0
_HP_TO_WATTS = 745.7
_MMHG_TO_KPA = 0.133322
_NS_TO_SECONDS = 1e-9
_PSI_TO_BAR = 0.0689476
_GLUCOSE_MMOL_TO_MG_DL = 18.016


def pristine_scenarios(ds: Dataset, numeric: list[str], cat: str | None, positive: list[str],
                       reference: pd.DataFrame) -> list[Scenario]:
    """(cause, injector parameters) of the pristine suite on one table; arguments as the unseen
    suite's `unseen_scenarios`."""
    usable, (f1, f2, f3), b3, (w1, w2), (d1, d2) = picked(ds, numeric, reference)
    classification = ds.task == "classification"
    noise = 0.405 if classification else 0.635
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": noise}),
        ("model_regression", {"variant": "small_subset", "magnitude": 0.0125}),
        ("model_regression", {"variant": "feature_constant", "feature": f1}),
        ("data_drift", {"feature": w1, "variant": "shift", "magnitude": 2.48, "onset": "ramp", "share": 0.872}),
        ("data_drift", {"feature": w2, "variant": "shift", "magnitude": 1.62, "onset": "step", "share": 0.688}),
        ("data_drift", {"feature": w2, "variant": "spread", "magnitude": 2.72, "onset": "step", "share": 0.726}),
        ("data_drift", {"feature": w1, "variant": "beyond_range", "magnitude": 3.18, "onset": "from_start",
                        "share": 0.548}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.42, "onset": "ramp", "share": 0.853}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.88, "onset": "step", "labelled": False}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.68, "onset": "from_start", "share": 0.634,
                        "labelled": False}),
        ("feature_drift", {"feature": d1, "magnitude": 0.478 if classification else 1.17, "onset": "ramp",
                           "share": 0.776}),
        ("feature_drift", {"feature": d2, "magnitude": 0.556 if classification else 1.31, "onset": "step",
                           "share": 0.938}),
        # no feature to blame: labels flip (or the target moves) everywhere
        ("feature_drift", {"magnitude": 0.448 if classification else 0.893, "onset": "step", "share": 0.842}),
        ("feature_drift", {"magnitude": 0.526 if classification else 1.06, "onset": "from_start", "share": 0.817}),
        # days -> seconds on a step, horsepower -> watts from the first row, mmHg -> kPa rolled out,
        # nanoseconds -> seconds (a power of ten) on most rows, psi -> bar rolled out, glucose mmol/L ->
        # mg/dL from the first row
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": _DAYS_TO_SECONDS,
                                   "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": _HP_TO_WATTS,
                                   "onset": "from_start"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": _MMHG_TO_KPA, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": _NS_TO_SECONDS, "onset": "step",
                                   "share": 0.932}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": _PSI_TO_BAR, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": _GLUCOSE_MMOL_TO_MG_DL,
                                   "onset": "from_start"}),
        ("feature_recalibration", {"feature": f1, "variant": "c_to_f", "onset": "from_start", "share": 0.874}),
        ("feature_recalibration", {"feature": w1, "variant": "bucket", "magnitude": 36, "onset": "step"}),
        ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "ramp", "share": 0.642}),
        ("feature_unavailability", {"feature": f2, "variant": "default_zero", "onset": "step", "share": 0.418}),
        ("feature_unavailability", {"feature": f3, "variant": "default_minus_one", "onset": "ramp",
                                    "share": 0.527}),
        ("feature_unavailability", {"feature": f1, "variant": "default_mean", "onset": "from_start",
                                    "share": 0.713}),
        ("feature_unavailability", {"feature": f2, "variant": "stale", "onset": "step", "share": 0.786}),
        # a schema change: the column is gone from the whole log
        ("feature_unavailability", {"feature": f3, "variant": "dropped"}),
        ("training_serving_skew", {"feature": f2, "variant": "round", "magnitude": 1.275, "share": 0.446}),
        ("training_serving_skew", {"feature": f3, "variant": "null_fill", "magnitude": -32768.0, "share": 0.318}),
        ("training_serving_skew", {"feature": f1, "variant": "truncate", "magnitude": 0.675, "share": 0.574}),
        ("training_serving_skew", {"feature": f2, "variant": "lagged", "share": 0.583}),
        ("training_serving_skew", {"feature": f3, "variant": "affine", "share": 0.861}),
        ("training_serving_skew", {"feature": f1, "variant": "round", "magnitude": 1.875, "share": 0.372,
                                   "training_view": False}),
        ("training_serving_skew", {"feature": f2, "variant": "null_fill", "magnitude": 2147483647.0, "share": 0.243,
                                   "training_view": False}),
        ("prediction_label_bias", {"feature": f1, "variant": "out_of_range", "magnitude": 2.12, "share": 0.116,
                                   "onset": "step"}),
        ("prediction_label_bias", {"feature": (f3, _other(usable, f3)), "variant": "out_of_range",
                                   "magnitude": 3.26, "share": 0.074, "onset": "from_start"}),
        ("compound", {"first": ("feature_recalibration", {"feature": f1, "variant": "scale",
                                                          "magnitude": _DAYS_TO_SECONDS, "onset": "step"}),
                      "second": ("feature_unavailability", {"feature": _other(usable, f1),
                                                            "variant": "default_minus_one", "onset": "step",
                                                            "share": 0.924})}),
        ("compound", {"first": ("feature_recalibration", {"feature": b3, "variant": "bucket", "magnitude": 27,
                                                          "onset": "step"}),
                      "second": ("feature_unavailability", {"feature": _other(usable, b3), "variant": "default_zero",
                                                            "onset": "ramp", "share": 0.957})}),
        ("compound", {"first": ("model_regression", {"variant": "small_subset", "magnitude": 0.0125}),
                      "second": ("training_serving_skew", {"feature": f1, "variant": "lagged", "share": 0.668})}),
        ("compound", {"first": ("model_regression", {"variant": "label_noise", "magnitude": noise}),
                      "second": ("data_drift", {"feature": w2, "variant": "spread", "magnitude": 2.56,
                                                "onset": "step", "share": 0.894})}),
        ("compound", {"first": ("data_drift", {"variant": "prior_shift", "magnitude": 3.36, "onset": "ramp",
                                               "labelled": False}),
                      "second": ("training_serving_skew", {"feature": f2, "variant": "affine", "share": 0.752})}),
    ]
    top = usable[:4]
    # a grid of 0.725 spreads on most rows: only a feature whose values the grid moves has anything to change
    grid = _moves(reference, top, lambda x: np.round(x / (0.725 * (x.std() or 1.0))) * (0.725 * (x.std() or 1.0)))
    if grid:
        out.append(("feature_recalibration", {"feature": grid[0], "variant": "coarse_grid", "magnitude": 0.725,
                                              "onset": "step", "share": 0.912}))
    positive = [f for f in positive if f in top] or [f for f in positive if f in usable]
    if positive:
        out.append(("feature_recalibration", {"feature": positive[0], "variant": "log", "onset": "ramp",
                                              "share": 0.764}))
    # serving keeps two decimals: only a feature with finer values in a fifth of the rows has values to change
    cents = _moves(reference, top, lambda x: np.round(x, 2))
    if cents:
        out.append(("training_serving_skew", {"feature": cents[0], "variant": "decimals", "magnitude": 2,
                                              "share": 0.617}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "variant": "scores", "magnitude": 3.62, "onset": "step",
                            "share": 0.918}),
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 2.74, "onset": "from_start",
                            "share": 0.684}),
            ("feature_drift", {"feature": cat, "magnitude": 0.574 if classification else 1.38, "onset": "step",
                               "share": 0.876}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "ramp", "share": 0.724}),
            ("feature_unavailability", {"feature": cat, "variant": "default_mode", "onset": "ramp",
                                        "share": 0.652}),
            ("feature_unavailability", {"feature": cat, "variant": "nulls", "onset": "step", "share": 0.538}),
            ("feature_unavailability", {"feature": cat, "variant": "stale", "onset": "from_start", "share": 0.768}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category", "share": 0.384,
                                       "onset": "ramp"}),
            ("compound", {"first": ("feature_recalibration", {"feature": cat, "variant": "permute",
                                                              "onset": "step", "share": 0.883}),
                          "second": ("feature_unavailability", {"feature": f1, "variant": "default_zero",
                                                                "onset": "ramp", "share": 0.612})}),
        ]
    else:
        out.append(("compound", {"first": ("feature_unavailability", {"feature": f1, "variant": "default_mean",
                                                                      "onset": "step", "share": 0.906}),
                                 "second": ("feature_drift", {"magnitude": 0.462 if classification else 0.937,
                                                              "onset": "ramp"})}))
    if classification:
        out += [
            ("prediction_label_bias", {"variant": "unseen_label", "share": 0.214, "onset": "from_start"}),
            ("compound", {"first": ("prediction_label_bias", {"variant": "unseen_label", "share": 0.152,
                                                              "onset": "ramp"}),
                          "second": ("data_drift", {"feature": w1, "variant": "shift", "magnitude": 2.24,
                                                    "onset": "step", "share": 0.808})}),
        ]
    return out
