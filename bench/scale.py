"""Scale benchmark (issue 11): the command a user runs, timed from outside.

bench/speed.py times the core in-process after the frames are loaded; a user waits for the whole
command. Here the same generated tables (speed.py's recipes: reference and a drifted current of
N rows x C columns, as Parquet) are diagnosed by a fresh `mlflow-postmortem diagnose` process
against a sqlite MLflow store holding the registered model, and Evidently's DataDriftPreset
runs in a fresh process on the same files (speed.py's worker). Wall time and peak RSS come from
the OS (`wait4`, through bench/measure.py's launcher), the stages from the command's progress
lines as they arrive.

    python bench/scale.py [--rows 1000000] [--cols 50] [--skip-evidently] [--skip-nannyml]
    python bench/scale.py --current-rows 50000000 --engine arrow --skip-evidently --skip-nannyml
    python bench/scale.py --engine arrow spark        # each engine's command on the same files
    python bench/scale.py --rows 10000000 --current-rows 50000000 --engine arrow --skip-evidently --skip-nannyml

The production log and the reference are each one Parquet file, or past PART_ROWS rows a dataset
folder of files of that many (how logs land), generated part by part, so a 50M-row log never sits
in the generator's memory either. Evidently and NannyML read a reference of one file.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import platform
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402  (the generator and the Evidently worker)
from measure import measured  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "scale.json"
MODEL = "scale-bench"
#: issue 11's bar at 1M + 1M x 50 in memory: a twentieth of Evidently's time, at most twice the frames
TIME_BAR, MEMORY_BAR = 0.05, 2.0
#: rows per file of the generated production log
PART_ROWS = 1_000_000


def timed(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run a fresh process; its wall time, peak RSS (the OS's count) and each stderr line's arrival."""
    run = measured(command, env=env, cwd=cwd, echo=lambda t, line: print(f"  [{t:7.2f}s] {line}", file=sys.stderr, flush=True))
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {run.returncode}:\n" + "\n".join(l for _, l in run.stderr[-20:]))
    return {"seconds": run.seconds, "peak_rss_mb": run.peak_rss_mb, "stdout": run.stdout, "progress": run.stderr}


def stages(progress: list[tuple[float, str]], seconds: float) -> list[dict[str, Any]]:
    """Each progress line as a stage lasting until the next one (the first from process start)."""
    marks = [(0.0, "start the process, import")] + progress
    ends = [t for t, _ in marks[1:]] + [seconds]
    return [{"stage": re.sub(r"^(\[[^]]*\] *)+", "", text), "seconds": round(end - t, 2)}
            for (t, text), end in zip(marks, ends)]


def prepare(rows: int, current_rows: int, cols: int, folder: Path, env: dict[str, str], *,
            codes: bool = False) -> dict[str, Any]:
    """speed.py's tables (the drifted log as a folder of PART_ROWS-row files, one second a row), the
    golden set as a file, the model registered, a config pointing at them. `codes`: the categorical
    features written as integer codes, as many pipelines store them."""
    os.chdir(folder)  # the store's default artifact root is ./mlruns: the model's files stay in the folder
    columns = speed.column_recipes(cols)
    setup = {"numeric": [c.name for c in columns if c.kind != "categorical"],
             "categorical": [c.name for c in columns if c.kind == "categorical"],
             "drifted": [c.name for c in columns if c.drifted],
             "golden": speed.make_frame(columns, speed.GOLDEN_ROWS, speed.GOLDEN_SEED)}
    write_table(columns, rows, folder, "reference", speed.REFERENCE_SEED, drift=False, start="2025-06-01")
    write_table(columns, current_rows, folder, "current", speed.CURRENT_SEED, drift=True, start="2026-01-01")
    with open(folder / "setup.pkl", "wb") as fh:
        pickle.dump(setup, fh)
    setup["golden"].to_parquet(folder / "golden.parquet")
    if codes:
        setup["golden"] = as_codes(folder, setup["categorical"])
    os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
    from mlflow_postmortem.adapters import registry
    from mlflow_postmortem.demo import TRUSTED_TYPES

    features = setup["numeric"] + setup["categorical"]
    version = registry.register_sklearn_model(model(setup, folder), MODEL, setup["golden"][features],
                                              trusted_types=TRUSTED_TYPES)
    (folder / "pm.yaml").write_text(yaml.safe_dump({
        "model": f"models:/{MODEL}/{version}", "task": "classification", "target": speed.TARGET,
        "timestamp": speed.TIMESTAMP, "categorical": setup["categorical"], "skops_trusted_types": list(TRUSTED_TYPES),
        "data": {"reference": "reference.parquet" if rows <= PART_ROWS else "reference", "golden": "golden.parquet",
                 "current": "current.parquet" if current_rows <= PART_ROWS else "current"},
    }, sort_keys=False))
    return setup


