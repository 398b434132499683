"""Run drills through `diagnose` and score the answers: confusion matrix, accuracy, feature hits.

A drill that raises is a result too (got = "error"), so one broken scenario never hides the
rest of a suite.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .. import stats
from ..types import CAUSES, _jsonable
from .base import Drill, make_drill, split_dataset
from .datasets import all_datasets, load_dataset
from .injectors import inject
from .models import most_important_feature

ERROR = "error"
#: column heads of the confusion table, in CAUSES order
SHORT = {
    "healthy": "heal", "model_regression": "model", "data_drift": "ddrift", "feature_drift": "fdrift",
    "feature_recalibration": "recal", "feature_unavailability": "unavail", "training_serving_skew": "skew",
    "prediction_label_bias": "novel", ERROR: "error",
}


@dataclass(frozen=True)
class DrillResult:
    name: str
    dataset: str
    expected: str
    got: str
    feature: tuple[str, ...]
    #: the first three features named by the verdict's top cause
    top_features: tuple[str, ...]
    #: injected feature among top_features; None when the drill injects no feature
    feature_hit: bool | None
    score: float | None
    ranking: tuple[tuple[str, float], ...]
    variant: str
    magnitude: float
    onset: str
    share: float
    n_rows: int
    seconds: float
    build_seconds: float = 0.0
    error: str | None = None
    info: dict[str, Any] | None = None
    #: a compound drill's second cause
    also_expected: tuple[str, ...] = ()
    #: what the verdict said of production: dropped below the golden set, and its metric
    production: dict[str, Any] | None = None

    @property
    def correct(self) -> bool:
        """Single fault: the root cause is the injected one. Compound: both are in the top two."""
        if self.also_expected:
            top_two = {cause for cause, score in self.ranking[:2] if score > 0}
            return {self.expected, *self.also_expected} <= top_two
        return self.got == self.expected

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({**asdict(self), "correct": self.correct})


def run_drill(drill: Drill, *, windows: int = 8, build_seconds: float = 0.0,
              progress: Callable[[str], None] | None = None) -> DrillResult:
    """Diagnose one drill and compare the verdict with the injected fault."""
    from ..data import build_inputs
    from ..diagnose import diagnose

    start = time.perf_counter()
    verdict, error = None, None
    try:
        inputs = build_inputs(**drill.build_inputs_kwargs())
        verdict = diagnose(inputs, drill.models.model, baseline=drill.models.baseline, windows=windows,
                           seed=drill.seed, progress=progress)
    except Exception as exc:  # noqa: BLE001 - a crash is this drill's result
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    top = tuple(verdict.causes[0].features[:3]) if verdict and verdict.causes else ()
    production = None
    if verdict is not None:
        p = verdict.production
        production = {k: p.get(k) for k in ("labelled", "metric", "value", "ci", "golden_value", "dropped")}
        if verdict.golden is not None:
            production["golden_ci"] = [verdict.golden.ci_low, verdict.golden.ci_high]
    return DrillResult(
        name=drill.name, dataset=drill.dataset, expected=drill.expected_cause,
        got=verdict.root_cause if verdict else ERROR, feature=drill.feature, top_features=top,
        feature_hit=bool(set(drill.feature) & set(top)) if drill.feature and not drill.also_expected else None,
        score=float(verdict.causes[0].score) if verdict and verdict.causes else None,
        ranking=tuple((c.cause, round(float(c.score), 4)) for c in verdict.causes) if verdict else (),
        variant=drill.variant, magnitude=drill.magnitude, onset=drill.onset, share=drill.share,
        n_rows=drill.n_rows, seconds=round(seconds, 3), build_seconds=round(build_seconds, 3), error=error,
        info=dict(drill.info), also_expected=drill.also_expected, production=production,
    )


@dataclass(frozen=True)
class SuiteResult:
    results: tuple[DrillResult, ...]
    seconds: float

    @property
    def single(self) -> tuple[DrillResult, ...]:
        """Drills with one fault (or none): the confusion matrix and top-1 accuracy count these."""
        return tuple(r for r in self.results if not r.also_expected)

    @property
    def compound(self) -> tuple[DrillResult, ...]:
        return tuple(r for r in self.results if r.also_expected)

    @property
    def accuracy(self) -> float:
        """Top-1: share of single-fault drills whose root cause is the injected cause."""
        return _share(sum(r.correct for r in self.single), len(self.single))

    @property
    def feature_hit_rate(self) -> float:
        """Share of feature-injecting drills whose feature the verdict names in its top 3."""
        hits = [r.feature_hit for r in self.results if r.feature_hit is not None]
        return _share(sum(hits), len(hits))

    @property
    def healthy_flagged(self) -> int:
        """Healthy drills diagnosed as anything but healthy (false alarms)."""
        return sum(1 for r in self.results if r.expected == "healthy" and r.got != "healthy")

    @property
    def errors(self) -> int:
        return sum(1 for r in self.results if r.got == ERROR)

    def rates(self) -> dict[str, dict[str, float]]:
        """Each headline figure as k of n with its Wilson 95% interval."""
        hits = [r.feature_hit for r in self.results if r.feature_hit is not None]
        healthy = [r for r in self.results if r.expected == "healthy"]
        figures = {
            "top1": (sum(r.correct for r in self.single), len(self.single)),
            "feature_top3": (sum(hits), len(hits)),
            "compound_both_in_top2": (sum(r.correct for r in self.compound), len(self.compound)),
            "healthy_false_alarms": (self.healthy_flagged, len(healthy)),
        }
        return {name: {"k": k, "n": n, "rate": _share(k, n), "wilson95": list(stats.wilson_interval(k, n))}
                for name, (k, n) in figures.items() if n}

    def per_cause(self) -> dict[str, tuple[int, int]]:
        """cause -> (correct, total) over the single-fault drills of each cause."""
        out: dict[str, tuple[int, int]] = {}
        for cause in CAUSES:
            rows = [r for r in self.single if r.expected == cause]
            if rows:
                out[cause] = (sum(r.correct for r in rows), len(rows))
        return out

    def confusion(self) -> dict[str, dict[str, int]]:
        """expected -> got -> count over single-fault drills, all 8 causes (plus `error` when a drill crashed)."""
        cols = [*CAUSES, *([ERROR] if self.errors else [])]
        table = {e: {g: 0 for g in cols} for e in CAUSES}
        for r in self.single:
            table[r.expected][r.got if r.got in cols else ERROR] += 1
        return table

    def confusion_table(self) -> str:
        """The confusion matrix as fixed-width text, rows expected, columns predicted."""
        table = self.confusion()
        cols = list(next(iter(table.values())))
        corner = "expected \\ got"
        head = f"{corner:<24}" + "".join(f"{SHORT[c]:>8}" for c in cols) + f"{'n':>6}{'acc':>7}"
        lines = [head, "-" * len(head)]
        for e, row in table.items():
            n = sum(row.values())
            acc = f"{row[e] / n:.2f}" if n else "-"
            cells = "".join(f"{(str(v) if v else '.'):>8}" for v in row.values())
            lines.append(f"{e:<24}{cells}{n:>6}{acc:>7}")
        return "\n".join(lines)

    def summary(self) -> str:
        times = sorted(r.seconds for r in self.results)
        labels = {"top1": "top-1 cause (single faults)", "feature_top3": "injected feature in top-3",
                  "compound_both_in_top2": "compound: both causes in top-2", "healthy_false_alarms": "healthy flagged"}
        lines = [f"drills: {len(self.results)}  errors: {self.errors}  wall time: {self.seconds:.1f}s"]
        lines += [f"{labels[name]}: {r['rate']:.3f} ({r['k']}/{r['n']}; Wilson 95% {r['wilson95'][0]:.3f}-"
                  f"{r['wilson95'][1]:.3f})" for name, r in self.rates().items()]
        lines += [
            "diagnose time: median {:.2f}s, max {:.2f}s".format(times[len(times) // 2], times[-1]) if times else "",
            "per cause: " + ", ".join(f"{SHORT[c]} {k}/{n}" for c, (k, n) in self.per_cause().items()),
        ]
        return "\n".join(line for line in lines if line)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drills": len(self.results),
            "seconds": round(self.seconds, 2),
            "top1_accuracy": self.accuracy,
            "feature_top3_hit_rate": self.feature_hit_rate,
            "healthy_flagged": self.healthy_flagged,
            "rates": self.rates(),
            "errors": self.errors,
            "per_cause": {c: {"correct": k, "total": n} for c, (k, n) in self.per_cause().items()},
            "confusion": self.confusion(),
            "results": [r.to_dict() for r in self.results],
        }


def _share(k: int, n: int) -> float:
    return round(k / n, 4) if n else float("nan")


def run_suite(drills: Iterable[Drill | Callable[[], Drill | None]], progress: Callable[[str], None] | None = None,
              *, windows: int = 8) -> SuiteResult:
    """Run drills in order. Pass zero-argument callables to build each drill only when its turn
    comes, so a suite of large drills never holds more than one in memory."""
    start = time.perf_counter()
    results = []
    for i, item in enumerate(drills, 1):
        t0 = time.perf_counter()
        drill = item() if callable(item) else item
        if drill is None:  # a builder may decline (e.g. a scenario that does not apply)
            continue
        result = run_drill(drill, windows=windows, build_seconds=time.perf_counter() - t0)
        results.append(result)
        if progress:
            mark = "ok  " if result.correct else "MISS"
            hit = {True: " feature hit", False: " feature miss", None: ""}[result.feature_hit]
            progress(f"[{i}] {mark} {result.name}: got {result.got}{hit} ({result.seconds:.1f}s)"
                     + (f" {result.error}" if result.error else ""))
    return SuiteResult(tuple(results), time.perf_counter() - start)


# --- default drills and the `mlflow-postmortem drill` subcommand --------------------------

def default_drill(dataset: str, cause: str, *, n_rows: int = 2000, seed: int = 0) -> Drill:
    """One drill of `cause` with default parameters, on the dataset's most important numeric feature."""
    ds = load_dataset(dataset)
    drill = make_drill(ds, n_rows=n_rows, seed=seed)
    if cause in ("healthy", "model_regression"):
        return inject(drill, cause)
    split = split_dataset(ds)
    feature = most_important_feature(ds, split.model, split.golden, numeric_only=True)
    params: dict[str, Any] = {"feature": feature}
    if cause == "feature_drift":
        params["magnitude"] = 0.5 if ds.task == "classification" else 1.0
    return inject(drill, cause, **params)


def add_drill_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `mlflow-postmortem drill` (the CLI module owns the parser)."""
    known = all_datasets()
    # argparse formats help with %: the descriptions' percentages ("37%") are escaped
    described = "; ".join(f"{k}: {v[1]}" for k, v in known.items()).replace("%", "%%")
    parser.add_argument("--dataset", default="fair", choices=sorted(known), help="built-in dataset: " + described)
    parser.add_argument("--cause", action="append", choices=CAUSES,
                        help="cause to inject (repeatable; default: every cause)")
    parser.add_argument("--n-rows", type=int, default=2000, help="rows in the production log (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="write per-drill results and figures as JSON here")


def cli_drill(args: argparse.Namespace) -> int:
    """Run one default drill per cause, print the confusion matrix; 0 unless the input was bad."""
    causes = args.cause or list(CAUSES)
    thunks = [lambda c=c: default_drill(args.dataset, c, n_rows=args.n_rows, seed=args.seed) for c in causes]
    suite = run_suite(thunks, progress=print)
    print()
    print(suite.confusion_table())
    print()
    print(suite.summary())
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(suite.to_dict(), indent=2))
        print(f"results written to {path}")
    return 0
