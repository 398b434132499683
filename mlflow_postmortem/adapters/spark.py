"""Spark as the engine for data.current (`engine: spark`): the profile computed where the data
lives, as aggregations, and only summaries and bounded samples brought to the driver.

The same accumulators as the arrow engine (merged_profile.py), filled from a few jobs: the
times (all of them up to TIME_SAMPLE_ROWS, else a sample) to place the windows; one grouped
aggregation for every numeric feature's counts, bins and moments per window; one per
categorical feature for its counts per value; a sample per window for quantiles; the rows the
row-level checks read. The session is the active one if there is one (a notebook's, a job's),
else a local one (`POSTMORTEM_SPARK_MASTER`, default `local[*]`).
"""

from __future__ import annotations

import glob
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..config import TABLE_PREFIX
from ..data import Inputs, Schema, to_category_strings
from ..diagnose import reference_profiles
from ..errors import DataError
from ..merged_profile import WINDOW_SAMPLE_ROWS, CategoricalWindow, NumericWindow
from ..monitoring import utc_nanoseconds
from ..profile import NumericReference, time_label, window_count
from ..scan import ROLE, SAMPLE_ROWS, TIME_SAMPLE_ROWS, WINDOW, CurrentScan, assembled, window_firsts

MASTER_ENV = "POSTMORTEM_SPARK_MASTER"
_ROW = "_postmortem_row"
#: a missing time, after every time
_NO_TIME = np.iinfo(np.int64).max


def session() -> Any:
    """The active Spark session, or a local one started for this process."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError("engine 'spark' needs pyspark: pip install 'mlflow-postmortem[spark]' (and Java 17)") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    try:
        return (SparkSession.builder.master(os.environ.get(MASTER_ENV, "local[*]")).appName("mlflow-postmortem")
                .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.sql.shuffle.partitions", "8").getOrCreate())
    except Exception as exc:  # no Java, a master that does not answer: one line, not a JVM trace
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"engine 'spark': cannot start Spark ({first})") from None


def read_log(path: str) -> Any:
    """data.current as a Spark DataFrame: a catalog table (`table:db.name`), or Parquet files (a
    file, a dataset folder with its partitions, or a glob)."""
    spark = session()
    try:
        if path.startswith(TABLE_PREFIX):
            return spark.table(path[len(TABLE_PREFIX):])
        files = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        if not files:
            raise DataError(f"{ROLE}: no file matches {path}")
        for f in files:
            if not Path(f).exists():
                raise DataError(f"{ROLE}: file not found: {f}")
            if Path(f).is_file() and Path(f).suffix.lower() not in (".parquet", ".pq"):
                kind = Path(f).suffix or "a file with no suffix"
                raise DataError(f"{ROLE}: engine 'spark' reads Parquet or a table, not {kind} ({f}); "
                                f"convert it, or set engine: pandas")
        return spark.read.parquet(*files)
    except DataError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{ROLE}: Spark cannot read {path}: {first}") from None


def first_rows(log: Any, rows: int = 1_000) -> pd.DataFrame:
    """The log's first rows: enough for the checks on its columns and their types."""
    head = log.limit(rows).toPandas()
    if head.empty:
        raise DataError(f"{ROLE} has no rows: nothing to diagnose")
    return head


def scanned(inputs: Inputs, log: Any, *, windows: int, seed: int = 0,
            say: Callable[[str], None] = lambda message: None) -> Inputs:
    """`inputs` (built on the log's first rows) with the whole log profiled by Spark and a sample of
    its rows as `current`."""
    scan = scan_log(log, inputs.schema, reference_profiles(inputs), windows=windows, seed=seed, say=say)
    return replace(inputs, current=scan.sample, scan=scan)


