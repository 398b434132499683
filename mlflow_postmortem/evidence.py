"""What each finding rests on: typed fields per kind of evidence, and the sentence a reader sees.

Every detector returns one of these; the verdict JSON carries its fields under `evidence`
with `kind` naming the class (the schema lists each kind's fields) and `sentence` beside
them, so a script reads numbers and a person reads the sentence, and the two cannot drift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Evidence:
    kind: ClassVar[str]

    def sentence(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self), "sentence": self.sentence()}


@dataclass(frozen=True)
class GoldenDrop(Evidence):
    """model_regression: the version does worse than its baseline on the golden rows."""

    kind: ClassVar[str] = "golden_drop"
    metric: str
    golden_value: float
    baseline_value: float
    delta: float
    delta_ci: tuple[float, float] | None
    baseline_source: str
    golden_rows: int

    def sentence(self) -> str:
        ci = f" (95% CI {self.delta_ci[0]:+.4g} to {self.delta_ci[1]:+.4g})" if self.delta_ci else ""
        return (f"golden {self.metric} {self.golden_value:.4g} vs {self.baseline_value:.4g} for the baseline "
                f"({self.baseline_source}): {self.delta:+.4g}{ci} on {self.golden_rows} rows")


@dataclass(frozen=True)
class Drift(Evidence):
    """data_drift on one feature: its distribution moved (debiased total variation on reference bins)."""

    kind: ClassVar[str] = "drift"
    total_variation: float
    p_value: float
    q_value: float
    out_of_range_share: float
    mean_shift_in_reference_std: float | None = None
    reference_mean: float | None = None
    current_mean: float | None = None
    #: categorical: the category whose share grew the most (or, when a share's factor alone made
    #: the drift, the category that changed by it, grown or shrunk), and its shares
    grown_category: str | None = None
    grown_shares: tuple[float, float] | None = None

    def sentence(self) -> str:
        parts = [f"TV {self.total_variation:.3f} (q={self.q_value:.2g})"]
        if self.mean_shift_in_reference_std is not None:
            parts.append(f"mean {self.reference_mean:.4g} -> {self.current_mean:.4g} "
                         f"({self.mean_shift_in_reference_std:+.2f} reference sd)")
        if self.grown_category is not None and self.grown_shares is not None:
            parts.append(f"{self.grown_category!r} {self.grown_shares[0]:.1%} -> {self.grown_shares[1]:.1%} of rows")
        if self.out_of_range_share >= 0.005:
            parts.append(f"{self.out_of_range_share:.1%} beyond the seen range")
        return ", ".join(parts)


@dataclass(frozen=True)
class PriorShift(Evidence):
    """data_drift of the target: the class balance (or target level) moved while P(x|y) held."""

    kind: ClassVar[str] = "prior_shift"
    reference_shares: dict[str, float]
    current_shares: dict[str, float]
    estimated_from: str
    total_variation: float
    p_value: float
    #: largest drift TV left on any feature once the reference is reweighted by the new shares
    residual_tv: float
    features_explained: tuple[str, ...] = ()

    def sentence(self) -> str:
        moved = sorted(self.current_shares, key=lambda k: abs(self.current_shares[k] - self.reference_shares.get(k, 0)),
                       reverse=True)[:3]
        shares = ", ".join(f"{k}: {self.reference_shares.get(k, 0):.1%} -> {self.current_shares[k]:.1%}" for k in moved)
        return (f"target shares moved ({shares}; TV {self.total_variation:.3f}, p={self.p_value:.2g}, "
                f"{self.estimated_from}); reweighting the reference by them leaves at most TV "
                f"{self.residual_tv:.3f} on any feature")


@dataclass(frozen=True)
class RelationChange(Evidence):
    """feature_drift on one feature: the loss change is concentrated in some of its bins."""

    kind: ClassVar[str] = "relation_change"
    loss_shift_heterogeneity: float
    p_value: float
    q_value: float
    labelled_rows: int
    loss: str
    worst_bin: str
    worst_bin_loss_change: float
    average_loss_change: float
    worst_bin_share: float

    def sentence(self) -> str:
        return (f"loss change by bin uneven by {self.loss_shift_heterogeneity:.3f} ({self.loss}; q={self.q_value:.2g}): "
                f"{self.worst_bin_loss_change:+.3f} in {self.worst_bin} ({self.worst_bin_share:.0%} of rows) "
                f"vs {self.average_loss_change:+.3f} on average, {self.labelled_rows} labelled rows")


@dataclass(frozen=True)
class ConceptDrift(Evidence):
    """feature_drift with scope global: labelled production does worse than its inputs predict."""

    kind: ClassVar[str] = "concept_drift"
    metric: str
    #: the production metric on labelled rows inside the seen range (after stage-1 repairs)
    production_value: float
    #: what the golden set predicts for these inputs (golden rows reweighted to the current mix)
    expected_value: float
    golden_value: float
    gap: float
    gap_ci: tuple[float, float]
    p_value: float
    labelled_rows: int
    #: the whole log, or its most recent half when the change started mid-log
    where: str = "whole log"
    scope: str = "global"

    def sentence(self) -> str:
        part = "" if self.where == "whole log" else f" ({self.where} of the log)"
        return (f"production {self.metric} {self.production_value:.4g} on {self.labelled_rows} labelled rows{part} vs "
                f"{self.expected_value:.4g} expected for these inputs from the golden set ({self.golden_value:.4g} "
                f"unweighted): worse by {abs(self.gap):.4g} (95% CI {self.gap_ci[0]:.4g} to {self.gap_ci[1]:.4g}, "
                f"p={self.p_value:.2g}); no single feature localises it")


@dataclass(frozen=True)
class Rescale(Evidence):
    """feature_recalibration (or skew): current = scale * reference + offset, shape kept."""

    kind: ClassVar[str] = "rescale"
    transform: str
    scale: float
    offset: float
    #: what makes this specific to a unit change: a named unit, a power of ten, a
    #: standardisation, or an abrupt move of the bulk out of range
    specific: str
    unit: str | None
    shape_tv_after_inverse: float
    raw_tv: float
    out_of_range_share: float
    windows_changed: int
    reference_median: float
    current_median: float
    #: discrete features: the share of changed values that map back exactly onto values the
    #: reference holds (the evidence when the shape cannot match: a feature that moves with time)
    mapped_onto_reference: float | None = None
    #: a change rolled out gradually: the share of each window's rows served in the new unit
    rolled_out: tuple[float, ...] | None = None

    def sentence(self) -> str:
        what = self.unit or f"scale x{self.scale:.4g}, offset {self.offset:+.4g}"
        rollout = (f"; rolled out gradually, {self.rolled_out[0]:.0%} of the first window's rows to "
                   f"{self.rolled_out[-1]:.0%} of the last's" if self.rolled_out else "")
        return (f"{what} ({self.specific}); {_mapped_back(self.shape_tv_after_inverse, self.mapped_onto_reference)}; "
                f"median {self.reference_median:.4g} -> {self.current_median:.4g}, "
                f"{self.out_of_range_share:.1%} outside the seen range{rollout}")


@dataclass(frozen=True)
class Redefinition(Evidence):
    """feature_recalibration (or skew): a monotone redefinition (log, square root) or a new value grid."""

    kind: ClassVar[str] = "redefinition"
    transform: str
    description: str
    shape_tv_after_inverse: float
    raw_tv: float
    distinct_values: tuple[int, int]
    windows_changed: int
    #: grid changes: current = round_or_floor((scale * x + offset) / step) * step
    scale: float = 1.0
    offset: float = 0.0
    step: float | None = None
    #: as in Rescale
    mapped_onto_reference: float | None = None

    def sentence(self) -> str:
        return (f"{self.description}; {_mapped_back(self.shape_tv_after_inverse, self.mapped_onto_reference)}; "
                f"distinct values {self.distinct_values[0]} -> {self.distinct_values[1]}")


def _mapped_back(shape_tv: float, onto_reference: float | None) -> str:
    if onto_reference is None:
        return f"mapped back, the shape matches the reference (TV {shape_tv:.3f})"
    return (f"mapped back, {onto_reference:.1%} of the values are exactly values the reference holds "
            f"(the shape differs by TV {shape_tv:.3f}, as the feature moves with time)")


@dataclass(frozen=True)
class CodesPermuted(Evidence):
    """feature_recalibration: the category frequencies are the reference's under other codes."""

    kind: ClassVar[str] = "codes_permuted"
    transform: str
    raw_tv: float
    shape_tv: float
    mapping: tuple[tuple[Any, Any], ...]
    windows_changed: int
    #: the share of rows filed under other codes (1.0: all; less: one of several sources changed)
    share: float = 1.0

    def sentence(self) -> str:
        pairs = ", ".join(f"{a!r}->{b!r}" for a, b in self.mapping[:4])
        rows = "" if self.share >= 1 else f" on about {self.share:.0%} of rows, the rest as before"
        return (f"codes reassigned ({pairs}{', ...' if len(self.mapping) > 4 else ''}){rows}: raw TV "
                f"{self.raw_tv:.3f}, frequency profile unchanged (TV {self.shape_tv:.3f})")


