"""The drill benchmark: a tuning suite, evaluation suites kept apart from it, and fault-free splits.

    pip install -e '.[bench]'
    python bench/drills.py                          # every suite but the blind ones (about 20 minutes on 2 cores)
    python bench/drills.py --suite tuning           # what detector changes may be tuned against
    python bench/drills.py --suite holdout          # the second evaluation suite (spent: see bench/README.md)
    python bench/drills.py --suite evaluation       # the first evaluation suite (spent: see bench/README.md)
    python bench/drills.py --suite blind            # a third set of fresh tables (round three's report, spent)
    python bench/drills.py --suite fresh            # a fourth set (round four's report, spent)
    python bench/drills.py --suite unseen           # a fifth set (round five's report, spent)
    python bench/drills.py --suite untried          # a sixth set (round seven's report, spent)
    python bench/drills.py --suite untouched        # a seventh set (round eight's report, spent)
    python bench/drills.py --suite sealed           # an eighth set (round nine's report, spent)
    python bench/drills.py --suite pristine         # a ninth set (round ten's report, spent)
    python bench/drills.py --suite unopened         # a tenth set (round eleven's report)
    python bench/drills.py --suite fault-free       # healthy false alarms on >= 200 real splits, rows exchangeable
    python bench/drills.py --suite fault-free-fresh # new splits of every table, blind and fresh too (round four's)
    python bench/drills.py --suite fault-free-unseen    # newer splits, unseen tables too (round five's)
    python bench/drills.py --suite fault-free-untried   # still newer splits, untried tables too (round seven's, spent)
    python bench/drills.py --suite fault-free-untouched # newer splits again, untouched tables too (round eight's, spent)
    python bench/drills.py --suite fault-free-levels    # newer still, that chose one level for every check (spent)
    python bench/drills.py --suite fault-free-sealed    # newer splits again, sealed tables too (round nine's, spent)
    python bench/drills.py --suite fault-free-pristine  # newer splits again, pristine tables too (round ten's, spent)
    python bench/drills.py --suite fault-free-aligned   # newer still: after the golden check's level was aligned
    python bench/drills.py --suite fault-free-unopened  # newer splits again, unopened tables too (round eleven's)
    python bench/drills.py --suite fault-free-in-time   # the same on time-ordered logs (real change inside)
    python bench/drills.py --suite forward          # real forward-in-time splits: natural drift, not scored
    python bench/drills.py --suite tuning --dataset fair --max-rows 2000   # a quick subset

Tuning suite: three datasets (flights, diamonds, fair) and the fault variants detectors were
shaped by, including the families the first evaluation suite missed once it was spent.
Evaluation suite: eight other datasets (`drills.eval_datasets`) and other variants (unit
factors outside the named list, log10 and bucket redefinitions, decimal rounding and lagged
aggregates as skew, the rarest category growing, drift reaching past the seen range, spread
changes, global concept drift, prior shifts with and without labels, compound incidents), each
over several seeds. Holdout suite: six further tables (`drills.holdout_datasets`), chosen and
loaded without diagnosing any of them, with strengths and units no other suite drills, never
tuned against, then read (spent). Blind suite: seven more tables (`drills.blind_datasets`) and
scenarios written before any of them was diagnosed, run once for round three's report, then
read (spent). Fresh suite: seven more (`drills.fresh_datasets`, scenarios in
`bench/fresh_scenarios.py`), chosen the same way, run once for round four's report, then read
(spent). Unseen suite: seven more (`drills.unseen_datasets`, scenarios in
`bench/unseen_scenarios.py`), chosen the same way, run once for round five's report, then read
(spent). Untried suite: seven more (`drills.untried_datasets`) and scenarios with strengths and unit
factors no earlier suite used (`bench/untried_scenarios.py`), chosen and written the same way, for
round seven's report. Untouched suite: seven more (`drills.untouched_datasets`) and scenarios whose
strengths, shares and unit factors no earlier suite used, compounding faults in variant pairs no
earlier suite did (`bench/untouched_scenarios.py`), chosen and written the same way, for round
eight's report. Sealed suite: seven more (`drills.sealed_datasets`) and scenarios whose strengths,
shares, grids and unit factors no earlier suite used, compounding faults in variant pairs no earlier
suite did (`bench/sealed_scenarios.py`), chosen, loaded and written without diagnosing any of its
tables or fitting a model on them, for round nine's report. Pristine suite: seven more
(`drills.pristine_datasets`) and scenarios with the sealed suite's causes and variants, slot for
slot, whose strengths, shares, grids, sentinels and unit factors no earlier suite used, compounding
faults in variant pairs no earlier suite did (`bench/pristine_scenarios.py`), chosen, loaded and
written the same way, for round ten's report. Unopened suite: seven more
(`drills.unopened_datasets`) and scenarios with the pristine suite's causes and variants, slot for
slot, whose strengths, shares, grids, sentinels and unit factors no earlier suite used, compounding
faults in variant pairs no earlier suite did (`bench/unopened_scenarios.py`), chosen, loaded and
written the same way, for round eleven's report.
Fault-free: healthy drills on many splits of every dataset, each split
with its own models, in two forms: rows in random order (any finding is a false alarm), and
time-ordered logs of the datasets that have time; forward-in-time splits are reported apart.

Every drill targets one of the dataset's most important features by permutation importance,
so a fault the model cannot feel is never asked of the diagnosis. A model_regression drill
counts only when its degraded retrain is materially worse on the golden set (the cause's own
definition: -2 accuracy points or +5% RMSE), and a fault that changed no value (rounding an
integer feature to whole numbers) is no fault; both are listed as skipped.

Prints each drill as it finishes, then per suite the confusion matrix and the figures with
Wilson 95% intervals; writes bench/results/<suite>.json and .txt for bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from fresh_scenarios import fresh_scenarios
from unseen_scenarios import unseen_scenarios
from pristine_scenarios import pristine_scenarios
from sealed_scenarios import sealed_scenarios
from unopened_scenarios import unopened_scenarios
from untouched_scenarios import untouched_scenarios
from untried_scenarios import untried_scenarios
from mlflow_postmortem.drills import (BLIND_DATASETS, DATASETS, EVAL_DATASETS, FRESH_DATASETS, HOLDOUT_DATASETS,
                                      PRISTINE_DATASETS, SEALED_DATASETS, UNOPENED_DATASETS, UNSEEN_DATASETS,
                                      UNTOUCHED_DATASETS, UNTRIED_DATASETS, compound, feature_ranking, inject,
                                      load_dataset, make_drill, run_suite, split_dataset)
from mlflow_postmortem.drills.base import Drill
from mlflow_postmortem.drills.suite import SuiteResult

RESULTS = Path(__file__).parent / "results"
Scenario = tuple[str, dict[str, Any]]

#: production-log sizes drilled per tuning dataset (bounded by each dataset's production pool)
TUNING_SIZES = {"flights": (500, 2_000, 20_000, 200_000), "diamonds": (500, 2_000, 20_000), "fair": (500, 1_000, 2_000)}
TUNING_HEALTHY_SEEDS = {"flights": 3, "diamonds": 4, "fair": 4}
#: evaluation: sizes up to what each pool holds, several seeds per scenario
EVAL_SIZES = (500, 2_000, 10_000)
EVAL_SEEDS = 3
EVAL_HEALTHY_SEEDS = 3
#: the blind suite's seeds: scenario seeds offset by this, healthy seeds from BLIND_HEALTHY_SEED on
BLIND_SEED_OFFSET = 5_000
BLIND_HEALTHY_SEED = 300
#: the fresh suite's, likewise
FRESH_SEED_OFFSET = 8_000
FRESH_HEALTHY_SEED = 400
#: the unseen suite's, likewise: past every fresh scenario seed (8,000 + 1,000 x seed + scenario) and
#: apart from every healthy seed (tuning 100+, evaluation 200+, holdout 250+, blind and forward 300+, fresh 400+)
UNSEEN_SEED_OFFSET = 12_000
UNSEEN_HEALTHY_SEED = 500
#: the untried suite's: past every unseen scenario seed (12,000 + 1,000 x seed + scenario), healthy seeds 600+
UNTRIED_SEED_OFFSET = 16_000
UNTRIED_HEALTHY_SEED = 600
#: the untouched suite's: past every untried scenario seed (16,000 + 1,000 x seed + scenario), healthy seeds 700+
UNTOUCHED_SEED_OFFSET = 20_000
UNTOUCHED_HEALTHY_SEED = 700
#: the sealed suite's: past every untouched scenario seed (20,000 + 1,000 x seed + scenario), healthy seeds 800+
SEALED_SEED_OFFSET = 24_000
SEALED_HEALTHY_SEED = 800
#: the pristine suite's: past every sealed scenario seed (24,000 + 1,000 x seed + scenario), healthy seeds 900+
PRISTINE_SEED_OFFSET = 28_000
PRISTINE_HEALTHY_SEED = 900
#: the unopened suite's: past every pristine scenario seed (28,000 + 1,000 x seed + scenario, up to 30,999),
#: healthy seeds 950+ (past pristine's 900-902; no scenario seed of any suite lies in 950-999)
UNOPENED_SEED_OFFSET = 32_000
UNOPENED_HEALTHY_SEED = 950
#: fault-free: this many splits of each dataset, each with its own models
FAULT_FREE_SPLITS = 20
#: further bad retrains of the tuning suite (see README: where each is material)
REGRESSIONS = {
    "flights": [("model_regression", {"variant": "feature_constant"}),
                ("model_regression", {"variant": "small_subset", "magnitude": 0.002})],
    "diamonds": [("model_regression", {"variant": "label_noise", "magnitude": 0.3})],
}


def _features(dataset: str) -> tuple[list[str], str | None, list[str]]:
    """Numeric features by importance, the most important categorical one, and positive numeric ones."""
    ds = load_dataset(dataset)
    split = split_dataset(ds)
    ranking = feature_ranking(ds, split.model, split.golden)
    numeric = [f for f in ranking if f in ds.numeric]
    cat = next((f for f in ranking if f in ds.categorical), None)
    positive = [f for f in numeric if split.reference[f].min() > 0]
    return numeric, cat, positive


def tuning_scenarios(dataset: str) -> list[Scenario]:
    """(cause, injector parameters) of the tuning suite, on the dataset's most important features."""
    ds = load_dataset(dataset)
    numeric, cat, positive = _features(dataset)
    f1, f2, f3 = (numeric * 3)[:3]
    classification = ds.task == "classification"
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": 0.4}),
        ("model_regression", {"variant": "label_noise", "magnitude": 0.45}),
        *REGRESSIONS.get(dataset, []),
        ("data_drift", {"feature": f1, "magnitude": 1.0, "onset": "ramp"}),
        ("data_drift", {"feature": f2, "magnitude": 2.0, "onset": "step"}),
        ("data_drift", {"feature": f3, "magnitude": 1.5, "onset": "ramp"}),
        ("data_drift", {"feature": f2, "variant": "spread", "magnitude": 1.5, "onset": "ramp"}),
        ("data_drift", {"feature": f1, "variant": "beyond_range", "magnitude": 2.0, "onset": "ramp"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.0, "onset": "ramp"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.0, "onset": "step", "labelled": False}),
        ("feature_drift", {"feature": f1, "magnitude": 0.5 if classification else 1.0, "onset": "step"}),
        ("feature_drift", {"feature": f2, "magnitude": 0.7 if classification else 1.5, "onset": "ramp"}),
        ("feature_drift", {"magnitude": 0.3 if classification else 0.5, "onset": "step"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 100.0, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 1 / 60, "onset": "step"}),
        ("feature_recalibration", {"feature": f3, "variant": "c_to_f", "onset": "step"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 1000.0, "onset": "from_start"}),
        ("feature_recalibration", {"feature": f2, "variant": "coarse_grid", "magnitude": 1.0, "onset": "step"}),
        ("feature_recalibration", {"feature": f1, "variant": "bucket", "magnitude": 10, "onset": "step"}),
        ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "step"}),
        ("feature_unavailability", {"feature": f2, "variant": "default_zero", "onset": "step"}),
        ("feature_unavailability", {"feature": f3, "variant": "stale", "onset": "step"}),
        ("feature_unavailability", {"feature": f2, "variant": "dropped"}),
        ("feature_unavailability", {"feature": f1, "variant": "default_minus_one", "onset": "ramp", "share": 0.8}),
        ("training_serving_skew", {"feature": f1, "variant": "affine"}),
        ("training_serving_skew", {"feature": f2, "variant": "round"}),
        ("training_serving_skew", {"feature": f3, "variant": "null_fill"}),
        ("training_serving_skew", {"feature": f1, "variant": "affine", "share": 1.0, "training_view": False}),
        ("training_serving_skew", {"feature": f2, "variant": "truncate", "share": 0.3}),
        ("prediction_label_bias", {"feature": f1, "variant": "out_of_range"}),
        ("prediction_label_bias", {"feature": (f1, f2), "variant": "out_of_range", "share": 0.1, "onset": "ramp"}),
        ("compound", {"first": ("data_drift", {"feature": f2, "magnitude": 1.5, "onset": "ramp"}),
                      "second": ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 100.0})}),
        ("compound", {"first": ("feature_unavailability", {"feature": f2, "variant": "nulls", "onset": "step"}),
                      "second": ("prediction_label_bias", {"feature": f1, "variant": "out_of_range"})}),
        # families the first evaluation rounds missed, added to tuning once those rounds were spent
        # (bench/README.md, "The protocol"); the fresh evaluation drills other strengths and units
        ("data_drift", {"feature": f3, "variant": "spread", "magnitude": 2.0, "onset": "step"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.0, "onset": "ramp", "labelled": False}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 0.3048, "onset": "step"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 4.184, "onset": "step"}),
        ("feature_recalibration", {"feature": f3, "variant": "bucket", "magnitude": 20, "onset": "step"}),
        ("feature_unavailability", {"feature": f2, "variant": "default_mean", "onset": "step"}),
        ("training_serving_skew", {"feature": f1, "variant": "lagged", "share": 0.8}),
        ("compound", {"first": ("data_drift", {"variant": "prior_shift", "magnitude": 3.0, "onset": "ramp"}),
                      "second": ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "step"})}),
    ]
    if positive:
        out.append(("feature_recalibration", {"feature": positive[0], "variant": "log", "onset": "step"}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "magnitude": 2.0, "onset": "step"}),
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 1.5, "onset": "ramp"}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "step"}),
            ("feature_unavailability", {"feature": cat, "variant": "default_mode", "onset": "step"}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category"}),
        ]
    if classification:
        out += [("prediction_label_bias", {"variant": "unseen_label"})]
    return out


