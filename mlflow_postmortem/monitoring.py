"""Monitoring between post-mortems: the production log cut into calendar windows, each window
compared with the reference on its own, so a drift or a drop shows up the week it starts.

Pure: frames and model outputs in, one `WindowReport` per window out. Windows are aligned to
the Unix epoch in UTC, so every call cuts the same windows and a cron job that calls monitor
hourly can skip the windows it already recorded.

False alarms. A window of at least 200 rows flags a feature only past an effect size (debiased
total variation 0.10, debiased PSI 0.2, Kolmogorov-Smirnov D 0.1, Cramér's V 0.1: on big windows
any p-value is tiny), and for the two tests with p-values also by a Benjamini-Hochberg q <= 0.01
across the window's features. Across windows, alert rules ask for consecutive windows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats as sps
from sklearn.isotonic import IsotonicRegression

from .data import Inputs, Schema
from .detectors.served import compare
from .profile import CategoricalReference, NumericReference, numeric_reference
from .reference_profile import sample_rows
from .scoring import metrics, model_input, predict, primary_metric
from .stats import benjamini_hochberg, debiased_total_variation, merge_sparse
from .types import ModelHandle

#: the drift tests a config may choose (`monitor.test`)
TESTS = ("tv", "ks", "psi", "chi2")
#: the effect each test must reach before a feature counts as drifted
EFFECT_THRESHOLDS = {"tv": 0.10, "ks": 0.10, "psi": 0.20, "chi2": 0.10}
#: the false discovery rate across one window's features, for the tests with p-values
FDR = 0.01
#: a window with fewer rows is recorded, but flags no drift: too few rows to tell drift from noise
MIN_WINDOW_ROWS = 200
#: golden rows needed to calibrate confidences into an accuracy estimate
MIN_CALIBRATION_ROWS = 100
#: expected calibration error above which the model's own confidences are called uncalibrated
MAX_ECE = 0.05
_EVERY = re.compile(r"^([1-9][0-9]*)([hdw])$")
_EPOCH = pd.Timestamp(0, tz="UTC")
#: a missing time in integer nanoseconds (NaT's own value), and a missing time's step: below any real one
NO_TIME = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC."""

    start: pd.Timestamp
    end: pd.Timestamp


def parse_every(every: str) -> pd.Timedelta:
    """`1d`, `7d`, `30d`, `12h`, `2w`: a window length."""
    match = _EVERY.match(str(every).strip())
    if not match:
        raise ValueError(f"a window length is a whole number of h, d or w (1d, 7d, 30d), got {every!r}")
    return int(match.group(1)) * pd.Timedelta({"h": "1h", "d": "1D", "w": "7D"}[match.group(2)])


def calendar_windows(times: pd.Series, every: pd.Timedelta) -> list[Window]:
    """The windows of length `every`, aligned to the epoch, that hold at least one of `times`."""
    return [window_at(step, every) for step in _count(_steps(times, every))]


def in_window(times: pd.Series, window: Window) -> np.ndarray:
    ns = utc_nanoseconds(times)
    return (ns >= window.start.value) & (ns < window.end.value)  # NO_TIME is below every start