@dataclass(frozen=True)
class Unusable(Evidence):
    """feature_unavailability: the column is absent, or values are null, infinite or stuck on a default."""

    kind: ClassVar[str] = "unusable"
    problem: str  # absent | null | default
    reference_share: float
    current_share: float
    share_rise: float
    p_value: float
    q_value: float | None = None
    default_value: Any = None
    #: why the stuck value reads as a default rather than a real value growing
    default_because: str | None = None
    infinite_values: int = 0

    def sentence(self) -> str:
        if self.problem == "absent":
            return "the column is missing from the production data"
        what = f"stuck on {self.default_value!r} ({self.default_because})" if self.problem == "default" else "null"
        return (f"{self.current_share:.1%} of rows {what} vs {self.reference_share:.1%} in the reference "
                f"(+{self.share_rise:.1%}, p={self.p_value:.2g})")


@dataclass(frozen=True)
class Mismatch(Evidence):
    """training_serving_skew with a training view: same entity, different value."""

    kind: ClassVar[str] = "mismatch"
    paired_rows: int
    mismatch_share: float
    join: str
    examples: tuple[tuple[Any, Any], ...]
    null_in_serving_only: int | None = None
    serving_vs_training: dict[str, float] | None = None
    #: (serving's value, training's value) when every differing row holds one value on each side:
    #: the true value is missing upstream and each pipeline fills its own default (lossy)
    filled: tuple[Any, Any] | None = None

    def sentence(self) -> str:
        ex = "; ".join(f"serving {a!r} vs training {b!r}" for a, b in self.examples[:2])
        fill = (f"; the value is missing upstream: serving fills {self.filled[0]!r}, training {self.filled[1]!r}"
                if self.filled else "")
        return f"{self.mismatch_share:.1%} of {self.paired_rows} paired rows differ ({self.join}); e.g. {ex}{fill}"