def evaluation_scenarios(dataset: str) -> list[Scenario]:
    """Scenarios of the evaluation suite: other variants than tuning's, never tuned against."""
    ds = load_dataset(dataset)
    numeric, cat, positive = _features(dataset)
    f1, f2 = (numeric * 2)[:2]
    classification = ds.task == "classification"
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": 0.45}),
        ("model_regression", {"variant": "small_subset", "magnitude": 0.02}),
        ("data_drift", {"feature": f1, "variant": "beyond_range", "magnitude": 3.0, "onset": "ramp"}),
        ("data_drift", {"feature": f2, "variant": "spread", "magnitude": 2.0, "onset": "ramp"}),
        ("data_drift", {"feature": f2, "variant": "shift", "magnitude": 1.5, "onset": "step"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 4.0, "onset": "step"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.5, "onset": "ramp", "labelled": False}),
        ("feature_drift", {"feature": f1, "magnitude": 0.6 if classification else 1.2, "onset": "ramp"}),
        # the seed's scenario: a third of the labels relate differently in the second half
        ("feature_drift", {"magnitude": 0.33 if classification else 0.7, "onset": "step"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 3.6, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 2.54, "onset": "step"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 0.4536, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "bucket", "magnitude": 20, "onset": "step"}),
        ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "ramp", "share": 0.6}),
        ("feature_unavailability", {"feature": f2, "variant": "default_mean", "onset": "step"}),
        ("feature_unavailability", {"feature": f1, "variant": "stale", "onset": "step"}),
        ("training_serving_skew", {"feature": f1, "variant": "decimals", "share": 0.6}),
        ("training_serving_skew", {"feature": f2, "variant": "lagged", "share": 0.8}),
        ("training_serving_skew", {"feature": f2, "variant": "affine", "share": 1.0, "training_view": False}),
        ("prediction_label_bias", {"feature": f1, "variant": "out_of_range", "share": 0.15, "onset": "ramp"}),
        ("compound", {"first": ("data_drift", {"feature": f2, "magnitude": 1.5, "onset": "ramp"}),
                      "second": ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 3.6})}),
        ("compound", {"first": ("data_drift", {"variant": "prior_shift", "magnitude": 3.0, "onset": "ramp"}),
                      "second": ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "step"})}),
        ("compound", {"first": ("feature_unavailability", {"feature": f2, "variant": "default_mean", "onset": "step"}),
                      "second": ("prediction_label_bias", {"feature": f1, "variant": "out_of_range", "share": 0.2})}),
    ]
    positive = [f for f in positive if f in numeric[:3]]
    if positive:
        out.append(("feature_recalibration", {"feature": positive[0], "variant": "log10", "onset": "step"}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 2.0, "onset": "ramp"}),
            ("feature_unavailability", {"feature": cat, "variant": "dropped"}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category", "share": 0.25}),
        ]
    if classification:
        out += [("prediction_label_bias", {"variant": "unseen_label", "share": 0.15})]
    return out