def write_table(columns: list, rows: int, folder: Path, name: str, seed: int, *, drift: bool, start: str) -> None:
    """`name`.parquet, or past PART_ROWS rows a folder `name` of files of that many, one second a row."""
    (folder / name).mkdir()
    for i, first in enumerate(range(0, rows, PART_ROWS)):
        part = speed.make_frame(columns, min(PART_ROWS, rows - first), seed + 1000 * i, drift=drift,
                                start=str(pd.Timestamp(start) + pd.Timedelta(seconds=first)))
        part.to_parquet(folder / name / f"part-{i:04d}.parquet", row_group_size=PART_ROWS // 8)
    if rows <= PART_ROWS:  # one file, as a table of this size usually is (pandas reads it column by column)
        (folder / name / "part-0000.parquet").rename(folder / f"{name}.parquet")
        (folder / name).rmdir()


def as_codes(folder: Path, categorical: list[str]) -> pd.DataFrame:
    """Each categorical feature's levels as their numbers in one order for all files (missing
    values make them floats, as pandas reads such columns); returns the golden set rewritten."""
    levels = {c: sorted(pd.read_parquet(table_files(folder, "reference")[0], columns=[c])[c].dropna().unique())
              for c in categorical}
    for path in [*table_files(folder, "reference"), *table_files(folder, "current"), folder / "golden.parquet"]:
        frame = pd.read_parquet(path)
        for c in categorical:
            number = pd.Categorical(frame[c], categories=levels[c]).codes.astype(float)
            frame[c] = np.where(number >= 0, number, np.nan)
        frame.to_parquet(path, row_group_size=PART_ROWS // 8)
    with open(folder / "setup.pkl", "rb") as fh:
        setup = pickle.load(fh)
    setup["golden"] = frame
    with open(folder / "setup.pkl", "wb") as fh:
        pickle.dump(setup, fh)
    return frame


def model(setup: dict[str, Any], folder: Path):
    """A gradient-boosted pipeline of only the types a registry stores without trusting extra code
    (speed.py's drill model wraps a function, which skops would have to be told to trust)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    features = setup["numeric"] + setup["categorical"]
    rows = pd.read_parquet(table_files(folder, "reference")[0], columns=[*features, speed.TARGET]).iloc[:speed.MODEL_ROWS]
    encode = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                                 setup["categorical"])], remainder="passthrough")
    return make_pipeline(encode, HistGradientBoostingClassifier(max_iter=100, random_state=0)).fit(
        rows[features], rows[speed.TARGET])


def table_files(folder: Path, name: str) -> list[Path]:
    """A table's files: `name`.parquet, or the folder's parts."""
    one = folder / f"{name}.parquet"
    return [one] if one.exists() else sorted((folder / name).glob("*.parquet"))


def frames_mb(folder: Path) -> float:
    """The two frames as pandas holds them once read: what the memory bar is a multiple of (the
    parts one at a time, summed)."""
    paths = [*table_files(folder, "reference"), *table_files(folder, "current")]
    return round(sum(int(pd.read_parquet(p).memory_usage(deep=True).sum()) for p in paths) / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the reference (and the log, by default)")
    parser.add_argument("--current-rows", type=int, help="rows in the production log (default: --rows)")
    parser.add_argument("--engine", nargs="+", choices=("auto", "pandas", "arrow", "spark"), default=["auto"],
                        help="the config's engine for data.current; several: each one's command in turn, the "
                        "first one's against the bars (default: auto)")
    parser.add_argument("--cols", type=int, default=50, help="feature columns (four fifths numeric)")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-nannyml", action="store_true")
    parser.add_argument("--categories", choices=("strings", "codes"), default="strings",
                        help="categorical features stored as strings or as integer codes (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--keep", type=Path, help="write the tables, store and config here and keep them "
                        "(default: a temporary folder, removed after)")
    args = parser.parse_args()
    args.current_rows = args.current_rows or args.rows
    if args.rows > PART_ROWS and not (args.skip_evidently and args.skip_nannyml):
        parser.error(f"Evidently and NannyML read a reference of one file: past {PART_ROWS:,} --rows, add "
                     "--skip-evidently --skip-nannyml")

    with tempfile.TemporaryDirectory(prefix="postmortem-scale-") as tmp:
        folder = (args.keep or Path(tmp)).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **speed.QUIET_ENV, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        t0 = time.perf_counter()
        # in a process of its own: the memory it took to generate the tables stays with it, not with
        # the machine the measured commands then run on
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            setup = pool.submit(prepare, args.rows, args.current_rows, args.cols, folder, env,
                                codes=args.categories == "codes").result()
        print(f"tables generated and model registered in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        print("--- mlflow-postmortem diagnose", file=sys.stderr)
        results = {}
        for engine in args.engine:
            print(f"--- mlflow-postmortem diagnose, engine {engine}", file=sys.stderr)
            config = yaml.safe_load((folder / "pm.yaml").read_text())
            (folder / f"pm-{engine}.yaml").write_text(yaml.safe_dump({**config, "engine": engine}, sort_keys=False))
            ours = timed(["mlflow-postmortem", "diagnose", f"pm-{engine}.yaml", "--no-record", "-o", "verdict.json"],
                         env, folder)
            verdict = json.loads((folder / "verdict.json").read_text())
            results[f"diagnose ({engine})"] = {
                "seconds": ours["seconds"], "peak_rss_mb": ours["peak_rss_mb"], "root_cause": verdict["root_cause"],
                "features": sorted({f for c in verdict["causes"] if c["score"] > 0 and c["cause"] != "healthy"
                                    for f in c["features"]}),
                "stages": stages(ours["progress"], ours["seconds"])}
        for tool, title, skip in (("evidently", "Evidently DataDriftPreset", args.skip_evidently),
                                  ("nannyml", "NannyML UnivariateDriftCalculator", args.skip_nannyml)):
            if skip:
                continue
            print(f"--- {title}", file=sys.stderr)
            theirs = timed([sys.executable, speed.__file__, "--worker", tool, "--data", str(folder)], env, folder)
            inside = json.loads(theirs["stdout"].strip().splitlines()[-1])
            results[tool] = {"seconds": theirs["seconds"], "peak_rss_mb": theirs["peak_rss_mb"],
                             "in_process_seconds": inside["seconds"], "drifted_columns": inside["drifted_columns"]}
        frames = frames_mb(folder)  # after the runs: frames read here would crowd the memory they measure
    report = summary(args, setup, frames, results)
    print(table(report))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.output}")


def summary(args: argparse.Namespace, setup: dict[str, Any], frames: float, results: dict[str, Any]) -> dict[str, Any]:
    ours = results[f"diagnose ({args.engine[0]})"]
    bar: dict[str, Any] = {"memory_multiple": round(ours["peak_rss_mb"] / frames, 2)}
    bar["memory_at_most_2x"] = bar["memory_multiple"] <= MEMORY_BAR
    if "evidently" in results:
        bar["time_ratio"] = round(ours["seconds"] / results["evidently"]["seconds"], 3)
        bar["time_at_most_a_twentieth"] = bar["time_ratio"] <= TIME_BAR
    if "nannyml" in results:
        bar["time_ratio_nannyml"] = round(ours["seconds"] / results["nannyml"]["seconds"], 3)
    per_million = {name: round(r["seconds"] / (args.current_rows / 1e6), 2) for name, r in results.items()
                   if name.startswith("diagnose")}
    return {"rows": args.rows, "current_rows": args.current_rows, "engines": args.engine,
            "seconds_per_million_log_rows": per_million, "columns": args.cols, "categories": args.categories, "drifted": setup["drifted"], "frames_mb": frames,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "versions": {p: speed._version(p) for p in ("mlflow", "pandas", "pyarrow", "scikit-learn", "evidently")},
            "results": results, "bar": bar}


def table(report: dict[str, Any]) -> str:
    r = report["results"]
    lines = [f"{report['rows']:,} reference + {report['current_rows']:,} log rows x {report['columns']} columns, "
             f"categories as {report['categories']}; frames in pandas: {report['frames_mb']:,.0f} MB; seconds per "
             f"million log rows: {report['seconds_per_million_log_rows']}",
             f"{'tool':<28}{'seconds':>10}{'peak RSS MB':>14}"]
    lines += [f"{name:<28}{x['seconds']:>10.1f}{x['peak_rss_mb']:>14,.0f}" for name, x in r.items()]
    for name, x in r.items():
        if name.startswith("diagnose"):
            lines.append(f"{name} verdict: {x['root_cause']} ({', '.join(x['features'][:8])})")
            lines.append("  stages: " + "; ".join(f"{s['stage']} {s['seconds']:.1f}s" for s in x["stages"]))
    lines.append("bar: " + json.dumps(report["bar"]))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
