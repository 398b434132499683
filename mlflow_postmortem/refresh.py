"""The next golden set: labelled post-launch rows plus the current golden set, chosen on purpose.

A golden set frozen at launch stops describing what the model meets. The next one pools the
current golden rows with the labelled production rows, drops what cannot be trusted as a test
(exact duplicates, a second row of one entity, rows the version trained on), then takes
a stated share of edge cases (rows the novelty check would flag, rows of the version's worst
slices) and fills the rest by stratified sampling over time window x class (or target
quintile), so each window and class keeps its share. Deterministic given the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .data import Schema
from .errors import DataError
from .evaluation import Slice, slices_of, worst_slices
from .golden import golden_digest
from .monitoring import parse_every
from .profile import CategoricalReference, NumericReference
from .scoring import score
from .types import ModelHandle

#: target quantile bins of a regression's strata
QUANTILE_BINS = 5
#: the window label of golden rows without a timestamp: they predate the production log
BEFORE_LAUNCH = "before launch"


@dataclass(frozen=True)
class Lineage:
    """Where the next golden set came from and how it was chosen: logged with it, read back later."""

    parent_digest: str
    digest: str
    #: role -> path: the current golden set, the production log, the reference it excludes
    sources: dict[str, str]
    rule: str
    seed: int
    size: int
    #: "<window> | <class or target quintile>" -> rows sampled from it (edge cases not included)
    strata: dict[str, int]
    #: novel (values outside the seen range, unseen categories), worst_slices -> rows taken as edge cases
    edge_cases: dict[str, int]
    #: why rows were dropped before sampling -> rows
    removed: dict[str, int]
    #: rows of each source in the next set: golden, production
    kept: dict[str, int]
    #: the worst slices the edge cases came from
    worst_slices: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Refreshed:
    frame: pd.DataFrame
    lineage: Lineage


def next_golden(golden: pd.DataFrame, production: pd.DataFrame, trained_on: pd.DataFrame, schema: Schema,
                model: ModelHandle, fill: dict[str, object],
                references: dict[str, NumericReference | CategoricalReference], *, size: int | None = None,
                edge_share: float = 0.1, window: str | None = None, slices: tuple[str, ...] = (), seed: int = 0,
                sources: dict[str, str] | None = None) -> Refreshed:
    """The next golden set from `golden` and the labelled rows of `production`, none of `trained_on`.

    `references`: the reference profiles whose seen ranges and categories say what is novel;
    `slices`: features whose slices are ranked (default: every non-text feature, as evaluate-versions does)."""
    if not schema.timestamp:
        raise DataError("refresh-golden needs key 'timestamp': the next golden set is stratified by time window")
    target = schema.target
    labelled = production[production[target].notna()] if target in production.columns else production.iloc[0:0]
    if labelled.empty:
        raise DataError(f"data.current has no labelled production rows (no value in {target!r}): nothing to refresh "
                        "the golden set with")
    columns = _columns(golden, production, schema)
    pool = pd.concat([golden[[c for c in columns if c in golden.columns]].assign(_source="golden"),
                      labelled[[c for c in columns if c in labelled.columns]].assign(_source="production")],
                     ignore_index=True)
    pool = pool[pool[target].notna()].reset_index(drop=True)
    pool, removed = _removed(pool, trained_on, schema)
    if pool.empty:
        raise DataError("every candidate row was a duplicate or a row the version trained on: nothing to refresh with")

    wanted = size or len(golden)
    notes = []
    if wanted > len(pool):
        notes.append(f"asked for {wanted:,} rows, {len(pool):,} available after removals: all used")
        wanted = len(pool)
    rng = np.random.default_rng(seed)
    novel = novel_rows(pool, references)
    worst = worst_slices(score(model, pool, schema, fill), _candidates(trained_on, schema, slices), schema.task)
    in_worst = np.zeros(len(pool), dtype=bool)
    for s in worst:
        in_worst |= s.mask(pool)
    edges, edge_counts = _edges(novel, in_worst, int(round(edge_share * wanted)), rng)
    strata = _strata(pool, schema, window)
    rest = np.setdiff1d(np.arange(len(pool)), edges)
    picked, per_stratum = _stratified(strata[rest], rest, wanted - len(edges), rng)
    chosen = np.sort(np.concatenate([edges, picked]))
    frame = pool.iloc[chosen]
    kept = frame["_source"].value_counts().to_dict()
    frame = frame.drop(columns="_source").reset_index(drop=True)
    how = "class" if schema.task == "classification" else f"target quantile (1 of {QUANTILE_BINS})"
    rule = (f"current golden set + labelled production rows; minus exact duplicate feature rows"
            f"{', repeated ' + schema.entity_id if schema.entity_id else ''} and rows the version trained on; "
            f"{len(edges)} edge cases (novel values, worst slices; edge_share {edge_share:g}), the rest sampled "
            f"in proportion to time window ({window or 'calendar month'}) x {how}; seed {seed}")
    lineage = Lineage(golden_digest(golden, schema), golden_digest(frame, schema), dict(sources or {}), rule, seed,
                      len(frame), per_stratum, edge_counts, removed,
                      {"golden": int(kept.get("golden", 0)), "production": int(kept.get("production", 0))},
                      tuple(s.description for s in worst), tuple(notes))
    return Refreshed(frame, lineage)


def novel_rows(frame: pd.DataFrame, references: dict[str, NumericReference | CategoricalReference]) -> np.ndarray:
    """Rows the novelty check would count: a number outside the reference's seen range (its
    support), or a category the reference never held."""
    novel = np.zeros(len(frame), dtype=bool)
    for name, ref in references.items():
        if name not in frame.columns:
            continue
        if isinstance(ref, NumericReference):
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(float)
            low, high = ref.support
            with np.errstate(invalid="ignore"):
                novel |= np.isfinite(values) & ((values < low) | (values > high))
        else:
            novel |= ref.codes(frame[name]) == -1
    return novel


def _columns(golden: pd.DataFrame, production: pd.DataFrame, schema: Schema) -> list[str]:
    """The current golden set's columns, plus the time and entity columns production rows carry."""
    out = list(golden.columns)
    out += [c for c in (schema.timestamp, schema.entity_id) if c and c not in out and c in production.columns]
    return out