def holdout_scenarios(dataset: str) -> list[Scenario]:
    """Scenarios of the holdout suite: fresh tables, strengths and units no earlier suite drilled,
    written before any of its tables was diagnosed, and never tuned against."""
    ds = load_dataset(dataset)
    numeric, cat, positive = _features(dataset)
    f1, f2, f3 = (numeric * 3)[:3]
    classification = ds.task == "classification"
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": 0.35}),
        ("model_regression", {"variant": "small_subset", "magnitude": 0.05}),
        ("data_drift", {"feature": f1, "variant": "shift", "magnitude": 2.5, "onset": "ramp"}),
        ("data_drift", {"feature": f3, "variant": "shift", "magnitude": 1.2, "onset": "step"}),
        ("data_drift", {"feature": f2, "variant": "beyond_range", "magnitude": 1.5, "onset": "step"}),
        ("data_drift", {"feature": f1, "variant": "spread", "magnitude": 1.8, "onset": "step"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.5, "onset": "ramp"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 3.0, "onset": "step", "labelled": False}),
        ("feature_drift", {"feature": f2, "magnitude": 0.8 if classification else 1.5, "onset": "step"}),
        ("feature_drift", {"magnitude": 0.4 if classification else 0.8, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 2.20462, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 0.0393701, "onset": "step"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 0.001, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "c_to_f", "onset": "step"}),
        ("feature_recalibration", {"feature": f1, "variant": "bucket", "magnitude": 12, "onset": "step"}),
        ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "step"}),
        ("feature_unavailability", {"feature": f2, "variant": "default_zero", "onset": "ramp", "share": 0.7}),
        ("feature_unavailability", {"feature": f3, "variant": "default_minus_one", "onset": "step"}),
        ("feature_unavailability", {"feature": f2, "variant": "stale", "onset": "step"}),
        ("training_serving_skew", {"feature": f2, "variant": "round", "share": 0.7}),
        ("training_serving_skew", {"feature": f1, "variant": "truncate", "share": 0.5}),
        ("training_serving_skew", {"feature": f3, "variant": "null_fill", "share": 0.6}),
        ("training_serving_skew", {"feature": f1, "variant": "affine", "share": 0.7}),
        ("prediction_label_bias", {"feature": (f2, f3), "variant": "out_of_range", "share": 0.1, "onset": "step"}),
        ("compound", {"first": ("data_drift", {"feature": f1, "magnitude": 2.0, "onset": "ramp"}),
                      "second": ("feature_unavailability", {"feature": f2, "variant": "nulls", "onset": "step"})}),
        ("compound", {"first": ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 1000.0}),
                      "second": ("training_serving_skew", {"feature": f2, "variant": "null_fill", "share": 0.6})}),
        ("compound", {"first": ("data_drift", {"variant": "prior_shift", "magnitude": 3.5, "onset": "ramp"}),
                      "second": ("prediction_label_bias", {"feature": f1, "variant": "out_of_range", "share": 0.15})}),
    ]
    positive = [f for f in positive if f in numeric[:3]]
    if positive:
        out.append(("feature_recalibration", {"feature": positive[-1], "variant": "log", "onset": "step"}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "variant": "scores", "magnitude": 1.5, "onset": "ramp"}),
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 2.5, "onset": "step"}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "step"}),
            ("feature_unavailability", {"feature": cat, "variant": "default_mode", "onset": "step"}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category", "share": 0.15}),
        ]
    if classification:
        out += [("prediction_label_bias", {"variant": "unseen_label", "share": 0.1})]
    return out


