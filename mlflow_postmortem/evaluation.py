"""Model versions scored side by side: the golden set, the newest labelled production rows, and
slices of both, with the same metric keys for every version so MLflow's compare view lines them up.

Slices are fixed before any version is scored (the config's `slices:` plus the worst slices of
the version under review), so a slice means the same rows for every version.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import numpy as np
import pandas as pd

from .data import Schema
from .errors import DataError
from .scoring import Scored, metrics, primary_metric, score

#: categories scored per feature (the most common in the reference); the rest are not sliced
MAX_CATEGORIES = 20
#: a slice smaller than this many rows (or this share of the rows) is too noisy to rank
MIN_SLICE_ROWS, MIN_SLICE_SHARE = 30, 0.02
#: worst slices found automatically, beside the configured ones
WORST_SLICES = 3


@dataclass(frozen=True)
class Slice:
    """Rows of one feature's value (a category) or quartile (a number, cut at the reference's quartiles)."""

    feature: str
    #: "month-to-month", or "q2" for the second quartile
    value: str
    #: the quartile's bounds, [low, high)
    low: float | None = None
    high: float | None = None

    @property
    def key(self) -> str:
        return f"{self.feature}:{self.value}"

    @property
    def description(self) -> str:
        if self.low is None and self.high is None:
            return f"{self.feature} = {self.value}"
        low = "-inf" if self.low is None else f"{self.low:.4g}"
        high = "inf" if self.high is None else f"{self.high:.4g}"
        return f"{self.feature} in [{low}, {high})"

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        col = frame[self.feature]
        if self.low is None and self.high is None:
            return (col.astype(str) == self.value).to_numpy() & col.notna().to_numpy()
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        return (values >= low) & (values < high)


@dataclass(frozen=True)
class VersionScores:
    """One version's metrics on each set; `golden` and `recent` map metric keys to values
    (`accuracy`, `slice.contract:month-to-month.accuracy`, ...)."""

    version: str
    golden: dict[str, float]
    recent: dict[str, float]


def slices_of(reference: pd.DataFrame, schema: Schema, features: tuple[str, ...]) -> list[Slice]:
    """Every slice of the named features: each common category, or each quartile of a number."""
    out: list[Slice] = []
    for feature in features:
        if feature not in reference.columns:
            raise DataError(f"slices: {feature!r} is not a column of the reference data "
                            f"(columns: {', '.join(map(str, reference.columns[:20]))})")
        col = reference[feature].dropna()
        if feature in schema.numeric:
            cuts = sorted(set(np.quantile(col.to_numpy(dtype=float), [0.25, 0.5, 0.75]).tolist())) if len(col) else []
            bounds = [None, *cuts, None]
            out += [Slice(feature, f"q{i + 1}", bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
        else:
            out += [Slice(feature, str(v)) for v in col.astype(str).value_counts().index[:MAX_CATEGORIES]]
    return out


def worst_slices(scored: Scored, candidates: list[Slice], task: str, k: int = WORST_SLICES) -> list[Slice]:
    """The `k` slices where the primary metric is worst, among those with enough rows to mean it."""
    name, higher = primary_metric(task)
    floor = max(MIN_SLICE_ROWS, MIN_SLICE_SHARE * len(scored.y))
    ranked = []
    for s in candidates:
        mask = s.mask(scored.frame)
        if mask.sum() >= floor:
            value = metrics(task, scored.y[mask], scored.pred[mask])[name]
            ranked.append((value if higher else -value, s.key, s))
    return [s for *_, s in sorted(ranked, key=lambda r: r[:2])[:k]]


def version_scores(version: str, model, golden: pd.DataFrame, recent: pd.DataFrame, schema: Schema,
                   fill: dict[str, object], slices: list[Slice]) -> VersionScores:
    """The version on both sets, whole and per slice; a set without labelled rows scores nothing."""
    return VersionScores(version, _set_metrics(model, golden, schema, fill, slices),
                         _set_metrics(model, recent, schema, fill, slices))


def scored_for_ranking(model, golden: pd.DataFrame, recent: pd.DataFrame, schema: Schema,
                       fill: dict[str, object]) -> Scored:
    """The rows worst slices are ranked on: recent labelled production rows, the golden set when there are none."""
    return score(model, recent if _labelled(recent, schema) else golden, schema, fill)


def _labelled(frame: pd.DataFrame, schema: Schema) -> bool:
    return schema.target in frame.columns and bool(frame[schema.target].notna().any())


def _set_metrics(model, frame: pd.DataFrame, schema: Schema, fill: dict[str, object],
                 slices: list[Slice]) -> dict[str, float]:
    if not _labelled(frame, schema):
        return {}
    scored, task = score(model, frame, schema, fill), schema.task
    out = {"rows": float(len(scored.y)), **metrics(task, scored.y, scored.pred, scored.proba, scored.classes)}
    for s in slices:
        mask = s.mask(scored.frame)
        out[f"slice.{s.key}.rows"] = float(mask.sum())
        if mask.any():
            out.update({f"slice.{s.key}.{k}": v for k, v in metrics(task, scored.y[mask], scored.pred[mask]).items()})
    return out
