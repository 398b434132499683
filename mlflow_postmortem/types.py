"""Frozen result types shared by the core. Everything the verdict says is one of these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal

import numpy as np
import pandas as pd

from .evidence import Evidence

Cause = Literal[
    "healthy",
    "model_regression",
    "data_drift",
    "feature_drift",
    "feature_recalibration",
    "feature_unavailability",
    "training_serving_skew",
    "prediction_label_bias",
]

#: The public root-cause vocabulary, mapped to the mitigation each one calls for.
MITIGATIONS: dict[str, str] = {
    "healthy": "none",
    "model_regression": "retrain",
    "data_drift": "fine_tune",
    "feature_drift": "fine_tune",
    "feature_recalibration": "retrain_correct_feature_version",
    "feature_unavailability": "fix_feature_computation",
    "training_serving_skew": "patch_pipeline",
    "prediction_label_bias": "online_update",
}
CAUSES: tuple[str, ...] = tuple(MITIGATIONS)

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class ModelHandle:
    """A model as the core sees it: callables over a feature frame, no MLflow inside."""

    name: str
    version: str
    predict: Callable[[pd.DataFrame], np.ndarray]
    #: class-probability matrix (rows x classes) for classifiers that have one
    predict_proba: Callable[[pd.DataFrame], np.ndarray] | None = None
    classes: tuple[Any, ...] | None = None
    #: input columns from the model signature, when it has one
    features: tuple[str, ...] | None = None
    #: golden metrics recorded for this version earlier (its launch baseline), if any
    recorded_golden: "RecordedGolden | None" = None


@dataclass(frozen=True)
class RecordedGolden:
    """A version's primary golden metric as recorded at its first healthy post-mortem, with
    what makes it comparable: its interval, and a digest of the golden rows it was measured on."""

    metric: str
    value: float
    ci_low: float
    ci_high: float
    rows: int
    digest: str


@dataclass(frozen=True)
class Onset:
    """When a finding starts in the current window sequence, and its shape over time."""

    pattern: Literal["step", "ramp", "from_start", "unknown"]
    first_window: str | None = None
    window_index: int | None = None
    per_window: tuple[float, ...] = ()


@dataclass(frozen=True)
class Recovery:
    """What a counterfactual repair of the faulty feature(s) would give back."""

    metric: str
    before: float
    after: float
    repair: str
    rows: int

    @property
    def gain(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class Finding:
    """One detector's claim about one feature (or the model as a whole when feature is None).

    `strength` is the effect size divided by its threshold: 1.0 means just past it.
    """

    cause: str
    feature: str | None
    strength: float
    score: float
    evidence: Evidence
    onset: Onset | None = None
    recovery: Recovery | None = None
    #: current-sample rows the fault touched, when it is not every row from the onset on (a
    #: change rolled out to a growing share of rows); None means from the onset on
    rows: pd.Index | None = None


@dataclass(frozen=True)
class GoldenResult:
    """Seed step 1: does the version under review do worse on the trusted golden set?"""

    metric: str
    higher_is_better: bool
    value: float
    ci_low: float
    ci_high: float
    n_rows: int
    metrics: dict[str, float]
    baseline: float | None = None
    baseline_source: str | None = None
    delta: float | None = None
    delta_ci: tuple[float, float] | None = None
    dropped: bool = False
    note: str | None = None
    #: fingerprint of the golden rows (see `golden.golden_digest`)
    digest: str | None = None


@dataclass(frozen=True)
class Explains:
    """The part of a measured production drop one cause accounts for (see `attribution`)."""

    metric: str
    #: production minus golden, in metric units, worse > 0
    drop: float
    accounted: float
    share: float


@dataclass(frozen=True)
class CauseAssessment:
    """One line of the ranked verdict; `evidence` is the top finding's typed evidence as JSON."""

    cause: str
    score: float
    features: tuple[str, ...]
    evidence: dict[str, Any]
    mitigation: str
    recovery: Recovery | None = None
    onset: Onset | None = None
    explains: Explains | None = None