def blind_scenarios(dataset: str) -> list[Scenario]:
    """Scenarios of the blind suite: a third set of fresh tables (`drills.blind_datasets`), with
    strengths, units, shares and onsets no earlier suite drilled, and causes compounded in other
    pairs; written before any of its tables was diagnosed, and never to be tuned against."""
    ds = load_dataset(dataset)
    numeric, cat, positive = _features(dataset)
    f1, f2, f3 = (numeric * 3)[:3]
    classification = ds.task == "classification"
    out: list[Scenario] = [
        ("model_regression", {"variant": "label_noise", "magnitude": 0.42}),
        ("model_regression", {"variant": "small_subset", "magnitude": 0.01}),
        ("data_drift", {"feature": f1, "variant": "shift", "magnitude": 1.8, "onset": "step"}),
        ("data_drift", {"feature": f2, "variant": "shift", "magnitude": 3.0, "onset": "ramp"}),
        ("data_drift", {"feature": f3, "variant": "spread", "magnitude": 2.5, "onset": "ramp"}),
        ("data_drift", {"feature": f1, "variant": "beyond_range", "magnitude": 2.0, "onset": "step"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 2.2, "onset": "step"}),
        ("data_drift", {"variant": "prior_shift", "magnitude": 4.5, "onset": "ramp", "labelled": False}),
        ("feature_drift", {"feature": f3, "magnitude": 0.55 if classification else 1.1, "onset": "step"}),
        ("feature_drift", {"feature": f1, "magnitude": 0.75 if classification else 1.3, "onset": "ramp"}),
        ("feature_drift", {"magnitude": 0.45 if classification else 0.6, "onset": "step", "share": 0.8}),
        # km/h -> m/s, inches -> feet, ounces -> grams, a percentage stored as a fraction rolled out gradually
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 0.2778, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 1 / 12, "onset": "step"}),
        ("feature_recalibration", {"feature": f3, "variant": "scale", "magnitude": 28.3495, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 0.01, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f1, "variant": "c_to_f", "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "bucket", "magnitude": 8, "onset": "step"}),
        ("feature_recalibration", {"feature": f3, "variant": "bucket", "magnitude": 16, "onset": "step"}),
        ("feature_unavailability", {"feature": f3, "variant": "nulls", "onset": "ramp", "share": 0.9}),
        ("feature_unavailability", {"feature": f1, "variant": "default_zero", "onset": "step", "share": 0.6}),
        ("feature_unavailability", {"feature": f2, "variant": "default_minus_one", "onset": "step", "share": 0.5}),
        ("feature_unavailability", {"feature": f3, "variant": "default_mean", "onset": "ramp"}),
        ("feature_unavailability", {"feature": f1, "variant": "stale", "onset": "step", "share": 0.75}),
        ("feature_unavailability", {"feature": f1, "variant": "dropped"}),
        ("training_serving_skew", {"feature": f1, "variant": "round", "magnitude": 0.5, "share": 0.4}),
        ("training_serving_skew", {"feature": f2, "variant": "truncate", "magnitude": 2.0, "share": 0.9}),
        ("training_serving_skew", {"feature": f2, "variant": "lagged", "share": 0.45, "training_view": False}),
        ("training_serving_skew", {"feature": f1, "variant": "null_fill", "magnitude": -1.0, "share": 0.4}),
        ("training_serving_skew", {"feature": f3, "variant": "affine", "share": 0.3}),
        ("prediction_label_bias", {"feature": f2, "variant": "out_of_range", "magnitude": 1.0, "share": 0.3,
                                   "onset": "ramp"}),
        ("prediction_label_bias", {"feature": (f1, f3), "variant": "out_of_range", "magnitude": 3.0, "share": 0.08,
                                   "onset": "from_start"}),
        ("compound", {"first": ("data_drift", {"feature": f2, "variant": "spread", "magnitude": 2.5, "onset": "ramp"}),
                      "second": ("training_serving_skew", {"feature": f1, "variant": "truncate", "share": 0.6})}),
        ("compound", {"first": ("data_drift", {"variant": "prior_shift", "magnitude": 2.5, "onset": "ramp"}),
                      "second": ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 0.2778})}),
        ("compound", {"first": ("feature_unavailability", {"feature": f1, "variant": "stale", "onset": "step"}),
                      "second": ("feature_drift", {"feature": f2, "magnitude": 0.6 if classification else 1.2,
                                                   "onset": "step"})}),
        ("compound", {"first": ("model_regression", {"variant": "small_subset", "magnitude": 0.01}),
                      "second": ("data_drift", {"feature": f1, "variant": "beyond_range", "magnitude": 2.0,
                                                "onset": "ramp"})}),
    ]
    positive = [f for f in positive if f in numeric[:3]] or positive
    if positive:
        out.append(("feature_recalibration", {"feature": positive[0], "variant": "log10", "onset": "ramp"}))
    # serving rounds to whole numbers: only a feature with fractions has any value to change
    reference = split_dataset(ds).reference
    fractional = [f for f in numeric[:3] if (reference[f].dropna() % 1 != 0).any()]
    if fractional:
        out.append(("training_serving_skew", {"feature": fractional[-1], "variant": "decimals", "share": 0.35}))
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "variant": "scores", "magnitude": 3.0, "onset": "ramp"}),
            ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 1.8, "onset": "step"}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "ramp"}),
            ("feature_unavailability", {"feature": cat, "variant": "nulls", "onset": "step", "share": 0.7}),
            ("feature_unavailability", {"feature": cat, "variant": "stale", "onset": "step"}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category", "share": 0.35, "onset": "ramp"}),
            ("compound", {"first": ("data_drift", {"feature": cat, "variant": "rarest", "magnitude": 2.0,
                                                   "onset": "ramp"}),
                          "second": ("feature_unavailability", {"feature": f1, "variant": "default_mean",
                                                                "onset": "step"})}),
        ]
    if classification:
        out += [("prediction_label_bias", {"variant": "unseen_label", "share": 0.3, "onset": "ramp"})]
    return out


