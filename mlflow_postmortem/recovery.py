"""Counterfactual repairs: undo a detected fault on the production rows and re-score the model.

The difference between the metric before and after is the estimated recovery: what fixing
the feature would give back. Repairs: reference imputation for unavailable values, the
inverse of a detected rescale or code permutation, and the training view's value for skew.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import transforms
from .data import Schema
from .detectors.skew import TRAINING_SUFFIX
from .evidence import CodesPermuted, Mismatch, Unusable
from .scoring import Scored, metric_value, primary_metric, score
from .types import Finding, ModelHandle, Recovery


def repair(frame: pd.DataFrame, finding: Finding, fill: dict[str, object],
           training_pairs: pd.DataFrame | None) -> tuple[pd.DataFrame, str] | None:
    """A copy of `frame` with the finding's feature repaired, and how; None when no repair applies."""
    f, ev = finding.feature, finding.evidence
    if f is None or f not in fill:
        return None
    out = frame.copy()
    if isinstance(ev, Unusable):
        if ev.problem == "absent":
            out[f] = fill[f]
            return out, f"{f} restored with the reference's typical value"
        col = out[f]
        bad = col.isna() | (np.isinf(col) if pd.api.types.is_numeric_dtype(col) else False)
        if ev.problem == "default":
            bad |= col == ev.default_value
        out.loc[bad, f] = fill[f]
        return out, f"{int(bad.sum())} unusable values of {f} imputed from the reference"
    if isinstance(ev, CodesPermuted):
        rows = _affected_rows(out, finding)
        mapping = {cur: ref for cur, ref in ev.mapping}
        out.loc[rows, f] = out.loc[rows, f].map(lambda v: mapping.get(v, v))
        if ev.share < 1:
            return out, f"{f} codes mapped back on the {int(rows.sum())} rows whose other features match the code they came from"
        return out, f"{f} codes mapped back"
    if isinstance(ev, Mismatch) and training_pairs is not None:
        truth = training_pairs[f + TRAINING_SUFFIX]
        rows = truth.index.intersection(out.index)
        out.loc[rows, f] = truth.loc[rows]
        return out, f"{f} taken from the training view for {len(rows)} rows"
    undo = transforms.inverse(ev.to_dict())
    if undo is not None:
        rows = _affected_rows(out, finding)
        with np.errstate(all="ignore"):
            out.loc[rows, f] = undo(out.loc[rows, f].to_numpy(float))
        return out, f"{f} mapped back to the model's definition ({transforms.describe(ev.to_dict())} undone)"
    return None


def _affected_rows(frame: pd.DataFrame, finding: Finding) -> pd.Series:
    """The rows the detector found changed, else rows from the onset window on (all rows when the
    change was there from the start)."""
    if finding.rows is not None:
        return pd.Series(frame.index.isin(finding.rows), index=frame.index)
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


def lossy(finding: Finding) -> bool:
    """A fault no repair of the served values can undo: values that are missing, or coarsened
    onto a grid (a repair can only value them, not restore them)."""
    ev = finding.evidence
    change = getattr(ev, "change", ev)
    return (isinstance(ev, Unusable) or getattr(ev, "filled", None) is not None
            or str(getattr(change, "transform", "")).startswith("grid_"))


def touched(frame: pd.DataFrame, finding: Finding) -> pd.Series:
    """Rows a lossy fault left without their true value: missing, stuck on the default, or on the grid."""
    ev, f = finding.evidence, finding.feature
    if isinstance(ev, Unusable):
        if ev.problem == "absent" or f not in frame.columns:
            return pd.Series(True, index=frame.index)
        col = frame[f]
        bad = col.isna() | (np.isinf(col) if pd.api.types.is_numeric_dtype(col) else False)
        return bad | (col == ev.default_value) if ev.problem == "default" else bad
    if getattr(ev, "filled", None) is not None:  # serving's default marks the rows whose value is missing upstream
        value = ev.filled[0]
        if value is None:
            return frame[f].isna()
        if isinstance(value, float):
            return pd.Series(np.isclose(pd.to_numeric(frame[f], errors="coerce").to_numpy(float), value), index=frame.index)
        return frame[f].astype(str) == value
    return _affected_rows(frame, finding)


def degrade(golden: pd.DataFrame, finding: Finding, fill: dict[str, object], current: pd.DataFrame,
            seed: int) -> pd.DataFrame:
    """Golden rows with a lossy fault applied as production has it (missing values imputed, as
    the repaired production rows are; coarsened values on the same grid), at its rate: scored,
    they tell what the fault costs on rows where the truth is known."""
    out = golden.copy()
    rng = np.random.default_rng([seed, 41])
    ev, f = finding.evidence, finding.feature
    if f not in fill or f not in out.columns:
        return out
    if isinstance(ev, Unusable):
        share = 1.0 if ev.problem == "absent" else ev.share_rise / max(1 - ev.reference_share, 1e-9)
        out.loc[rng.random(len(out)) < min(max(share, 0.0), 1.0), f] = fill[f]
        return out
    if getattr(ev, "filled", None) is not None:  # repaired, those rows hold training's default
        out.loc[rng.random(len(out)) < ev.mismatch_share, f] = ev.filled[1]
        return out
    as_json = ev.to_dict()
    there, back = transforms.forward(as_json), transforms.inverse(as_json)
    rows = rng.random(len(out)) < float(_affected_rows(current, finding).mean())
    with np.errstate(all="ignore"):
        out.loc[rows, f] = back(there(out.loc[rows, f].to_numpy(float)))
    return out


def golden_cost(model: ModelHandle, golden: Scored, degraded: pd.DataFrame, served: Scored, finding: Finding,
                schema: Schema, fill: dict[str, object]) -> Recovery:
    """What fixing a lossy fault would give back: its cost on the golden rows (intact against as
    broken as in production), added to the production metric as served."""
    name, higher = primary_metric(schema.task)
    intact = metric_value(schema.task, name, golden.y, golden.pred)
    broken = score(model, degraded, schema, fill)
    lost = intact - metric_value(schema.task, name, broken.y, broken.pred)
    before = metric_value(schema.task, name, served.y, served.pred)
    missing = isinstance(finding.evidence, Unusable) or getattr(finding.evidence, "filled", None) is not None
    what = "missing values" if missing else "coarsened values"
    return Recovery(name, before, before + lost, f"{finding.feature} restored: its {what} cost {abs(lost):.4g} "
                    f"{name} on the golden rows at the production rate", len(served.y))
