"""Load and align the four frames of a post-mortem, and decide what each column is.

Everything that can be wrong with a file or a column is caught here, with a message that
names it, so the detectors downstream can assume clean, typed inputs. A message names the
file, a column the config or the model named, counts and row numbers (1 = the first row
after the header), never a value or a column name read from the file: a config can point
at any file, and its first line would otherwise end up on screen and in a run's tags.
"""

from __future__ import annotations

import glob
import gzip
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np
import pandas as pd

from .config import TABLE_PREFIX, Config, engine_for_log, resolved_engine
from .errors import DataError

if TYPE_CHECKING:
    from .reference_profile import ReferenceProfile
    from .scan import CurrentScan

#: a categorical column with at least this share of unique values (and enough rows) is an ID
ID_LIKE_UNIQUE_SHARE = 0.9
ID_LIKE_MIN_ROWS = 50


@dataclass(frozen=True)
class Schema:
    task: str
    target: str
    features: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    text: tuple[str, ...]
    prediction: str | None = None
    timestamp: str | None = None
    entity_id: str | None = None
    #: features the detectors skip, with the reason (ID-like, empty in reference, ...)
    skipped: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Inputs:
    reference: pd.DataFrame
    golden: pd.DataFrame
    current: pd.DataFrame
    training_view: pd.DataFrame | None
    schema: Schema
    #: the stored reference profile read instead of `data.reference` (`reference` is then its sample)
    profile: "ReferenceProfile | None" = None
    #: the production log profiled where it lies (engines arrow, spark); `current` is then its sample
    scan: "CurrentScan | None" = None

    @property
    def has_labels(self) -> bool:
        if self.scan is not None:
            return self.scan.labelled > 0
        t = self.schema.target
        return t in self.current.columns and self.current[t].notna().any()

    @property
    def current_rows(self) -> int:
        """Rows of the production log: all of them, also when `current` holds only a sample."""
        return self.scan.rows if self.scan is not None else len(self.current)


def table_parts(path: str | Path, role: str) -> list[Path]:
    """The files a data path reads as one table, in order: a glob's matches by name, else the path
    (a file, or a Parquet dataset folder read as one)."""
    text = str(path)
    if "://" in text and not text.startswith("file://"):
        raise DataError(f"{role}: only local CSV or Parquet paths are supported for now, got {text}")
    p = Path(text.removeprefix("file://"))
    if glob.has_magic(str(p)):
        matches = sorted(glob.glob(str(p)))
        if not matches:
            raise DataError(f"{role}: no file matches {p}")
        return [Path(m) for m in matches]
    return [p]


