"""The challenger gate: does the new version beat the current one, by the rule the user set?

Semantics of MLflow's `MetricThreshold`: an optional absolute `threshold` the candidate must
reach, and minimum absolute and relative improvements over the current version, in the
metric's own direction. Checked on the golden set and on the newest labelled production rows
(held out of training), and the gate passes only if both checks pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Rule:
    #: the candidate must do at least this well (None: no absolute bar)
    threshold: float | None = None
    #: and beat the current version by at least this much (0: must not be worse)
    min_absolute_change: float | None = 0.0
    min_relative_change: float | None = None

    @classmethod
    def from_config(cls, raw: dict[str, Any] | None) -> "Rule":
        raw = dict(raw or {})
        unknown = sorted(set(raw) - {"threshold", "min_absolute_change", "min_relative_change"})
        if unknown:
            raise ConfigError(f"unknown key 'mitigation.gate.{unknown[0]}' "
                              "(known: threshold, min_absolute_change, min_relative_change)")
        try:
            return cls(**{k: None if v is None else float(v) for k, v in raw.items()})
        except (TypeError, ValueError):
            raise ConfigError(f"mitigation.gate values must be numbers, got {raw}") from None


@dataclass(frozen=True)
class Check:
    slice: str
    metric: str
    higher_is_better: bool
    candidate: float
    current: float
    rows: int
    passed: bool
    reason: str


def judge(slice_name: str, metric: str, higher_is_better: bool, candidate: float, current: float, rows: int,
          rule: Rule) -> Check:
    sign = 1.0 if higher_is_better else -1.0
    gain = sign * (candidate - current)
    failures = []
    if rule.threshold is not None and sign * (candidate - rule.threshold) < 0:
        failures.append(f"{metric} {candidate:.4g} misses the threshold {rule.threshold:.4g}")
    if rule.min_absolute_change is not None and gain < rule.min_absolute_change:
        failures.append(f"improvement {gain:+.4g} < {rule.min_absolute_change:g}")
    if rule.min_relative_change is not None and gain < rule.min_relative_change * abs(current):
        failures.append(f"relative improvement {gain / max(abs(current), 1e-12):+.2%} < {rule.min_relative_change:.2%}")
    reason = "; ".join(failures) or f"{metric} {current:.4g} -> {candidate:.4g}"
    return Check(slice_name, metric, higher_is_better, candidate, current, rows, not failures, reason)
