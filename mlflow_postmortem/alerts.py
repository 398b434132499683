"""Alert rules over the figures monitor records per window: which breaches fire, once each.

Pure: rules and per-window figures in, fired alerts out. A rule fires when `consecutive`
windows in a row break its threshold; windows too small for the rule (`min_rows`) or without
its figure (no labels yet) are skipped, neither counting toward a run nor ending it. A run of
breaking windows fires once: the windows it fired at are remembered by the caller, and a run
holding one of them has fired already however long it grows, so a new alert needs a window
that recovers first.

False alarms. Under no change a feature's drift flag is raised in at most 1% of windows (the
effect thresholds and Benjamini-Hochberg of `monitoring`); windows being independent given the
reference, a rule needing c windows in a row fires on at most (k x 1%)^c of windows when it
watches k features' flags (`monitor.drifted_features above 0`), 1%^c when it watches one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

import pandas as pd

from .monitoring import Window

#: the side of its threshold where a rule's figure is bad
DIRECTIONS = ("above", "below")
#: the figures monitor records per window that a rule may watch
_METRIC = re.compile(r"^monitor\.(?:drifted_features|score_drift|served_mismatch|drift\..+"
                     r"|(estimated|realised)\.(accuracy|rmse))$")


@dataclass(frozen=True)
class Rule:
    """`alerts.rules[i]`: fire when `consecutive` windows of at least `min_rows` rows break `threshold`."""

    metric: str
    threshold: float
    direction: str = "above"
    consecutive: int = 2
    min_rows: int = 200

    def breaks(self, value: float) -> bool:
        return value > self.threshold if self.direction == "above" else value < self.threshold

    @property
    def realised(self) -> bool:
        """A realised metric is judged on the window's labelled rows, so `min_rows` counts those."""
        return self.metric.startswith("monitor.realised.")

    @property
    def name(self) -> str:
        """What the rule says, and its identity in the record of fired alerts: an edited rule is a new rule."""
        return (f"{self.metric} {self.direction} {self.threshold:g} in {self.consecutive} window"
                f"{'s' if self.consecutive != 1 else ''} of {self.min_rows}+ {'labelled ' if self.realised else ''}rows")


def metric_problem(metric: str, task: str) -> str | None:
    """Why monitor never records `metric` for a model of `task`, or None when it does."""
    match = _METRIC.match(metric)
    if match is None:
        return ("is not a figure monitor records (monitor.drifted_features, monitor.score_drift, "
                "monitor.drift.<feature>, monitor.served_mismatch, monitor.estimated.accuracy, "
                "monitor.realised.<accuracy|rmse>)")
    kind, name = match.groups()
    primary = "accuracy" if task == "classification" else "rmse"
    if kind == "estimated" and (name != "accuracy" or task != "classification"):
        return "is not recorded: monitor estimates accuracy only, and only for classifiers"
    if kind == "realised" and name != primary:
        return f"is not recorded for a {task} model (it records monitor.realised.{primary})"
    return None


def default_direction(metric: str) -> str:
    """Accuracy breaks by falling; drift, drifted features and error by growing."""
    return "below" if metric.endswith(".accuracy") else "above"


@dataclass(frozen=True)
class WindowFigures:
    """One recorded window: its rows, labelled rows and the figures monitor logged for it."""

    step: int
    window: Window
    rows: int
    labelled: int
    values: Mapping[str, float]


@dataclass(frozen=True)
class Alert:
    """A rule's run of breaking windows, oldest first; `fired_step` is the window it fired at."""

    rule: Rule
    windows: tuple[WindowFigures, ...]
    fired_step: int

    @property
    def start(self) -> pd.Timestamp:
        return self.windows[0].window.start

    @property
    def end(self) -> pd.Timestamp:
        return self.windows[-1].window.end

    def figures(self) -> list[tuple[WindowFigures, float]]:
        return [(w, w.values[self.rule.metric]) for w in self.windows]

    def describe(self) -> str:
        values = ", ".join(f"{v:.4g}" for _, v in self.figures())
        return (f"{self.rule.metric} {self.rule.direction} {self.rule.threshold:g} in {len(self.windows)} window"
                f"{'s' if len(self.windows) != 1 else ''} from {self.start:%Y-%m-%d %H:%M} to "
                f"{self.end:%Y-%m-%d %H:%M} UTC ({values})")


def fire(rules: Sequence[Rule], figures: Sequence[WindowFigures], *, fired: Mapping[str, Collection[int]],
         fresh: Collection[int]) -> list[Alert]:
    """The alerts to raise now: each rule's runs of at least `consecutive` breaking windows that
    hold a window recorded or updated by this call (`fresh` steps) and no window it already
    fired at (`fired`: rule name -> steps)."""
    ordered = sorted(figures, key=lambda f: f.step)
    out = []
    for rule in rules:
        for run in _breaking_runs(rule, ordered):
            first, last = run[0].step, run[-1].step
            if len(run) < rule.consecutive or any(first <= s <= last for s in fired.get(rule.name, ())):
                continue
            if any(first <= s <= last for s in fresh):
                out.append(Alert(rule, tuple(run), run[rule.consecutive - 1].step))
    return out


def _breaking_runs(rule: Rule, ordered: Sequence[WindowFigures]) -> list[list[WindowFigures]]:
    """Maximal runs of windows breaking the rule; a window it cannot judge neither extends nor ends one."""
    runs: list[list[WindowFigures]] = []
    current: list[WindowFigures] = []
    for figures in ordered:
        value = figures.values.get(rule.metric)
        rows = figures.labelled if rule.realised else figures.rows
        if value is None or not math.isfinite(value) or rows < rule.min_rows:
            continue
        if rule.breaks(value):
            current.append(figures)
        elif current:
            runs.append(current)
            current = []
    return runs + ([current] if current else [])