@dataclass(frozen=True)
class ServedMismatch(Evidence):
    """training_serving_skew from the served predictions: serving returned other predictions than
    this version gives on the logged features."""

    kind: ClassVar[str] = "served_mismatch"
    compared_rows: int
    mismatching_rows: int
    mismatch_share: float
    #: one-sided binomial test against the tolerated mismatch rate
    p_value: float
    #: regression: the largest |served - offline|; None for classes
    largest_difference: float | None
    #: (served, offline) pairs of a few mismatching rows
    examples: tuple[tuple[Any, Any], ...]
    #: "preprocessing differs" (mismatches concentrate on some values of `feature`) or
    #: "another model served" (no single feature's values localise them)
    likely: str
    feature: str | None = None

    @property
    def features_by_contribution(self) -> tuple[str, ...]:
        """The verdict names the feature whose values localise the mismatches."""
        return (self.feature,) if self.feature else ()

    def sentence(self) -> str:
        ex = "; ".join(f"served {a!r} vs offline {b!r}" for a, b in self.examples[:2])
        largest = f", largest difference {self.largest_difference:.4g}" if self.largest_difference is not None else ""
        why = (f"mismatches concentrate on some values of {self.feature!r}: serving likely prepares it differently"
               if self.feature else "no single feature's values localise the mismatches: likely another model served "
               "(or a change that touches every row)")
        return (f"{self.mismatch_share:.1%} of {self.compared_rows} rows ({self.mismatching_rows}) got another "
                f"prediction from serving than from this version offline (p={self.p_value:.2g}{largest}); e.g. {ex}; "
                f"{why}")


