"""Training-serving skew: serving computes a feature differently from the training pipeline.

With a training view, each serving row is compared with the training pipeline's value for the
same entity at that time (the view's row at or before the serving time, when the view has the
timestamp column). Without one, the best available sign is a change specific to a pipeline
difference (a unit, a normalisation, a new grid: what recalibration recognises) that is there
from the first window and stays flat: reported with a lower score, since a recalibration that
predates the log looks the same. Or, in time order, a value that lines up with the previous
row's other features rather than its own: served from the previous event (a lagged value).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import stats
from ..data import Inputs
from ..evidence import Lagged, Mismatch
from ..evidence import SkewWithoutView as NoViewEvidence
from ..types import Finding
from .base import Context, Detector

TRAINING_SUFFIX = "__training"
#: differing rows that all hold one value on each side, at least this many, are two defaults
MIN_FILLED_ROWS = 10


@dataclass(frozen=True)
class Skew(Detector):
    cause = "training_serving_skew"
    stage = 1
    key = "training_serving_skew"

    #: share of paired rows whose serving value differs from training
    min_mismatch: float = 0.02

    def detect(self, ctx: Context) -> list[Finding]:
        """Serving vs training values of the same entities; needs a training view."""
        pairs = ctx.training_pairs
        if pairs is None:
            return []
        findings = []
        for name in ctx.unexplained():
            if name + TRAINING_SUFFIX not in pairs.columns:
                continue
            serving, training = ctx.current_sample.loc[pairs.index, name], pairs[name + TRAINING_SUFFIX]
            differs = _differs(serving, training)
            share = float(differs.mean()) if len(differs) else 0.0
            if share < self.min_mismatch:
                continue
            evidence = Mismatch(int(len(pairs)), share, ctx.training_join, **_describe(serving[differs], training[differs]))
            onset = None
            if ctx.has_time:
                windows = ctx.current_sample.loc[pairs.index, "_window"].to_numpy()
                per_window = pd.Series(differs.to_numpy()).groupby(windows).mean()
                onset = stats.onset(per_window.reindex(range(len(ctx.window_labels)), fill_value=0).tolist(),
                                    self.min_mismatch, ctx.window_labels)
            strength = share / self.min_mismatch
            findings.append(Finding(self.cause, name, strength, stats.strength_score(strength), evidence, onset))
        return findings


@dataclass(frozen=True)
class SkewWithoutView(Detector):
    """Without a training view: a specific redefinition present in every window, flat."""

    cause = "training_serving_skew"
    stage = 1
    key = "training_serving_skew"

    #: score discount when there is no training view to pair rows with
    no_view_factor: float = 0.6
    #: lagged values: the other features must predict the feature this well on the reference (r) ...
    lag_min_own_row: float = 0.3
    #: ... and the previous row must line up better than its mirror at this level (Bonferroni across
    #: features), by at least this share of the reference's own-row correlation (about the share served late)
    lag_level: float = 0.001
    lag_min_share: float = 0.25

    def detect(self, ctx: Context) -> list[Finding]:
        if ctx.training_pairs is not None:
            return []
        findings = self._lagged(ctx)
        for f in ctx.findings:
            if f.cause != "feature_recalibration" or f.onset is None or f.onset.pattern != "from_start":
                continue
            if not hasattr(f.evidence, "shape_tv_after_inverse"):
                continue  # permuted codes from the first row on are an encoding, not a pipeline difference
            findings.append(replace(f, cause=self.cause, score=stats.strength_score(f.strength, self.no_view_factor),
                                    evidence=NoViewEvidence(f.evidence)))
        return findings


    def _lagged(self, ctx: Context) -> list[Finding]:
        """Numeric features served from the previous event: each row's value lines up with the
        previous row's other features rather than its own (see `Lagged`). Needs the log's rows
        consecutive in time: the whole log in the sample, in time order."""
        rows = ctx.current_sample
        numeric = [f for f in ctx.schema.numeric if f in rows.columns and f in ctx.references]
        if not ctx.has_time or len(rows) < ctx.n_current or len(rows) < 200 or len(numeric) < 2:
            return []
        findings = []
        for name in ctx.unexplained(tuple(numeric)):
            others = [f for f in numeric if f != name]
            fit = _linear_fit(ctx.reference_sample, name, others)
            if fit is None or fit[1] < self.lag_min_own_row:
                continue
            x = rows[name].to_numpy(float)
            guess = fit[0](rows)
            own, previous, mirrored = _corr(x, guess), _corr(x[1:], guess[:-1]), _corr(x[:-1], guess[1:])
            n = int(np.isfinite(x).sum())
            # Fisher z of the two lag-one correlations: their difference has variance about 2 / (n - 3),
            # less when they co-vary (then the test is conservative)
            z = (np.arctanh(np.clip(previous, -0.999, 0.999)) - np.arctanh(np.clip(mirrored, -0.999, 0.999))) \
                * np.sqrt(max(n - 3, 1) / 2)
            p = float(sps.norm.sf(z))
            effect = (previous - mirrored) / fit[1]  # about the share of rows served late
            if p * len(numeric) > self.lag_level or effect < self.lag_min_share:
                continue
            strength = effect / self.lag_min_share
            findings.append(Finding(self.cause, name, strength, stats.strength_score(strength, self.no_view_factor),
                                    Lagged(own, previous, mirrored, fit[1], p, n)))
        return findings


def _linear_fit(reference: pd.DataFrame, name: str, others: list[str]):
    """Least squares of the feature on the others (missing values at their mean): a predictor
    for any frame, and its correlation with the feature on the reference; None when unusable."""
    frame = reference[[name, *others]].astype(float)
    y = frame[name].to_numpy()
    keep = np.isfinite(y)
    if keep.sum() < 50:
        return None
    mean, sd = frame[others].mean(), frame[others].std().replace(0, 1.0).fillna(1.0)

    def design(f: pd.DataFrame) -> np.ndarray:
        z = ((f[others].astype(float) - mean) / sd).fillna(0.0).to_numpy()
        return np.column_stack([np.ones(len(z)), z])

    coef, *_ = np.linalg.lstsq(design(frame)[keep], y[keep], rcond=None)

    def predict(f: pd.DataFrame) -> np.ndarray:
        return design(f) @ coef

    return predict, _corr(y, predict(frame))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return 0.0
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _differs(serving: pd.Series, training: pd.Series) -> pd.Series:
    s_na, t_na = serving.isna(), training.isna()
    if pd.api.types.is_numeric_dtype(serving) and pd.api.types.is_numeric_dtype(training):
        s, t = serving.to_numpy(float), training.to_numpy(float)
        with np.errstate(invalid="ignore"):
            close = np.isclose(s, t, rtol=1e-6, atol=1e-9)
        return pd.Series(~close & ~(s_na & t_na).to_numpy(), index=serving.index)
    return (serving.astype(str) != training.astype(str)) & ~(s_na & t_na)


def _describe(serving: pd.Series, training: pd.Series) -> dict:
    """How serving differs: an affine relation, rounding, missing values where training had some,
    or one default on each side."""
    out: dict = {"examples": tuple((_plain(a), _plain(b)) for a, b in list(zip(serving, training))[:3])}
    if len(serving) >= MIN_FILLED_ROWS and serving.nunique(dropna=False) == 1 and training.nunique(dropna=False) == 1:
        out["filled"] = (_plain(serving.iloc[0]), _plain(training.iloc[0]))
    if pd.api.types.is_numeric_dtype(serving) and pd.api.types.is_numeric_dtype(training):
        both = serving.notna() & training.notna()
        out["null_in_serving_only"] = int((serving.isna() & training.notna()).sum())
        s, t = serving[both].to_numpy(float), training[both].to_numpy(float)
        if len(s) >= 3 and np.ptp(t) > 0:
            a, b = np.polyfit(t, s, 1)
            out["serving_vs_training"] = {"scale": float(a), "offset": float(b),
                                          "median_abs_diff": float(np.median(np.abs(s - t)))}
    return out


def _plain(v):
    return None if pd.isna(v) else (float(v) if isinstance(v, (int, float, np.number)) else str(v))


def training_pairs(current_sample: pd.DataFrame, inputs: Inputs) -> tuple[pd.DataFrame | None, str, str | None]:
    """Each sampled serving row's twin in the training view (indexed like the sample), how they
    were joined, and a note on rows that could not be paired.

    With the config's timestamp in the view, the twin is the entity's latest view row at or
    before the serving time (point in time: a feature that legitimately changes per entity is
    not skew). Without it, an entity with several view rows is ambiguous and left unpaired.
    """
    view, key, ts = inputs.training_view, inputs.schema.entity_id, inputs.schema.timestamp
    if view is None or key is None:
        return None, "", None
    cols = [f for f in inputs.schema.features if f in view.columns]
    renamed = {f: f + TRAINING_SUFFIX for f in cols}
    serving = current_sample[[key]].assign(_row=current_sample.index)
    if ts and ts in view.columns:
        utc = {ts: lambda frame: pd.to_datetime(frame[ts], utc=True)}  # one time zone on both sides
        training = view[[key, ts, *cols]].rename(columns=renamed).assign(**utc).dropna(subset=[ts])
        training = training.sort_values(ts, kind="stable")
        serving = serving.assign(**{ts: current_sample[ts]}).assign(**utc).dropna(subset=[ts]).sort_values(ts, kind="stable")
        pairs = pd.merge_asof(serving, training.assign(_found=True), on=ts, by=key, direction="backward")
        pairs = pairs[pairs["_found"].notna()]
        unpaired = len(serving) - len(pairs)
        note = (f"training_serving_skew: {unpaired} sampled serving rows have no training-view row at or before "
                f"their time, and were not compared") if unpaired else None
        join = "entity_id and time (the view's row at or before each serving time)"
    else:
        counts = view[key].value_counts()
        ambiguous = counts[counts > 1].index
        training = view.loc[~view[key].isin(ambiguous), [key, *cols]].rename(columns=renamed)
        pairs = serving.merge(training, on=key, how="inner")
        note = (f"training_serving_skew: {len(ambiguous)} entities have several training-view rows and the view has "
                f"no {ts or 'timestamp'!r} column to pick the one in force; they were not compared"
                ) if len(ambiguous) else None
        join = "entity_id"
    return pairs.set_index("_row")[list(renamed.values())], join, note
