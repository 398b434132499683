"""Model regression: the version under review does worse on the golden set than its baseline."""

from __future__ import annotations

from .. import stats
from ..types import Finding, Recovery
from .base import Context, Detector


class ModelRegression(Detector):
    cause = "model_regression"
    stage = 1

    def detect(self, ctx: Context) -> list[Finding]:
        g = ctx.golden
        if g is None or g.baseline is None:
            ctx.not_checked.append("model_regression: no baseline golden metric (no recorded metrics, no earlier version)")
            return []
        if not g.dropped:
            return []
        drop = abs(g.delta)
        half_width = max(abs(g.delta_ci[1] - g.delta_ci[0]) / 2, 1e-9) if g.delta_ci else drop
        # strength: how many half-widths of its own confidence interval the drop spans, and at least 1
        strength = max(1.0, drop / half_width)
        evidence = {"metric": g.metric, "golden_value": g.value, "baseline_value": g.baseline, "delta": g.delta,
                    "delta_ci": list(g.delta_ci) if g.delta_ci else None, "baseline_source": g.baseline_source,
                    "golden_rows": g.n_rows}
        recovery = Recovery(g.metric, g.value, g.baseline, f"roll back to the baseline ({g.baseline_source})", g.n_rows)
        return [Finding(self.cause, None, strength, stats.confidence(strength), evidence, recovery=recovery)]
