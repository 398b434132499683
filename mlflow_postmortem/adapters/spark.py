"""Spark as the engine for data.current (`engine: spark`): the profile computed where the data
lives, and only summaries and bounded samples brought to the driver.

Three jobs: the times (all of them up to TIME_SAMPLE_ROWS, else a sample) to place the windows;
the arrow engine's accumulators (scan.LogProfile) filled on every partition and added up on the
driver; the rows the row-level checks read. The session is the active one if there is one (a
notebook's, a job's), else a local one (`POSTMORTEM_SPARK_MASTER`, default `local[*]`). The
partitions run this package's code: on a cluster, install it on the executors' Python, as any
pandas UDF needs.
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import replace
from functools import reduce
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..config import TABLE_PREFIX
from ..data import Inputs, Schema
from ..diagnose import reference_profiles
from ..errors import DataError
from ..merged_profile import WINDOW_SAMPLE_ROWS
from ..monitoring import utc_nanoseconds
from ..profile import time_label, window_count
from ..scan import ROLE, SAMPLE_ROWS, TIME_SAMPLE_ROWS, WINDOW, CurrentScan, LogProfile, window_firsts

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
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the partitions run this package's code
    try:
        spark = (SparkSession.builder.master(os.environ.get(MASTER_ENV, "local[*]")).appName("mlflow-postmortem")
                 .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
                 .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                 .config("spark.ui.showConsoleProgress", "false")  # our progress lines are the command's
                 .config("spark.sql.shuffle.partitions", "8").getOrCreate())
    except Exception as exc:  # no Java, a master that does not answer: one line, not a JVM trace
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"engine 'spark': cannot start Spark ({first})") from None
    spark.sparkContext.setLogLevel("OFF")  # a failed read is reported in one line, not as Java traces
    return spark


def read_log(path: str, role: str = ROLE) -> Any:
    """data.current (or the training view: `role`) as a Spark DataFrame: a catalog table
    (`table:db.name`), or Parquet files (a file, a dataset folder with its partitions, or a glob)."""
    spark = session()
    # nanosecond times (pandas' default in Parquet), which Spark refuses, as integers: read as pandas reads them
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    try:
        if path.startswith(TABLE_PREFIX):
            return spark.table(path[len(TABLE_PREFIX):])
        files = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        if not files:
            raise DataError(f"{role}: no file matches {path}")
        for f in files:
            if not Path(f).exists():
                raise DataError(f"{role}: file not found: {f}")
            if Path(f).is_file() and Path(f).suffix.lower() not in (".parquet", ".pq"):
                kind = Path(f).suffix or "a file with no suffix"
                raise DataError(f"{role}: engine 'spark' reads Parquet or a table, not {kind} ({f}); "
                                f"convert it, or set engine: pandas")
        return spark.read.parquet(*files)
    except DataError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{role}: Spark cannot read {path}: {first}") from None


def first_rows(log: Any, rows: int = 1_000, role: str = ROLE) -> pd.DataFrame:
    """A table's first rows: enough for the checks on its columns and their types."""
    head = log.limit(rows).toPandas()
    if head.empty and role == ROLE:
        raise DataError(f"{ROLE} has no rows: nothing to diagnose")
    return head