@dataclass(frozen=True)
class Part:
    """One file of a table, read on its own: a glob's match, the file itself, or one file of a
    Parquet dataset folder, which keeps the folder's partition columns."""
    path: Path
    role: str
    #: a dataset folder's file (a pyarrow fragment) and the folder's schema
    fragment: Any = None
    schema: Any = None

    def read(self, columns: Iterable[str] | None = None) -> pd.DataFrame:
        if self.fragment is None:
            return _read_file(self.path, self.role, columns)
        wanted = None if columns is None else set(columns)
        names = [c for c in self.schema.names if wanted is None or c in wanted]
        try:
            return self.fragment.to_table(schema=self.schema, columns=names, use_threads=False).to_pandas(use_threads=False)
        except Exception as exc:  # as in _read_file: the file and the reason
            raise DataError(f"{self.role}: cannot read {self.path}: {_read_failure(exc)}") from None

    def arrow_schema(self) -> Any:
        """The Parquet file's columns and types, from its footer (no rows read)."""
        if self.fragment is not None:
            return self.schema
        return self._parquet().schema_arrow

    def num_rows(self) -> int:
        if self.fragment is not None:
            return self.fragment.count_rows()
        return self._parquet().metadata.num_rows

    def batches(self, columns: list[str], batch_size: int) -> Iterable[Any]:
        """The file's rows as Arrow record batches of `columns`, one at a time. Pages are read as
        they are decoded (no pre-buffering of whole row groups), so memory stays near a batch's."""
        import pyarrow as pa
        import pyarrow.dataset as ds

        # a dataset folder's file is read as a file (the dataset scanner decodes ahead, hundreds of
        # MB), its partition keys added as columns of one value
        keys = ds.get_partition_keys(self.fragment.partition_expression) if self.fragment is not None else {}
        try:
            for batch in self._parquet(pre_buffer=False).iter_batches(
                    batch_size=batch_size, columns=[c for c in columns if c not in keys], use_threads=False):
                if keys:
                    filled = {k: pa.repeat(pa.scalar(v), batch.num_rows).cast(self.schema.field(k).type)
                              for k, v in keys.items() if k in columns}
                    batch = pa.RecordBatch.from_arrays(
                        [filled[c] if c in filled else batch.column(c) for c in columns], names=columns)
                yield batch
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{self.role}: cannot read {self.path}: {_read_failure(exc)}") from None

    def _parquet(self, **options: Any) -> Any:
        import pyarrow.parquet as pq

        if not self.path.exists():
            raise DataError(f"{self.role}: file not found: {self.path}")
        if self.fragment is None and self.path.suffix.lower() not in (".parquet", ".pq"):
            kind = self.path.suffix or "a file with no suffix"
            raise DataError(f"{self.role}: engine 'arrow' reads Parquet, not {kind} ({self.path}); "
                            f"convert it, or set engine: pandas")
        try:
            return pq.ParquetFile(self.path, **options)
        except Exception as exc:
            raise DataError(f"{self.role}: cannot read {self.path}: {_read_failure(exc)}") from None


def file_parts(path: str | Path, role: str) -> list[Part]:
    """The files of a table one by one, so a reader can skip those it does not need."""
    parts = table_parts(path, role)
    if len(parts) > 1 or not parts[0].is_dir():
        return [Part(p, role) for p in parts]
    import pyarrow.dataset as ds

    try:
        folder = ds.dataset(parts[0], format="parquet", partitioning="hive")
    except Exception as exc:
        raise DataError(f"{role}: cannot read {parts[0]}: {_read_failure(exc)}") from None
    files = [Part(Path(f.path), role, f, folder.schema) for f in folder.get_fragments()]
    if not files:
        raise DataError(f"{role}: no Parquet file in the folder {parts[0]}")
    return files


