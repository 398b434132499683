"""Drills: inject a known fault into a copy of real data and check that the post-mortem names it.

    >>> from mlflow_postmortem.drills import make_drill, inject, run_drill
    >>> drill = inject(make_drill("fair", n_rows=2000), "feature_recalibration", feature="age", magnitude=100)
    >>> run_drill(drill).got          # doctest: +SKIP
    'feature_recalibration'

Pure like the core: no MLflow, no Evidently. Modules: `datasets` (offline real datasets the
drills are tuned on), `eval_datasets` (others, held out to evaluate them), `holdout_datasets`
(still others, a blind held-out set), `blind_datasets` (still others, a third held-out set),
`fresh_datasets` (still others, a fourth held-out set), `unseen_datasets` (still others, a fifth
held-out set), `untried_datasets` (still others, a sixth held-out set), `untouched_datasets`
(still others, a seventh held-out set), `sealed_datasets` (still others, an eighth held-out set),
`pristine_datasets` (still others, a ninth held-out set), `unopened_datasets` (still others, a
tenth held-out set), `base` (the Drill and how a dataset becomes one), `injectors` (one fault per
cause), `models` (scikit-learn models as ModelHandles), `suite` (scoring drills, the `drill`
subcommand).
"""

from .base import ONSETS, Drill, Frames, Models, affected_rows, make_drill, split_dataset, time_position
from .datasets import DATASETS, Dataset, all_datasets, load_dataset, make_dataset
from .eval_datasets import EVAL_DATASETS
from .holdout_datasets import HOLDOUT_DATASETS
from .blind_datasets import BLIND_DATASETS
from .fresh_datasets import FRESH_DATASETS
from .unseen_datasets import UNSEEN_DATASETS
from .untried_datasets import UNTRIED_DATASETS
from .untouched_datasets import UNTOUCHED_DATASETS
from .sealed_datasets import SEALED_DATASETS
from .pristine_datasets import PRISTINE_DATASETS
from .unopened_datasets import UNOPENED_DATASETS
from .injectors import (
    CATEGORICAL_VARIANTS,
    INJECTORS,
    compound,
    NUMERIC_VARIANTS,
    data_drift,
    feature_drift,
    feature_recalibration,
    feature_unavailability,
    healthy,
    inject,
    model_regression,
    prediction_label_bias,
    training_serving_skew,
)
from .models import build_estimator, feature_ranking, make_handle
from .suite import DrillResult, SuiteResult, add_drill_arguments, cli_drill, default_drill, run_drill, run_suite

__all__ = [
    "BLIND_DATASETS", "CATEGORICAL_VARIANTS", "DATASETS", "EVAL_DATASETS", "FRESH_DATASETS", "HOLDOUT_DATASETS",
    "INJECTORS",
    "NUMERIC_VARIANTS", "ONSETS", "PRISTINE_DATASETS", "SEALED_DATASETS", "UNOPENED_DATASETS", "UNSEEN_DATASETS",
    "UNTOUCHED_DATASETS", "UNTRIED_DATASETS",
    "Dataset", "Drill", "DrillResult", "Frames", "Models", "SuiteResult",
    "add_drill_arguments", "affected_rows", "all_datasets", "build_estimator", "cli_drill", "compound", "data_drift",
    "default_drill",
    "feature_drift", "feature_ranking", "feature_recalibration", "feature_unavailability", "healthy", "inject",
    "load_dataset", "make_dataset", "make_drill", "make_handle", "model_regression", "prediction_label_bias",
    "run_drill", "run_suite", "split_dataset", "time_position", "training_serving_skew",
]
