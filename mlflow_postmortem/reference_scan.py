"""The reference read in bounded batches (engines arrow and spark, a Parquet `data.reference`):
the profile a post-mortem compares against (reference_profile.py), built without holding the
rows, so a reference bigger than memory is binned as one that fits.

Pass 1 reads every needed column batch by batch and keeps:
- a uniform sample of EDGE_SAMPLE_ROWS rows of the numeric features: the quantile sketch the
  bins' edges and support are read from (exact while the reference fits in it: then it is the
  in-memory computation on all the rows, and pass 2 is not needed);
- each numeric feature's distinct values while it has at most DISCRETE_MAX_VALUES (a discrete
  feature is binned per value, exactly, however many rows);
- every categorical feature's count per category (exact; a feature with more than
  CATEGORY_LIMIT distinct values is skipped, as ID-like ones are);
- the rows `sample_rows` would draw from the whole file (the same rows), and the labels: all of
  them up to LABEL_ROWS, else a uniform sample.
Pass 2 counts every row on those bins, with nulls, infinities and moments (NumericWindow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from .data import (ID_LIKE_MIN_ROWS, ID_LIKE_UNIQUE_SHARE, Inputs, Part, Schema, absent_column, is_numeric_column,
                   to_category_strings)
from .errors import DataError
from .merged_profile import NumericWindow, RowSample
from .profile import (
    DISCRETE_MAX_VALUES,
    CategoricalReference,
    NumericReference,
    categorical_reference,
    counted_categorical_reference,
    numeric_bins,
    numeric_reference,
    summarize_numeric,
)
from .reference_profile import SAMPLE_ROWS, ReferenceProfile
from .scan import BATCH_ROWS, _category_counts, _concat, _floats, first_rows, holds_numbers

#: rows of the numeric features kept to place the bins (exact below this many rows)
EDGE_SAMPLE_ROWS = 100_000
#: reference labels kept for the class-balance and label checks (all of them below this many)
LABEL_ROWS = 1_000_000
#: distinct values counted per categorical feature; past this many the feature is skipped
CATEGORY_LIMIT = 200_000
ROLE = "data.reference"


@dataclass(frozen=True)
class ReferenceScan:
    """What the passes gathered: everything of a ReferenceProfile but the fill values, which are
    read off the references once `build_inputs` has typed the sample."""

    rows: int
    features: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    text: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    references: dict[str, NumericReference | CategoricalReference]
    #: the rows `sample_rows` draws from the whole reference, as read
    sample: pd.DataFrame
    #: the non-missing labels in file order: all, or a uniform sample of LABEL_ROWS
    labels: np.ndarray

    def schema(self, task: str, target: str) -> Schema:
        """Each feature's kind and skip as the batches read them: `build_inputs(known=...)` keeps them."""
        return Schema(task=task, target=target, features=self.features, numeric=self.numeric,
                      categorical=self.categorical, text=self.text, skipped=self.skipped)

    def profile(self, inputs: Inputs) -> ReferenceProfile:
        """The profile, as `mlflow-postmortem profile` would store it; `inputs`: built on `sample`."""
        from .diagnose import fill_values

        schema = inputs.schema
        sample = inputs.reference[[*schema.features, schema.target]].reset_index(drop=True)
        return ReferenceProfile(schema, self.references, fill_values(inputs, self.references), sample, self.labels,
                                self.rows, digest="")