@dataclass(frozen=True)
class FeatureStat:
    """One feature in the production data, whatever the verdict: what the MLflow run logs as metrics."""

    feature: str
    kind: Literal["numeric", "categorical"]
    present: bool
    #: debiased total variation against the reference, inside the seen range (0 = no drift): what
    #: data_drift judges, values outside the range being novelty's
    drift_tv: float = 0.0
    per_window_tv: tuple[float, ...] = ()
    #: the same as served: the share outside the seen range has moved all the way, so served =
    #: outside + (1 - outside) x drift_tv (a unit change that leaves the range reads 1)
    served_tv: float = 0.0
    per_window_served_tv: tuple[float, ...] = ()
    null_share: float = 0.0
    #: values outside the reference's range, or categories it never had
    novel_share: float = 0.0


@dataclass(frozen=True)
class Verdict:
    root_cause: str
    causes: tuple[CauseAssessment, ...]
    golden: GoldenResult | None
    production: dict[str, Any]
    model: dict[str, str]
    not_checked: tuple[str, ...] = ()
    run_id: str | None = None
    summary: str = ""
    features: tuple[FeatureStat, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def top(self) -> CauseAssessment:
        return self.causes[0]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Verdict":
        """The inverse of `to_dict`, for a verdict read back from a run's verdict.json."""
        causes = tuple(
            CauseAssessment(c["cause"], c.get("score", c.get("confidence")), tuple(c["features"]), c["evidence"], c["mitigation"],
                            Recovery(**c["recovery"]) if c.get("recovery") else None,
                            Onset(**{**c["onset"], "per_window": tuple(c["onset"]["per_window"])}) if c.get("onset") else None,
                            Explains(**c["explains"]) if c.get("explains") else None)
            for c in raw["causes"]
        )
        golden = dict(raw["golden"])
        if golden.get("delta_ci") is not None:
            golden["delta_ci"] = tuple(golden["delta_ci"])
        production = dict(raw["production"])
        not_checked = tuple(production.pop("not_checked", ()))
        features = tuple(FeatureStat(**{**f, "per_window_tv": tuple(f["per_window_tv"]),
                                         "per_window_served_tv": tuple(f.get("per_window_served_tv", ()))})
                         for f in raw.get("features", []))
        return cls(raw["root_cause"], causes, GoldenResult(**golden) if golden.get("metric") else None, production,
                   dict(raw["model"]), not_checked, raw.get("run_id"), raw.get("summary", ""), features)

    def to_dict(self) -> dict[str, Any]:
        """The verdict JSON contract of DESIGN.md (plus a few extra keys)."""
        golden = _jsonable(asdict(self.golden)) if self.golden else {"checked": False}
        causes = []
        for c in self.causes:
            item = {
                "cause": c.cause,
                "score": round(float(c.score), 4),
                "features": list(c.features),
                "evidence": _jsonable(c.evidence),
                "mitigation": c.mitigation,
                "recovery": _jsonable(asdict(c.recovery)) if c.recovery else None,
            }
            if c.onset is not None:
                item["onset"] = _jsonable(asdict(c.onset))
            if c.explains is not None:
                item["explains"] = _jsonable(asdict(c.explains))
            causes.append(item)
        production = dict(_jsonable(self.production))
        production["not_checked"] = list(self.not_checked)
        return {
            "root_cause": self.root_cause,
            "causes": causes,
            "golden": golden,
            "production": production,
            "model": dict(self.model),
            "run_id": self.run_id,
            "summary": self.summary,
            "features": [_jsonable(asdict(f)) for f in self.features],
            **_jsonable(self.extra),
        }


def _jsonable(value: Any) -> Any:
    """Numpy scalars, tuples and NaN made JSON-safe (NaN and inf become None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return round(f, 6) if np.isfinite(f) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    return value
