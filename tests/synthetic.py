"""A small mixed-type tabular world for core tests: numeric, count and categorical features,
a real scikit-learn model trained on it, and helpers to build Inputs from it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from mlflow_postmortem.data import Inputs, build_inputs
from mlflow_postmortem.types import ModelHandle

NUMERIC = ["age", "income", "visits", "score"]
CATEGORICAL = ["plan", "region"]
FEATURES = NUMERIC + CATEGORICAL


def make_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n)
    income = np.exp(rng.normal(10, 0.5, n))
    visits = rng.poisson(3, n).astype(float)
    score = 0.5 * (age - 40) / 10 + rng.normal(0, 1, n)
    plan = rng.choice(["basic", "plus", "pro", "team"], n, p=[0.5, 0.25, 0.15, 0.1])
    region = rng.choice(["n", "s", "e", "w", "c", "x"], n)
    logit = 0.8 * score - 0.5 * (visits - 3) + (plan == "pro") * 1.0 + 0.3 * np.log(income / 22000)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"age": age, "income": income, "visits": visits, "score": score, "plan": plan,
                         "region": region, "label": label, "customer_id": np.arange(n) + seed * 10_000_000})


@dataclass(frozen=True)
class World:
    reference: pd.DataFrame
    golden: pd.DataFrame
    model: ModelHandle


@lru_cache(maxsize=None)
def world() -> World:
    reference, golden = make_rows(4000, 1), make_rows(1000, 2)
    encode = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), CATEGORICAL)],
                               remainder="passthrough")
    est = make_pipeline(encode, HistGradientBoostingClassifier(max_iter=60, random_state=0))
    est.fit(reference[FEATURES], reference["label"])
    handle = ModelHandle("synthetic", "1", est.predict, est.predict_proba, tuple(est.classes_), tuple(FEATURES))
    return World(reference, golden, handle)


def current(n: int = 2000, seed: int = 3) -> pd.DataFrame:
    frame = make_rows(n, seed)
    frame["event_time"] = pd.date_range("2026-01-01", periods=n, freq="10min")
    return frame


def inputs(cur: pd.DataFrame, *, training_view: pd.DataFrame | None = None, reference: pd.DataFrame | None = None) -> Inputs:
    w = world()
    return build_inputs(
        w.reference if reference is None else reference, w.golden, cur, task="classification", target="label",
        features=FEATURES, timestamp="event_time" if "event_time" in cur.columns else None,
        entity_id="customer_id", training_view=training_view,
    )