def scan_reference(parts: list[Part], *, target: str, features: Iterable[str] | None, special: set[str],
                   categorical: Iterable[str] = (), text: Iterable[str] = (), seed: int = 0,
                   say: Callable[[str], None] = lambda message: None) -> ReferenceScan:
    """`features`: the model's (None: every column but `special`, as in memory)."""
    import pyarrow as pa

    n = sum(part.num_rows() for part in parts)
    if n == 0:
        raise DataError(f"{ROLE} ({parts[0].path}) has no rows")
    present = list(dict.fromkeys(name for part in parts for name in part.arrow_schema().names))
    features = tuple(features) if features is not None else tuple(c for c in present if c not in special)
    for name, kind in ((target, "target"), *((f, "feature") for f in features)):
        if name not in present:
            raise absent_column(kind, name, ROLE, str(parts[0].path), present)
    first = first_rows(parts)
    types = {field.name: field.type for part in reversed(parts) for field in part.arrow_schema()}
    declared, text = set(categorical), set(text)
    numeric = tuple(f for f in features if f not in text and f not in declared and (
        is_numeric_column(first[f]) if f in first.columns else pa.types.is_integer(types[f]) or pa.types.is_floating(types[f])))
    categorical = tuple(f for f in features if f not in text and f not in numeric)
    say(f"reading {n:,} rows of {ROLE} in batches of {BATCH_ROWS:,} to profile it (pass 1 of "
        f"{1 if n <= EDGE_SAMPLE_ROWS else 2}: {len(features)} features)")

    tally = _FirstPass(n, features, numeric, categorical, target, seed)
    offset = 0
    for part in parts:
        start = offset
        for batch in part.batches([c for c in (*features, target) if c in part.arrow_schema().names], BATCH_ROWS):
            tally.add(batch, offset, lambda f, column: _numbers(column, f, batch.num_rows, part, offset - start))
            offset += batch.num_rows
    for f in features:
        if f not in text and tally.valid[f] == 0:
            raise DataError(f"{ROLE} ({parts[0].path}): feature {f!r} has no values (every row is empty): the model "
                            f"learned nothing from it; fix the file or leave {f!r} out of 'features'")
    sample = _concat(tally.sampled).to_pandas() if tally.sampled else first.iloc[:0]
    skipped, references = tally.categorical_references(sample)
    numbers = tally.values.values
    for j, f in enumerate(numeric):
        if tally.finite[j] == 0:
            raise DataError(f"{ROLE} ({parts[0].path}): feature {f!r} has no finite values (only infinities)")
    if n <= EDGE_SAMPLE_ROWS:  # every row is in the sample: the in-memory computation itself
        references.update({f: numeric_reference(f, numbers[:, j]) for j, f in enumerate(numeric)})
    else:
        references.update(_counted_numeric(parts, numeric, numbers, tally.distinct, tally.finite, say))
    return ReferenceScan(n, features, numeric, categorical, tuple(f for f in features if f in text), tuple(skipped),
                         {f: references[f] for f in features if f in references}, sample,
                         np.concatenate(tally.labels) if tally.labels else np.empty(0))


class _FirstPass:
    """What pass 1 keeps of each batch: see the module's docstring."""

    def __init__(self, n: int, features: tuple[str, ...], numeric: tuple[str, ...], categorical: tuple[str, ...],
                 target: str, seed: int) -> None:
        self.numeric, self.categorical, self.target = numeric, categorical, target
        rng = np.random.default_rng(seed)  # the draw `sample_rows` makes: the same rows as in memory
        self.chosen = np.sort(rng.choice(n, size=min(n, SAMPLE_ROWS), replace=False))
        self.keys = np.random.default_rng(seed + 1)
        self.values = RowSample(EDGE_SAMPLE_ROWS, len(numeric))
        self.distinct: list[np.ndarray | None] = [np.empty(0) for _ in numeric]
        self.finite = np.zeros(len(numeric), dtype=np.int64)
        self.valid = dict.fromkeys(features, 0)
        self.tallies: dict[str, dict[str, int] | None] = {f: {} for f in categorical}
        self.nulls = dict.fromkeys(categorical, 0)
        self.sampled: list[Any] = []
        self.labels: list[np.ndarray] = []
        self.label_share = min(1.0, LABEL_ROWS / n)

    def add(self, batch: Any, offset: int, numbers: Callable[[str, Any], np.ndarray]) -> None:
        """A batch whose first row is the reference's `offset`-th; `numbers` reads a numeric column."""
        import pyarrow as pa

        m = batch.num_rows
        got = dict(zip(batch.schema.names, batch.columns))
        floats = [numbers(f, got.get(f)) for f in self.numeric]
        for j, (f, column) in enumerate(zip(self.numeric, floats)):
            ok = np.isfinite(column)
            self.valid[f] += int(np.count_nonzero(~np.isnan(column)))
            self.finite[j] += int(np.count_nonzero(ok))
            self.distinct[j] = _distinct(self.distinct[j], column[ok])
        for f in self.categorical:
            if f not in got:
                self.nulls[f] += m
                continue
            names, counts = _category_counts(got[f])
            missing = names.isna().to_numpy()
            self.nulls[f] += int(counts[missing].sum())
            self.valid[f] += int(counts[~missing].sum())
            self.tallies[f] = _tallied(self.tallies[f], names[~missing].tolist(), counts[~missing].tolist())
        keys = self.keys.random(m)
        entering = keys < self.values.threshold
        if entering.any():
            self.values.offer(keys[entering], np.column_stack([c[entering] for c in floats])
                              if floats else np.empty((int(entering.sum()), 0)))
        mine = self.chosen[(self.chosen >= offset) & (self.chosen < offset + m)] - offset
        if len(mine):
            self.sampled.append(batch.take(pa.array(mine)))
        if self.target in got:
            labels = got[self.target]
            if self.label_share < 1.0:
                labels = labels.filter(pa.array(self.keys.random(m) < self.label_share))
            self.labels.append(labels.to_pandas().dropna().to_numpy())

    def categorical_references(self, sample: pd.DataFrame) -> tuple[list[tuple[str, str]], dict[str, Any]]:
        """Each categorical feature's reference from its counts, and the features skipped with why."""
        skipped, references = [], {}
        for f in self.categorical:
            tally, valid = self.tallies[f], self.valid[f]
            if tally is None:  # skipped: what the run shows of it is read off the sampled rows
                skipped.append((f, f"over {CATEGORY_LIMIT:,} distinct values in {valid:,} rows of {ROLE}: too many "
                                   "categories to compare"))
                references[f] = categorical_reference(f, to_category_strings(sample[f]))
                continue
            if valid >= ID_LIKE_MIN_ROWS and len(tally) >= ID_LIKE_UNIQUE_SHARE * valid:
                skipped.append((f, f"ID-like: {len(tally)} distinct values in {valid} rows"))
            references[f] = counted_categorical_reference(f, np.array(list(tally), dtype=object),
                                                          np.fromiter(tally.values(), np.int64, len(tally)),
                                                          self.nulls[f])
        return skipped, references


