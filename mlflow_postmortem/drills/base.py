"""A drill: a real dataset cut into the frames of a post-mortem, with the fault it carries.

`make_drill` builds the healthy starting point; the injectors in `injectors.py` each return a
new Drill with one fault added. The split of a dataset into reference / golden / pool and the
models trained on the reference are computed once per dataset and shared by every drill on it,
so a suite of hundreds of drills trains a handful of models.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..types import ModelHandle
from . import models as _models
from .datasets import Dataset, load_dataset

ONSETS = ("step", "ramp", "from_start")
#: synthetic production logs span this long, starting on a Monday
SYNTHETIC_SPAN = pd.Timedelta(weeks=8)
SYNTHETIC_START = pd.Timestamp("2025-01-06")
SYNTHETIC_TIMESTAMP = "event_time"
ENTITY_ID = "entity_id"
#: a step onset starts here on the normalised time axis: from the middle window on
STEP_CUTOFF = 0.5


@dataclass(frozen=True, eq=False)
class Frames:
    reference: pd.DataFrame = field(repr=False)
    golden: pd.DataFrame = field(repr=False)
    current: pd.DataFrame = field(repr=False)
    training_view: pd.DataFrame | None = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class Models:
    #: the version under review (a degraded retrain in model_regression drills)
    model: ModelHandle
    #: the version before it: a good model trained on another 90% of the reference
    baseline: ModelHandle | None


@dataclass(frozen=True, eq=False)
class Drill:
    """One scenario: frames to diagnose, models to diagnose with, and the answer expected."""

    name: str
    dataset: str
    task: str
    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    expected_cause: str
    #: the injected feature(s); empty when the fault is not about a feature
    feature: tuple[str, ...]
    variant: str
    magnitude: float
    onset: str
    share: float
    n_rows: int
    seed: int
    frames: Frames
    models: Models
    timestamp: str
    entity_id: str = ENTITY_ID
    #: facts about the injection (golden drop of a degraded model, onset time, resampling...)
    info: dict[str, Any] = field(default_factory=dict)
    #: the dataset and the rows current was sampled from, for injectors that resample or retrain
    source: Dataset | None = field(default=None, repr=False)
    pool: pd.DataFrame | None = field(default=None, repr=False)
    #: a compound drill's second cause: both must be named in the verdict's top two
    also_expected: tuple[str, ...] = ()

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def build_inputs_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `data.build_inputs` for this drill."""
        return {
            "reference": self.frames.reference,
            "golden": self.frames.golden,
            "current": self.frames.current,
            "task": self.task,
            "target": self.target,
            "features": list(self.features),
            "categorical": tuple(self.categorical),
            "timestamp": self.timestamp,
            "entity_id": self.entity_id,
            "training_view": self.frames.training_view,
        }

    def with_fault(self, *, cause: str, feature: tuple[str, ...] = (), variant: str, magnitude: float,
                   onset: str, share: float, current: pd.DataFrame | None = None,
                   training_view: pd.DataFrame | None | str = "keep", models: Models | None = None,
                   info: dict[str, Any] | None = None) -> "Drill":
        """A copy carrying a fault (what injectors return)."""
        label = "+".join(feature) or "-"
        name = f"{self.dataset}/{cause}/{variant}/{label}/m{magnitude:g}/{onset}/n{self.n_rows}/s{self.seed}"
        frames = replace(
            self.frames,
            current=self.frames.current if current is None else current,
            training_view=self.frames.training_view if isinstance(training_view, str) else training_view,
        )
        return replace(self, name=name, expected_cause=cause, feature=tuple(feature), variant=variant,
                       magnitude=float(magnitude), onset=onset, share=float(share), frames=frames,
                       models=models or self.models, info={**self.info, **(info or {})})


# --- building the healthy drill ----------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Split:
    """A dataset cut once into disjoint reference (training), golden and pool (production) rows."""

    reference: pd.DataFrame
    golden: pd.DataFrame
    pool: pd.DataFrame
    model: Any
    baseline: Any