def scan_log(log: Any, schema: Schema, references: dict, *, windows: int, seed: int = 0,
             say: Callable[[str], None] = lambda message: None) -> CurrentScan:
    from pyspark.sql import functions as F

    present = set(log.columns)
    wanted = [c for c in dict.fromkeys((*schema.features, schema.target, schema.timestamp, schema.entity_id,
                                        schema.prediction)) if c and c in present]
    numeric = [f for f in schema.numeric if f in present and f in references]
    categorical = [f for f in schema.categorical if f in present and f in references]
    log = log.select(*wanted).withColumn(_ROW, F.monotonically_increasing_id())
    n = log.count()
    if n == 0:
        raise DataError(f"{ROLE} has no rows: nothing to diagnose")
    timestamp = schema.timestamp if schema.timestamp in present else None
    n_windows = window_count(n, windows, schema.timestamp is not None)
    say(f"profiling {n:,} rows of {ROLE} in Spark ({len(wanted)} columns, {n_windows} window{'s' * (n_windows > 1)})")
    labels, window = _windows(log, timestamp, n, n_windows, seed)
    log = log.withColumn(WINDOW, window).cache()
    try:
        say("Spark: counts, bins and moments per window")
        numbers, rows_per_window = _numeric(log, numeric, references, n_windows)
        say("Spark: categories per window")
        counts = [_categories(log, f, references[f], n_windows) for f in categorical]
        say("Spark: samples")
        values = _window_samples(log, numeric, rows_per_window, seed)
        sample = _rows(log, [c for c in wanted], n, seed)
        labelled = _labelled(log, schema.target) if schema.target in present else 0
    finally:
        log.unpersist()
    return assembled(schema, references, numbers, counts, values, rows_per_window, labels, sample, rows=n,
                     labelled=labelled)