def _written(write: Callable[..., list[Scenario]]) -> Callable[[str], list[Scenario]]:
    """A suite's scenarios from its own file (`bench/<suite>_scenarios.py`, written before any of its
    tables was diagnosed), fed the table's features by importance and its reference rows."""
    def scenarios(dataset: str) -> list[Scenario]:
        ds = load_dataset(dataset)
        numeric, cat, positive = _features(dataset)
        return write(ds, numeric, cat, positive, split_dataset(ds).reference)
    return scenarios


def _build(dataset: str, cause: str, params: dict[str, Any], n: int, seed: int, split_seed: int = 0,
           forward: bool = False, exchangeable: bool = False) -> Drill:
    drill = make_drill(dataset, n_rows=n, seed=seed, split_seed=split_seed, forward=forward, exchangeable=exchangeable)
    if cause == "compound":
        return compound(drill, params["first"], params["second"])
    return inject(drill, cause, **params)


def _sizes(dataset: str, sizes: tuple[int, ...], max_rows: int) -> list[int]:
    pool = len(split_dataset(load_dataset(dataset)).pool)
    return [n for n in sizes if n <= max_rows and n <= pool] or [min(pool, max_rows)]


def tuning_drills(dataset: str, max_rows: int) -> Iterator[Callable[[], Drill]]:
    """Zero-argument builders, so only one drill's frames live in memory at a time."""
    sizes = _sizes(dataset, TUNING_SIZES[dataset], max_rows)
    for seed in range(TUNING_HEALTHY_SEEDS[dataset]):
        for n in sizes:
            yield lambda n=n, seed=seed: _build(dataset, "healthy", {}, n, 100 + seed)
    for i, (cause, params) in enumerate(tuning_scenarios(dataset)):
        n = sizes[i % len(sizes)]  # sizes cycle, so every cause meets small and big windows
        yield lambda n=n, i=i, cause=cause, params=params: _build(dataset, cause, params, n, i)