def _counted_numeric(parts: list[Part], numeric: tuple[str, ...], numbers: np.ndarray,
                     distinct: list[np.ndarray | None], finite: np.ndarray,
                     say: Callable[[str], None]) -> dict[str, NumericReference]:
    """Pass 2: every row counted on the bins placed from the sample."""
    samples, windows = [], []
    for j, f in enumerate(numeric):
        ordered = np.sort(numbers[:, j][np.isfinite(numbers[:, j])])
        bins = numeric_bins(f, ordered, distinct[j], int(finite[j]))
        provisional = NumericReference(bins.name, bins.edges, bins.support, bins.discrete,
                                       summarize_numeric(ordered, bins), bins.values)  # its median centres the moments
        samples.append(ordered)
        windows.append(NumericWindow(provisional))
    say(f"reading {ROLE} again (pass 2 of 2): every row counted on the bins")
    for part in parts:
        names = [f for f in numeric if f in part.arrow_schema().names]
        for batch in part.batches(names, BATCH_ROWS):
            got = dict(zip(batch.schema.names, batch.columns))
            for f, window in zip(numeric, windows):
                window.add(_floats(got[f]) if f in got else np.full(batch.num_rows, np.nan))
    out = {}
    for f, window, ordered, rows in zip(numeric, windows, samples, finite):
        ref = window.ref
        out[f] = NumericReference(f, ref.edges, ref.support, ref.discrete, window.summary([(ordered, int(rows))]),
                                  ref.values)
    return out


def _numbers(column: Any, name: str, rows: int, part: Part, row: int) -> np.ndarray:
    """A numeric feature's batch as float64. Text in it is an error, as in memory: the files the
    model was trained on may not mix numbers and text (production may: unavailability counts it)."""
    if column is None:
        return np.full(rows, np.nan)
    out = _floats(column)
    if not holds_numbers(column):
        bad = np.isnan(out) & ~column.is_null().to_numpy(zero_copy_only=False)
        if bad.any():
            raise DataError(f"{ROLE} ({part.path}): column {name!r} mixes numbers and text (the first that is not a "
                            f"number at row {row + int(np.flatnonzero(bad)[0]) + 1} of the file): clean it, or list "
                            f"{name!r} under 'categorical'")
    return out


def _distinct(known: np.ndarray | None, finite: np.ndarray) -> np.ndarray | None:
    """The distinct values so far while there are at most DISCRETE_MAX_VALUES (None past that):
    only values not seen before are sorted."""
    if known is None:
        return None
    new = finite[~np.isin(finite, known)]
    if not len(new):
        return known
    merged = np.union1d(known, np.unique(new))
    return merged if len(merged) <= DISCRETE_MAX_VALUES else None


def _tallied(tally: dict[str, int] | None, names: list[str], counts: list[int]) -> dict[str, int] | None:
    """Counts per category, in order of first appearance; None once past CATEGORY_LIMIT."""
    if tally is None:
        return None
    for name, count in zip(names, counts):
        tally[name] = tally.get(name, 0) + count
    return tally if len(tally) <= CATEGORY_LIMIT else None
