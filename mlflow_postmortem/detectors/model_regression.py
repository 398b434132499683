"""Model regression: the version under review does worse on the golden set than its baseline."""

from __future__ import annotations

from dataclasses import dataclass

from .. import stats
from ..evidence import GoldenDrop
from ..types import Finding, Recovery
from .base import Context, Detector


@dataclass(frozen=True)
class ModelRegression(Detector):
    """Reads the golden check (`golden.evaluate_golden`), whose materiality thresholds live
    under `detectors: {model_regression: ...}` too: a drop must be clear and big enough."""

    cause = "model_regression"
    stage = 1
    key = "model_regression"

    min_accuracy_drop: float = 0.02
    min_relative_rmse_rise: float = 0.05
    #: level of the one-sided test that the version is worse than its baseline on the golden rows
    alpha: float = stats.CHECK_LEVEL

    def detect(self, ctx: Context) -> list[Finding]:
        g = ctx.golden
        if g is None or g.baseline is None:
            ctx.not_checked.append("model_regression: no baseline (no earlier version, no comparable recorded metrics)"
                                   + (f": {g.note}" if g is not None and g.note else ""))
            return []
        if not g.dropped:
            return []
        drop = abs(g.delta)
        half_width = max(abs(g.delta_ci[1] - g.delta_ci[0]) / 2, 1e-9) if g.delta_ci else drop
        # strength: how many half-widths of its own confidence interval the drop spans, and at least 1
        strength = max(1.0, drop / half_width)
        evidence = GoldenDrop(g.metric, g.value, g.baseline, g.delta, g.delta_ci, g.baseline_source or "", g.n_rows)
        recovery = Recovery(g.metric, g.value, g.baseline, f"roll back to the baseline ({g.baseline_source})", g.n_rows)
        return [Finding(self.cause, None, strength, stats.strength_score(strength), evidence, recovery=recovery)]
