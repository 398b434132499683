"""Evidently reports for humans: data drift, data summary and model quality as HTML + JSON.

The only module that imports Evidently. The verdict never reads these reports (its numbers
come from the profiles over all rows); they are the familiar pictures a team opens next to
it. Evidently works on rows, so frames bigger than `max_rows` are sampled, and every report
says so at its top.

Evidently 0.7's standalone HTML (`get_html_str(as_iframe=False)`) already inlines its JS
bundle and icon font, so a report opens offline; `_check_self_contained` guards that.
"""

from __future__ import annotations

import html
import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import DataError

with warnings.catch_warnings():  # Evidently's import trips numpy.core and litestar deprecations: not ours to act on
    warnings.simplefilter("ignore", DeprecationWarning)
    from evidently import BinaryClassification, DataDefinition, Dataset, MulticlassClassification, Regression, Report
    from evidently.presets import ClassificationPreset, DataDriftPreset, DataSummaryPreset, RegressionPreset

#: what would make the browser fetch something: a script, stylesheet, font or image from the network
_EXTERNAL = re.compile(r"""<(?:script|img|iframe)[^>]*\bsrc\s*=\s*["']?\s*(?:https?:)?//"""
                       r"""|<link[^>]*\bhref\s*=\s*["']?\s*(?:https?:)?//"""
                       r"""|url\(\s*["']?\s*(?:https?:)?//|@import\s+["']?(?:url\()?\s*["']?(?:https?:)?//""", re.I)
#: rows each frame needs for any report: one row has no distribution to draw or compare
MIN_ROWS = 2


class EvidentlyError(DataError):
    """The caller asked for something no frames could satisfy (a task or sample size out of range)."""


@dataclass(frozen=True)
class EvidentlyReport:
    """One Evidently report: the self-contained page a human opens and the numbers behind it."""

    name: str
    html: str
    json: dict
    reference_rows: int
    current_rows: int


@dataclass(frozen=True)
class SkippedReport:
    """A report Evidently could not build, and why: report and config column names and counts, never a data value."""

    name: str
    reason: str


@dataclass(frozen=True)
class Reports:
    """What `build_reports` made: the pages, and a one-line reason for each page it could not make.

    A page is a picture beside the verdict, so one that cannot be drawn is a note, never the end of a post-mortem.
    """

    built: tuple[EvidentlyReport, ...]
    skipped: tuple[SkippedReport, ...]


@dataclass(frozen=True)
class _Frames:
    """Both frames cut to the shared columns and sampled, plus what was left out and why."""

    reference: pd.DataFrame
    current: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    sampled: bool
    left_out: dict[str, list[str]]


def build_reports(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    target: str | None,
    prediction: str | None,
    task: str,
    numeric: list[str],
    categorical: list[str],
    max_rows: int = 50_000,
    seed: int = 0,
    source_rows: tuple[int, int] | None = None,
) -> Reports:
    """Data drift and data summary always; model quality when target and prediction are in both frames.

    Each report is built on its own: one that Evidently cannot build (an exception from it, or
    frames it cannot work on) is returned as skipped with its reason, and the others still come.
    Frames longer than `max_rows` are sampled without replacement (seeded, row order kept).
    Feature columns missing from either frame, or empty in either, are left out of the
    drift report and named in each report's note instead of failing the whole step.
    `source_rows` (reference, current) are the sizes of the data the frames were drawn from,
    when the caller sampled them already (e.g. to score only what Evidently will see).
    """
    if task not in ("classification", "regression"):
        raise EvidentlyError(f"task must be 'classification' or 'regression', got {task!r}")
    if max_rows < 1:
        raise EvidentlyError(f"max_rows must be at least 1, got {max_rows}")
    roles = [c for c in (target, prediction) if c and c in reference.columns and c in current.columns]
    quality_name = f"{task}_quality" if target and prediction and len(roles) == 2 else None
    names = ["data_drift", "data_summary", *([quality_name] if quality_name else [])]
    small = [f"the {label} frame has {len(frame)} row{'' if len(frame) == 1 else 's'}"
             for label, frame in (("reference", reference), ("current", current)) if len(frame) < MIN_ROWS]
    if small:
        reason = f"{' and '.join(small)}; Evidently needs at least {MIN_ROWS} in each"
        return Reports((), tuple(SkippedReport(name, reason) for name in names))

    frames = _prepare(reference, current, numeric, categorical, roles, max_rows, seed, source_rows)
    base = {"numerical_columns": frames.numeric, "categorical_columns": frames.categorical}
    drift_columns = [c for c in frames.numeric + frames.categorical if c not in frames.left_out["empty"]]
    out: list[EvidentlyReport | SkippedReport] = []
    if drift_columns:
        out.append(_run("data_drift", frames, lambda: (DataDriftPreset(columns=drift_columns), DataDefinition(**base))))
    else:
        out.append(SkippedReport("data_drift", _why_no_drift(frames, len(set(numeric + categorical)))))
    if len(frames.reference.columns):
        out.append(_run("data_summary", frames, lambda: (DataSummaryPreset(), DataDefinition(**base))))
    else:
        out.append(SkippedReport("data_summary", "no feature, target or prediction column is in both frames"))
    if quality_name:
        quality = _quality_frames(frames, target, prediction)
        if isinstance(quality, str):
            out.append(SkippedReport(quality_name, quality))
        else:
            out.append(_run(quality_name, quality, lambda: _task_definition(quality, target, prediction, task, base)))
    return Reports(tuple(r for r in out if isinstance(r, EvidentlyReport)),
                   tuple(r for r in out if isinstance(r, SkippedReport)))