def evaluation_drills(dataset: str, max_rows: int, *, holdout: bool = False,
                      scenarios: Callable[[str], list[Scenario]] | None = None, seed_offset: int = 0,
                      healthy_seed: int | None = None) -> Iterator[Callable[[], Drill]]:
    """An evaluation suite's drills on one dataset: EVAL_HEALTHY_SEEDS healthy drills, then each
    scenario (by default the evaluation suite's, with `holdout` the holdout suite's) over EVAL_SEEDS
    seeds; `seed_offset` and `healthy_seed` give another suite seeds of its own."""
    sizes = _sizes(dataset, EVAL_SIZES, max_rows)
    first = 200 + 50 * holdout if healthy_seed is None else healthy_seed
    for seed in range(EVAL_HEALTHY_SEEDS):
        yield lambda seed=seed: _build(dataset, "healthy", {}, sizes[seed % len(sizes)], first + seed)
    scenarios = scenarios or (holdout_scenarios if holdout else evaluation_scenarios)
    for i, (cause, params) in enumerate(scenarios(dataset)):
        for seed in range(EVAL_SEEDS):
            n = sizes[(i + seed) % len(sizes)]
            yield lambda n=n, cause=cause, params=params, seed=seed, i=i: _build(dataset, cause, params, n,
                                                                                seed_offset + 1000 * seed + i)


def fault_free_drills(datasets: list[str], max_rows: int, *, in_time: bool = False,
                      first_split: int = 1) -> Iterator[Callable[[], Drill]]:
    """Healthy drills on FAULT_FREE_SPLITS splits of each dataset (each split trains its own models),
    split seeds from `first_split` on.

    By default every log is exchangeable (rows in random order), so nothing changes inside it and
    any finding is a false alarm. With `in_time`, the time-ordered datasets' logs keep their time
    order instead: their most recent rows come from the dataset's latest period, which may really
    differ from the average of all periods the model was trained and judged on."""
    for dataset in datasets:
        if in_time and not load_dataset(dataset).timestamp:
            continue
        sizes = _sizes(dataset, (500, 2_000, 10_000), max_rows)
        for split_seed in range(first_split, first_split + FAULT_FREE_SPLITS):
            n = sizes[split_seed % len(sizes)]
            yield lambda dataset=dataset, n=n, split_seed=split_seed: _build(dataset, "healthy", {}, n, split_seed,
                                                                            split_seed, exchangeable=not in_time)


def forward_drills(datasets: list[str], max_rows: int) -> Iterator[Callable[[], Drill]]:
    """No fault, but production is the last 40% of the time range and training the first 60%:
    what a real deployment sees, natural drift included. Not scored as right or wrong."""
    for dataset in datasets:
        if not load_dataset(dataset).timestamp:
            continue
        pool = len(split_dataset(load_dataset(dataset), forward=True).pool)
        for seed, n in enumerate(n for n in (500, 2_000, 10_000) if n <= min(pool, max_rows)):
            yield lambda dataset=dataset, n=n, seed=seed: _build(dataset, "healthy", {}, n, 300 + seed, forward=True)


def material_regression(drill: Drill) -> bool:
    """The model_regression drill's degraded retrain is materially worse on golden (its definition)."""
    good, bad = drill.info.get("golden_good"), drill.info.get("golden_degraded")
    if good is None or bad is None:
        return True
    return (good - bad >= 0.02) if drill.task == "classification" else (bad >= 1.05 * good)


def run(builders: list[Callable[[], Drill]]) -> tuple[SuiteResult, list[str]]:
    """Run drills; model_regression drills that are not material are skipped and listed."""
    skipped: list[str] = []

    def keep(builder: Callable[[], Drill]) -> Callable[[], Drill | None]:
        def build() -> Drill | None:
            drill = builder()
            if drill.expected_cause == "model_regression" and not material_regression(drill):
                skipped.append(f"{drill.name}: golden {drill.info['golden_good']} -> {drill.info['golden_degraded']}")
                return None
            if drill.info.get("values_changed") == 0:
                skipped.append(f"{drill.name}: the injection changed no value")
                return None
            return drill
        return build

    suite = run_suite([keep(b) for b in builders], progress=lambda line: print(line, flush=True))
    return suite, skipped