_SPLITS: dict[tuple[int, int], tuple[Dataset, Split]] = {}


#: a time-ordered dataset is cut into stretches of about this many rows before the split
TIME_STRETCH_ROWS = 40


def split_dataset(dataset: Dataset, *, seed: int = 0, forward: bool = False) -> Split:
    """Reference min(50k, 45%), golden min(5k, 15%), the rest is the production pool; cached.

    A dataset with a time column is split stretch by stretch: its time-sorted rows are cut into
    short stretches and each stretch's rows go to reference, golden and pool in those shares.
    The pool keeps its time order, so a production log drawn from it runs forward in time, and
    every stretch of time (every season, every year) is in training as much as in production:
    contiguous blocks of time instead would make the pool's months, years, and whatever the rows
    of one date are sorted by (a state, a city) differ from training's, a drift of the split
    itself rather than a fault-free baseline. What real forward-in-time splits show is
    reported apart (`bench/drills.py --suite forward`): with `forward`, reference and golden come
    from the first 60% of the time range and the pool is the last 40%, as a deployment sees it.
    """
    key = (id(dataset), seed, forward)
    if key not in _SPLITS:
        n = len(dataset.frame)
        n_ref, n_gold = min(50_000, int(0.45 * n)), min(5_000, int(0.15 * n))
        if n_gold < 30 or n - n_ref - n_gold < 30:
            raise DataError(f"dataset {dataset.name!r}: {n} rows are too few to split for a drill")
        if dataset.timestamp and forward:
            cut = int(0.6 * n)
            past = dataset.frame.iloc[:cut].sample(frac=1.0, random_state=seed)
            reference, golden = past[:int(0.75 * cut)][:n_ref], past[int(0.75 * cut):][:n_gold]
            pool = dataset.frame.iloc[cut:]
        elif dataset.timestamp:
            reference, golden, pool = _blocked_split(dataset.frame, n_ref, n_gold, seed)
        else:
            frame = dataset.frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
            reference, golden, pool = frame[:n_ref], frame[n_ref:n_ref + n_gold], frame[n_ref + n_gold:]
        columns = list(dataset.features) + [dataset.target]
        reference, golden = reference[columns].reset_index(drop=True), golden[columns].reset_index(drop=True)
        model = _models.fit(dataset, reference, seed=seed)
        previous = reference.sample(frac=0.9, random_state=seed + 1)
        baseline = _models.fit(dataset, previous, seed=seed + 1)
        # the dataset is kept in the value so its id cannot be reused while the split is cached
        _SPLITS[key] = (dataset, Split(reference, golden, pool.reset_index(drop=True), model, baseline))
    return _SPLITS[key][1]


def _blocked_split(frame: pd.DataFrame, n_ref: int, n_gold: int, seed: int) -> tuple[pd.DataFrame, ...]:
    """Within each stretch of time, 45% of the rows to reference, 15% to golden, the rest to the
    pool; reference and golden are then subsampled to their caps, the pool keeps its order."""
    rng = np.random.default_rng([seed, 2])
    stretch = np.arange(len(frame)) // TIME_STRETCH_ROWS
    size = np.bincount(stretch)
    order = np.lexsort((rng.random(len(frame)), stretch))  # rows shuffled within their stretch
    rank = np.empty(len(frame))
    rank[order] = np.arange(len(frame)) - np.repeat(np.cumsum(size) - size, size)
    position = rank / size[stretch]
    role = np.where(position < 0.45, "reference", np.where(position < 0.6, "golden", "pool"))
    reference = frame[role == "reference"]
    golden = frame[role == "golden"]
    reference = reference.sample(n=min(n_ref, len(reference)), random_state=seed)
    golden = golden.sample(n=min(n_gold, len(golden)), random_state=seed)
    return reference, golden, frame[role == "pool"]