def _prepare(reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str],
             roles: list[str], max_rows: int, seed: int, source_rows: tuple[int, int] | None) -> _Frames:
    """Shared columns only, types Evidently accepts, then a seeded sample of each frame."""
    missing = [c for c in dict.fromkeys(numeric + categorical) if c not in reference.columns or c not in current.columns]
    num = [c for c in dict.fromkeys(numeric) if c not in missing and c not in roles]
    cat = [c for c in dict.fromkeys(categorical) if c not in missing and c not in roles and c not in num]
    rng = np.random.default_rng(seed)
    columns = num + cat + [r for r in roles if r not in num + cat]
    ref = _clean(_sample(reference, max_rows, rng)[columns], num, cat)
    cur = _clean(_sample(current, max_rows, rng)[columns], num, cat)
    empty = [c for c in num + cat if ref[c].isna().all() or cur[c].isna().all()]
    ref_total, cur_total = source_rows or (len(reference), len(current))
    sampled = len(ref) < max(ref_total, len(reference)) or len(cur) < max(cur_total, len(current))
    return _Frames(ref, cur, num, cat, sampled, {"missing": missing, "empty": empty})


def _why_no_drift(frames: _Frames, asked: int) -> str:
    """Why no feature column is left to test for drift: absent from a frame, or empty in one."""
    shared = len(frames.numeric + frames.categorical)
    if shared:
        return f"every feature column in both frames ({shared}) is empty (all null) in one of them"
    return f"no feature column is in both the reference and the current frame (of {asked} named)"


def _sample(frame: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most `max_rows` rows without replacement; kept in their original order so time reads left to right."""
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    rows = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def _clean(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numbers as floats (unparseable -> NaN), categories as strings: Evidently sorts and bins them."""
    out = frame.copy()
    for c in numeric:
        if not pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c]):
            out[c] = pd.to_numeric(out[c], errors="coerce")
    for c in categorical:
        col = out[c]
        out[c] = col.astype(object).where(col.isna(), col.astype(str))
    return out


def _quality_frames(frames: _Frames, target: str, prediction: str) -> _Frames | str:
    """Only rows with both a label and a prediction can be scored; the reason instead when a frame has none."""
    ref = frames.reference.dropna(subset=[target, prediction]).reset_index(drop=True)
    cur = frames.current.dropna(subset=[target, prediction]).reset_index(drop=True)
    for label, rows in (("reference", ref), ("current", cur)):
        if len(rows) == 0:
            return f"no {label} row has both {target!r} and {prediction!r}"
    return _Frames(ref, cur, frames.numeric, frames.categorical, frames.sampled, frames.left_out)


