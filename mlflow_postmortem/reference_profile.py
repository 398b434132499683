"""The reference as diagnosis and monitoring read it, stored once with a model version.

A post-mortem never needs the training rows themselves: it reads each feature's bins and
summary (profile.py), the values a serving system would impute, the reference's labels, and a
seeded sample of rows for the row-level checks (novelty, mixtures, fits). Stored together as a
folder (`profile.json`, `sample.parquet`, `labels.parquet`), they let `diagnose` and `monitor`
run without `data.reference` and without binning it again, with the same verdict as from the
rows: the sample is the one diagnosis draws from the full reference anyway.

Retraining is the one thing a profile cannot do: it needs the training rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .data import Schema
from .errors import DataError
from .profile import CategoricalReference, CategoricalSummary, NumericReference, NumericSummary

#: reference rows kept for the row-level checks (nearest neighbours, code and unit mixtures, fits)
SAMPLE_ROWS = 10_000
FORMAT = 1
PROFILE_FILE, SAMPLE_FILE, LABELS_FILE = "profile.json", "sample.parquet", "labels.parquet"
_TYPES = {cls.__name__: cls for cls in (NumericReference, NumericSummary, CategoricalReference, CategoricalSummary)}


@dataclass(frozen=True)
class ReferenceProfile:
    schema: Schema
    references: dict[str, NumericReference | CategoricalReference]
    #: per feature, the value a serving system would impute (reference median or most frequent value)
    fill: dict[str, object]
    #: `sample_rows(reference)`: features and target
    sample: pd.DataFrame
    #: the reference's non-missing target values, in file order
    labels: np.ndarray
    rows: int
    #: sha256 prefix of the reference file(s) it was built from
    digest: str


def sample_rows(reference: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The reference rows the row-level checks read: the same rows whatever production holds,
    so a profile stored with the version carries exactly the rows a diagnosis would draw."""
    rng = np.random.default_rng(seed)
    return reference.iloc[np.sort(rng.choice(len(reference), size=min(len(reference), SAMPLE_ROWS), replace=False))]


def build(reference: pd.DataFrame, schema: Schema, references: dict[str, NumericReference | CategoricalReference],
          fill: dict[str, object], digest: str) -> ReferenceProfile:
    columns = [*schema.features, schema.target]
    return ReferenceProfile(schema, references, dict(fill), sample_rows(reference)[columns].reset_index(drop=True),
                            reference[schema.target].dropna().to_numpy(), len(reference), digest)


def write(profile: ReferenceProfile, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    s = profile.schema
    meta = {
        "format": FORMAT, "rows": profile.rows, "digest": profile.digest,
        "schema": {"task": s.task, "target": s.target, "features": list(s.features), "numeric": list(s.numeric),
                   "categorical": list(s.categorical), "text": list(s.text), "skipped": [list(p) for p in s.skipped]},
        "fill": {k: _plain(v) for k, v in profile.fill.items()},
        "references": {name: _encode(ref) for name, ref in profile.references.items()},
    }
    (folder / PROFILE_FILE).write_text(json.dumps(meta))
    profile.sample.to_parquet(folder / SAMPLE_FILE, index=False)
    pd.DataFrame({"label": profile.labels}).to_parquet(folder / LABELS_FILE, index=False)
    return folder


def read(folder: Path, where: str) -> ReferenceProfile:
    """A stored profile; `where` (its URI) goes into every error message."""
    try:
        meta = json.loads((folder / PROFILE_FILE).read_text())
        if meta.get("format") != FORMAT:
            raise DataError(f"reference profile {where}: format {meta.get('format')!r}, this version reads {FORMAT}")
        s = meta["schema"]
        schema = Schema(task=s["task"], target=s["target"], features=tuple(s["features"]), numeric=tuple(s["numeric"]),
                        categorical=tuple(s["categorical"]), text=tuple(s["text"]),
                        skipped=tuple(tuple(p) for p in s["skipped"]))
        references = {name: _decode(ref) for name, ref in meta["references"].items()}
        sample = pd.read_parquet(folder / SAMPLE_FILE, use_threads=False)
        for column in sample.columns[sample.dtypes == object]:  # Parquet's nulls read back as None: NaN as written
            sample[column] = sample[column].where(sample[column].notna(), np.nan)
        labels = pd.read_parquet(folder / LABELS_FILE, use_threads=False)["label"].to_numpy()
        return ReferenceProfile(schema, references, dict(meta["fill"]), sample, labels, int(meta["rows"]), meta["digest"])
    except DataError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        raise DataError(f"reference profile {where} cannot be read ({reason}): store it again with "
                        "`mlflow-postmortem profile`") from None


def _encode(value: Any) -> Any:
    """JSON for the profile dataclasses: arrays and indexes keep their values exactly (floats as
    repr, NaN as Python's json writes it)."""
    if is_dataclass(value):
        return {"type": type(value).__name__, **{f.name: _encode(getattr(value, f.name)) for f in fields(value)}}
    if isinstance(value, pd.Index):
        return {"index": [_plain(v) for v in value]}
    if isinstance(value, np.ndarray):
        return {"array": [_plain(v) for v in value.tolist()], "dtype": str(value.dtype)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    return _plain(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "type" in value:
            cls = _TYPES[value["type"]]
            return cls(**{f.name: _decode(value[f.name]) for f in fields(cls) if f.name in value})
        if "index" in value:
            return pd.Index(value["index"], dtype=object)
        if "array" in value:
            return np.array(value["array"], dtype=value["dtype"])
        if "tuple" in value:
            return tuple(_decode(v) for v in value["tuple"])
    return value


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones; strings and numbers as they are."""
    return value.item() if isinstance(value, np.generic) else value