def utc_nanoseconds(times: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch, NaT as `NO_TIME`: integer work on millions of rows."""
    stamps = times if pd.api.types.is_datetime64_any_dtype(times) else pd.to_datetime(times, utc=True)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert(None)
    return stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _count(steps: np.ndarray) -> dict[int, int]:
    """Rows per step, steps in order (`NO_TIME` left out): a count over the few steps a log spans,
    not a sort of its millions of rows."""
    steps = steps[steps != NO_TIME]
    if not len(steps):
        return {}
    low = int(steps.min())
    counts = np.bincount(steps - low)
    return {low + int(i): int(counts[i]) for i in np.flatnonzero(counts)}


def _steps(times: pd.Series, every: pd.Timedelta) -> np.ndarray:
    """Each time's window number (`step_of`), `NO_TIME` for a missing time."""
    ns = utc_nanoseconds(times)
    return np.where(ns == NO_TIME, NO_TIME, np.floor_divide(ns, every.value))


def step_of(window: Window, every: pd.Timedelta) -> int:
    """The window's number since the epoch: the same window has the same step on every call."""
    return int((window.start - _EPOCH) // every)


def window_at(step: int, every: pd.Timedelta) -> Window:
    return Window(_EPOCH + step * every, _EPOCH + (step + 1) * every)


def labelled_per_step(times: pd.Series, labelled: np.ndarray, every: pd.Timedelta) -> dict[int, int]:
    """Labelled rows per window (by step), in one pass over the log: how late labels are noticed."""
    return _count(np.where(np.asarray(labelled, bool), _steps(times, every), NO_TIME))


def label_rows(log: pd.DataFrame, *, entity_id: str | None, target: str, features: tuple[str, ...]) -> np.ndarray:
    """Rows that are labels, not predictions: an `entity_id` and a target, no feature value (a label
    file's row, landed in the same log)."""
    present = [f for f in features if f in log.columns]
    if not entity_id or target not in log.columns or entity_id not in log.columns or not present:
        return np.zeros(len(log), dtype=bool)
    return log[present].isna().all(axis=1).to_numpy() & log[target].notna().to_numpy()


def latest_labels(labels: pd.DataFrame, entity_id: str, target: str) -> pd.Series:
    """Each entity's latest label (the last in log order), from label rows."""
    labels = labels.loc[labels[entity_id].notna(), [entity_id, target]]
    return labels.drop_duplicates(entity_id, keep="last").set_index(entity_id)[target]


def join_late_labels(log: pd.DataFrame, *, entity_id: str | None, target: str, features: tuple[str, ...],
                     labels: pd.Series | None = None) -> pd.DataFrame:
    """The production rows, each still without a target given the label that arrived later for its
    entity; label rows (`label_rows`) are no predictions, so they are dropped. The latest label of
    an entity wins, and every unlabelled row of that entity takes it (`entity_id` names what one
    label is for). `labels`: entity -> label from the whole log, when `log` is only part of it."""
    mask = label_rows(log, entity_id=entity_id, target=target, features=features)
    if labels is None:
        if not mask.any():
            return log
        labels = latest_labels(log[mask], entity_id, target)
    if not entity_id or entity_id not in log.columns or labels.empty:
        return log[~mask].reset_index(drop=True) if mask.any() else log
    rows = log.loc[~mask].reset_index(drop=True)
    late = rows[entity_id].map(labels).where(rows[target].isna())
    return rows.assign(**{target: rows[target].where(late.isna(), late)})


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    test: str
    #: debiased TV, KS D, PSI or Cramér's V
    effect: float
    #: Benjamini-Hochberg q across the window's features (ks, chi2); None for tv and psi
    q_value: float | None
    drifted: bool


def feature_drift(test: str, references: dict[str, NumericReference | CategoricalReference],
                  reference: pd.DataFrame, window: pd.DataFrame) -> list[FeatureDrift]:
    """Each feature of one window against the reference, by `test`; KS on a categorical feature is chi2."""
    if test not in TESTS:
        raise ValueError(f"unknown drift test {test!r} (known: {', '.join(TESTS)})")
    effects, pvalues, tests = {}, {}, {}
    for name, ref in references.items():
        numeric = isinstance(ref, NumericReference)
        used = "chi2" if test == "ks" and not numeric else test
        ref_counts, cur_counts = _reference_counts(ref), _counts(ref, window[name])
        if used == "tv":
            effects[name] = debiased_total_variation(ref_counts, cur_counts)
        elif used == "psi":
            effects[name] = population_stability(ref_counts, cur_counts)
        elif used == "ks":
            a, b = _missing_lowest(reference[name]), _missing_lowest(window[name])
            result = sps.ks_2samp(a, b) if len(a) and len(b) else None
            effects[name], pvalues[name] = (float(result.statistic), float(result.pvalue)) if result else (np.nan, 1.0)
        else:
            effects[name], pvalues[name] = cramers_v(ref_counts, cur_counts)
        tests[name] = used
    qs = dict(zip(pvalues, benjamini_hochberg(list(pvalues.values()))))
    out = []
    for name, effect in effects.items():
        q = qs.get(name)
        big = bool(np.isfinite(effect) and effect >= EFFECT_THRESHOLDS[tests[name]] and len(window) >= MIN_WINDOW_ROWS)
        out.append(FeatureDrift(name, tests[name], float(effect), q, big and (q is None or q <= FDR)))
    return out


def population_stability(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """PSI on the reference's bins, less what two samples of these sizes from one distribution show
    ((bins - 1)(1/n + 1/m), PSI being a symmetric chi-square divergence): raw PSI of a 100-row window
    on 20 bins is about 0.2 with nothing changed. Shares are smoothed (half a row per bin), so a bin
    a small window happens to miss weighs what it is worth, not log(0)."""
    used = (p_counts + q_counts) > 0
    a, b = np.asarray(p_counts, float)[used], np.asarray(q_counts, float)[used]
    n, m, k = a.sum(), b.sum(), len(a)
    if n == 0 or m == 0:
        return float("nan")
    p, q = (a + 0.5) / (n + 0.5 * k), (b + 0.5) / (m + 0.5 * k)
    return float(max(0.0, np.sum((q - p) * np.log(q / p)) - (k - 1) * (1 / n + 1 / m)))


def cramers_v(p_counts: np.ndarray, q_counts: np.ndarray) -> tuple[float, float]:
    """Cramér's V of reference against window over the bins (sparse bins pooled) and the chi-square p-value."""
    p, q = merge_sparse(p_counts, q_counts)
    keep = (p + q) > 0
    if keep.sum() < 2 or p.sum() == 0 or q.sum() == 0:
        return 0.0, 1.0
    table = np.vstack([p[keep], q[keep]])
    chi2, pvalue = sps.chi2_contingency(table, correction=False)[:2]
    return float(np.sqrt(chi2 / table.sum())), float(pvalue)


def _counts(ref: NumericReference | CategoricalReference, values: pd.Series) -> np.ndarray:
    """Counts on the reference's bins, then the values missing (or infinite): a feature that stops
    arriving has moved as surely as one that shifts."""
    if isinstance(ref, NumericReference):
        array = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        usable = np.isfinite(array)
        return np.append(ref.bin_counts(array[usable]), np.count_nonzero(~usable)).astype(float)
    codes = ref.codes(values)
    present = codes[codes != -2]
    counts = np.bincount(np.where(present >= 0, present, ref.other_slot + 1), minlength=ref.other_slot + 2)
    return np.append(counts, len(codes) - len(present)).astype(float)


def _reference_counts(ref: NumericReference | CategoricalReference) -> np.ndarray:
    """`_counts` of the reference itself, read off its profile."""
    return np.append(ref.summary.counts, ref.summary.n_null + getattr(ref.summary, "n_inf", 0)).astype(float)


def _missing_lowest(values: pd.Series) -> np.ndarray:
    """The values for KS, a missing (or infinite) one as a value below all others: its share moves the
    distribution function from the bottom up, as any other mass would."""
    array = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(array), array, -np.inf)


@dataclass(frozen=True)
class ConfidenceEstimate:
    """Accuracy without labels: the model's confidence in each prediction, mapped to how often
    predictions that confident were right on the golden set (isotonic regression), averaged.

    Valid while the relation between inputs and label holds (no concept drift); it says nothing
    about a change only labels can show, which is why realised accuracy is logged beside it."""

    calibrator: IsotonicRegression | None
    #: expected calibration error of the raw confidences on the golden set (10 equal-count bins)
    ece: float
    golden_rows: int

    @property
    def available(self) -> bool:
        return self.calibrator is not None

    @property
    def note(self) -> str:
        if not self.available:
            return (f"no label-free estimate: {self.golden_rows} golden rows, at least {MIN_CALIBRATION_ROWS} "
                    "are needed to calibrate the model's confidences")
        state = "calibrated" if self.ece <= MAX_ECE else f"not calibrated (ECE {self.ece:.3f} > {MAX_ECE})"
        return (f"label-free accuracy from confidences recalibrated on {self.golden_rows} golden rows; "
                f"the model's own probabilities are {state}")

    def estimate(self, proba: np.ndarray) -> float | None:
        if self.calibrator is None or len(proba) == 0:
            return None
        return float(np.mean(self.calibrator.predict(proba.max(axis=1))))


def fit_confidence(proba: np.ndarray, correct: np.ndarray) -> ConfidenceEstimate:
    """Fit the confidence-to-accuracy map on golden rows (`proba`: class probabilities per row)."""
    n = len(correct)
    if n < MIN_CALIBRATION_ROWS:
        return ConfidenceEstimate(None, float("nan"), n)
    confidence = proba.max(axis=1)
    calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(confidence, correct.astype(float))
    return ConfidenceEstimate(calibrator, expected_calibration_error(confidence, correct), n)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Row-weighted mean |accuracy - confidence| over equal-count confidence bins."""
    order = np.argsort(confidence, kind="stable")
    gaps = [abs(correct[part].mean() - confidence[part].mean()) * len(part)
            for part in np.array_split(order, bins) if len(part)]
    return float(sum(gaps) / len(confidence))


#: labelled rows of a window: the figure late labels update
LABELLED_METRIC = "monitor.labelled"


@dataclass(frozen=True)
class WindowReport:
    """One calendar window: its drift per feature and of the model's scores, and its metric, estimated and realised."""

    window: Window
    rows: int
    drift: tuple[FeatureDrift, ...]
    #: the model's score (probability of the positive class, the top class's, or the prediction) against the reference's
    score_drift: FeatureDrift
    #: label-free estimate of the primary metric (accuracy), None when not available
    estimated: float | None
    #: the primary metric on the window's labelled rows, None without labels
    realised: float | None
    labelled: int
    #: share of rows whose served prediction differs from the model's beyond rounding; None without one
    served_mismatch: float | None = None

    @property
    def drifted(self) -> tuple[str, ...]:
        return tuple(d.feature for d in self.drift if d.drifted)

    def figures(self, metric: str) -> dict[str, float]:
        """What monitor logs for the window, by metric key: what alert rules watch."""
        out = {f"monitor.drift.{d.feature}": d.effect for d in self.drift}
        out |= {"monitor.drifted_features": len(self.drifted), "monitor.score_drift": self.score_drift.effect,
                LABELLED_METRIC: self.labelled}
        if self.estimated is not None:
            out[f"monitor.estimated.{metric}"] = self.estimated
        if self.realised is not None:
            out[f"monitor.realised.{metric}"] = self.realised
        if self.served_mismatch is not None:
            out["monitor.served_mismatch"] = self.served_mismatch
        return out


def model_score(pred: np.ndarray, proba: np.ndarray | None) -> np.ndarray:
    """One number per row to watch: P(positive) for two classes, the top class's probability for more, else the prediction."""
    if proba is None:
        return np.asarray(pred, dtype=float)
    return proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)


def score_reference(reference_scores: np.ndarray) -> NumericReference:
    """The model's scores on the reference, binned once for every window's score drift."""
    return numeric_reference("score", np.asarray(reference_scores, dtype=float))


def window_report(window: Window, test: str, references: dict[str, NumericReference | CategoricalReference],
                  reference: pd.DataFrame, scores_binned: NumericReference, reference_scores: np.ndarray,
                  frame: pd.DataFrame, pred: np.ndarray, proba: np.ndarray | None, realised: tuple[float, int] | None,
                  confidence: ConfidenceEstimate | None, *, served: pd.Series | None = None,
                  task: str = "classification") -> WindowReport:
    """Everything monitor records for one window; `realised` is (metric, labelled rows) when labels arrived.
    `scores_binned` is `score_reference(reference_scores)`; KS reads the scores themselves. `served`:
    the log's served predictions for these rows, compared with `pred` as the diagnosis compares them."""
    scores = pd.Series(model_score(pred, proba), name="score")
    (score_drift,) = feature_drift(test, {"score": scores_binned}, pd.DataFrame({"score": reference_scores}),
                                   pd.DataFrame({"score": scores}))
    estimated = confidence.estimate(proba) if confidence is not None and proba is not None else None
    metric, labelled = realised if realised is not None else (None, 0)
    known = served.notna().to_numpy() if served is not None else None
    mismatch = (float(compare(served[known], np.asarray(pred)[known], task)[0].mean())
                if known is not None and known.any() else None)
    return WindowReport(window, len(frame), tuple(feature_drift(test, references, reference, frame)), score_drift,
                        estimated, metric, labelled, mismatch)


def realised_metric(schema: Schema, rows: pd.DataFrame, pred: np.ndarray, metric: str) -> tuple[float, int] | None:
    """(the primary metric on the labelled rows, how many), or None without labels."""
    if schema.target not in rows.columns:
        return None
    labelled = rows[schema.target].notna().to_numpy()
    if not labelled.any():
        return None
    y = rows[schema.target].to_numpy()[labelled]
    return metrics(schema.task, y, pred[labelled])[metric], int(labelled.sum())


@dataclass(frozen=True)
class Watch:
    """What every window of one version is compared with, prepared once: the reference's bins and
    sample, the model's scores on that sample, and the label-free estimate calibrated on the golden set."""

    schema: Schema
    model: ModelHandle
    fill: dict[str, object]
    references: dict[str, NumericReference | CategoricalReference]
    #: `sample_rows(reference)`: what a stored profile holds, so the figures are the same with or without one
    reference: pd.DataFrame
    reference_scores: np.ndarray
    scores_binned: NumericReference
    confidence: ConfidenceEstimate | None
    test: str
    metric: str

    @classmethod
    def of(cls, inputs: Inputs, model: ModelHandle, references: dict[str, NumericReference | CategoricalReference],
           fill: dict[str, object], test: str) -> "Watch":
        schema = inputs.schema
        reference = sample_rows(inputs.reference)
        pred, proba, _ = predict(model, model_input(reference, schema, fill), fill)
        scores = model_score(pred, proba)
        confidence = None
        if schema.task == "classification" and model.predict_proba is not None:
            golden_pred, golden_proba, _ = predict(model, model_input(inputs.golden, schema, fill), fill)
            confidence = fit_confidence(golden_proba, golden_pred == inputs.golden[schema.target].to_numpy())
        return cls(schema, model, fill, references, reference, scores, score_reference(scores), confidence, test,
                   primary_metric(schema.task)[0])

    @property
    def note(self) -> str:
        """How the label-free estimate is made, or why there is none."""
        if self.confidence is not None:
            return self.confidence.note
        if self.schema.task == "regression":
            return "no label-free estimate for regression: realised error only, once labels arrive"
        return "no label-free estimate: the model gives no class probabilities"

    def report(self, window: Window, rows: pd.DataFrame) -> WindowReport:
        schema = self.schema
        pred, proba, _ = predict(self.model, model_input(rows, schema, self.fill), self.fill)
        return window_report(window, self.test, self.references, self.reference, self.scores_binned,
                             self.reference_scores, rows, pred, proba, realised_metric(schema, rows, pred, self.metric),
                             self.confidence, served=rows[schema.prediction] if schema.prediction else None,
                             task=schema.task)