def _removed(pool: pd.DataFrame, trained_on: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop rows the version trained on (by entity when both sides have one, else by equal features),
    then repeats: a row already in the golden set stays, otherwise the first in time."""
    features = list(schema.features)
    entity = schema.entity_id
    by_entity = bool(entity) and entity in pool.columns and entity in trained_on.columns
    if by_entity:
        seen = pool[entity].isin(set(trained_on[entity].dropna())).to_numpy() & pool[entity].notna().to_numpy()
    else:
        seen = _hashes(pool, features).isin(set(_hashes(trained_on, features))).to_numpy()
    out = pool[~seen]
    duplicate = _hashes(out, features).duplicated().to_numpy()
    out = out[~duplicate]
    repeated = np.zeros(len(out), dtype=bool)
    if entity and entity in out.columns:
        repeated = out[entity].notna().to_numpy() & out[entity].duplicated().to_numpy()
        out = out[~repeated]
    removed = {"trained_on": int(seen.sum()), "duplicate_rows": int(duplicate.sum())}
    if entity:
        removed["repeated_entity"] = int(repeated.sum())
    return out.reset_index(drop=True), removed


def _hashes(frame: pd.DataFrame, features: list[str]) -> pd.Series:
    return pd.util.hash_pandas_object(frame[[f for f in features if f in frame.columns]], index=False)


def _candidates(trained_on: pd.DataFrame, schema: Schema, slices: tuple[str, ...]) -> list[Slice]:
    """The config's slices, else every non-text feature's, cut as evaluate-versions cuts them (on training rows)."""
    features = slices or tuple(f for f in schema.features if f not in schema.text)
    return slices_of(trained_on, schema, features)


def _edges(novel: np.ndarray, in_worst: np.ndarray, quota: int, rng: np.random.Generator
           ) -> tuple[np.ndarray, dict[str, int]]:
    """Up to `quota` rows, half novel and half from the worst slices; either fills what the other lacks."""
    novel_idx = rng.permutation(np.flatnonzero(novel))
    worst_idx = rng.permutation(np.flatnonzero(in_worst & ~novel))
    n_novel = min(len(novel_idx), quota - min(len(worst_idx), quota - quota // 2))
    n_worst = min(len(worst_idx), quota - n_novel)
    edges = np.sort(np.concatenate([novel_idx[:n_novel], worst_idx[:n_worst]])).astype(int)
    return edges, {"novel": int(n_novel), "worst_slices": int(n_worst)}


def _strata(pool: pd.DataFrame, schema: Schema, window: str | None) -> np.ndarray:
    """Each row's stratum: its time window, then its class or target quintile."""
    times = pd.to_datetime(pool[schema.timestamp], utc=True, errors="coerce") if schema.timestamp in pool.columns \
        else pd.Series(pd.NaT, index=pool.index, dtype="datetime64[ns, UTC]")
    if window is None:
        labels = times.dt.strftime("%Y-%m")
    else:
        every = parse_every(window)
        labels = times.dt.floor(every).dt.strftime("%Y-%m-%d %H:%M")
    labels = labels.where(times.notna(), BEFORE_LAUNCH).astype(str)
    y = pool[schema.target]
    if schema.task == "classification":
        kind = "class " + y.astype(str)
    else:
        values = y.to_numpy(float)
        cuts = np.unique(np.quantile(values, np.linspace(0, 1, QUANTILE_BINS + 1)[1:-1]))
        kind = pd.Series(np.searchsorted(cuts, values, side="right") + 1, index=pool.index).map(lambda q: f"q{q}")
    return (labels + " | " + kind).to_numpy()


def _stratified(strata: np.ndarray, rows: np.ndarray, n: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, dict[str, int]]:
    """`n` of `rows`, each stratum's share in proportion to its size (largest remainder), random within it."""
    names, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
    if n <= 0 or len(rows) == 0:
        return np.array([], dtype=int), {str(s): 0 for s in names}
    exact = counts * n / counts.sum()
    take = np.floor(exact).astype(int)
    order = np.lexsort((names, -(exact - take)))  # ties broken by name: deterministic
    take[order[:n - take.sum()]] += 1
    picked = [rng.permutation(rows[inverse == i])[:k] for i, k in enumerate(take)]
    return np.concatenate(picked).astype(int), {str(s): int(k) for s, k in zip(names, take)}
