"""Fault injectors, one per root cause. Each takes a Drill and returns a new one.

Rows a fault touches follow the onset (see `base.affected_rows`): `step` from the middle of
the production period on, `ramp` with a probability rising linearly in time, `from_start` all
along; `share` caps the probability. Golden and reference are never touched: they are what
the model was trained and validated on. A training view, where the drill has one, changes with
serving unless the fault is a training/serving disagreement.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..errors import DataError
from . import models as _models
from .base import Drill, Models, affected_rows, split_dataset, time_position, training_view_of

NUMERIC_VARIANTS = {
    "data_drift": ("shift", "beyond_range", "spread"),
    "feature_recalibration": ("scale", "c_to_f", "log", "log10", "bucket", "coarse_grid"),
    "feature_unavailability": ("nulls", "default_zero", "default_minus_one", "default_mean", "stale", "dropped"),
    "training_serving_skew": ("affine", "round", "truncate", "null_fill", "decimals", "lagged"),
    "prediction_label_bias": ("out_of_range",),
}
CATEGORICAL_VARIANTS = {
    "data_drift": ("scores", "rarest"),
    "feature_recalibration": ("permute",),
    "feature_unavailability": ("nulls", "default_mode", "stale", "dropped"),
    "prediction_label_bias": ("unseen_category",),
}


def _rng(drill: Drill, seed: int | None, salt: int) -> np.random.Generator:
    return np.random.default_rng([drill.seed if seed is None else seed, salt])


def _kind(drill: Drill, feature: str) -> str:
    if feature in drill.numeric:
        return "numeric"
    if feature in drill.categorical:
        return "categorical"
    raise DataError(f"drill {drill.dataset!r}: unknown feature {feature!r} (features: {', '.join(drill.features)})")


def _variant(drill: Drill, cause: str, feature: str, variant: str | None) -> str:
    kind = _kind(drill, feature)
    known = (NUMERIC_VARIANTS if kind == "numeric" else CATEGORICAL_VARIANTS).get(cause, ())
    if variant is None and known:
        return known[0]
    if variant not in known:
        raise DataError(f"{cause} variant {variant!r} does not apply to {kind} feature {feature!r} "
                        f"(known: {', '.join(known) or 'none'})")
    return variant


def _mask(drill: Drill, onset: str, share: float, rng: np.random.Generator) -> np.ndarray:
    return affected_rows(time_position(drill.frames.current, drill.timestamp), onset, share, rng)


def _mirror(drill: Drill, current: pd.DataFrame, feature: str, view: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """The training view (the drill's, or `view`) after serving changed `feature` in the same way."""
    view = drill.frames.training_view if view is None else view
    if view is None:
        return None
    if feature not in current.columns:
        return view.drop(columns=[feature], errors="ignore")
    values = current.set_index(drill.entity_id)[feature]
    return view.assign(**{feature: view[drill.entity_id].map(values).to_numpy()})


def _put(x: pd.Series, mask: np.ndarray, value: Any) -> pd.Series:
    """x with `value` (a scalar or an aligned Series) on masked rows, in the narrowest dtype.

    Integer codes stay integers unless NaN comes in; strings keep the column object.
    """
    new = value.to_numpy(dtype=object) if isinstance(value, pd.Series) else np.full(len(x), value, dtype=object)
    out = x.to_numpy(dtype=object).copy()
    out[mask] = new[mask]
    result = pd.Series(out, index=x.index, name=x.name)
    if pd.api.types.is_numeric_dtype(x):
        try:
            return pd.to_numeric(result)
        except (TypeError, ValueError):
            pass
    return result.infer_objects()


def _changed(before: pd.Series, after: pd.Series) -> int:
    """Rows whose value the fault actually changed: rounding an integer feature changes none, and
    a drill whose fault left the data as it was asks the diagnosis for something that is not there."""
    a, b = before.reset_index(drop=True), after.reset_index(drop=True)
    same = (a == b) | (a.isna() & b.isna())
    return int((~same).sum())


def _reference_stats(drill: Drill, feature: str) -> tuple[float, float]:
    col = drill.frames.reference[feature].astype(float)
    sd = float(col.std())
    return float(col.mean()), sd if sd > 0 else 1.0


def _normal_scores(reference: pd.Series, values: pd.Series) -> np.ndarray:
    """Each value's place in the reference as a standard normal quantile (mid-rank for ties, 0
    for a missing value). A tilt exp(m * z) then moves any feature by about m of its spreads:
    with (x - mean) / sd, one huge value in a heavy tail (medical costs) shrinks every other z
    to nothing and the "drift" changes no row."""
    ref = np.sort(reference.dropna().to_numpy(float))
    v = values.to_numpy(float)
    u = (np.searchsorted(ref, v, "left") + np.searchsorted(ref, v, "right")) / (2 * len(ref))
    z = sps.norm.ppf(np.clip(u, 0.5 / len(ref), 1 - 0.5 / len(ref)))
    return np.where(np.isnan(v), 0.0, z)


# --- the eight causes ---------------------------------------------------------------------

def healthy(drill: Drill, **_: Any) -> Drill:
    """Nothing injected: current stays a random sample of the reference's distribution."""
    return drill.with_fault(cause="healthy", variant="none", magnitude=0.0, onset="from_start", share=0.0)


_DEGRADED: dict[tuple, tuple[Any, Any]] = {}


def model_regression(drill: Drill, *, variant: str = "label_noise", magnitude: float = 0.4,
                     feature: str | None = None, seed: int | None = None) -> Drill:
    """Data untouched; the version under review is a bad retrain, the baseline the good model.

    Variants and magnitude: label_noise (share of training labels corrupted, 0.3-0.45),
    small_subset (share of training rows kept, e.g. 0.02), feature_constant (the feature, by
    default the most important one, filled by a constant in training; magnitude unused).
    """
    if drill.source is None:
        raise DataError(f"drill {drill.name!r} has no source dataset to retrain on")
    split_seed = int(drill.info.get("split_seed", 0))
    split = split_dataset(drill.source, seed=split_seed)
    if variant == "feature_constant" and feature is None:
        feature = _models.most_important_feature(drill.source, split.model, split.golden, seed=split_seed)
    key = (id(drill.source), split_seed, variant, float(magnitude), feature, seed)
    if key not in _DEGRADED:
        degraded = _models.degraded_fit(drill.source, split.reference, variant=variant, magnitude=magnitude,
                                        feature=feature, seed=drill.seed if seed is None else seed)
        _DEGRADED[key] = (drill.source, degraded)
    degraded = _DEGRADED[key][1]
    name = drill.models.model.name
    models = Models(_models.make_handle(degraded, name, "2", features=drill.features),
                    _models.make_handle(split.model, name, "1", features=drill.features))
    golden = drill.frames.golden
    info = {"golden_good": _score(drill, split.model, golden), "golden_degraded": _score(drill, degraded, golden)}
    # the fault is the model, not a feature of the data: the verdict is not asked to name one
    info["feature_ignored_in_training"] = feature
    return drill.with_fault(cause="model_regression", variant=variant, magnitude=magnitude, onset="from_start",
                            share=1.0, models=models, info=info)


def _score(drill: Drill, estimator: Any, frame: pd.DataFrame) -> float:
    """Accuracy (classification) or RMSE (regression): how bad the retrain is, for the record."""
    pred = estimator.predict(frame[list(drill.features)])
    y = frame[drill.target].to_numpy()
    if drill.task == "classification":
        return round(float(np.mean(pred == y)), 4)
    return round(float(np.sqrt(np.mean((pred - y) ** 2))), 4)


def data_drift(drill: Drill, *, feature: str | None = None, variant: str | None = None, magnitude: float = 1.0,
               onset: str = "ramp", share: float = 1.0, labelled: bool = True, seed: int | None = None) -> Drill:
    """Covariate shift of real rows, P(y|x) intact: affected rows are replaced by real rows of the
    production pool drawn with weights that favour some values of the feature.

    Variants: shift (weights exp(magnitude * z), z the value's normal score in the reference, so
    a magnitude is about that many spreads on any shape), spread (exp(magnitude * |z|): heavier
    tails, a wider distribution), beyond_range (shift, but drawing from the whole pool, so the
    tail reaches past what the reference saw), scores (categorical: exp(magnitude * score) with
    category scores spread over [-1, 1]), rarest (categorical: the reference's rarest category
    weighted exp(magnitude * 2), so it grows steadily with a ramp). Except for beyond_range the
    pool is restricted to rows inside the reference's range on every feature (and its 1%-99%
    quantiles on the drifted one), so nothing is novel. Variant prior_shift (no feature): see
    `prior_shift`.
    """
    if variant == "prior_shift":
        return prior_shift(drill, magnitude=magnitude, onset=onset, share=share, labelled=labelled, seed=seed)
    if feature is None:
        raise DataError(f"data_drift variant {variant or 'shift'!r} needs a feature")
    kind = _kind(drill, feature)
    variant = _variant(drill, "data_drift", feature, variant)
    rng = _rng(drill, seed, 3)
    reference, pool = drill.frames.reference, _pool(drill)
    inside = _inside_reference(drill, pool, numeric=variant != "beyond_range")
    if kind == "numeric":
        if variant != "beyond_range":
            lo, hi = reference[feature].quantile([0.01, 0.99])
            inside &= pool[feature].between(lo, hi).to_numpy()
        z = _normal_scores(reference[feature], pool[feature])
        score = np.abs(z) if variant == "spread" else z
    elif variant == "rarest":
        counts = reference[feature].value_counts()
        score = (pool[feature] == counts.index[-1]).to_numpy(dtype=float) * 2.0
    else:
        cats = rng.permutation(np.asarray(sorted(reference[feature].dropna().unique(), key=str), dtype=object))
        scores = dict(zip(cats, np.linspace(-1.0, 1.0, len(cats)) if len(cats) > 1 else [1.0]))
        score = pool[feature].map(scores).fillna(0.0).to_numpy(dtype=float)
    candidates = np.flatnonzero(inside)
    if len(candidates) < 30:
        raise DataError(f"data_drift on {feature!r}: only {len(candidates)} pool rows inside the reference range")
    weights = np.exp(magnitude * (score[candidates] - score[candidates].max()))
    current, k = _resampled(drill, candidates, weights, onset, share, rng)
    return drill.with_fault(cause="data_drift", feature=(feature,), variant=variant, magnitude=magnitude,
                            onset=onset, share=share, current=current,
                            training_view=_view_of(drill, current), info={"rows_affected": k})


def prior_shift(drill: Drill, *, magnitude: float = 3.0, onset: str = "ramp", share: float = 1.0,
                labelled: bool = True, seed: int | None = None) -> Drill:
    """The class balance (regression: the target's upper half) moves while P(x | y) holds.

    Affected rows are replaced by real pool rows drawn with class weights: the reference's
    minority class (or the rows above the reference's median target) weighted `magnitude`
    times. With labelled=False the labels are removed from production, so the shift must be
    estimated from the model's predictions (variant suffix `_unlabelled`). Expected verdict:
    data_drift naming the target.
    """
    rng = _rng(drill, seed, 9)
    reference, pool = drill.frames.reference, _pool(drill)
    y = pool[drill.target]
    if drill.task == "classification":
        favoured = (y == reference[drill.target].value_counts().index[-1]).to_numpy()
    else:
        favoured = (y > reference[drill.target].median()).to_numpy()
    candidates = np.flatnonzero(_inside_reference(drill, pool))
    current, k = _resampled(drill, candidates, np.where(favoured[candidates], magnitude, 1.0), onset, share, rng)
    if not labelled:
        current = current.drop(columns=[drill.target])
    return drill.with_fault(cause="data_drift", feature=(drill.target,),
                            variant="prior_shift" + ("" if labelled else "_unlabelled"), magnitude=magnitude,
                            onset=onset, share=share, current=current, training_view=_view_of(drill, current),
                            info={"rows_affected": k})


def _pool(drill: Drill) -> pd.DataFrame:
    if drill.pool is None:
        raise DataError(f"drill {drill.name!r} has no production pool to resample from")
    return drill.pool


def _inside_reference(drill: Drill, pool: pd.DataFrame, *, numeric: bool = True) -> np.ndarray:
    """Pool rows whose categories (and, with `numeric`, numeric values) the reference has seen."""
    reference = drill.frames.reference
    inside = np.ones(len(pool), dtype=bool)
    for f in drill.numeric if numeric else ():
        lo, hi = reference[f].min(), reference[f].max()
        inside &= pool[f].between(lo, hi).to_numpy() | pool[f].isna().to_numpy()
    for f in drill.categorical:
        inside &= pool[f].isin(reference[f].dropna().unique()).to_numpy()
    return inside


def _resampled(drill: Drill, candidates: np.ndarray, weights: np.ndarray, onset: str, share: float,
               rng: np.random.Generator) -> tuple[pd.DataFrame, int]:
    """Current with the rows the onset affects replaced by pool rows drawn with `weights`."""
    mask = _mask(drill, onset, share, rng)
    k = int(mask.sum())
    # real drift brings other rows, not one row many times: draw without replacement while the pool
    # has enough rows the weights reach, else with replacement and no row weighted over 10x the median
    replace = k > np.count_nonzero(weights > 1e-12 * weights.max())
    if replace:
        weights = np.minimum(weights, 10 * np.median(weights))
    picked = rng.choice(candidates, size=k, replace=replace, p=weights / weights.sum())
    current = drill.frames.current.copy()
    columns = [*drill.features, drill.target]
    current.loc[mask, columns] = drill.pool.iloc[picked][columns].to_numpy()
    return current.astype(drill.frames.current.dtypes.to_dict()), k


def _view_of(drill: Drill, current: pd.DataFrame) -> pd.DataFrame | None:
    return None if drill.frames.training_view is None else training_view_of(current, drill.features, drill.seed)


def feature_drift(drill: Drill, *, feature: str | None = None, magnitude: float = 0.5, onset: str = "step",
                  share: float = 1.0, seed: int | None = None) -> Drill:
    """The feature's relation to the target changes; P(x) stays put.

    Classification (label_flip): in the feature's upper half (numeric: above the reference
    median; categorical: a random half of the categories) labels flip to another class with
    probability `magnitude`. Regression (target_shift): y += magnitude * sd(y) * z(feature).
    Without a feature the change is global (concept drift, no feature to blame): labels flip
    with probability `magnitude` everywhere, or y += magnitude * sd(y).
    """
    rng = _rng(drill, seed, 4)
    reference = drill.frames.reference
    current = drill.frames.current.copy()
    if feature is None:  # everywhere: no feature to blame
        region, z = np.ones(len(current), dtype=bool), np.ones(len(current))
    elif _kind(drill, feature) == "numeric":
        x = current[feature]
        region = (x > reference[feature].median()).to_numpy()
        mean, sd = _reference_stats(drill, feature)
        z = ((x.astype(float) - mean) / sd).fillna(0.0).to_numpy()
    else:
        cats = rng.permutation(np.asarray(sorted(reference[feature].dropna().unique(), key=str), dtype=object))
        chosen = set(cats[: max(1, len(cats) // 2)].tolist())
        region = current[feature].isin(chosen).to_numpy()
        z = np.where(region, 1.0, -1.0)
    mask = _mask(drill, onset, share, rng)
    y = current[drill.target].to_numpy()
    prefix = "" if feature else "global_"
    if drill.task == "classification":
        flip = mask & region & (rng.random(len(current)) < magnitude)
        classes = np.asarray(sorted(reference[drill.target].unique()))
        others = np.array([rng.choice(classes[classes != v]) for v in y[flip]], dtype=classes.dtype)
        y = y.copy()
        y[flip] = others
        current[drill.target] = y
        variant, info = prefix + "label_flip", {"labels_flipped": int(flip.sum())}
    else:
        shift = magnitude * float(reference[drill.target].std()) * z
        current[drill.target] = y.astype(float) + np.where(mask, shift, 0.0)
        variant, info = prefix + "target_shift", {"rows_affected": int(mask.sum())}
    return drill.with_fault(cause="feature_drift", feature=(feature,) if feature else (), variant=variant,
                            magnitude=magnitude, onset=onset, share=share, current=current, info=info)


def feature_recalibration(drill: Drill, *, feature: str, variant: str | None = None,
                          magnitude: float = 100.0, onset: str = "step", share: float = 1.0,
                          seed: int | None = None) -> Drill:
    """A unit, scale or encoding change of the whole column, usually in one step.

    Variants: scale (x * magnitude: 100, 1000, 1/60...), c_to_f (x * 1.8 + 32), log (natural
    log, log1p where the feature reaches zero), log10, bucket (the value replaced by its bucket
    number among `magnitude` (default 10) equal-width buckets over the reference's 1%-99% range), coarse_grid
    (rounded to multiples of magnitude * sd), permute (categorical codes mapped onto each
    other). The training view gets the same change: the feature's owners changed the feature
    itself, not one pipeline.
    """
    variant = _variant(drill, "feature_recalibration", feature, variant)
    rng = _rng(drill, seed, 5)
    mask = _mask(drill, onset, share, rng)
    current = drill.frames.current.copy()
    x = current[feature]
    reference = drill.frames.reference[feature].astype(float) if variant != "permute" else None
    if variant == "scale":
        new = x.astype(float) * magnitude
    elif variant == "c_to_f":
        new, magnitude = x.astype(float) * 1.8 + 32.0, 1.8
    elif variant in ("log", "log10"):
        low = float(reference.min())
        if low <= (0 if variant == "log10" else -1):
            raise DataError(f"feature_recalibration {variant}: {feature!r} reaches {low:g}, outside the log's domain")
        log = np.log10 if variant == "log10" else (np.log if low > 0 else np.log1p)
        new, magnitude = pd.Series(log(x.astype(float).clip(lower=low)), index=x.index), 1.0
    elif variant == "bucket":
        buckets = int(magnitude) if magnitude >= 2 and magnitude != 100.0 else 10
        lo, hi = reference.quantile([0.01, 0.99])
        new = pd.Series(np.clip(np.floor((x.astype(float) - lo) / ((hi - lo) / buckets)), 0, buckets - 1), index=x.index)
        magnitude = float(buckets)
    elif variant == "coarse_grid":
        step = magnitude * float(reference.std())
        new = np.round(x.astype(float) / step) * step
    else:
        cats = list(rng.permutation(np.asarray(sorted(drill.frames.reference[feature].dropna().unique(), key=str),
                                               dtype=object)))
        if len(cats) < 2:
            raise DataError(f"feature_recalibration permute: {feature!r} has fewer than 2 categories")
        mapping = dict(zip(cats, cats[1:] + cats[:1]))
        new, magnitude = x.map(lambda v: mapping.get(v, v)), 1.0
    current[feature] = _put(x, mask, new)
    return drill.with_fault(cause="feature_recalibration", feature=(feature,), variant=variant,
                            magnitude=magnitude, onset=onset, share=share, current=current,
                            training_view=_mirror(drill, current, feature),
                            info={"rows_affected": int(mask.sum()), "values_changed": _changed(x, current[feature])})


def feature_unavailability(drill: Drill, *, feature: str, variant: str | None = None, onset: str = "step",
                           share: float = 1.0, seed: int | None = None) -> Drill:
    """The feature goes missing: nulls, a default constant, a frozen (stale) value, or no column.

    `dropped` removes the column from the whole log (onset from_start). The training view loses
    it in the same way: the feature's source is down, for training and serving alike.
    """
    variant = _variant(drill, "feature_unavailability", feature, variant)
    current = drill.frames.current.copy()
    if variant == "dropped":
        current = current.drop(columns=[feature])
        return drill.with_fault(cause="feature_unavailability", feature=(feature,), variant=variant,
                                magnitude=1.0, onset="from_start", share=1.0, current=current,
                                training_view=_mirror(drill, current, feature))
    rng = _rng(drill, seed, 6)
    mask = _mask(drill, onset, share, rng)
    x = current[feature]
    reference = drill.frames.reference[feature]
    value: Any
    if variant == "nulls":
        value = np.nan
    elif variant == "default_zero":
        value = 0.0
    elif variant == "default_minus_one":
        value = -1.0
    elif variant == "default_mean":
        value = float(reference.mean())
    elif variant == "default_mode":
        value = reference.mode().iloc[0]
    else:  # stale: the last value before the fault starts, repeated from then on
        first = int(np.argmax(mask)) if mask.any() else 0
        value = x.iloc[max(first - 1, 0)]
    current[feature] = _put(x, mask, value)
    magnitude = float(value) if isinstance(value, (int, float, np.number)) and not pd.isna(value) else 1.0
    return drill.with_fault(cause="feature_unavailability", feature=(feature,), variant=variant,
                            magnitude=magnitude, onset=onset, share=share, current=current,
                            training_view=_mirror(drill, current, feature),
                            info={"rows_affected": int(mask.sum()), "value": None if pd.isna(value) else value,
                                  "values_changed": _changed(x, current[feature])})


def training_serving_skew(drill: Drill, *, feature: str, variant: str | None = None,
                          magnitude: float | None = None, share: float = 0.5, training_view: bool = True,
                          seed: int | None = None) -> Drill:
    """Serving computes the feature differently for a share of rows, from the first window on.

    Variants: affine (serving standardises with the reference mean and sd, training does not;
    magnitude records the slope 1/sd), round / truncate (to a grid of magnitude * sd, default
    1), null_fill (the value is missing upstream: training imputes the reference mean, serving
    fills `magnitude`, default 0), decimals (serving rounds to `magnitude` decimals, default 0,
    where training keeps full precision), lagged (serving reads the entity's previous event:
    the value of the row before it in time, a lagged aggregate). The training view keeps the
    training pipeline's values; with training_view=False the drill has none (variant gets a
    `_no_view` suffix).
    """
    variant = _variant(drill, "training_serving_skew", feature, variant)
    if magnitude is None:
        magnitude = 0.0 if variant in ("null_fill", "decimals") else 1.0
    rng = _rng(drill, seed, 7)
    mask = _mask(drill, "from_start", share, rng)
    current = drill.frames.current.copy()
    x = current[feature].astype(float)
    mean, sd = _reference_stats(drill, feature)
    trained = x.copy()
    if variant == "affine":
        served, magnitude = (x - mean) / sd, 1.0 / sd
    elif variant == "round":
        served = np.round(x / (magnitude * sd)) * magnitude * sd
    elif variant == "truncate":
        served = np.floor(x / (magnitude * sd)) * magnitude * sd
    elif variant == "decimals":
        served = np.round(x, int(magnitude))
    elif variant == "lagged":
        served = x.shift(1).fillna(x)
    else:
        served, trained = pd.Series(magnitude, index=x.index), pd.Series(mean, index=x.index)
    current[feature] = np.where(mask, served, x)
    changed = _changed(x, current[feature])
    view = None
    if training_view and drill.frames.training_view is not None:
        truth = current[[drill.entity_id]].assign(**{feature: np.where(mask, trained, x)})
        view = _mirror(drill, truth, feature)
    return drill.with_fault(cause="training_serving_skew", feature=(feature,),
                            variant=variant if training_view else f"{variant}_no_view", magnitude=magnitude,
                            onset="from_start", share=share, current=current, training_view=view,
                            info={"rows_affected": int(mask.sum()), "values_changed": changed})


def prediction_label_bias(drill: Drill, *, feature: str | tuple[str, ...] | None = None,
                          variant: str | None = None, magnitude: float = 2.0, onset: str = "step",
                          share: float = 0.2, seed: int | None = None) -> Drill:
    """A share of rows are things the model never saw.

    Variants: out_of_range (one or two numeric features set to reference max + magnitude *
    IQR * U(1, 2)), unseen_category (two new categories), unseen_label (classification: the
    rows' label becomes a new class; no feature). Labels of out-of-range rows are kept.
    """
    features = (feature,) if isinstance(feature, str) else tuple(feature or ())
    if variant is None:
        variant = _variant(drill, "prediction_label_bias", features[0], None) if features else "unseen_label"
    elif variant != "unseen_label":
        for f in features or (None,):
            if f is None:
                raise DataError(f"prediction_label_bias variant {variant!r} needs a feature")
            _variant(drill, "prediction_label_bias", f, variant)
    rng = _rng(drill, seed, 8)
    mask = _mask(drill, onset, share, rng)
    current = drill.frames.current.copy()
    view = drill.frames.training_view
    if variant == "unseen_label":
        if drill.task != "classification":
            raise DataError("prediction_label_bias variant 'unseen_label' needs a classification drill")
        y = current[drill.target]
        new_class = y.max() + 1 if pd.api.types.is_numeric_dtype(y) else "unseen_class"
        current[drill.target] = y.where(~mask, new_class)
        features = ()
    elif variant == "out_of_range":
        for f in features:
            ref = drill.frames.reference[f].astype(float)
            spread = float(ref.quantile(0.75) - ref.quantile(0.25)) or float(ref.std()) or max(abs(ref.max()), 1.0)
            far = ref.max() + magnitude * spread * (1.0 + rng.random(len(current)))
            current[f] = np.where(mask, far, current[f].astype(float))
            view = _mirror(drill, current, f, view) if view is not None else None
    else:
        f = features[0]
        x = current[f]
        new = ([x.max() + 1, x.max() + 2] if pd.api.types.is_numeric_dtype(x) else [f"{f}_new_1", f"{f}_new_2"])
        picks = pd.Series(np.asarray(new, dtype=object)[rng.integers(0, 2, len(current))], index=x.index)
        current[f] = _put(x, mask, picks)
        view = _mirror(drill, current, f) if view is not None else None
    return drill.with_fault(cause="prediction_label_bias", feature=features, variant=variant, magnitude=magnitude,
                            onset=onset, share=share, current=current, training_view=view,
                            info={"rows_affected": int(mask.sum())})


#: cause id -> injector; every cause of the verdict vocabulary has one
INJECTORS: dict[str, Callable[..., Drill]] = {
    "healthy": healthy,
    "model_regression": model_regression,
    "data_drift": data_drift,
    "feature_drift": feature_drift,
    "feature_recalibration": feature_recalibration,
    "feature_unavailability": feature_unavailability,
    "training_serving_skew": training_serving_skew,
    "prediction_label_bias": prediction_label_bias,
}


def inject(drill: Drill, cause: str, **params: Any) -> Drill:
    """Apply the injector of `cause` with its keyword parameters."""
    if cause not in INJECTORS:
        raise DataError(f"unknown cause {cause!r} (known: {', '.join(INJECTORS)})")
    return INJECTORS[cause](drill, **params)


def compound(drill: Drill, first: tuple[str, dict[str, Any]], second: tuple[str, dict[str, Any]]) -> Drill:
    """Two faults at once (the second injected into the first's log): both must be named in the
    verdict's top two. Inject a fault that resamples rows (data drift) first, so the second is
    not overwritten on the rows it replaces."""
    one = inject(drill, first[0], **first[1])
    two = inject(one, second[0], **second[1])
    name = f"{drill.dataset}/compound/{one.expected_cause}+{two.expected_cause}/{one.variant}+{two.variant}/" \
           f"{'+'.join(one.feature) or '-'}+{'+'.join(two.feature) or '-'}/n{drill.n_rows}/s{drill.seed}"
    return replace(two, name=name, expected_cause=one.expected_cause, also_expected=(two.expected_cause,),
                   feature=tuple(dict.fromkeys(one.feature + two.feature)), variant=f"{one.variant}+{two.variant}")
