"""The production log read in bounded batches (engine `arrow`): one pass profiles every feature
per time window and keeps a uniform sample of rows for the row-level checks (scoring, novelty,
recovery, the skew join), so memory stays flat however many rows the log holds.

Two passes over the Parquet files, each reading only the columns it needs: the time column
alone, to place the windows' edges (equal-count windows, from a uniform sample of the times);
then the rest, batch by batch, into merged_profile's accumulators (`LogProfile`, which the spark
engine fills partition by partition too). Downstream, `Inputs.current` is the sample and
`Inputs.scan` holds the profiles and the true row counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce
from typing import Any, Callable

import numpy as np
import pandas as pd

from .data import Inputs, Part, Schema, conform_current, to_category_strings, to_float
from .diagnose import MAX_SCORED_ROWS, reference_profiles
from .errors import DataError
from .merged_profile import WINDOW_SAMPLE_ROWS, CategoricalWindow, NumericWindow, RowSample
from .monitoring import NO_TIME, utc_nanoseconds
from .profile import CategoricalReference, FeatureProfile, NumericReference, time_label, window_bounds, window_count

#: rows decoded at a time: the reading's working memory (x the columns read)
BATCH_ROWS = 65_536
#: production rows kept whole for the row-level checks: as many as the in-memory engine samples
SAMPLE_ROWS = MAX_SCORED_ROWS
#: times sampled to place the windows' edges (exact below this many rows)
TIME_SAMPLE_ROWS = 200_000
ROLE = "data.current"
#: the sampled rows' window, carried through their time sort
WINDOW = "_window"


@dataclass(frozen=True)
class CurrentScan:
    """The production log as an engine read it: what `profile_inputs` would compute from it in
    memory, and the rows the checks that need rows read."""

    rows: int
    #: rows with a label
    labelled: int
    references: dict[str, NumericReference | CategoricalReference]
    profiles: dict[str, FeatureProfile]
    #: each window's first time, as read (("all",) with one window)
    labels: tuple[str, ...]
    #: the sampled rows, typed and in time order, and the window each falls in
    sample: pd.DataFrame
    sample_windows: np.ndarray


def scanned(inputs: Inputs, parts: list[Part], *, windows: int, seed: int = 0,
            say: Callable[[str], None] = lambda message: None) -> Inputs:
    """`inputs` (built on the log's first rows) with the whole log profiled from `parts` and its
    sample as `current`."""
    scan = scan_log(parts, inputs.schema, reference_profiles(inputs), windows=windows, seed=seed, say=say)
    return replace(inputs, current=scan.sample, scan=scan)


def scan_log(parts: list[Part], schema: Schema, references: dict[str, NumericReference | CategoricalReference], *,
             windows: int, seed: int = 0, say: Callable[[str], None] = lambda message: None) -> CurrentScan:
    """Read with Arrow's own allocator (mimalloc, its default; the command picks it for this
    engine): with the system's malloc, the few rows kept from each batch, placed among the
    megabytes the batch frees, hold those pages, and memory grows with the rows read."""
    import pyarrow as pa

    sizes = [part.num_rows() for part in parts]
    n = sum(sizes)
    if n == 0:
        raise DataError(f"{ROLE} has no rows: nothing to diagnose")
    present = set().union(*(part.arrow_schema().names for part in parts))
    wanted = [c for c in (*schema.features, schema.target, schema.timestamp, schema.entity_id, schema.prediction)
              if c and c in present]
    numeric = [f for f in schema.numeric if f in present and f in references]
    categorical = [f for f in schema.categorical if f in present and f in references]
    rng = np.random.default_rng(seed)
    n_windows = window_count(n, windows, schema.timestamp is not None)
    say(f"reading {n:,} rows of {ROLE} in batches of {BATCH_ROWS:,} ({len(parts)} file{'s' * (len(parts) > 1)}, "
        f"{len(wanted)} columns, {n_windows} window{'s' * (n_windows > 1)})")
    windowing = _windows(parts, sizes, schema.timestamp, n_windows, rng)

    profile = LogProfile(references, numeric, categorical, schema.target, n_windows, seed + 1)
    chosen = np.sort(rng.choice(n, size=min(n, SAMPLE_ROWS), replace=False))
    sampled: list[Any] = []
    offset, reported = 0, 0
    for part in parts:
        names = [c for c in wanted if c in part.arrow_schema().names]
        start = offset
        for batch in part.batches(names, BATCH_ROWS):
            m = batch.num_rows
            columns = dict(zip(batch.schema.names, batch.columns))
            window = windowing.of(offset, lambda: (_times(columns[schema.timestamp], schema.timestamp, part,
                                                          offset - start) if schema.timestamp in columns
                                                   else pd.Series(pd.NaT, index=range(m))), m)
            profile.add(columns, window)
            mine = chosen[(chosen >= offset) & (chosen < offset + m)] - offset
            if len(mine):
                sampled.append(batch.take(pa.array(mine)).append_column(WINDOW, pa.array(window[mine])))
            offset += m
            if offset - reported >= n / 10 or offset == n:
                say(f"read {offset:,} of {n:,} rows ({offset / n:.0%})")
                reported = offset
    return profile.scan(schema, windowing.labels, _concat(sampled).to_pandas(), rows=n)


class LogProfile:
    """What a pass over the log, or over one part of it, gathers per time window: every feature's
    accumulators, a uniform sample of the numeric values (bottom-k on a random key per row), the
    rows and labelled rows counted. Parts merge: Spark's partitions each build one, the driver
    adds them up. `key_limit`: rows whose key is at or above it never enter the samples (a part
    keeps only what can be among the whole's smallest keys)."""

    def __init__(self, references: dict[str, NumericReference | CategoricalReference], numeric: list[str],
                 categorical: list[str], target: str, n_windows: int, seed: int, key_limit: float = 1.0) -> None:
        self.references, self.numeric, self.categorical, self.target = references, numeric, categorical, target
        self.numbers = [[NumericWindow(references[f]) for _ in range(n_windows)] for f in numeric]  # type: ignore[arg-type]
        self.counts = [[CategoricalWindow(references[f]) for _ in range(n_windows)] for f in categorical]  # type: ignore[arg-type]
        self.values = [RowSample(WINDOW_SAMPLE_ROWS, len(numeric)) for _ in range(n_windows)]
        self.rows_per_window = np.zeros(n_windows, dtype=np.int64)
        self.labelled = 0
        self.key_limit = key_limit
        self._keys = np.random.default_rng(seed)

    def add(self, columns: dict[str, Any], window: np.ndarray) -> None:
        """A batch: its Arrow columns by name (a feature absent from it counts as missing) and each row's window."""
        m = len(window)
        keys = self._keys.random(m)
        self.rows_per_window += np.bincount(window, minlength=len(self.rows_per_window))
        floats = [_floats(columns[f]) if f in columns else np.full(m, np.nan) for f in self.numeric]
        whole = len(self.rows_per_window) == 1
        for w in np.unique(window):
            rows = slice(None) if whole else window == w
            for accumulators, column in zip(self.numbers, floats):
                accumulators[w].add(column[rows])
            for accumulators, f in zip(self.counts, self.categorical):
                if f in columns:
                    accumulators[w].add(*_category_counts(columns[f] if whole else columns[f].filter(rows)))
                else:  # all missing
                    accumulators[w].add(pd.Series([np.nan], dtype=object), np.array([m if whole else rows.sum()]))
            entering = keys[rows] < min(self.values[w].threshold, self.key_limit)
            if entering.any():
                self.values[w].offer(keys[rows][entering], np.column_stack([c[rows][entering] for c in floats])
                                     if floats else np.empty((int(entering.sum()), 0)))
        if self.target in columns:
            self.labelled += m - _missing(columns[self.target])

    def merged(self, other: "LogProfile") -> "LogProfile":
        for mine, theirs in zip(self.numbers + self.counts, other.numbers + other.counts):
            mine[:] = [a.merged(b) for a, b in zip(mine, theirs)]
        for mine, theirs in zip(self.values, other.values):
            mine.offer(theirs.keys, theirs.values)
        self.rows_per_window += other.rows_per_window
        self.labelled += other.labelled
        return self

    def scan(self, schema: Schema, labels: tuple[str, ...], sample: pd.DataFrame, *, rows: int) -> CurrentScan:
        """The scan, given the windows' labels and the raw rows sampled for the row-level checks
        (their window in WINDOW). Windows left empty are dropped."""
        sample = conform_current(sample, schema)  # the window rides along the time sort
        sample_windows = sample.pop(WINDOW).to_numpy()
        profiles = {}
        for j, accumulators in enumerate(self.numbers):
            finite = [(v.values[:, j][np.isfinite(v.values[:, j])], a.n - a.n_null - a.n_inf)
                      for v, a in zip(self.values, accumulators)]
            summaries = [a.summary([s]) for a, s in zip(accumulators, finite)]
            profiles[accumulators[0].ref.name] = (reduce(NumericWindow.merged, accumulators).summary(finite), summaries)
        for accumulators in self.counts:
            profiles[accumulators[0].ref.name] = (reduce(CategoricalWindow.merged, accumulators).summary(),
                                                  [a.summary() for a in accumulators])
        kept = np.flatnonzero(self.rows_per_window > 0)
        renumber = np.cumsum(self.rows_per_window > 0) - 1
        return CurrentScan(
            rows=rows, labelled=self.labelled, references=self.references,
            profiles={f: FeatureProfile(f, True, profiles[f][0], tuple(profiles[f][1][w] for w in kept))
                      if f in profiles else FeatureProfile(f, False, None, ()) for f in self.references},
            labels=tuple(labels[w] for w in kept), sample=sample, sample_windows=renumber[sample_windows],
        )


def _concat(pieces: list[Any]) -> Any:
    """Arrow record batches or tables as one table; files that lack a column, or type it
    differently, are reconciled (missing values, the wider type)."""
    import pyarrow as pa

    tables = [p if isinstance(p, pa.Table) else pa.Table.from_batches([p]) for p in pieces]
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()


def first_rows(parts: list[Part], rows: int = 1_000) -> pd.DataFrame:
    """A table's first rows as read: enough for the checks on its columns and their types."""
    for part in parts:
        for batch in part.batches(part.arrow_schema().names, rows):
            if batch.num_rows:
                return batch.to_pandas()
    if parts[0].role == ROLE:
        raise DataError(f"{ROLE} has no rows: nothing to diagnose")
    return parts[0].arrow_schema().empty_table().to_pandas()


def view_in_force(parts: list[Part], sample: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The training-view rows the skew join pairs with the sampled serving rows, read in batches:
    with the timestamp in the view, each serving row's latest view row at or before its time (the
    point-in-time join, kept up to date as the batches pass); without it, up to two rows per
    sampled entity (two tell it is ambiguous). Memory stays with the sample, however long the
    view's history. Keys that do not convert to the view's key type pair with nothing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    key, ts = schema.entity_id, schema.timestamp
    columns = [c for c in dict.fromkeys((key, ts, *schema.features)) if c]
    wanted = pa.array(sample[key].dropna().unique())
    timed = ts is not None and ts in sample.columns and all(ts in part.arrow_schema().names for part in parts)
    serving = in_force_serving(sample, key, ts) if timed else None
    kept = pd.DataFrame()
    for part in parts:
        names = [c for c in columns if c in part.arrow_schema().names]
        try:
            value_set = wanted.cast(part.arrow_schema().field(key).type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        for batch in part.batches(names, BATCH_ROWS):
            mask = pc.is_in(batch.column(key), value_set=value_set)
            if not pc.any(mask).as_py():
                continue
            rows = batch.filter(mask).to_pandas()
            if timed and rows[key].dtype != serving[key].dtype:  # the join's keys in one type
                try:
                    rows[key] = rows[key].astype(serving[key].dtype)
                except (TypeError, ValueError):
                    continue
            kept = (latest_at_or_before(serving, rows, key, ts, kept) if timed
                    else pd.concat([kept, rows], ignore_index=True).groupby(key, sort=False).head(2))
    if kept.empty:
        view = parts[0].arrow_schema()
        return view.empty_table().select([c for c in columns if c in view.names]).to_pandas()
    return kept.drop(columns=["_row", "_view_time"], errors="ignore").reset_index(drop=True)


def in_force_serving(sample: pd.DataFrame, key: str, ts: str) -> pd.DataFrame:
    """The sampled serving rows' entity and time (UTC), in time order, each with its row."""
    serving = pd.DataFrame({key: sample[key].to_numpy(), "_serving_time": pd.to_datetime(sample[ts], utc=True),
                            "_row": np.arange(len(sample))})
    return serving.dropna(subset=["_serving_time"]).sort_values("_serving_time", kind="stable")


def latest_at_or_before(serving: pd.DataFrame, rows: pd.DataFrame, key: str, ts: str,
                        kept: pd.DataFrame) -> pd.DataFrame:
    """`kept` (per serving row, the latest view row at or before its time so far) updated with
    `rows`, the next view rows in file order: a later row wins a tie, as in a stable sort of the
    whole view by time."""
    times = pd.to_datetime(rows[ts], errors="coerce", utc=True)
    rows = rows.assign(_view_time=times).dropna(subset=["_view_time"]).sort_values("_view_time", kind="stable")
    if rows.empty:
        return kept
    found = pd.merge_asof(serving, rows, left_on="_serving_time", right_on="_view_time", by=key,
                          direction="backward").dropna(subset=["_view_time"])
    found = found.drop(columns=["_serving_time"])
    both = pd.concat([kept, found], ignore_index=True) if len(kept) else found
    return both.sort_values("_view_time", kind="stable").groupby("_row", sort=False).tail(1)


@dataclass(frozen=True)
class _Windows:
    """Which time window each row of the log falls in, and each window's first time as read."""

    labels: tuple[str, ...]
    #: the window of every row, in file order: while the log is small enough to hold its times
    per_row: np.ndarray | None = None
    #: else where windows 1.. start (UTC nanoseconds): rows at an edge's time go to the later window
    edges: np.ndarray | None = None

    def of(self, offset: int, times: Callable[[], pd.Series], rows: int) -> np.ndarray:
        """The windows of the `rows` rows from `offset` on; `times` reads their times if needed."""
        if len(self.labels) == 1:
            return np.zeros(rows, dtype=np.intp)
        if self.per_row is not None:
            return self.per_row[offset:offset + rows]
        nanoseconds = utc_nanoseconds(times())
        window = np.searchsorted(self.edges, nanoseconds, side="right")
        window[nanoseconds == NO_TIME] = len(self.labels) - 1  # rows without a time go last, as in memory
        return window


def _windows(parts: list[Part], sizes: list[int], timestamp: str | None, n_windows: int,
             rng: np.random.Generator) -> _Windows:
    """The equal-count split of the rows in time order (ties in file order, missing times last),
    as the in-memory engine cuts it: exactly while the log has at most TIME_SAMPLE_ROWS rows, else
    read off a uniform sample of its times. Reads the time column alone."""
    if n_windows == 1 or timestamp is None:
        return _Windows(("all",))
    n = sum(sizes)
    chosen = np.sort(rng.choice(n, size=TIME_SAMPLE_ROWS, replace=False)) if n > TIME_SAMPLE_ROWS else np.arange(n)
    picked, offset = [], 0
    for part, size in zip(parts, sizes):
        start = offset
        if timestamp not in part.arrow_schema().names:
            picked.append(pd.Series(pd.NaT, index=range(int(((chosen >= offset) & (chosen < offset + size)).sum()))))
            offset += size
            continue
        for batch in part.batches([timestamp], BATCH_ROWS):
            mine = chosen[(chosen >= offset) & (chosen < offset + batch.num_rows)] - offset
            picked.append(_times(batch.column(0), timestamp, part, offset - start).iloc[mine].reset_index(drop=True))
            offset += batch.num_rows
    times = pd.concat(picked, ignore_index=True).sort_values(kind="stable")  # missing times last
    labels, edges = window_edges(times, n, n_windows)
    if n <= TIME_SAMPLE_ROWS:
        per_row = np.empty(n, dtype=np.intp)
        starts = [a for a, _ in window_bounds(n, n_windows)]
        per_row[times.index.to_numpy()] = np.searchsorted(starts, np.arange(n), side="right") - 1
        return _Windows(labels, per_row=per_row)
    return _Windows(labels, edges=edges)


def window_edges(ordered: pd.Series, rows: int, n_windows: int) -> tuple[tuple[str, ...], np.ndarray]:
    """Equal-count windows of `rows` rows read off `ordered`, their times (or a uniform sample of
    them) in order, missing last: each window's first time as read, and where windows 1.. start
    (UTC nanoseconds; a window of rows without a time starts after every time)."""
    firsts = ordered.iloc[window_firsts(len(ordered), rows, n_windows)]
    edges = utc_nanoseconds(firsts.iloc[1:])
    edges[edges == NO_TIME] = np.iinfo(np.int64).max
    return tuple(time_label(t) for t in firsts), edges


def window_firsts(sampled: int, rows: int, n_windows: int) -> list[int]:
    """Where each equal-count window of `rows` rows starts among `sampled` of them in order (all of
    them, or a uniform sample)."""
    return [min(int(a * sampled // rows), sampled - 1) for a, _ in window_bounds(rows, n_windows)]


def _times(column: Any, timestamp: str, part: Part, row: int) -> pd.Series:
    """A batch's times, parsed as the in-memory engine parses the whole column; `row`: the batch's
    first row in its file, for the error's row number."""
    raw = column.to_pandas()
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw
    else:
        parsed = pd.to_datetime(raw, errors="coerce", utc=True)
        bad = (parsed.isna() & raw.notna()).to_numpy()
        if bad.any():
            raise DataError(f"timestamp column {timestamp!r} in {part.path} has values that are not times "
                            f"(the first at row {row + int(np.flatnonzero(bad)[0]) + 1} of the file)")
    return parsed


def _floats(column: Any) -> np.ndarray:
    """A numeric feature's batch as float64, missing as NaN, text as NaN (as in memory)."""
    if holds_numbers(column):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=float)
    return to_float(column.to_pandas()).to_numpy()


def holds_numbers(column: Any) -> bool:
    """An Arrow column typed as numbers (floats, integers, booleans): nothing in it to parse."""
    import pyarrow as pa

    return pa.types.is_floating(column.type) or pa.types.is_integer(column.type) or pa.types.is_boolean(column.type)


def _category_counts(column: Any) -> tuple[pd.Series, np.ndarray]:
    """A batch's distinct values as the strings the in-memory engine compares, and their rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    counted = pc.value_counts(column)
    values = counted.field("values").to_pandas()
    return to_category_strings(pd.Series(values, dtype=values.dtype)), counted.field("counts").to_numpy()


def _missing(column: Any) -> int:
    """Rows without a value: nulls, and NaN in a float column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = column.null_count
    if pa.types.is_floating(column.type):
        missing += int(pc.sum(pc.is_nan(column)).as_py() or 0)
    return missing