def view_in_force(view: Any, sample: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The training-view rows the skew join pairs with the sampled serving rows, joined in Spark:
    with the timestamp in the view, each serving row's latest view row at or before its time (the
    point-in-time join); without it, up to two rows per sampled entity (two tell it is ambiguous).
    Only those rows reach the driver, however long the view's history."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from ..scan import in_force_serving

    spark, key, ts = session(), schema.entity_id, schema.timestamp
    columns = [c for c in dict.fromkeys((key, ts, *schema.features)) if c and c in view.columns]
    view = view.select(*columns)
    if ts in view.columns and ts in sample.columns:
        kind = view.schema[ts].dataType
        when = (F.col(ts) if isinstance(kind, (T.TimestampType, T.TimestampNTZType))
                else (F.col(ts) / 1e9).cast("timestamp") if isinstance(kind, T.IntegralType)  # nanoseconds, as pandas wrote them
                else F.to_timestamp(F.col(ts)))
        serving = spark.createDataFrame(in_force_serving(sample, key, ts))
        pairs = (serving.join(view.withColumn("_view_time", when), on=key)
                 .where(F.col("_view_time") <= F.col("_serving_time")))
        latest = Window.partitionBy("_row").orderBy(F.col("_view_time").desc())
        kept = pairs.withColumn("_rank", F.row_number().over(latest)).where(F.col("_rank") == 1).select(*columns)
    else:
        entities = spark.createDataFrame(sample[[key]].dropna().drop_duplicates())
        kept = (view.join(F.broadcast(entities), on=key, how="left_semi")
                .withColumn("_rank", F.row_number().over(Window.partitionBy(key).orderBy(F.lit(1))))
                .where(F.col("_rank") <= 2).select(*columns))
    return kept.toPandas()


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
    # not cached: each job reads only its columns of the files, and a log worth Spark outgrows the memory a cache needs
    log = log.withColumn(WINDOW, window)
    say("Spark: every feature's counts, bins, moments and samples per window, partition by partition")
    profile = _profile(log, schema, references, numeric, categorical, n, n_windows, seed)
    say("Spark: the rows for the row-level checks")
    return profile.scan(schema, labels, _rows(log, wanted, n, seed), rows=n)


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
    at = F.coalesce(_micros(log, timestamp), F.lit(_NO_TIME))
    later = [(at > int(micros[i])) | ((at == int(micros[i])) & (F.col(_ROW) >= int(frame[_ROW].iloc[i])))
             for i in firsts[1:]]
    return labels, sum((F.when(c, 1).otherwise(0) for c in later), F.lit(0))


def _micros(log: Any, timestamp: str) -> Any:
    """Microseconds since the epoch of the time column; integers are nanoseconds, as pandas reads them."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegralType

    if isinstance(log.schema[timestamp].dataType, IntegralType):
        return F.floor(F.col(timestamp) / 1000).cast("long")
    return F.unix_micros(F.col(timestamp).try_cast("timestamp"))


def _as_times(values: pd.Series, timestamp: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    parsed = pd.to_datetime(values, errors="coerce", utc=True)
    bad = parsed.isna() & values.notna()
    if bad.any():
        raise DataError(f"timestamp column {timestamp!r} in {ROLE} has values that are not times")
    return parsed


def _profile(log: Any, schema: Schema, references: dict, numeric: list[str], categorical: list[str], n: int,
             n_windows: int, seed: int) -> LogProfile:
    """The arrow engine's accumulators, filled on each partition where it lives (`mapInArrow`) and
    added up on the driver: one pass over the log, the same arithmetic. A partition keeps for the
    value samples only rows whose key can be among the smallest of the whole log."""
    import pickle

    import pyarrow as pa
    from pyspark import TaskContext

    key_limit = min(1.0, 1.5 * WINDOW_SAMPLE_ROWS * n_windows / n)
    target = schema.target

    def profile(batches: Any) -> Any:
        part = LogProfile(references, numeric, categorical, target, n_windows,
                          seed + 1 + 7919 * TaskContext.get().partitionId(), key_limit)
        for batch in batches:
            columns = dict(zip(batch.schema.names, batch.columns))
            part.add(columns, columns[WINDOW].to_numpy(zero_copy_only=False).astype(np.intp))
        yield pa.RecordBatch.from_pydict({"part": [pickle.dumps(part)]})

    columns = [*numeric, *categorical, *([target] if target in log.columns else []), WINDOW]
    parts = [pickle.loads(row["part"]) for row in log.select(*columns).mapInArrow(profile, "part binary").collect()]
    empty = LogProfile(references, numeric, categorical, target, n_windows, seed + 1)
    return reduce(LogProfile.merged, parts, empty)


def _rows(log: Any, columns: list[str], n: int, seed: int) -> pd.DataFrame:
    """Up to SAMPLE_ROWS rows drawn at random (all of them in a smaller log), with their window."""
    rows = log if n <= SAMPLE_ROWS else log.sample(fraction=min(1.0, 1.2 * SAMPLE_ROWS / n), seed=seed)
    frame = rows.orderBy(_ROW).select(*columns, WINDOW).toPandas()
    if len(frame) > SAMPLE_ROWS:
        frame = frame.iloc[np.sort(np.random.default_rng(seed).choice(len(frame), SAMPLE_ROWS, replace=False))]
    return frame.reset_index(drop=True)
