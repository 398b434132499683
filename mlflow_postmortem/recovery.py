"""Counterfactual repairs: undo a detected fault on the production rows and re-score the model.

The difference between the metric before and after is the estimated recovery: what fixing
the feature would give back. Repairs: reference imputation for unavailable values, the
inverse of a detected rescale or code permutation, and the training view's value for skew.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import Schema
from .scoring import Scored, metric_value, primary_metric, score
from .types import Finding, ModelHandle, Recovery

TRAINING_SUFFIX = "__training"


def repair(frame: pd.DataFrame, finding: Finding, fill: dict[str, object],
           training_pairs: pd.DataFrame | None, entity_id: str | None) -> tuple[pd.DataFrame, str] | None:
    """A copy of `frame` with the finding's feature repaired, and how; None when no repair applies."""
    f, ev = finding.feature, finding.evidence
    if f is None or f not in fill:
        return None
    out = frame.copy()
    if finding.cause == "feature_unavailability":
        if ev.get("column_absent"):
            out[f] = fill[f]
            return out, f"{f} restored with the reference's typical value"
        col = out[f]
        bad = col.isna() | (np.isinf(col) if pd.api.types.is_numeric_dtype(col) else False)
        if ev.get("kind") == "default":
            bad |= col == ev.get("default_value")
        out.loc[bad, f] = fill[f]
        return out, f"{int(bad.sum())} unusable values of {f} imputed from the reference"
    if ev.get("transform") == "affine":
        rows = _affected_rows(out, finding)
        a, b = ev["scale"], ev["offset"]
        out.loc[rows, f] = (out.loc[rows, f] - b) / a
        return out, f"{f} mapped back through the inverse rescale (x - {b:.4g}) / {a:.4g}"
    if ev.get("transform") == "codes_permuted":
        rows = _affected_rows(out, finding)
        mapping = {cur: ref for cur, ref in ev["mapping"]}
        out.loc[rows, f] = out.loc[rows, f].map(lambda v: mapping.get(v, v))
        return out, f"{f} codes mapped back by frequency rank"
    if finding.cause == "training_serving_skew" and training_pairs is not None and entity_id:
        truth = training_pairs.drop_duplicates(entity_id).set_index(entity_id)[f + TRAINING_SUFFIX]
        has = out[entity_id].isin(truth.index)
        out.loc[has, f] = out.loc[has, entity_id].map(truth)
        return out, f"{f} taken from the training view for {int(has.sum())} rows"
    return None


def _affected_rows(frame: pd.DataFrame, finding: Finding) -> pd.Series:
    """Rows from the onset window on (all rows when the change was there from the start)."""
    onset = finding.onset
    if onset is None or onset.window_index is None or onset.pattern == "from_start" or "_window" not in frame:
        return pd.Series(True, index=frame.index)
    return frame["_window"] >= onset.window_index


def estimate(model: ModelHandle, before: Scored, repaired: pd.DataFrame, how: str,
             schema: Schema, fill: dict[str, object]) -> Recovery | None:
    """Primary metric on the labelled rows as served (already scored) and after the repair."""
    if len(before.y) == 0:
        return None
    name, _ = primary_metric(schema.task)
    after = score(model, repaired, schema, fill)
    return Recovery(name, metric_value(schema.task, name, before.y, before.pred),
                    metric_value(schema.task, name, after.y, after.pred), how, len(before.y))
