"""Speed and memory benchmark (issue 2): `diagnose` against Evidently's DataDriftPreset and NannyML.

The frames are generated once (deterministic numpy seeds), written to Parquet in a temporary
folder, and every tool then runs in its own fresh subprocess that reads the same files. Each
worker resets the kernel's peak-RSS mark after its frames are loaded, so the peak it reports
is what the tool itself needed on top of frames the caller already holds.

    python bench/speed.py [--rows 1000000] [--cols 50] [--skip-evidently] [--skip-nannyml]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results" / "speed.json"
TARGET = "label"
TIMESTAMP = "event_time"
#: seeds: the column recipes, then one sample stream per frame
SPEC_SEED, REFERENCE_SEED, CURRENT_SEED, HEALTHY_SEED, GOLDEN_SEED = 7, 1, 2, 3, 4
MODEL_ROWS = 20_000
GOLDEN_ROWS = 5_000
#: a drifted column over-represents its upper half: this share of its rows is drawn from the values
#: above the median (numeric) or from the rarer levels holding half the mass (categorical). That
#: moves about 0.2 of the mass, stays inside the seen range, and is no rescale or relabelling.
SELECTED = 0.4
NULL_SHARE = 0.01
#: the bar of issue 2: at most a tenth of Evidently's time, peak under twice the frames' size
TIME_BAR, MEMORY_BAR = 0.1, 2.0
#: telemetry of Evidently and NannyML off: the benchmark must not talk to the network
QUIET_ENV = {"DO_NOT_TRACK": "1", "EVIDENTLY_DISABLE_TELEMETRY": "1", "NML_DISABLE_USAGE_LOGGING": "1"}


# --- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One feature's recipe: numeric family and parameters, or categorical levels and shares."""

    name: str
    kind: str  # a numeric family name, or "categorical"
    params: tuple[float, ...] = ()
    levels: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()
    drifted: bool = False
    nullable: bool = False


NUMERIC_FAMILIES = ("normal", "lognormal", "exponential", "uniform", "gamma", "poisson", "beta", "student_t",
                    "bimodal", "rounded")