def _task_definition(frames: _Frames, target: str, prediction: str, task: str,
                     base: dict[str, list[str]]) -> tuple[Any, DataDefinition]:
    """Binary, multiclass or regression, read off the target's values and the prediction's type."""
    if task == "regression":
        return RegressionPreset(), DataDefinition(**base, regression=[Regression(target=target, prediction=prediction)])
    labels = pd.concat([frames.reference[target], frames.current[target]]).dropna().unique().tolist()
    pred = pd.concat([frames.reference[prediction], frames.current[prediction]])
    if len(labels) <= 2:
        pos = _positive_label(labels)
        kind = "prediction_probas" if _is_probability(pred) else "prediction_labels"
        spec = BinaryClassification(target=target, pos_label=pos, **{kind: prediction})
    else:
        spec = MulticlassClassification(target=target, prediction_labels=prediction)
    return ClassificationPreset(), DataDefinition(**base, classification=[spec])


def _positive_label(labels: list[Any]) -> Any:
    """1 for 0/1 and False/True targets; otherwise the larger label, as scikit-learn does."""
    if set(labels) <= {0, 1}:
        return 1
    return sorted(labels, key=str)[-1]


def _is_probability(values: pd.Series) -> bool:
    """A float column in [0, 1] that is not just 0.0/1.0 labels holds scores, not class labels."""
    if not pd.api.types.is_float_dtype(values):
        return False
    v = values.dropna().to_numpy()
    return bool(len(v)) and bool(((v >= 0) & (v <= 1)).all()) and not bool(np.all(v == np.round(v)))


def _run(name: str, frames: _Frames, spec: Callable[[], tuple[Any, DataDefinition]]) -> EvidentlyReport | SkippedReport:
    """Run one preset and render it; anything Evidently raises skips this report only.

    The reason names the exception's type and the row counts, not its message: Evidently's
    messages can quote the values it choked on, and the reason lands in tags and reports.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            preset, definition = spec()
            snapshot = Report([preset]).run(
                current_data=Dataset.from_pandas(frames.current, data_definition=definition),
                reference_data=Dataset.from_pandas(frames.reference, data_definition=definition),
            )
            page, result = snapshot.get_html_str(as_iframe=False), snapshot.dict()
    except Exception as exc:  # noqa: BLE001 - Evidently raises bare ValueError/IndexError/KeyError from deep inside
        return SkippedReport(name, f"Evidently raised {type(exc).__name__} on {len(frames.reference):,} reference "
                                   f"and {len(frames.current):,} current rows")
    page = _with_note(page, _note(frames))
    _check_self_contained(name, page)
    return EvidentlyReport(name, page, result, len(frames.reference), len(frames.current))


def _note(frames: _Frames) -> str:
    """The sentence a reader needs before trusting the numbers below it."""
    ref, cur = len(frames.reference), len(frames.current)
    if frames.sampled:
        text = (f"Evidently computed on a sample of {ref:,} reference and {cur:,} current rows; "
                f"the post-mortem verdict's statistics use all rows.")
    else:
        text = f"Evidently computed on all {ref:,} reference and {cur:,} current rows."
    if frames.left_out["missing"]:
        text += f" Not in both frames, so left out: {', '.join(frames.left_out['missing'])}."
    if frames.left_out["empty"]:
        text += f" Empty (all null) in a frame, so left out of the drift test: {', '.join(frames.left_out['empty'])}."
    return text


def _with_note(page: str, text: str) -> str:
    """A visible banner right after <body>, outside the div Evidently's script renders into."""
    banner = ('<div class="postmortem-note" style="font:14px/1.4 system-ui,sans-serif;padding:8px 16px;'
              f'background:#fff8e1;border-bottom:1px solid #e0c060">{html.escape(text)}</div>')
    head, sep, tail = page.partition("<body>")
    return f"{head}{sep}\n{banner}{tail}" if sep else banner + page


def _check_self_contained(name: str, page: str) -> None:
    """Fail loudly if an Evidently upgrade starts loading its bundle or fonts from a CDN."""
    found = _EXTERNAL.search(page)
    if found:
        raise EvidentlyError(f"the {name} report is not self-contained: it fetches {found.group(0)[:80]!r}")
