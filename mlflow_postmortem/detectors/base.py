"""The detector contract: a detector reads a Context and returns Findings for one cause.

Detectors run in two stages. Stage 1 checks feature integrity (unavailability,
recalibration, skew): a feature found broken there is *explained*, and stage 2 (drift,
relation change, novelty) skips it and scores the model on rows with the fault repaired,
so one broken feature is not reported four times under four names.

A detector is a frozen dataclass: its fields are its thresholds, with defaults, and the
config overrides them under `detectors: {<key>: {<field>: value}}`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np
import pandas as pd

from ..attribution import Expected
from ..data import Schema
from ..golden import GoldenResult
from ..profile import CategoricalReference, FeatureProfile, NumericReference
from ..scoring import Scored
from ..types import Finding

#: fewer current rows than this and distribution checks report "insufficient data" instead of guessing
MIN_ROWS = 30


@dataclass
class Context:
    schema: Schema
    references: dict[str, NumericReference | CategoricalReference]
    profiles: dict[str, FeatureProfile]
    window_labels: tuple[str, ...]
    #: bounded samples of rows: reference (for novelty), current (with a `_window` column)
    reference_sample: pd.DataFrame
    current_sample: pd.DataFrame
    #: labelled current rows scored by the model (repaired after stage 1); None without labels
    scored: Scored | None
    golden_scored: Scored
    golden: GoldenResult | None
    #: per current-sample row (same index), its training-view twin: columns f + "__training"
    training_pairs: pd.DataFrame | None
    #: how serving rows were paired with the training view (entity, or entity and time)
    training_join: str
    #: reference value to impute per feature (median / most frequent)
    fill: dict[str, object]
    n_current: int
    #: the labels the model was trained on (reference target column)
    reference_labels: np.ndarray
    #: the model's predictions on every current-sample row, labelled or not (repaired after stage 1)
    current_predictions: np.ndarray | None = None
    #: their class probabilities (columns in the model's class order), when the model gives them
    current_proba: np.ndarray | None = None
    #: what the golden set predicts for today's labelled inputs, and how (set before feature drift runs)
    expected: Expected | None = None
    #: current-sample rows whose value a lossy stage-1 fault took (missing, stuck, coarsened)
    lossy_rows: pd.Index = field(default_factory=lambda: pd.Index([]))
    #: current-sample rows far from every training row, once label bias found such rows risen
    novel_rows: pd.Index = field(default_factory=lambda: pd.Index([]))
    seed: int = 0
    #: feature -> cause that already explains it (filled after stage 1)
    explained: dict[str, str] = field(default_factory=dict)
    #: the scores as served, before any stage-1 repair (production metrics use these)
    scored_raw: Scored | None = None
    #: findings of earlier detectors, for detectors that refine them
    findings: list[Finding] = field(default_factory=list)
    #: what could not be checked and why
    not_checked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.scored_raw is None:
            self.scored_raw = self.scored

    @property
    def has_time(self) -> bool:
        return len(self.window_labels) > 1

    def unexplained(self, features: tuple[str, ...] | None = None) -> list[str]:
        skipped = {f for f, _ in self.schema.skipped}
        return [f for f in (features or self.schema.features)
                if f not in self.explained and f not in skipped and f in self.references]


@dataclass(frozen=True)
class Detector(ABC):
    """One cause, one file. Subclasses set `cause`, `stage` and `key` and implement `detect`."""

    cause: ClassVar[str]
    stage: ClassVar[int]
    #: where its thresholds live under `detectors:` in the config
    key: ClassVar[str]

    @abstractmethod
    def detect(self, ctx: Context) -> list[Finding]:
        """Findings for this cause; an empty list when the data shows nothing past threshold."""

    @classmethod
    def parameters(cls) -> dict[str, float | int]:
        """Each threshold and its default."""
        return {f.name: f.default for f in fields(cls)}


def rng(ctx: Context, salt: int) -> np.random.Generator:
    return np.random.default_rng([ctx.seed, salt])
