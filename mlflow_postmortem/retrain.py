"""The reference trainer's core: new training data and a new fit, shaped by the diagnosis.

Pure scikit-learn: a fitted estimator and frames in, a fitted estimator and plain-language
notes out (what was done, and what could not be done the way it was asked). The MLflow side
(loading the version, logging and registering the result) lives in `mitigation.py`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from . import transforms
from .errors import DataError

MODES = ("retrain", "fine_tune", "online_update", "retrain_correct_feature_version")
#: share of the newest labelled production rows kept out of training, for the challenger gate
HOLDOUT_FRACTION = 0.2
#: when an estimator cannot continue training, recent rows count this much more in a refit
RECENT_WEIGHT = 3.0
#: a warm start adds this share of the estimator's iterations or trees
WARM_START_GROWTH = 0.5


@dataclass(frozen=True)
class TrainingSet:
    frame: pd.DataFrame
    weights: np.ndarray | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fitted:
    estimator: Any
    notes: tuple[str, ...] = field(default_factory=tuple)


def split_recent(current: pd.DataFrame, target: str, holdout_fraction: float = HOLDOUT_FRACTION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labelled production rows in time order: (older ones to learn from, newest ones for the gate)."""
    labelled = current[current[target].notna()]
    if len(labelled) < 20:
        raise DataError(f"mitigation needs labelled production rows; data.current has {len(labelled)} with {target!r}")
    cut = int(round(len(labelled) * (1 - holdout_fraction)))
    return labelled.iloc[:cut], labelled.iloc[cut:]


def transform_feature(frame: pd.DataFrame, feature: str, evidence: dict[str, Any]) -> pd.DataFrame:
    """The reference passed through the detected change: the feature in its new definition."""
    out = frame.copy()
    forward = transforms.forward(evidence)
    if forward is not None:
        with np.errstate(all="ignore"):
            out[feature] = forward(out[feature].to_numpy(float))
    elif evidence.get("transform") == "codes_permuted":
        new_of_old = {old: new for new, old in evidence["mapping"]}
        out[feature] = out[feature].map(lambda v: new_of_old.get(v, new_of_old.get(str(v), v)))
    else:
        raise DataError(f"no transform recorded for {feature!r} to retrain with (evidence: {sorted(evidence)})")
    return out


def training_set(mode: str, reference: pd.DataFrame, recent: pd.DataFrame, *, novel: np.ndarray | None = None,
                 recalibrated: tuple[str, dict[str, Any]] | None = None) -> TrainingSet:
    """What the new version learns from, per mitigation."""
    if mode == "retrain":
        return TrainingSet(pd.concat([reference, recent], ignore_index=True), None,
                           (f"retrained from scratch on {len(reference):,} reference + {len(recent):,} recent labelled rows",))
    if mode == "retrain_correct_feature_version":
        if recalibrated is None:
            raise DataError("retrain_correct_feature_version needs the recalibrated feature and its transform")
        feature, evidence = recalibrated
        moved = transform_feature(reference, feature, evidence)
        return TrainingSet(pd.concat([moved, recent], ignore_index=True), None,
                           (f"reference {feature!r} passed through the detected change ({transforms.describe(evidence)}), "
                            f"so training sees one definition of it ({len(moved):,} + {len(recent):,} rows)",))
    if mode == "online_update":
        rows = recent[novel] if novel is not None else recent
        return TrainingSet(rows, None, (f"updated on {len(rows):,} labelled novel rows",))
    if mode == "fine_tune":
        return TrainingSet(recent, None, (f"fine-tuned on {len(recent):,} recent labelled rows",))
    raise DataError(f"unknown training mode {mode!r} (known: {', '.join(MODES)})")


def fit(fitted: Any, data: TrainingSet, features: list[str], target: str, *, reference: pd.DataFrame | None = None,
        continue_training: bool = False) -> Fitted:
    """Continue training the fitted estimator where it can; otherwise refit a clone, and say so."""
    X, y = data.frame[features], data.frame[target]
    if continue_training:
        warm = _warm_start(fitted, X, y)
        if warm is not None:
            return Fitted(warm[0], data.notes + (warm[1],))
        if reference is None:
            raise DataError("cannot fine-tune: the estimator neither warm-starts nor has partial_fit, and no reference given")
        both = pd.concat([reference, data.frame], ignore_index=True)
        weights = np.r_[np.ones(len(reference)), np.full(len(data.frame), RECENT_WEIGHT)]
        estimator = _fit_weighted(clone(fitted), both[features], both[target], weights)
        note = (f"{type(_final(fitted)).__name__} cannot continue training: refitted on reference + recent rows "
                f"with recent rows weighted x{RECENT_WEIGHT:g}")
        return Fitted(estimator, data.notes + (note,))
    estimator = _fit_weighted(clone(fitted), X, y, data.weights)
    return Fitted(estimator, data.notes)


def _warm_start(fitted: Any, X: pd.DataFrame, y: pd.Series) -> tuple[Any, str] | None:
    """More trees or iterations on the new rows, keeping the fitted preprocessing (so category
    codes learnt earlier keep their meaning); partial_fit where the estimator has it."""
    final = _final(fitted)
    pre = fitted[:-1] if isinstance(fitted, Pipeline) and len(fitted) > 1 else None
    Xt = pre.transform(X) if pre is not None else X
    model = copy.deepcopy(final)
    if hasattr(model, "partial_fit"):
        model.partial_fit(Xt, y)
        how = f"{type(model).__name__}.partial_fit on {len(X):,} rows"
    else:
        grow = next((p for p in ("max_iter", "n_estimators") if p in model.get_params()), None)
        if "warm_start" not in model.get_params() or grow is None:
            return None
        before = model.get_params()[grow]
        model.set_params(warm_start=True, **{grow: before + max(1, int(before * WARM_START_GROWTH))})
        if "early_stopping" in model.get_params():
            model.set_params(early_stopping=False)
        model.fit(Xt, y)
        how = f"{type(model).__name__} warm-started: {grow} {before} -> {model.get_params()[grow]} on {len(X):,} rows"
    if pre is None:
        return model, how
    return Pipeline([*fitted.steps[:-1], (fitted.steps[-1][0], model)]), how


def _fit_weighted(estimator: Any, X: pd.DataFrame, y: pd.Series, weights: np.ndarray | None) -> Any:
    if weights is None:
        return estimator.fit(X, y)
    if isinstance(estimator, Pipeline):
        return estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__sample_weight": weights})
    return estimator.fit(X, y, sample_weight=weights)


def _final(estimator: Any) -> Any:
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator
