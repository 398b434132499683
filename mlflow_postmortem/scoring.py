"""Score a frame through a ModelHandle and turn predictions into metrics and per-row losses."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import Schema
from .errors import ModelError
from .types import ModelHandle


@dataclass(frozen=True)
class Scored:
    """Rows with labels, the model's predictions and a per-row loss (lower is better)."""

    frame: pd.DataFrame
    y: np.ndarray
    pred: np.ndarray
    proba: np.ndarray | None
    loss: np.ndarray
    #: rows whose missing values were imputed because the model refuses them (0: scored as given)
    imputed_rows: int = 0
    #: the classes `proba`'s columns stand for
    classes: tuple | None = None


def primary_metric(task: str) -> tuple[str, bool]:
    """The metric every comparison uses, and whether higher is better."""
    return ("accuracy", True) if task == "classification" else ("rmse", False)


def model_input(frame: pd.DataFrame, schema: Schema, fill: dict[str, object]) -> pd.DataFrame:
    """The columns the model takes, absent ones filled with the reference's typical value."""
    cols = {}
    for f in schema.features:
        cols[f] = frame[f] if f in frame.columns else pd.Series([fill.get(f)] * len(frame), index=frame.index)
    return pd.DataFrame(cols, index=frame.index)


#: words in a model's error that say it refuses missing values (scikit-learn: "Input X contains NaN")
_REFUSES_MISSING = ("nan", "missing value", "null")


def predict(model: ModelHandle, x: pd.DataFrame, fill: dict[str, object]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Predictions, class probabilities, and which rows had to be imputed.

    Only a model that refuses missing values gets them imputed (as a serving system that
    imputes would score them), and the count says so; any other failure is the model's error,
    raised with its own first line (quoted values masked), never retried.
    """
    try:
        return (*_call(model, x), np.zeros(len(x), dtype=bool))
    except Exception as exc:  # noqa: BLE001 - re-raised below unless it is a refusal of missing values
        message = _first_line(exc, x.columns)
        missing = x.isna().any(axis=1)
        if not missing.any() or not any(word in message.lower() for word in _REFUSES_MISSING):
            raise ModelError(f"model {model.name} v{model.version} failed to score: {message}") from None
    filled = x.fillna({k: v for k, v in fill.items() if k in x.columns})
    try:
        return (*_call(model, filled), missing.to_numpy())
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"model {model.name} v{model.version} failed to score, even with missing values imputed: "
                         f"{_first_line(exc, x.columns)}") from None


def _call(model: ModelHandle, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    if model.predict_proba is not None:
        proba = np.asarray(model.predict_proba(x), dtype=float)
        classes = np.asarray(model.classes if model.classes is not None else np.arange(proba.shape[1]))
        return classes[np.argmax(proba, axis=1)], proba
    return np.asarray(model.predict(x)).reshape(len(x), -1)[:, 0], None


#: a quoted literal in a model's error message
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")


def _first_line(exc: BaseException, columns: pd.Index) -> str:
    """The error's first line, each quoted literal masked unless it is one of the model's columns:
    a model quotes the value it choked on ("could not convert string to float: '...'"), and
    that value is the data's, not ours to print into a terminal and a run's tags."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    names = {str(c) for c in columns}
    return _QUOTED.sub(lambda m: m.group(0) if m.group(0)[1:-1] in names else "'…'", line)


def score(model: ModelHandle, frame: pd.DataFrame, schema: Schema, fill: dict[str, object]) -> Scored:
    """Rows without a label are dropped: a loss needs one."""
    labelled = frame[frame[schema.target].notna()] if schema.target in frame.columns else frame.iloc[0:0]
    pred, proba, imputed = predict(model, model_input(labelled, schema, fill), fill)
    return scored_rows(labelled, pred, proba, imputed, schema, model.classes)


def scored_rows(labelled: pd.DataFrame, pred: np.ndarray, proba: np.ndarray | None, imputed: np.ndarray,
                schema: Schema, classes: tuple | None) -> Scored:
    """Labelled rows and their predictions as a Scored: labels, per-row loss, imputed count."""
    y = labelled[schema.target].to_numpy()
    if schema.task == "regression":
        y = y.astype(float)
        loss = (y - pred.astype(float)) ** 2
    elif proba is not None and classes is not None:
        onehot = np.asarray(classes)[None, :] == y[:, None]
        loss = ((onehot - proba) ** 2).sum(axis=1)
    else:
        loss = (pred != y).astype(float)
    return Scored(labelled, y, pred, proba, loss, int(np.count_nonzero(imputed)), classes)


def metrics(task: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None = None,
            classes: tuple | None = None) -> dict[str, float]:
    if len(y) == 0:
        return {}
    if task == "regression":
        err = y.astype(float) - pred.astype(float)
        var = float(np.var(y))
        return {
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mae": float(np.mean(np.abs(err))),
            "r2": float(1 - np.mean(err**2) / var) if var > 0 else float("nan"),
        }
    out = {"accuracy": float(np.mean(pred == y))}
    if proba is not None and classes is not None and len(classes) == 2 and len(np.unique(y)) == 2:
        from sklearn.metrics import roc_auc_score

        if set(np.unique(y)) <= set(classes):
            out["roc_auc"] = float(roc_auc_score(y == classes[1], proba[:, 1]))
    return out


def metric_contributions(name: str, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-row terms whose mean gives the primary metric (square-rooted for RMSE): what
    bootstraps and standard errors are computed on."""
    if name == "accuracy":
        return (pred == y).astype(float)
    return (y.astype(float) - pred.astype(float)) ** 2


def metric_value(task: str, name: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The primary metric alone, cheap enough to bootstrap."""
    if name == "accuracy":
        return float(np.mean(pred == y))
    return float(np.sqrt(np.mean((y.astype(float) - pred.astype(float)) ** 2)))
