"""Real scikit-learn models for drills, wrapped as ModelHandles so no MLflow is needed.

Models are gradient-boosted trees behind an OrdinalEncoder: NaN and unseen categories score
(as missing) instead of raising, like a production model that survived an outage.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from ..errors import DataError
from ..types import ModelHandle
from .datasets import Dataset

#: what a model_regression drill may do to the retrain
REGRESSION_VARIANTS = ("label_noise", "small_subset", "feature_constant")


def build_estimator(dataset: Dataset, *, seed: int = 0) -> Pipeline:
    """An unfitted, NaN-tolerant pipeline over the dataset's features (categoricals first)."""
    cats, nums = list(dataset.categorical), list(dataset.numeric)
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                             encoded_missing_value=np.nan)
    columns = ColumnTransformer([("cat", encoder, cats), ("num", "passthrough", nums)],
                                verbose_feature_names_out=False)
    mask = [True] * len(cats) + [False] * len(nums)
    kwargs: dict[str, Any] = {"categorical_features": mask if cats else None, "random_state": seed}
    model = (HistGradientBoostingClassifier(**kwargs) if dataset.task == "classification"
             else HistGradientBoostingRegressor(**kwargs))
    return Pipeline([("columns", columns), ("model", model)])


def make_handle(estimator: BaseEstimator, name: str, version: str | int, *,
                features: tuple[str, ...] | None = None) -> ModelHandle:
    """A fitted sklearn estimator as the core sees a model: callables over a feature frame.

    Like an MLflow pyfunc with a signature, scoring a frame that lacks an input column raises
    (DataError naming the column); extra columns are ignored.
    """
    if features is None:
        names = getattr(estimator, "feature_names_in_", None)
        if names is None:
            raise DataError(f"model {name!r}: estimator was not fitted on a DataFrame; pass features=")
        features = tuple(str(c) for c in names)
    cols = list(features)

    def select(frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise DataError(f"model {name!r} version {version}: input is missing column(s) {missing}")
        return frame[cols]

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(estimator.predict(select(frame)))

    def proba(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(estimator.predict_proba(select(frame)))

    classes = getattr(estimator, "classes_", None)
    return ModelHandle(
        name=name,
        version=str(version),
        predict=predict,
        predict_proba=proba if hasattr(estimator, "predict_proba") else None,
        classes=None if classes is None else tuple(np.asarray(classes).tolist()),
        features=tuple(features),
    )


def fit(dataset: Dataset, frame: pd.DataFrame, *, seed: int = 0) -> Pipeline:
    estimator = build_estimator(dataset, seed=seed)
    estimator.fit(frame[list(dataset.features)], frame[dataset.target])
    return estimator


_RANKINGS: dict[tuple[int, int], tuple[Any, tuple[str, ...]]] = {}


def feature_ranking(dataset: Dataset, estimator: Pipeline, golden: pd.DataFrame, *, seed: int = 0) -> tuple[str, ...]:
    """Features by permutation importance on (a sample of) the golden set, most important first; cached."""
    key = (id(estimator), seed)
    if key not in _RANKINGS:
        sample = golden.sample(min(len(golden), 3000), random_state=seed)
        result = permutation_importance(estimator, sample[list(dataset.features)], sample[dataset.target],
                                        n_repeats=3, random_state=seed)
        order = np.argsort(-result.importances_mean, kind="stable")
        _RANKINGS[key] = (estimator, tuple(dataset.features[i] for i in order))
    return _RANKINGS[key][1]


def most_important_feature(dataset: Dataset, estimator: Pipeline, golden: pd.DataFrame, *,
                           numeric_only: bool = False, seed: int = 0) -> str:
    ranking = feature_ranking(dataset, estimator, golden, seed=seed)
    return next(f for f in ranking if not numeric_only or f in dataset.numeric)


def degraded_fit(dataset: Dataset, reference: pd.DataFrame, *, variant: str, magnitude: float,
                 feature: str | None = None, seed: int = 0) -> Pipeline:
    """A bad retrain of the good model: noisy labels, too little data, or a lost feature.

    - label_noise: a share `magnitude` of training labels replaced (classification: by the
      majority class, so the decision threshold moves; regression: shuffled among themselves)
    - small_subset: trained on a share `magnitude` of the rows (at least 30)
    - feature_constant: `feature` filled with its median in training, so the model ignores it
    """
    rng = np.random.default_rng([seed, 7])
    frame = reference.copy()
    y = frame[dataset.target]
    if variant == "label_noise":
        noisy = rng.random(len(frame)) < magnitude
        if dataset.task == "classification":
            majority = y.value_counts().index[0]
            # noisy rows of the majority class go to another class, so every class loses signal
            others = y.unique()[y.unique() != majority]
            replacement = np.where(y.to_numpy() == majority, rng.choice(others, len(frame)), majority)
            frame[dataset.target] = np.where(noisy, replacement, y.to_numpy())
        else:
            values = y.to_numpy().copy()
            values[noisy] = rng.permutation(values[noisy])
            frame[dataset.target] = values
    elif variant == "small_subset":
        n = max(30, int(round(magnitude * len(frame))))
        frame = frame.sample(n=min(n, len(frame)), random_state=int(rng.integers(2**31)))
    elif variant == "feature_constant":
        if feature is None:
            raise DataError("model_regression variant 'feature_constant' needs a feature")
        column = frame[feature]
        fill = column.median() if feature in dataset.numeric else column.mode().iloc[0]
        frame[feature] = fill
    else:
        raise DataError(f"unknown model_regression variant {variant!r} (known: {', '.join(REGRESSION_VARIANTS)})")
    return fit(dataset, frame, seed=seed)