@dataclass(frozen=True)
class Lagged(Evidence):
    """training_serving_skew without a training view: values served a row late (a lagged value).

    In time order, a feature's value lines up with its own row's other features; served from the
    previous event, it lines up with the previous row's instead. Natural co-movement over time
    lines up both ways alike, so the asymmetry is the evidence."""

    kind: ClassVar[str] = "lagged_without_view"
    #: correlation of the value with what the other features predict for it: its own row, the
    #: previous row, and (the mirror) the previous value with its following row
    own_row: float
    previous_row: float
    mirrored: float
    #: the same, own row, on the reference: how much the other features say about this one
    reference_own_row: float
    p_value: float
    rows: int

    def sentence(self) -> str:
        return (f"values line up with the previous row's other features (r={self.previous_row:.2f}) more than "
                f"the previous value with the next row's (r={self.mirrored:.2f}); own row r={self.own_row:.2f} vs "
                f"{self.reference_own_row:.2f} in the reference; p={self.p_value:.2g} over {self.rows} rows in time "
                "order: served from the previous event (no training view to confirm, so the score is reduced)")


@dataclass(frozen=True)
class SkewWithoutView(Evidence):
    """training_serving_skew without a training view: a specific change there from the first row on."""

    kind: ClassVar[str] = "skew_without_view"
    change: Rescale | Redefinition
    why: str = ("present from the first window on and flat over time; no training view to confirm, "
                "so the score is reduced")

    def sentence(self) -> str:
        return f"{self.change.sentence()}; {self.why}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "change": self.change.to_dict(), "why": self.why, "sentence": self.sentence()}


@dataclass(frozen=True)
class Novelty(Evidence):
    """prediction_label_bias: rows, categories, terms or labels the model never saw."""

    kind: ClassVar[str] = "novelty"
    novelty: str  # outside_seen_range | unseen_categories | far_from_training_rows | out_of_vocabulary_terms | unseen_labels
    novel_share: float
    reference_share: float
    p_value: float | None = None
    examples: tuple[str, ...] = ()
    seen_range: tuple[float, float] | None = None
    features_by_contribution: tuple[str, ...] = ()
    #: how the reference's own rate was measured, and on how many rows
    reference_rate_from: str = ""
    #: the part of the log the share is measured over, when not all of it ("the most recent half of the log")
    over: str = ""

    def sentence(self) -> str:
        what = {"outside_seen_range": "values outside the seen range", "unseen_categories": "unseen categories",
                "far_from_training_rows": "rows far from every training row",
                "out_of_vocabulary_terms": "text tokens never seen", "unseen_labels": "labels with no class"}[self.novelty]
        ex = f" (e.g. {', '.join(self.examples[:3])})" if self.examples else ""
        over = f" over {self.over}" if self.over else ""
        return f"{self.novel_share:.1%} {what}{ex}{over} vs {self.reference_share:.1%} expected from the reference"