def make_drill(dataset: Dataset | str, *, n_rows: int = 2000, seed: int = 0, split_seed: int = 0,
               forward: bool = False, exchangeable: bool = False) -> Drill:
    """The healthy drill: current is a random sample of the production pool, nothing injected.

    When `n_rows` exceeds the pool, current is sampled with replacement (info['resampled']).
    Datasets without timestamps get synthetic ones spread over 8 weeks; each current row gets
    an entity_id, and the training view holds the same features for the same entity_ids.
    With `exchangeable`, a time-ordered dataset's rows get synthetic timestamps too, in random
    order: a log in which early and late rows are alike, so nothing changes inside it.
    """
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    if n_rows < 50:
        raise DataError(f"a drill needs at least 50 current rows, got n_rows={n_rows}")
    split = split_dataset(ds, seed=split_seed, forward=forward)
    rng = np.random.default_rng([seed, 1])
    resampled = n_rows > len(split.pool)
    idx = rng.choice(len(split.pool), size=n_rows, replace=resampled)
    current = split.pool.iloc[idx].reset_index(drop=True)
    if ds.timestamp and not exchangeable:
        timestamp = ds.timestamp
        current = current.sort_values(timestamp, kind="stable").reset_index(drop=True)
    else:
        timestamp = SYNTHETIC_TIMESTAMP
        offsets = np.sort(rng.random(n_rows)) * SYNTHETIC_SPAN.total_seconds()
        current[timestamp] = SYNTHETIC_START + pd.to_timedelta(np.round(offsets), unit="s")
    current.insert(0, ENTITY_ID, np.arange(1, n_rows + 1, dtype=np.int64))
    current = current[[ENTITY_ID, timestamp, *ds.features, ds.target]]
    name = f"{ds.name}-model"
    models = Models(_models.make_handle(split.model, name, "2", features=ds.features),
                    _models.make_handle(split.baseline, name, "1", features=ds.features))
    return Drill(
        name=f"{ds.name}/healthy/none/-/m0/from_start/n{n_rows}/s{seed}",
        dataset=ds.name, task=ds.task, target=ds.target, numeric=ds.numeric, categorical=ds.categorical,
        expected_cause="healthy", feature=(), variant="none", magnitude=0.0, onset="from_start", share=0.0,
        n_rows=n_rows, seed=seed,
        frames=Frames(split.reference, split.golden, current, training_view_of(current, ds.features, seed)),
        models=models, timestamp=timestamp,
        info={"resampled": bool(resampled), "pool_rows": len(split.pool), "split_seed": split_seed,
              "exchangeable": exchangeable},
        source=ds, pool=split.pool,
    )


def training_view_of(current: pd.DataFrame, features: tuple[str, ...], seed: int) -> pd.DataFrame:
    """What the training pipeline computes for the same entities: rows in another order."""
    view = current[[ENTITY_ID, *[f for f in features if f in current.columns]]]
    return view.sample(frac=1.0, random_state=seed).reset_index(drop=True)


# --- helpers shared by the injectors ------------------------------------------------------

def time_position(current: pd.DataFrame, timestamp: str) -> np.ndarray:
    """Each row's place on the production time axis, 0 (first event) to 1 (last)."""
    ts = pd.to_datetime(current[timestamp]).to_numpy().astype("datetime64[ns]").astype(np.int64)
    span = ts.max() - ts.min()
    return (ts - ts.min()) / span if span > 0 else np.zeros(len(ts))


def affected_rows(t: np.ndarray, onset: str, share: float, rng: np.random.Generator) -> np.ndarray:
    """Which rows a fault touches: step after the cutoff, ramp rising with time, or from the start."""
    if onset not in ONSETS:
        raise DataError(f"unknown onset {onset!r} (known: {', '.join(ONSETS)})")
    if not 0.0 < share <= 1.0:
        raise DataError(f"share must be in (0, 1], got {share}")
    u = rng.random(len(t))
    if onset == "from_start":
        return u < share
    if onset == "step":
        return (t >= STEP_CUTOFF) & (u < share)
    return u < share * t
