"""Scenarios of the fresh suite (round four's report): a fourth set of tables nobody had diagnosed
(`mlflow_postmortem.drills.fresh_datasets`), written before any of them was diagnosed and never to
be tuned against.

Every cause is drilled with strengths, unit factors, bucket counts, shares and onsets that none of
the tuning, evaluation, holdout and blind suites used, and causes are compounded in pairs none of
them drilled (a bad retrain with a lost feature or a serving skew, a unit change with concept
drift, a lagged aggregate with out-of-range rows, a re-bucketing or an outage with another
feature's nulls or skew, a category's drift with a feature's concept drift). The unit factors are
real conversions: x0.621371 (km to miles), x60 (hours to minutes), x0.0283168 (cubic feet to cubic
metres), x1e-6 (units to millions, from the first row), x3.28084 (metres to feet, rolled out
gradually), x1.8 (a Celsius difference read as Fahrenheit, no offset); 25 and 5 buckets. Drifts and
prior shifts also start with the log (`from_start`), unit changes, a log transform and staleness
also roll out (`ramp`), serving skews fill a sentinel (-999) or round to one decimal, and a
categorical feature's relation to the target drifts.

Faults go to the model's most important numeric features, as in the other suites, with four
guards that only read the reference (no diagnosis): a feature one value fills (>= 98% of the
reference: a weekend flag) gives a fault almost nothing to change, so it is passed over; a drift or
a re-bucketing needs a feature whose 1%-99% range is not one point; rounding to one decimal needs a
feature with finer values in a fifth of the rows; a classification's feature drift needs a
feature with rows above its median. Regression labels get a larger share of noise
(they are shuffled among themselves, which a weak model hardly feels).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlflow_postmortem.drills.datasets import Dataset

Scenario = tuple[str, dict[str, Any]]


def _usable(reference: pd.DataFrame, numeric: list[str]) -> list[str]:
    """Numeric features no single value (missing included) fills 98% of the reference."""
    return [f for f in numeric if reference[f].value_counts(normalize=True, dropna=False).iloc[0] < 0.98]


def _banded(reference: pd.DataFrame, features: list[str]) -> list[str]:
    """Features whose reference 1%-99% range is more than one point (a drift can favour part of it)."""
    out = []
    for f in features:
        lo, hi = reference[f].quantile([0.01, 0.99])
        if pd.notna(lo) and pd.notna(hi) and hi > lo:
            out.append(f)
    return out


def _other(candidates: list[str], *avoid: str) -> str:
    """The first candidate that is none of `avoid` (the first candidate if all are)."""
    return next((f for f in candidates if f not in avoid), candidates[0])


def picked(ds: Dataset, numeric: list[str], reference: pd.DataFrame):
    """The features each kind of fault goes to, by importance, read from the reference only:
    usable ones; the first three; a third banded one; two with many distinct values as well (room
    for a tail past the reference, for many buckets); two a classification's feature drift can
    flip labels above the median of (a flag most rows hold, a code most rows share, has no rows
    there)."""
    usable = _usable(reference, numeric) or list(numeric)
    banded = _banded(reference, usable) or usable
    wide = [f for f in banded if reference[f].nunique() > 10] or banded
    drifted = usable
    if ds.task == "classification":
        drifted = [f for f in usable if reference[f].median() < reference[f].max()] or usable
    return usable, tuple((usable * 3)[:3]), (banded * 3)[2], tuple((wide * 2)[:2]), tuple((drifted * 2)[:2])


def fresh_scenarios(ds: Dataset, numeric: list[str], cat: str | None, positive: list[str],
                    reference: pd.DataFrame) -> list[Scenario]:
    """(cause, injector parameters) of the fresh suite on one table.

    `numeric`: numeric features by importance; `cat`: the most important categorical feature or
    None; `positive`: numeric features whose reference minimum is > 0; `reference`: the split's
    reference (training) frame.
    """
    usable, (f1, f2, f3), b3, (w1, w2), (d1, d2) = picked(ds, numeric, reference)
    classification = ds.task == "classification"
    # regression labels are shuffled among themselves, which a weak model hardly feels: a larger share
    noise = 0.43 if classification else 0.6
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": noise}),
        ("model_regression", {"variant": "small_subset", "magnitude": 0.03}),
        # the retrain lost the most important numeric feature
        ("model_regression", {"variant": "feature_constant", "feature": f1}),
        ("data_drift", {"feature": w1, "variant": "shift", "magnitude": 2.8, "onset": "from_start", "share": 0.6}),
        ("data_drift", {"feature": w2, "variant": "spread", "magnitude": 3.0, "onset": "step"}),
        ("data_drift", {"feature": w1, "variant": "beyond_range", "magnitude": 2.5, "onset": "step"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.8, "onset": "step"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.8, "onset": "step", "labelled": False}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.4, "onset": "from_start", "share": 0.75,
                        "labelled": False}),
        ("feature_drift", {"feature": d1, "magnitude": 0.65 if classification else 0.9, "onset": "step",
                           "share": 0.85}),
        ("feature_drift", {"feature": d2, "magnitude": 0.85 if classification else 1.7, "onset": "ramp"}),
        ("feature_drift", {"magnitude": 0.38 if classification else 0.75, "onset": "from_start", "share": 0.9}),
        # km -> miles, hours -> minutes, cubic feet -> cubic metres, units -> millions from the first row,
        # metres -> feet rolled out to more and more rows, a Celsius difference read as Fahrenheit (no offset)
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 0.621371, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 60.0, "onset": "step"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 0.0283168, "onset": "step"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 1e-6, "onset": "from_start"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 3.28084, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 1.8, "onset": "step"}),
        ("feature_recalibration", {"feature": f1, "variant": "c_to_f", "onset": "ramp"}),
        ("feature_recalibration", {"feature": w1, "variant": "bucket", "magnitude": 25, "onset": "step"}),
        ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "from_start", "share": 0.45}),
        ("feature_unavailability", {"feature": f3, "variant": "default_zero", "onset": "from_start", "share": 0.35}),
        ("feature_unavailability", {"feature": f1, "variant": "default_minus_one", "onset": "ramp"}),
        ("feature_unavailability", {"feature": f2, "variant": "stale", "onset": "ramp"}),
        ("feature_unavailability", {"feature": f3, "variant": "dropped"}),
        ("training_serving_skew", {"feature": f1, "variant": "affine", "share": 0.55, "training_view": False}),
        ("training_serving_skew", {"feature": f2, "variant": "truncate", "magnitude": 0.5, "share": 0.75,
                                   "training_view": False}),
        ("training_serving_skew", {"feature": f3, "variant": "null_fill", "magnitude": -999.0, "share": 0.3}),
        ("training_serving_skew", {"feature": f1, "variant": "lagged", "share": 0.6}),
        ("prediction_label_bias", {"feature": f3, "variant": "out_of_range", "magnitude": 1.5, "share": 0.25,
                                   "onset": "step"}),
        ("prediction_label_bias", {"feature": (f1, _other(usable, f1)), "variant": "out_of_range", "magnitude": 4.0,
                                   "share": 0.12, "onset": "ramp"}),
        # pairs of causes no earlier suite compounded
        ("compound", {"first": ("model_regression", {"variant": "label_noise", "magnitude": noise}),
                      "second": ("feature_unavailability", {"feature": f2, "variant": "default_zero", "onset": "step",
                                                            "share": 0.8})}),
        ("compound", {"first": ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 0.621371,
                                                          "onset": "step"}),
                      "second": ("feature_drift", {"magnitude": 0.5 if classification else 0.9, "onset": "ramp"})}),
        ("compound", {"first": ("training_serving_skew", {"feature": f2, "variant": "lagged", "share": 0.6}),
                      "second": ("prediction_label_bias", {"feature": _other(usable, f2), "variant": "out_of_range",
                                                           "magnitude": 2.5, "share": 0.12, "onset": "step"})}),
        ("compound", {"first": ("feature_recalibration", {"feature": b3, "variant": "bucket", "magnitude": 5,
                                                          "onset": "step"}),
                      "second": ("feature_unavailability", {"feature": _other(usable, b3), "variant": "nulls",
                                                            "onset": "ramp", "share": 0.5})}),
        ("compound", {"first": ("model_regression", {"variant": "small_subset", "magnitude": 0.03}),
                      "second": ("training_serving_skew", {"feature": f1, "variant": "affine", "share": 0.6})}),
        ("compound", {"first": ("feature_unavailability", {"feature": _other(usable, f2),
                                                           "variant": "default_minus_one", "onset": "step",
                                                           "share": 0.7}),
                      "second": ("training_serving_skew", {"feature": f2, "variant": "round", "magnitude": 0.25,
                                                           "share": 0.7})}),
    ]
    # a logarithm rolled out to more and more rows
    positive = [f for f in positive if f in usable[:4]] or [f for f in positive if f in usable]
    if positive:
        out.append(("feature_recalibration", {"feature": positive[0], "variant": "log", "onset": "ramp"}))
    # serving rounds to one decimal: only a feature with finer values (in a fifth of the rows) has values to change
    fine = [f for f in usable[:4] if ((np.round(reference[f], 1) != reference[f]) & reference[f].notna()).mean() >= 0.2]
    if fine:
        out.append(("training_serving_skew", {"feature": fine[0], "variant": "decimals", "magnitude": 1,
                                              "share": 0.5}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "variant": "scores", "magnitude": 4.0, "onset": "from_start",
                            "share": 0.5}),
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 3.0, "onset": "ramp"}),
            # the relation to the target moves in half of the categories
            ("feature_drift", {"feature": cat, "magnitude": 0.7 if classification else 1.4, "onset": "step"}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "from_start", "share": 0.6}),
            ("feature_unavailability", {"feature": cat, "variant": "default_mode", "onset": "ramp", "share": 0.8}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category", "share": 0.45,
                                       "onset": "from_start"}),
            ("compound", {"first": ("data_drift", {"feature": cat, "variant": "scores", "magnitude": 2.4,
                                                   "onset": "ramp"}),
                          "second": ("feature_drift", {"feature": d1, "magnitude": 0.65 if classification else 0.9,
                                                       "onset": "step"})}),
        ]
    else:
        out.append(("compound", {"first": ("data_drift", {"feature": w2, "variant": "shift", "magnitude": 2.2,
                                                          "onset": "ramp"}),
                                 "second": ("feature_drift", {"feature": _other([d1, d2], w2),
                                                              "magnitude": 0.65 if classification else 0.9,
                                                              "onset": "step"})}))
    if classification:
        out += [("prediction_label_bias", {"variant": "unseen_label", "share": 0.22, "onset": "from_start"})]
    return out