def read_table(path: str | Path, role: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Read CSV or Parquet: a file, a Parquet dataset folder, or a glob of files (`logs/*.parquet`,
    read in name order as one table); `role` (e.g. 'data.current') goes into every error message.
    `columns`: only these, where a file has them (a label file holds no features)."""
    parts = table_parts(path, role)
    if len(parts) > 1 or glob.has_magic(str(path)):
        return pd.concat([_read_file(p, role, columns) for p in parts], ignore_index=True)
    return _read_file(parts[0], role, columns)


def _read_file(p: Path, role: str, columns: Iterable[str] | None) -> pd.DataFrame:
    if not p.exists():
        raise DataError(f"{role}: file not found: {p}")
    wanted = None if columns is None else set(columns)
    suffix = p.suffix.lower()
    try:
        # Arrow's decoding threads, once started, can abort the process as it exits ("terminate
        # called without an active exception", apache/arrow#34314): a finished command would
        # then exit -6 instead of 0 or 2, one run in six here. One thread reads as surely.
        if p.is_dir():
            names = None if wanted is None else [c for c in _parquet_columns(p) if c in wanted]
            frame = pd.read_parquet(p, columns=names, use_threads=False)
        elif suffix in (".parquet", ".pq"):
            frame = _read_parquet_file(p, wanted)
        elif suffix in (".csv", ".txt", ".gz"):
            frame = pd.read_csv(p, low_memory=False, usecols=None if wanted is None else lambda c: c in wanted)
        else:
            raise DataError(f"{role}: unsupported file type {suffix or '(none)'} for {p}; use .csv or .parquet")
    except DataError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types; the user needs the file and the reason
        raise DataError(f"{role}: cannot read {p}: {_read_failure(exc)}") from None
    return frame


def _read_parquet_file(p: Path, wanted: set[str] | None) -> pd.DataFrame:
    """One column at a time: a whole-file read holds the Arrow table and the frame at once, and
    Arrow's allocator keeps that peak (about twice the frame); this holds one column twice."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(p)
    schema = file.schema_arrow
    stored_index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
    names = [c for c in schema.names if c not in stored_index and (wanted is None or c in wanted)]
    if not names:
        return pd.DataFrame(index=pd.RangeIndex(file.metadata.num_rows))
    columns = {name: file.read(columns=[name], use_threads=False).to_pandas(use_threads=False)[name] for name in names}
    return pd.DataFrame(columns, copy=False)


def _parquet_columns(folder: Path) -> list[str]:
    """A Parquet dataset folder's column names, partition keys included, from its metadata."""
    import pyarrow.dataset as ds

    return ds.dataset(folder, format="parquet", partitioning="hive").schema.names


def _read_failure(exc: Exception) -> str:
    """The reader's reason, minus the bytes two of them quote from the file (a byte that is not
    text, the first two bytes of what is not gzip)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not {exc.encoding} text (undecodable byte at offset {exc.start:,})"
    if isinstance(exc, gzip.BadGzipFile):
        return "not a gzip file"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_inputs(config: Config, model_features: Iterable[str] | None = None, *,
                current: pd.DataFrame | None = None, profile_reference: bool = False,
                say: Callable[[str], None] = lambda message: None) -> Inputs:
    """Read every file named by the config and align them into validated Inputs; without
    `data.reference`, the stored reference profile the config was resolved to stands in for it.
    `current`: the production rows already read (the part of the log monitor needs). With the
    arrow or spark engine, data.current is profiled where it lies and `current` is its sample.
    `profile_reference` (for commands that compare with the reference but never train on it): with
    those engines, a Parquet data.reference is read in batches into its profile, as if stored."""
    d = config.data
    features = config.features or (tuple(model_features) if model_features else None)
    profile = _stored_profile(config, features) if d.reference is None else None
    scanned_reference = None
    # the reference's own engine: `auto` judges its size as it judges the log's
    if (profile is None and profile_reference and engine_for_log(config.engine, d.reference) != "pandas"
            and _is_parquet(d.reference)):
        from .reference_scan import scan_reference

        special = {c for c in (config.target, config.prediction, config.timestamp, config.entity_id) if c}
        scanned_reference = scan_reference(file_parts(d.reference, "data.reference"), target=config.target,
                                           features=features, special=special, categorical=config.categorical,
                                           text=config.text, say=say)
        reference = scanned_reference.sample
    else:
        reference = profile.sample if profile else read_table(d.reference, "data.reference")
    golden = read_table(d.golden, "data.golden")
    engine = "pandas" if current is not None else resolved_engine(config)
    if engine == "arrow":
        from .scan import first_rows

        parts = file_parts(d.current, "data.current")
        current = first_rows(parts)  # the columns and their types, for the checks below
    elif engine == "spark":
        from .adapters import spark

        log = spark.read_log(d.current)
        current = spark.first_rows(log)
    elif current is None:
        current = read_table(d.current, "data.current")
    training_view, view_parts, view_log = None, None, None
    if d.training_view and engine == "spark" and (d.training_view.startswith(TABLE_PREFIX)
                                                  or _is_parquet(d.training_view, "data.training_view")):
        view_log = spark.read_log(d.training_view, "data.training_view")
        training_view = spark.first_rows(view_log, role="data.training_view")  # columns and types, for the checks below
    elif d.training_view and engine == "arrow" and _is_parquet(d.training_view, "data.training_view"):
        from .scan import first_rows

        view_parts = file_parts(d.training_view, "data.training_view")
        training_view = first_rows(view_parts)
    elif d.training_view:
        training_view = read_table(d.training_view, "data.training_view")
    known = profile.schema if profile else scanned_reference.schema(config.task, config.target) if scanned_reference else None
    inputs = build_inputs(
        reference, golden, current,
        task=config.task, target=config.target,
        features=features or (known.features if known else None),
        categorical=config.categorical, text=config.text, prediction=config.prediction,
        timestamp=config.timestamp, entity_id=config.entity_id, training_view=training_view,
        sources={"reference": d.reference or f"stored profile {d.profile}", "golden": d.golden, "current": d.current,
                 "training_view": d.training_view},
        known=known,
    )
    if scanned_reference is not None:
        profile = scanned_reference.profile(inputs)
    inputs = replace(inputs, profile=profile)
    if engine == "arrow":
        from .scan import scanned

        inputs = scanned(inputs, parts, windows=config.windows, say=say)
    elif engine == "spark":
        inputs = spark.scanned(inputs, log, windows=config.windows, say=say)
    if view_parts is not None or view_log is not None:
        from .scan import view_in_force

        say(f"reading the training view's rows in force for the {len(inputs.current):,} sampled rows "
            f"({d.training_view})")
        view = (view_in_force(view_parts, inputs.current, inputs.schema) if view_parts is not None
                else spark.view_in_force(view_log, inputs.current, inputs.schema))
        inputs = replace(inputs, training_view=conform_view(view, inputs.schema))
    return inputs


def log_head(config: Config) -> pd.DataFrame:
    """The production log's first rows, for a command that reads only the reference and checks
    the log's columns (`profile`): with the arrow or spark engine, no pass over the log."""
    engine = resolved_engine(config)
    if engine == "arrow":
        from .scan import first_rows

        return first_rows(file_parts(config.data.current, "data.current"))
    if engine == "spark":
        from .adapters import spark

        return spark.first_rows(spark.read_log(config.data.current))
    return read_table(config.data.current, "data.current")


def _is_parquet(path: str, role: str = "data.reference") -> bool:
    """A Parquet file, a glob of them or a dataset folder: what the arrow engine reads in batches."""
    parts = table_parts(path, role)
    return all(p.is_dir() or p.suffix.lower() in (".parquet", ".pq") for p in parts)


def _stored_profile(config: Config, features: Iterable[str] | None) -> "ReferenceProfile":
    """The profile `data.profile` names, checked against what the config asks of it."""
    from .reference_profile import read

    if config.data.profile is None:
        raise DataError("data.reference is not given and no stored reference profile was found: add data.reference")
    where = f"stored reference profile ({config.data.profile})"
    profile = read(Path(config.data.profile), where)
    s = profile.schema
    if (config.task, config.target) != (s.task, s.target):
        raise DataError(f"data.reference is not given, and the {where} is for task {s.task!r} with target "
                        f"{s.target!r}, not {config.task!r} with {config.target!r}: add data.reference")
    missing = [f for f in features or () if f not in s.features]
    if missing:
        raise DataError(f"data.reference is not given, and feature {missing[0]!r} is not in the {where} "
                        f"({len(missing)} of {len(tuple(features or ()))} features missing): add data.reference")
    return profile


def build_inputs(
    reference: pd.DataFrame,
    golden: pd.DataFrame,
    current: pd.DataFrame,
    *,
    task: str,
    target: str,
    features: Iterable[str] | None = None,
    categorical: Iterable[str] = (),
    text: Iterable[str] = (),
    prediction: str | None = None,
    timestamp: str | None = None,
    entity_id: str | None = None,
    training_view: pd.DataFrame | None = None,
    sources: dict[str, str] | None = None,
    known: Schema | None = None,
) -> Inputs:
    """Validate columns and types; the frames come back typed and index-reset.

    `sources` names each frame's file (role -> path) for error messages. `known`: the schema a
    stored profile was built with, when `reference` is its sample: each feature keeps the kind
    and the skip it got from the full reference (a sample could read differently).

    The returned frames share column memory with the given ones wherever a column needed no
    conversion (no copy of a million-row frame): the caller's frames are never modified, and
    nothing downstream writes into an `Inputs` frame (treat them as read-only).
    """
    def where(role: str) -> str:
        path = (sources or {}).get(role)
        return f"data.{role} ({path})" if path else f"data.{role}"

    def absent(kind: str, name: str, role: str, frame: pd.DataFrame) -> DataError:
        return absent_column(kind, name, f"data.{role}", (sources or {}).get(role), frame.columns)

    if task not in ("classification", "regression"):
        raise DataError(f"task must be 'classification' or 'regression', got {task!r}")
    for role, frame in (("reference", reference), ("golden", golden)):
        if len(frame) == 0:
            raise DataError(f"{where(role)} has no rows")
        if target not in frame.columns:
            raise absent("target", target, role, frame)
        if frame[target].isna().all():
            raise DataError(f"target column {target!r} in {where(role)} has no values")
    _check_task(task, reference[target], target, where("reference"))
    if len(current) == 0:
        raise DataError("data.current has no rows: nothing to diagnose")

    special = {c for c in (target, prediction, timestamp, entity_id) if c}
    if features is None:
        features = [c for c in reference.columns if c not in special]
    features = tuple(features)
    if not features:
        raise DataError("no feature columns: name them under 'features' or give the model a signature")
    for f in features:
        if f in special:
            raise DataError(f"column {f!r} is listed as a feature and as target/prediction/timestamp/entity_id")
        for role, frame in (("reference", reference), ("golden", golden)):
            if f not in frame.columns:
                raise absent("feature", f, role, frame)
    text = tuple(text)
    for col in (*tuple(categorical), *text):
        if col not in features:
            raise DataError(f"column {col!r} is listed under categorical/text but is not a feature")
    if prediction and prediction not in current.columns:
        raise absent("prediction", prediction, "current", current)
    if entity_id:
        for role, frame in (("current", current), ("training_view", training_view)):
            if frame is not None and entity_id not in frame.columns:
                raise absent("entity_id", entity_id, role, frame)
    if training_view is not None and not entity_id:
        raise DataError("data.training_view is given but 'entity_id' is not: it is needed to pair rows")

    if timestamp and timestamp not in current.columns:
        raise absent("timestamp", timestamp, "current", current)
    # new frames over the caller's column arrays; converted columns are replaced, never written into
    reference, golden = _fresh(reference), _fresh(golden)

    declared_cat = set(categorical)
    numeric, cats, skipped = [], [], []
    for f in features:
        if f in text:
            continue
        ref_col = reference[f]
        if known is None and ref_col.isna().all():
            raise DataError(f"{where('reference')}: feature {f!r} has no values (every row is empty): the model "
                            f"learned nothing from it; fix the file or leave {f!r} out of 'features'")
        if (f in known.numeric) if known else (f not in declared_cat and is_numeric_column(ref_col)):
            for role, frame in (("reference", reference), ("golden", golden)):
                _check_numbers(frame[f], f, where(role))
            numeric.append(f)
            for frame in (reference, golden):
                if frame[f].dtype != np.float64:
                    frame[f] = to_float(frame[f])
            if known is None and not np.isfinite(reference[f].to_numpy()).any():
                raise DataError(f"{where('reference')}: feature {f!r} has no finite values (only infinities)")
            continue
        cats.append(f)
        for frame in (reference, golden):
            col = frame[f]
            converted = to_category_strings(col)
            if converted is not col:
                frame[f] = converted
        n_valid = int(reference[f].notna().sum())
        if known is not None:
            skipped.extend(p for p in known.skipped if p[0] == f)
        elif n_valid == 0:
            skipped.append((f, "no values in data.reference"))
        elif n_valid >= ID_LIKE_MIN_ROWS and (distinct := reference[f].nunique()) >= ID_LIKE_UNIQUE_SHARE * n_valid:
            skipped.append((f, f"ID-like: {distinct} distinct values in {n_valid} rows"))

    schema = Schema(
        task=task, target=target, features=features, numeric=tuple(numeric), categorical=tuple(cats),
        text=text, prediction=prediction, timestamp=timestamp, entity_id=entity_id, skipped=tuple(skipped),
    )
    view = conform_view(training_view, schema) if training_view is not None else None
    return Inputs(reference, golden, conform_current(current, schema), view, schema)


def conform_view(view: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Training-view rows typed as the reference's columns were, their times parsed for the
    point-in-time join with serving rows. A new frame; converted columns are replaced."""
    view = _fresh(view)
    if schema.timestamp and schema.timestamp in view.columns:
        view[schema.timestamp] = parse_time(view[schema.timestamp], schema.timestamp, "data.training_view")
    return _typed_features(view, schema)


def conform_current(current: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Production rows typed as the reference's columns were: in time order, numeric features as
    float64 (junk as NaN, which unavailability counts), categories as strings. A new frame over
    the given columns; converted ones are replaced, never written into."""
    return _typed_features(_in_time_order(current, schema.timestamp) if schema.timestamp else _fresh(current), schema)


def _typed_features(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """`frame` (a fresh one, whose columns may be replaced) with its features typed as the reference's."""
    for f in schema.numeric:
        if f in frame.columns and frame[f].dtype != np.float64:
            frame[f] = to_float(frame[f])
    for f in schema.categorical:
        if f in frame.columns:
            col = frame[f]
            converted = to_category_strings(col)
            if converted is not col:
                frame[f] = converted
    return frame


def is_numeric_column(col: pd.Series) -> bool:
    """Numeric dtype, or an object column whose values mostly parse as numbers (a mixed-type
    column, which `_check_numbers` then rejects in the training-side files)."""
    if pd.api.types.is_bool_dtype(col):
        return False
    if pd.api.types.is_numeric_dtype(col):
        return True
    if col.dtype == object:
        values = col.dropna()
        if len(values) == 0:
            return False
        parsed = pd.to_numeric(values, errors="coerce")
        return bool(parsed.notna().mean() >= 0.5)
    return False


def _check_numbers(col: pd.Series, name: str, where: str) -> None:
    """A numeric feature of the files the model was trained and judged on holds only numbers.

    Production may carry junk (it is what unavailability detects); the reference and golden
    set may not: text there would silently become missing values and change what is compared.
    """
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return
    bad = col.notna() & pd.to_numeric(col, errors="coerce").isna()
    if bad.any():
        raise DataError(f"{where}: column {name!r} mixes numbers and text ({int(bad.sum())} of {int(col.notna().sum())} "
                        f"values are not numbers, the first at row {_first_row(bad)}): clean it, or list {name!r} "
                        f"under 'categorical'")


def _check_task(task: str, target: pd.Series, name: str, where: str) -> None:
    """The task must fit the target: a regression of a 0/1 label, or a classification of a
    continuous quantity, would run and mean nothing."""
    values = target.dropna()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    distinct = values.unique()
    if task == "regression":
        if not numeric:
            raise DataError(f"task is 'regression' but target {name!r} in {where} is not numeric "
                            f"(dtype {values.dtype}): use task: classification")
        if len(distinct) <= 2:
            raise DataError(f"task is 'regression' but target {name!r} in {where} has only {len(distinct)} distinct "
                            f"values: a class label; use task: classification")
    elif numeric and len(distinct) > 20 and not np.all(np.mod(values.to_numpy(float), 1) == 0):
        raise DataError(f"task is 'classification' but target {name!r} in {where} has {len(distinct):,} distinct "
                        f"non-integer values: a quantity to predict; use task: regression")


def to_float(col: pd.Series) -> pd.Series:
    """Numbers as float64; unparsable entries (a mixed-type column) become NaN, counted later as unusable."""
    return pd.to_numeric(col, errors="coerce").astype("float64", copy=False)


def to_category_strings(col: pd.Series) -> pd.Series:
    """Categories compared as strings, so codes 1 and 1.0 written by different pipelines agree.

    Missing values become NaN. A column of strings is already what we want: it comes back as
    is (or with its missing values as NaN) instead of converting every value again.
    """
    if pd.api.types.infer_dtype(col, skipna=False) == "string":  # strings, none missing: one C pass
        return col
    if pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
        return col.where(col.notna())
    # one string per distinct value, shared by its rows: a string per row would take ~50 bytes
    # each, several times the column itself (GBs at millions of rows)
    codes, uniques = pd.factorize(col)  # missing values: code -1
    uniques = pd.Index(uniques)
    if pd.api.types.is_float_dtype(col) and (uniques == np.round(uniques)).all() and np.isfinite(uniques).all():
        uniques = uniques.astype("int64")  # 1.0 -> "1", whatever the missing values did to the dtype
    strings = np.append(np.asarray(uniques.astype(str), dtype=object), np.nan)
    return pd.Series(strings[codes], index=col.index, dtype=object)


def _fresh(frame: pd.DataFrame) -> pd.DataFrame:
    """A new frame with a 0..n-1 index over the same column arrays: no data is copied.

    Copying a million-row frame costs seconds and its size again in memory. Columns that
    need converting are replaced (never written into), so the caller's frame is unchanged.
    """
    out = frame.copy(deep=False)
    out.index = pd.RangeIndex(len(out))
    return out


def _in_time_order(current: pd.DataFrame, timestamp: str) -> pd.DataFrame:
    """`current` sorted by its (parsed) time column, stable, missing times last.

    Rows out of order are taken in time order in one step (one copy); rows already in order,
    as production logs usually are, are not copied at all.
    """
    original = current[timestamp]
    times = parse_time(original, timestamp).reset_index(drop=True)
    if times.is_monotonic_increasing:
        out = _fresh(current)
    else:
        times = times.sort_values(kind="stable")
        out = current.take(times.index.to_numpy())
        out.index = pd.RangeIndex(len(out))
        times = times.reset_index(drop=True)
    if times.dtype != original.dtype:
        out[timestamp] = times
    return out


def parse_time(col: pd.Series, name: str, role: str = "data.current") -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        return col
    parsed = pd.to_datetime(col, errors="coerce", utc=True)
    bad = parsed.isna() & col.notna()
    if bad.any():
        where = "" if role == "data.current" else f" in {role}"
        raise DataError(f"timestamp column {name!r}{where} has {int(bad.sum())} values that are not times "
                        f"(the first at row {_first_row(bad)})")
    return parsed


def absent_column(kind: str, name: str, role: str, path: str | None, columns: Iterable[object]) -> DataError:
    """A column the config or the model named is not in a file: how many columns the file has,
    never what they are called. Only a column that equals `name` up to case and surrounding
    spaces is suggested: it tells the reader nothing the config did not already say."""
    names = [str(c) for c in columns]
    near = next((c for c in names if c.strip().casefold() == name.strip().casefold()), None)
    hint = f"; did you mean {near!r}?" if near is not None else ""
    return DataError(f"{kind} column {name!r} is absent from {role} ({path or 'the file'} has {len(names)} "
                     f"column{'' if len(names) == 1 else 's'}, none named {name!r}{hint})")


def _first_row(mask: pd.Series) -> int:
    """The row, counted from 1 in the file's order, of the first True in `mask`."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 1