def _windows(log: Any, timestamp: str | None, n: int, n_windows: int, seed: int) -> tuple[tuple[str, ...], Any]:
    """Each window's first time and the column giving each row's window: the equal-count split of
    the rows ordered by time, then by their order in the log (missing times last), read off the
    times (all of them up to TIME_SAMPLE_ROWS, so exactly the in-memory engine's windows for a log
    read in its files' order; else a sample)."""
    from pyspark.sql import functions as F

    if n_windows == 1 or timestamp is None:
        return ("all",), F.lit(0)
    times = log.select(timestamp, _ROW)
    if n > TIME_SAMPLE_ROWS:
        times = times.sample(fraction=min(1.0, 1.2 * TIME_SAMPLE_ROWS / n), seed=seed)
    frame = times.toPandas()
    parsed = _as_times(frame[timestamp], timestamp)
    micros = np.where(parsed.isna(), _NO_TIME, utc_nanoseconds(parsed) // 1000)
    order = np.lexsort((frame[_ROW].to_numpy(), micros))
    firsts = order[window_firsts(len(order), n, n_windows)]
    labels = tuple(time_label(t) for t in parsed.iloc[firsts])
    at = F.coalesce(F.unix_micros(F.col(timestamp).try_cast("timestamp")), F.lit(_NO_TIME))
    later = [(at > int(micros[i])) | ((at == int(micros[i])) & (F.col(_ROW) >= int(frame[_ROW].iloc[i])))
             for i in firsts[1:]]
    return labels, sum((F.when(c, 1).otherwise(0) for c in later), F.lit(0))


def _as_times(values: pd.Series, timestamp: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    parsed = pd.to_datetime(values, errors="coerce", utc=True)
    bad = parsed.isna() & values.notna()
    if bad.any():
        raise DataError(f"timestamp column {timestamp!r} in {ROLE} has values that are not times")
    return parsed


def _numeric(log: Any, numeric: list[str], references: dict, n_windows: int) -> tuple[list[list[NumericWindow]], np.ndarray]:
    """One grouped aggregation: rows per window and, per numeric feature, its nulls, infinities,
    counts on the reference's bins, moments around the reference median, minimum and maximum."""
    from pyspark.sql import functions as F

    exprs = [F.count(F.lit(1)).alias("rows")]
    for j, f in enumerate(numeric):
        ref: NumericReference = references[f]
        x = F.col(f).try_cast("double")  # junk as null (Spark 4 casts strictly)
        missing = x.isNull() | F.isnan(x)
        infinite = x.isin(float("inf"), float("-inf"))
        finite = F.when(missing | infinite, False).otherwise(True)
        shift = NumericWindow(ref).shift
        lo, hi = ref.support
        inside = sum((F.when(x > float(e), 1).otherwise(0) for e in ref.edges), F.lit(1))
        slot = F.when(x < lo, 0).when(x > hi, len(ref.edges) + 2).otherwise(inside)
        exprs += [F.sum(F.when(missing, 1).otherwise(0)).alias(f"n{j}_null"),
                  F.sum(F.when(infinite, 1).otherwise(0)).alias(f"n{j}_inf"),
                  F.sum(F.when(finite, x - shift)).alias(f"n{j}_sum"),
                  F.sum(F.when(finite, (x - shift) * (x - shift))).alias(f"n{j}_squares"),
                  F.min(F.when(finite, x)).alias(f"n{j}_min"), F.max(F.when(finite, x)).alias(f"n{j}_max")]
        exprs += [F.sum(F.when(finite & (slot == b), 1).otherwise(0)).alias(f"n{j}_bin{b}")
                  for b in range(len(ref.edges) + 3)]
    got = {int(r[WINDOW]): r.asDict() for r in log.groupBy(WINDOW).agg(*exprs).collect()}
    rows_per_window = np.array([got.get(w, {}).get("rows", 0) for w in range(n_windows)], dtype=np.int64)
    numbers = []
    for j, f in enumerate(numeric):
        ref = references[f]
        per_window = []
        for w in range(n_windows):
            r = got.get(w)
            if r is None:
                per_window.append(NumericWindow(ref))
                continue
            counts = np.array([r[f"n{j}_bin{b}"] for b in range(len(ref.edges) + 3)], dtype=np.int64)
            per_window.append(NumericWindow(
                ref, n=int(r["rows"]), n_null=int(r[f"n{j}_null"]), n_inf=int(r[f"n{j}_inf"]), counts=counts,
                shifted_sum=float(r[f"n{j}_sum"] or 0.0), shifted_squares=float(r[f"n{j}_squares"] or 0.0),
                minimum=np.inf if r[f"n{j}_min"] is None else float(r[f"n{j}_min"]),
                maximum=-np.inf if r[f"n{j}_max"] is None else float(r[f"n{j}_max"])))
        numbers.append(per_window)
    return numbers, rows_per_window


def _categories(log: Any, feature: str, ref: Any, n_windows: int) -> list[CategoricalWindow]:
    """A categorical feature's rows per value and window, values in order of first appearance."""
    from pyspark.sql import functions as F

    counted = (log.groupBy(WINDOW, feature).agg(F.count(F.lit(1)).alias("rows"), F.min(_ROW).alias("first"))
               .toPandas().sort_values([WINDOW, "first"], kind="stable"))
    out = [CategoricalWindow(ref) for _ in range(n_windows)]
    for w, part in counted.groupby(WINDOW, sort=False):
        out[int(w)].add(to_category_strings(part[feature].reset_index(drop=True)), part["rows"].to_numpy())
    return out


def _window_samples(log: Any, numeric: list[str], rows_per_window: np.ndarray, seed: int) -> list[np.ndarray]:
    """Per window, the numeric values of up to WINDOW_SAMPLE_ROWS of its rows drawn at random (all of
    them when the window is smaller)."""
    from pyspark.sql import functions as F

    fractions = {w: min(1.0, 1.2 * WINDOW_SAMPLE_ROWS / max(int(rows), 1)) for w, rows in enumerate(rows_per_window)}
    rows = log if all(v >= 1.0 for v in fractions.values()) else log.sampleBy(WINDOW, fractions, seed)
    frame = rows.select(WINDOW, *[F.col(f).try_cast("double").alias(f) for f in numeric]).toPandas()
    rng = np.random.default_rng(seed)
    out = []
    for w in range(len(rows_per_window)):
        values = frame.loc[frame[WINDOW] == w, numeric].to_numpy(dtype=float).reshape(-1, len(numeric))
        if len(values) > WINDOW_SAMPLE_ROWS:
            values = values[rng.choice(len(values), WINDOW_SAMPLE_ROWS, replace=False)]
        out.append(values)
    return out


def _rows(log: Any, columns: list[str], n: int, seed: int) -> pd.DataFrame:
    """Up to SAMPLE_ROWS rows drawn at random (all of them in a smaller log), with their window."""
    rows = log if n <= SAMPLE_ROWS else log.sample(fraction=min(1.0, 1.2 * SAMPLE_ROWS / n), seed=seed)
    frame = rows.orderBy(_ROW).select(*columns, WINDOW).toPandas()
    if len(frame) > SAMPLE_ROWS:
        frame = frame.iloc[np.sort(np.random.default_rng(seed).choice(len(frame), SAMPLE_ROWS, replace=False))]
    return frame.reset_index(drop=True)


def _labelled(log: Any, target: str) -> int:
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    label = F.col(target)
    known = label.isNotNull()
    if isinstance(log.schema[target].dataType, (DoubleType, FloatType)):
        known = known & ~F.isnan(label)
    return int(log.filter(known).count())