def reliability(suite: SuiteResult) -> list[dict[str, Any]]:
    """Single-fault verdicts grouped by the top cause's score: how often each group is right.
    A score would be a calibrated confidence if each group's share right matched its score."""
    rows = []
    for low in (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
        high = {0.0: 0.5, 0.95: 1.01}.get(low, round(low + 0.1, 2) if low < 0.9 else 0.95)
        group = [r for r in suite.single if r.score is not None and low <= r.score < high]
        if group:
            k = sum(r.correct for r in group)
            rows.append({"score": f"{low:.2f}-{min(high, 1.0):.2f}", "verdicts": len(group),
                         "mean_score": round(sum(r.score for r in group) / len(group), 3),
                         "share_right": round(k / len(group), 3)})
    return rows


def report(name: str, suite: SuiteResult, skipped: list[str], output: Path) -> None:
    table, summary = suite.confusion_table(), suite.summary()
    calibration = reliability(suite)
    dropped_healthy = [r.name for r in suite.results if r.got == "healthy" and (r.production or {}).get("dropped")]
    beyond = [r.name for r in suite.results if r.got == "healthy" and _below_golden_interval(r)]
    lines = [f"== {name} ==", table, "", summary,
             f"verdict healthy while production dropped (test): {len(dropped_healthy)}",
             f"verdict healthy while production's own interval sits below the golden interval, by a material margin: "
             f"{len(beyond)}",
             f"drills skipped (a retrain not materially worse, or an injection that changed no value): "
             f"{len(skipped)}", "", "score of the top cause vs share right:",
             *(f"  {row['score']}: {row['verdicts']} verdicts, mean score {row['mean_score']:.3f}, "
               f"right {row['share_right']:.3f}" for row in calibration)]
    variants: dict[tuple[str, str], list[bool]] = {}
    for r in suite.results:
        key = (r.expected if not r.also_expected else f"{r.expected}+{r.also_expected[0]}", r.variant)
        variants.setdefault(key, []).append(r.correct)
    lines += ["", "by variant (right / drilled):",
              *(f"  {cause:<46} {variant:<34} {sum(v)}/{len(v)}" for (cause, variant), v in sorted(variants.items()))]
    text = "\n".join(lines)
    print(f"\n{text}\n")
    output.parent.mkdir(parents=True, exist_ok=True)
    payload = {**suite.to_dict(), "skipped": skipped, "healthy_while_dropped": dropped_healthy,
               "healthy_below_golden_interval": beyond, "reliability": calibration}
    output.write_text(json.dumps(payload, indent=2) + "\n")
    output.with_suffix(".txt").write_text(text + "\n")


def _below_golden_interval(r) -> bool:
    """Production's own 95% interval lies below the golden interval, and by a material margin
    (2 accuracy points, 5% RMSE): a measured drop, not one row sample's luck."""
    p = r.production or {}
    if not p.get("labelled") or not p.get("golden_ci") or not p.get("ci"):
        return False
    low, high = p["golden_ci"]
    if p["metric"] == "accuracy":
        return p["ci"][1] < low and p["value"] < low - 0.02
    return p["ci"][0] > high and p["value"] > high * 1.05


#: the suites run once, blind, for a round's report: their tables, scenarios, scenario seed offset and
#: first healthy seed
BLIND_SUITES = {
    "blind": (BLIND_DATASETS, blind_scenarios, BLIND_SEED_OFFSET, BLIND_HEALTHY_SEED),
    "fresh": (FRESH_DATASETS, _written(fresh_scenarios), FRESH_SEED_OFFSET, FRESH_HEALTHY_SEED),
    "unseen": (UNSEEN_DATASETS, _written(unseen_scenarios), UNSEEN_SEED_OFFSET, UNSEEN_HEALTHY_SEED),
    "untried": (UNTRIED_DATASETS, _written(untried_scenarios), UNTRIED_SEED_OFFSET, UNTRIED_HEALTHY_SEED),
    "untouched": (UNTOUCHED_DATASETS, _written(untouched_scenarios), UNTOUCHED_SEED_OFFSET, UNTOUCHED_HEALTHY_SEED),
    "sealed": (SEALED_DATASETS, _written(sealed_scenarios), SEALED_SEED_OFFSET, SEALED_HEALTHY_SEED),
    "pristine": (PRISTINE_DATASETS, _written(pristine_scenarios), PRISTINE_SEED_OFFSET, PRISTINE_HEALTHY_SEED),
    "unopened": (UNOPENED_DATASETS, _written(unopened_scenarios), UNOPENED_SEED_OFFSET, UNOPENED_HEALTHY_SEED),
}
SUITES = ("tuning", "evaluation", "holdout", "blind", "fresh", "unseen", "untried", "untouched", "sealed",
          "pristine", "unopened", "fault-free", "fault-free-fresh", "fault-free-unseen", "fault-free-untried",
          "fault-free-untouched", "fault-free-levels", "fault-free-sealed", "fault-free-pristine",
          "fault-free-aligned", "fault-free-unopened", "fault-free-in-time", "forward")
#: what runs without --suite: not the blind suites, which are run on purpose, once, for the report
DEFAULT_SUITES = tuple(s for s in SUITES if s not in ("blind", "fresh", "unseen", "untried", "untouched", "sealed",
                                                      "pristine", "unopened", "fault-free-fresh", "fault-free-unseen",
                                                      "fault-free-untried", "fault-free-untouched",
                                                      "fault-free-levels", "fault-free-sealed",
                                                      "fault-free-pristine", "fault-free-aligned",
                                                      "fault-free-unopened"))
#: fault-free-fresh: split seeds never drawn before (fault-free uses 1..20, round three's report
#: 21..40), over every table, the blind and fresh ones too
FRESH_FIRST_SPLIT = 41
#: fault-free-unseen: split seeds 61..80, drawn by no earlier suite (fault-free-fresh uses 41..60),
#: over every table of every suite, the unseen ones too
UNSEEN_FIRST_SPLIT = 61
#: fault-free-untried: split seeds 81..100, drawn by no earlier suite, over every table of every suite
UNTRIED_FIRST_SPLIT = 81
#: fault-free-untouched: split seeds 101..120, drawn by no earlier suite, over every table of every suite
UNTOUCHED_FIRST_SPLIT = 101
#: fault-free-levels: split seeds 121..140, drawn to choose one level for every check (so spent), over every table
LEVELS_FIRST_SPLIT = 121
#: fault-free-sealed: split seeds 141..160, drawn by no earlier suite, over every table of every suite, the
#: sealed ones too
SEALED_FIRST_SPLIT = 141
#: fault-free-pristine: split seeds 161..180, drawn by no earlier suite, over every table of every suite, the
#: pristine ones too
PRISTINE_FIRST_SPLIT = 161
#: fault-free-aligned: split seeds 181..200, drawn by no earlier suite, over every table: the count after the
#: golden check was put at every other check's level (round ten's stop)
ALIGNED_FIRST_SPLIT = 181
#: fault-free-unopened: split seeds 201..220, drawn by no earlier suite, over every table of every suite, the
#: unopened ones too
UNOPENED_FIRST_SPLIT = 201


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="append", choices=SUITES,
                        help="suite(s) to run (default: all but blind, fresh, unseen, untried, untouched, sealed, "
                             "pristine, unopened and their fault-free splits)")
    parser.add_argument("--dataset", action="append", help="dataset(s) to drill (default: each suite's own)")
    parser.add_argument("--max-rows", type=int, default=200_000, help="skip drills bigger than this (default: %(default)s)")
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    every = [*sorted(DATASETS), *sorted(EVAL_DATASETS), *sorted(HOLDOUT_DATASETS)]
    for name in args.suite or DEFAULT_SUITES:
        if name == "tuning":
            datasets = [d for d in (args.dataset or sorted(TUNING_SIZES)) if d in TUNING_SIZES]
            builders = [b for d in datasets for b in tuning_drills(d, args.max_rows)]
        elif name in ("evaluation", "holdout"):
            own = EVAL_DATASETS if name == "evaluation" else HOLDOUT_DATASETS
            datasets = [d for d in (args.dataset or sorted(own)) if d in own]
            builders = [b for d in datasets for b in evaluation_drills(d, args.max_rows, holdout=name == "holdout")]
        elif name in BLIND_SUITES:
            own, scenarios, seed_offset, healthy_seed = BLIND_SUITES[name]
            datasets = [d for d in (args.dataset or sorted(own)) if d in own]
            builders = [b for d in datasets for b in evaluation_drills(d, args.max_rows, scenarios=scenarios,
                                                                       seed_offset=seed_offset,
                                                                       healthy_seed=healthy_seed)]
        elif name == "forward":
            datasets = args.dataset or every
            builders = list(forward_drills(datasets, args.max_rows))
        elif name == "fault-free-fresh":
            datasets = args.dataset or [*every, *sorted(BLIND_DATASETS), *sorted(FRESH_DATASETS)]
            builders = list(fault_free_drills(datasets, args.max_rows, first_split=FRESH_FIRST_SPLIT))
        elif name == "fault-free-unseen":
            datasets = args.dataset or [*every, *sorted(BLIND_DATASETS), *sorted(FRESH_DATASETS),
                                        *sorted(UNSEEN_DATASETS)]
            builders = list(fault_free_drills(datasets, args.max_rows, first_split=UNSEEN_FIRST_SPLIT))
        elif name == "fault-free-untried":
            datasets = args.dataset or [*every, *sorted(BLIND_DATASETS), *sorted(FRESH_DATASETS),
                                        *sorted(UNSEEN_DATASETS), *sorted(UNTRIED_DATASETS)]
            builders = list(fault_free_drills(datasets, args.max_rows, first_split=UNTRIED_FIRST_SPLIT))
        elif name in ("fault-free-untouched", "fault-free-levels"):
            datasets = args.dataset or [*every, *sorted(BLIND_DATASETS), *sorted(FRESH_DATASETS),
                                        *sorted(UNSEEN_DATASETS), *sorted(UNTRIED_DATASETS),
                                        *sorted(UNTOUCHED_DATASETS)]
            first = UNTOUCHED_FIRST_SPLIT if name == "fault-free-untouched" else LEVELS_FIRST_SPLIT
            builders = list(fault_free_drills(datasets, args.max_rows, first_split=first))
        elif name == "fault-free-sealed":
            datasets = args.dataset or [*every, *sorted(BLIND_DATASETS), *sorted(FRESH_DATASETS),
                                        *sorted(UNSEEN_DATASETS), *sorted(UNTRIED_DATASETS),
                                        *sorted(UNTOUCHED_DATASETS), *sorted(SEALED_DATASETS)]
            builders = list(fault_free_drills(datasets, args.max_rows, first_split=SEALED_FIRST_SPLIT))
        elif name in ("fault-free-pristine", "fault-free-aligned"):
            datasets = args.dataset or [*every, *sorted(BLIND_DATASETS), *sorted(FRESH_DATASETS),
                                        *sorted(UNSEEN_DATASETS), *sorted(UNTRIED_DATASETS),
                                        *sorted(UNTOUCHED_DATASETS), *sorted(SEALED_DATASETS),
                                        *sorted(PRISTINE_DATASETS)]
            first = PRISTINE_FIRST_SPLIT if name == "fault-free-pristine" else ALIGNED_FIRST_SPLIT
            builders = list(fault_free_drills(datasets, args.max_rows, first_split=first))
        elif name == "fault-free-unopened":
            datasets = args.dataset or [*every, *sorted(BLIND_DATASETS), *sorted(FRESH_DATASETS),
                                        *sorted(UNSEEN_DATASETS), *sorted(UNTRIED_DATASETS),
                                        *sorted(UNTOUCHED_DATASETS), *sorted(SEALED_DATASETS),
                                        *sorted(PRISTINE_DATASETS), *sorted(UNOPENED_DATASETS)]
            builders = list(fault_free_drills(datasets, args.max_rows, first_split=UNOPENED_FIRST_SPLIT))
        else:
            datasets = args.dataset or every
            builders = list(fault_free_drills(datasets, args.max_rows, in_time=name == "fault-free-in-time"))
        print(f"{name}: {len(builders)} drills on {', '.join(datasets)}", flush=True)
        suite, skipped = run(builders)
        report(name, suite, skipped, args.output_dir / f"{name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