def column_recipes(cols: int) -> list[Column]:
    """`cols` features, four fifths numeric across ten families; a quarter of each kind drifts."""
    rng = np.random.default_rng(SPEC_SEED)
    n_cat = max(1, cols // 5)
    n_num = cols - n_cat
    drifted_num = set(range(0, n_num, 4))  # every fourth numeric column: a spread of families
    drifted_cat = set(range(0, n_cat, 4))  # 3 of 10 categorical columns
    out = []
    for i in range(n_num):
        family = NUMERIC_FAMILIES[i % len(NUMERIC_FAMILIES)]
        params = (float(rng.uniform(-5, 5)), float(rng.uniform(0.5, 3)))
        out.append(Column(f"num_{i:02d}", family, params, drifted=i in drifted_num, nullable=i % 7 == 3))
    for j in range(n_cat):
        k = int(rng.integers(3, 31))
        shares = rng.dirichlet(np.full(k, 2.0))
        levels = tuple(f"c{j}_level_{v:02d}" for v in range(k))
        out.append(Column(f"cat_{j:02d}", "categorical", levels=levels, shares=tuple(shares.tolist()),
                          drifted=j in drifted_cat, nullable=j % 5 == 2))
    return out


def _numeric(column: Column, n: int, rng: np.random.Generator) -> np.ndarray:
    loc, scale = column.params
    draw: dict[str, Callable[[], np.ndarray]] = {
        "normal": lambda: rng.normal(loc, scale, n),
        "lognormal": lambda: np.exp(rng.normal(np.log(scale) + 3, 0.6, n)),
        "exponential": lambda: rng.exponential(scale, n),
        "uniform": lambda: rng.uniform(loc, loc + 4 * scale, n),
        "gamma": lambda: rng.gamma(2.0, scale, n) + loc,
        "poisson": lambda: rng.poisson(scale + 1, n).astype(float),
        "beta": lambda: rng.beta(2.0, 5.0, n),
        "student_t": lambda: loc + scale * rng.standard_t(5, n),
        "bimodal": lambda: np.where(rng.random(n) < 0.3, rng.normal(loc - 2 * scale, scale / 2, n),
                                    rng.normal(loc + scale, scale, n)),
        "rounded": lambda: np.round(rng.normal(100 + 10 * loc, 15 * scale, n)),
    }
    return draw[column.kind]()


def _select(values: np.ndarray, upper: np.ndarray, rng: np.random.Generator) -> None:
    """Overwrite a SELECTED share of rows (in place) with draws from `upper`."""
    rows = rng.random(len(values)) < SELECTED
    values[rows] = upper[rng.integers(0, len(upper), int(rows.sum()))]


def _rare_levels(shares: np.ndarray) -> np.ndarray:
    """The least frequent levels that together hold (just over) half of the mass."""
    order = np.argsort(shares, kind="stable")
    return order[: int(np.searchsorted(np.cumsum(shares[order]), 0.5)) + 1]


def make_frame(columns: list[Column], n: int, seed: int, *, drift: bool = False,
               start: str | None = None) -> pd.DataFrame:
    """Rows from the recipes; with `drift`, the drifted columns move. The label follows one fixed rule."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    logit = np.zeros(n)
    for i, col in enumerate(columns):
        if col.kind == "categorical":
            shares = np.asarray(col.shares) / sum(col.shares)
            codes = rng.choice(len(shares), n, p=shares)
            if drift and col.drifted:
                rare = _rare_levels(shares)
                _select(codes, rng.choice(rare, n, p=shares[rare] / shares[rare].sum()), rng)
            values = np.asarray(col.levels, dtype=object)[codes]
            if i % 3 == 0:
                logit += 0.6 * (codes % 2 == 0) - 0.3
            if col.nullable:
                values[rng.random(n) < NULL_SHARE] = None
        else:
            values = _numeric(col, n, rng)
            if drift and col.drifted:
                _select(values, values[values > np.median(values)], rng)
            if i % 4 == 0:  # every drifted column and some stable ones carry signal
                logit += 0.5 * np.clip((values - values.mean()) / (values.std() or 1.0), -3, 3)
            if col.nullable:
                values[rng.random(n) < NULL_SHARE] = np.nan
        data[col.name] = values
    data[TARGET] = (rng.random(n) < 1 / (1 + np.exp(-(logit + rng.normal(0, 0.5, n))))).astype(np.int64)
    if start is not None:  # one row a second; Evidently needs the column in both frames or neither
        data[TIMESTAMP] = pd.date_range(start, periods=n, freq="s")
    return pd.DataFrame(data)


def fit_model(columns: list[Column], reference: pd.DataFrame):
    """The model under review: the drills' gradient-boosted pipeline, fit on a slice of the reference."""
    from mlflow_postmortem.drills.datasets import make_dataset
    from mlflow_postmortem.drills.models import fit

    features = [c.name for c in columns]
    categorical = [c.name for c in columns if c.kind == "categorical"]
    dataset = make_dataset(reference.iloc[:MODEL_ROWS], name="bench", task="classification", target=TARGET,
                           features=features, categorical=categorical)
    return fit(dataset, dataset.frame, seed=0)


# --- workers (one tool per fresh process) ----------------------------------------------------


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def worker(tool: str, data: Path) -> dict[str, Any]:
    """Import the tool, load the frames, reset the peak mark, then run and time the tool once."""
    with open(data / "setup.pkl", "rb") as fh:
        setup = pickle.load(fh)
    current_file = "healthy.parquet" if tool == "healthy" else "current" if (data / "current").is_dir() else "current.parquet"
    run = _RUNNERS["diagnose" if tool == "healthy" else tool](setup)  # imports the tool before the baseline
    reference = pd.read_parquet(data / "reference.parquet")
    current = pd.read_parquet(data / current_file)
    frames_bytes = int(reference.memory_usage(deep=True).sum() + current.memory_usage(deep=True).sum())
    rss_frames = _status_kb("VmRSS")
    _reset_peak()
    start = time.perf_counter()
    detail = run(reference, current)
    seconds = time.perf_counter() - start
    peak = _status_kb("VmHWM")
    return {"tool": tool, "seconds": round(seconds, 2), "frames_mb": round(frames_bytes / 2**20, 1),
            "peak_extra_mb": round((peak - rss_frames) / 1024, 1), **detail}


def _diagnose_runner(setup: dict[str, Any]) -> Callable[[pd.DataFrame, pd.DataFrame], dict[str, Any]]:
    from mlflow_postmortem.data import build_inputs
    from mlflow_postmortem.diagnose import diagnose
    from mlflow_postmortem.drills.models import make_handle

    model = make_handle(setup["model"], "bench", "1")
    golden = setup["golden"]

    def run(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
        t0 = time.perf_counter()
        inputs = build_inputs(reference, golden, current, task="classification", target=TARGET,
                              features=setup["numeric"] + setup["categorical"], categorical=setup["categorical"],
                              timestamp=TIMESTAMP)
        t1 = time.perf_counter()
        verdict = diagnose(inputs, model, progress=lambda m: print(m, file=sys.stderr, flush=True))
        drifted = [c for c in verdict.causes if c.cause == "data_drift"]
        return {"build_inputs_seconds": round(t1 - t0, 2), "root_cause": verdict.root_cause,
                "features_flagged": sorted({f for c in verdict.causes if c.cause != "healthy" for f in c.features}),
                "data_drift_features": sorted(drifted[0].features) if drifted else []}

    return run


def _evidently_runner(setup: dict[str, Any]) -> Callable[[pd.DataFrame, pd.DataFrame], dict[str, Any]]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    features = setup["numeric"] + setup["categorical"]
    definition = DataDefinition(numerical_columns=setup["numeric"], categorical_columns=setup["categorical"])

    def run(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
        report = Report([DataDriftPreset(columns=features)])
        snapshot = report.run(Dataset.from_pandas(current, data_definition=definition),
                              Dataset.from_pandas(reference, data_definition=definition))
        counts = [m["value"] for m in snapshot.dict()["metrics"] if "DriftedColumnsCount" in m["metric_name"]]
        return {"drifted_columns": int(counts[0]["count"]) if counts else None}

    return run


def _nannyml_runner(setup: dict[str, Any]) -> Callable[[pd.DataFrame, pd.DataFrame], dict[str, Any]]:
    import nannyml as nml

    features = setup["numeric"] + setup["categorical"]

    def run(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
        calc = nml.UnivariateDriftCalculator(column_names=features, treat_as_categorical=setup["categorical"])
        calc.fit(reference)
        result = calc.calculate(current).filter(period="analysis").to_df()
        alerts = result.loc[:, [c for c in result.columns if c[-1] == "alert"]]
        return {"drifted_columns": int(alerts.any(axis=0).sum()), "chunks": int(len(result))}

    return run


_RUNNERS = {"diagnose": _diagnose_runner, "evidently": _evidently_runner, "nannyml": _nannyml_runner}


# --- orchestration --------------------------------------------------------------------------


def prepare(rows: int, cols: int, folder: Path) -> dict[str, Any]:
    """Write reference, drifted current, healthy current to Parquet; pickle model, golden set, schema."""
    columns = column_recipes(cols)
    reference = make_frame(columns, rows, REFERENCE_SEED, start="2025-06-01")
    setup = {"numeric": [c.name for c in columns if c.kind != "categorical"],
             "categorical": [c.name for c in columns if c.kind == "categorical"],
             "drifted": [c.name for c in columns if c.drifted],
             "model": fit_model(columns, reference),
             "golden": make_frame(columns, GOLDEN_ROWS, GOLDEN_SEED)}
    reference.to_parquet(folder / "reference.parquet")
    del reference
    make_frame(columns, rows, CURRENT_SEED, drift=True, start="2026-01-01").to_parquet(folder / "current.parquet")
    make_frame(columns, rows, HEALTHY_SEED, start="2026-01-01").to_parquet(folder / "healthy.parquet")
    with open(folder / "setup.pkl", "wb") as fh:
        pickle.dump(setup, fh)
    return setup


def run_worker(tool: str, folder: Path) -> dict[str, Any]:
    print(f"--- {tool}", file=sys.stderr, flush=True)
    proc = subprocess.run([sys.executable, __file__, "--worker", tool, "--data", str(folder)],
                          stdout=subprocess.PIPE, env={**os.environ, **QUIET_ENV}, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in reference and in current")
    parser.add_argument("--cols", type=int, default=50, help="feature columns (four fifths numeric)")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-nannyml", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data)))
        return

    tools = ["diagnose", "healthy"] + ["evidently"] * (not args.skip_evidently) + ["nannyml"] * (not args.skip_nannyml)
    with tempfile.TemporaryDirectory(prefix="postmortem-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        setup = prepare(args.rows, args.cols, folder)
        print(f"frames generated in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        results = {tool: run_worker(tool, folder) for tool in tools}

    report = _summary(args, setup, results)
    print(_table(report))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.output}")


def _summary(args: argparse.Namespace, setup: dict[str, Any], results: dict[str, dict]) -> dict[str, Any]:
    diag = results["diagnose"]
    ratios = {f"diagnose_over_{t}": round(diag["seconds"] / results[t]["seconds"], 3)
              for t in ("evidently", "nannyml") if t in results}
    for r in results.values():
        r["memory_multiple"] = round((r["frames_mb"] + r["peak_extra_mb"]) / r["frames_mb"], 2)
    bar = {"memory_under_2x": diag["memory_multiple"] < MEMORY_BAR,
           "healthy_is_healthy": results["healthy"]["root_cause"] == "healthy"}
    if "evidently" in results:
        bar["time_within_tenth_of_evidently"] = ratios["diagnose_over_evidently"] <= TIME_BAR
    return {
        "rows": args.rows, "columns": args.cols, "numeric": len(setup["numeric"]),
        "categorical": len(setup["categorical"]), "drifted": setup["drifted"],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "versions": {p: _version(p) for p in ("pandas", "numpy", "scikit-learn", "evidently", "nannyml")},
        "results": results, "ratios": ratios,
        "healthy_root_cause": results["healthy"]["root_cause"], "bar": bar,
    }


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _table(report: dict[str, Any]) -> str:
    lines = [f"{report['rows']:,} reference + {report['rows']:,} current rows x {report['columns']} columns "
             f"({report['numeric']} numeric, {report['categorical']} categorical, {len(report['drifted'])} drifted)",
             f"{'tool':<10} {'seconds':>8} {'frames MB':>10} {'peak extra MB':>14} {'multiple':>9}  result"]
    for name, r in report["results"].items():
        result = r.get("root_cause") or f"{r.get('drifted_columns')} drifted columns"
        lines.append(f"{name:<10} {r['seconds']:>8.1f} {r['frames_mb']:>10.0f} {r['peak_extra_mb']:>14.0f} "
                     f"{r['memory_multiple']:>8.2f}x  {result}")
    lines += [f"{k}: {v}" for k, v in report["ratios"].items()]
    lines += [f"bar {k}: {'met' if v else 'NOT MET'}" for k, v in report["bar"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
