"""The post-mortem as a person reads it: Markdown (PR comments, MLflow notes) and one HTML page.

Pure: a Verdict in, text out; no MLflow, no Evidently. Both formats are built from the same
section data (`_Table`s and key/value facts) so they cannot disagree; only HTML draws
charts, as inline SVG, so the page opens from an artifact store, a mail attachment or a
laptop without network. Every string that came from the data (feature names, categories,
window labels, evidence) is escaped where it is written, never earlier.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence
from urllib.parse import quote

from .types import CauseAssessment, FeatureStat, GoldenResult, Recovery, Verdict

#: one sentence per cause id: what happened, for someone who has not read DESIGN.md
CAUSE_MEANING: dict[str, str] = {
    "healthy": "Nothing beyond noise: no detector passed its threshold.",
    "model_regression": "The deployed version itself is worse than its baseline on the trusted golden set.",
    "data_drift": "The inputs moved to other regions of what the model saw in training.",
    "feature_drift": "A feature's relation to the target changed, so the model's learned mapping is out of date.",
    "feature_recalibration": "A feature's scale, unit or encoding changed between training and serving.",
    "feature_unavailability": "A feature is missing, null, defaulted or stale in production.",
    "training_serving_skew": "Serving computes a feature differently from the training pipeline.",
    "prediction_label_bias": "Users bring inputs, categories or classes the model never saw.",
}
#: one sentence per mitigation id: what to do next
MITIGATION_MEANING: dict[str, str] = {
    "none": "No action: keep monitoring, the model performs within noise of its baseline.",
    "retrain": "Retrain the model and promote the new version only after it beats this one on the golden set.",
    "fine_tune": "Fine-tune (or retrain) on recent labelled production data so the model learns the new inputs.",
    "retrain_correct_feature_version": "Serve the feature in the unit/encoding the model was trained on, "
                                       "or retrain on the new version of the feature.",
    "fix_feature_computation": "Fix the upstream job that leaves the feature missing, null, defaulted or stale; "
                               "the model itself needs no change.",
    "patch_pipeline": "Patch the serving pipeline to compute the feature exactly as the training pipeline does.",
    "online_update": "Label the new inputs and classes and update the model with them (online or next retrain).",
}
#: features drawn as small multiples: enough to see the culprit next to bystanders
TOP_FEATURE_CHARTS = 6
#: per-window TV charts span at least 0..0.1: below that, a window's TV is mostly sampling noise
TV_SCALE_FLOOR = 0.1
_PALETTE = ("#c0392b", "#2471a3", "#229954", "#b9770e", "#7d3c98", "#566573")
_SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class _Table:
    """Plain, unescaped cells: each renderer escapes them its own way."""

    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


# ---------------------------------------------------------------- public API


def render_markdown(verdict: Verdict, *, features: list[dict] | None = None,
                    evidently: dict[str, str] | None = None, evidently_skipped: dict[str, str] | None = None) -> str:
    """The report as GitHub-flavoured Markdown: the same facts and tables as the HTML, no charts.

    `evidently` maps link titles to pages; `evidently_skipped` maps a page that could not be
    built to why, so the reader sees a note where its link would be.
    """
    feats = _feature_dicts(verdict, features)
    out = [f"# {_md(_title(verdict))}", "", _md_facts(_headline(verdict)), ""]
    if verdict.summary:
        out += [*(f"> {_md(line)}  " for line in verdict.summary.splitlines()), ""]
    out += _md_section("Timeline of onsets", [_md_table(_onset_table(verdict)), _md_table(_window_table(verdict))]
                       if _onsets(verdict) else ["No finding has an onset in the production windows."])
    out += _md_section("Evidence, every cause ranked", [_md_table(_evidence_table(verdict))])
    out += _md_section("Recovery estimates", [_md_table(_recovery_table(verdict))] if _recoveries(verdict)
                       else ["No counterfactual repair was possible for the findings."])
    out += _md_section("Golden-set check", [_md_facts(_golden_facts(verdict.golden))])
    out += _md_section("Production", [_md_facts(_production_facts(verdict)), _md_table(_production_window_table(verdict))])
    if feats:
        out += _md_section("Features by drift", [_md_table(_feature_table(feats, verdict, spark=True))])
    if evidently or evidently_skipped:
        items = [f"- [{_md(t)}]({_href(f)})" for t, f in (evidently or {}).items()]
        items += [f"- {_md(note)}" for note in _skipped_notes(evidently_skipped)]
        out += _md_section("Evidently reports", ["\n".join(items)])
    out += _md_section("Not checked", ["\n".join(f"- {_md(s)}" for s in verdict.not_checked) or "Every check ran."])
    out += _md_section("Recommended mitigation", [_md_facts(_mitigation_facts(verdict))])
    return "\n".join(out).rstrip() + "\n"


def render_note(verdict: Verdict) -> str:
    """The post-mortem run's description in the MLflow UI (Markdown): the headline and summary,
    and where the rest is."""
    out = [f"### {_md(_title(verdict))}", "", _md_facts(_headline(verdict)), ""]
    if verdict.summary:
        out += [*(f"> {_md(line)}  " for line in verdict.summary.splitlines()), ""]
    out.append("The whole report is `report.html` (and `report.md`) among this run's artifacts; "
               "each step is a child run, the Evidently pages are in `diagnose`'s.")
    return "\n".join(out) + "\n"


def render_html(verdict: Verdict, *, features: list[dict] | None = None,
                evidently: dict[str, str] | None = None, evidently_skipped: dict[str, str] | None = None) -> str:
    """One self-contained page: inline CSS and SVG, no scripts, nothing fetched from anywhere."""
    feats = _feature_dicts(verdict, features)
    sections = [
        _html_headline(verdict),
        _html_section("timeline", "Timeline of onsets", _html_timeline(verdict)),
        _html_section("evidence", "Evidence, every cause ranked",
                      _svg_bars([(c.cause, c.score) for c in verdict.causes], domain=(0.0, 1.0),
                                highlight=verdict.root_cause, title="score per cause", digits=".2f")
                      + _html_table(_evidence_table(verdict))),
        _html_section("recovery", "Recovery estimates", _html_recovery(verdict)),
        _html_section("golden", "Golden-set check", _html_golden(verdict.golden)),
        _html_section("production", "Production", _html_production(verdict)),
    ]
    if feats:
        sections.append(_html_section("features", "Features by drift", _html_features(feats, verdict)))
    if evidently or evidently_skipped:
        links = "".join(f'<li><a href="{_e(_href(f))}">{_e(t)}</a></li>' for t, f in (evidently or {}).items())
        links += "".join(f"<li>{_e(note)}</li>" for note in _skipped_notes(evidently_skipped))
        sections.append(_html_section("evidently", "Evidently reports", f"<ul>{links}</ul>"))
    sections.append(_html_section("not-checked", "Not checked", _html_list(verdict.not_checked) or "<p>Every check ran.</p>"))
    sections.append(_html_section("mitigation", "Recommended mitigation", _html_facts(_mitigation_facts(verdict))))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(_title(verdict))}</title><style>{_CSS}</style></head>\n"
            f"<body><main>\n{''.join(sections)}</main></body></html>\n")


# ---------------------------------------------------------------- section data (format-free)


def _title(v: Verdict) -> str:
    name, version = v.model.get("name", "model"), v.model.get("version")
    return f"Post-mortem: {name}{f' v{version}' if version else ''}: {v.root_cause}"


def _headline(v: Verdict) -> list[tuple[str, str]]:
    """What a reader woken at 3 a.m. needs before anything else."""
    top = v.top
    facts = [("Production drop", v.summary.splitlines()[0])] if v.production.get("dropped") and v.summary else []
    facts += [("Root cause", f"{top.cause}: {CAUSE_MEANING.get(top.cause, '')}"),
             ("Score", f"{top.score:.2f} (ranks the causes; not a probability)"),
             ("Mitigation", f"{top.mitigation}: {MITIGATION_MEANING.get(top.mitigation, '')}"),
             ("Features at fault", ", ".join(top.features) or "none named")]
    if top.onset is not None and top.onset.pattern != "unknown":
        facts.append(("Onset", f"{top.onset.pattern} from window {top.onset.first_window}"))
    if top.recovery is not None:
        facts.append(("Estimated recovery", _recovery_text(top.recovery)))
    facts.append(("Model", f"{v.model.get('name', 'n/a')} version {v.model.get('version', 'n/a')}"))
    if v.run_id:
        facts.append(("MLflow run", v.run_id))
    return facts


def _skipped_notes(skipped: dict[str, str] | None) -> list[str]:
    """One sentence per Evidently page that was not built, in the words of its link title (`all`: none was)."""
    return [f"Evidently {'pages' if name == 'all' else name.replace('_', ' ') + ' page'} not built: {reason}"
            for name, reason in (skipped or {}).items()]


def _onsets(v: Verdict) -> list[CauseAssessment]:
    return [c for c in v.causes if c.onset is not None and c.score > 0]


def _recoveries(v: Verdict) -> list[CauseAssessment]:
    return [c for c in v.causes if c.recovery is not None]


def _windows(v: Verdict, n: int) -> list[str]:
    """Window labels from production; positions stand in when a series is longer than the labels."""
    labels = [str(w) for w in v.production.get("windows") or []]
    return labels[:n] + [f"window {i}" for i in range(len(labels), n)]


def _onset_table(v: Verdict) -> _Table:
    rows = [(c.cause, ", ".join(c.features), c.onset.pattern, str(c.onset.first_window or "n/a"),
             _fmt(c.onset.window_index), f"{c.score:.2f}") for c in _onsets(v)]
    return _Table(("cause", "features", "pattern", "first window", "window #", "score"), rows)


def _window_table(v: Verdict) -> _Table:
    """Per-window effect of each finding with an onset, next to the production metric."""
    onsets = _onsets(v)
    per_window = v.production.get("per_window") or []
    n = max([len(per_window)] + [len(c.onset.per_window) for c in onsets])
    metric = v.production.get("metric")
    header = ("window", *([f"production {metric}"] if per_window else []),
              *(f"{c.cause} ({', '.join(c.features[:2])})" for c in onsets))
    rows = []
    for i, label in enumerate(_windows(v, n)):
        marks = [" ◀ onset" if c.onset.window_index == i else "" for c in onsets]
        rows.append((label, *([_fmt(_at(per_window, i))] if per_window else []),
                     *(f"{_fmt(_at(c.onset.per_window, i))}{m}" for c, m in zip(onsets, marks))))
    return _Table(header, rows)


def _evidence_table(v: Verdict) -> _Table:
    rows = [(str(rank), c.cause, f"{c.score:.2f}", ", ".join(c.features) or "n/a", c.mitigation,
             _share(c) + str(c.evidence.get("sentence") or _compact(c.evidence))) for rank, c in enumerate(v.causes, 1)]
    return _Table(("#", "cause", "score", "features", "mitigation", "key evidence"), rows)


def _share(c: CauseAssessment) -> str:
    if c.explains is None or c.score == 0:
        return ""
    return f"accounts for {c.explains.share:.0%} of the {c.explains.metric} drop; "


def _recovery_table(v: Verdict) -> _Table:
    rows = [(c.cause, ", ".join(c.features), r.metric, _fmt(r.before), _fmt(r.after), f"{r.gain:+.4g}", r.repair,
             _fmt(r.rows)) for c in _recoveries(v) if (r := c.recovery)]
    return _Table(("cause", "features", "metric", "before", "after", "gain", "repair", "rows"), rows)


def _recovery_text(r: Recovery) -> str:
    return f"{r.metric} {_fmt(r.before)} → {_fmt(r.after)} ({r.gain:+.4g}); repair: {r.repair}; {r.rows:,} rows"


def _golden_facts(g: GoldenResult | None) -> list[tuple[str, str]]:
    if g is None:
        return [("Checked", "no: the golden set was not scored")]
    facts = [("Metric", f"{g.metric} ({'higher' if g.higher_is_better else 'lower'} is better)"),
             ("Value", f"{_fmt(g.value)} (95% CI {_fmt(g.ci_low)} to {_fmt(g.ci_high)}, {g.n_rows:,} rows)")]
    if g.baseline is not None:
        facts.append(("Baseline", f"{_fmt(g.baseline)} ({g.baseline_source or 'source not recorded'})"))
        ci = f" (95% CI {_fmt(g.delta_ci[0])} to {_fmt(g.delta_ci[1])})" if g.delta_ci else ""
        facts.append(("Delta", f"{_fmt(g.delta, signed=True)}{ci}"))
        facts.append(("Dropped", "YES: the version is worse than its baseline" if g.dropped else "no"))
    if g.note:
        facts.append(("Note", g.note))
    others = {k: val for k, val in g.metrics.items() if k != g.metric}
    if others:
        facts.append(("Other metrics", _compact(others)))
    return facts


def _production_facts(v: Verdict) -> list[tuple[str, str]]:
    p = v.production
    facts = [("Rows", _fmt(p.get("rows")))]
    if "labelled" in p:
        labelled = f"yes ({_fmt(p['labelled_rows'])} rows)" if p["labelled"] and "labelled_rows" in p else _fmt(p["labelled"])
        facts.append(("Labelled", labelled))
    if "metric" in p:
        facts.append(("Metric", f"{p['metric']} {_fmt(p.get('value'))} overall"))
    if "golden_value" in p:
        facts.append(("Golden value", _fmt(p["golden_value"])))
    if "within_golden_ci" in p:
        facts.append(("Within golden CI", _fmt(p["within_golden_ci"])))
    facts.append(("Windows", str(len(p.get("windows") or []))))
    return facts


def _production_window_table(v: Verdict) -> _Table:
    per_window = v.production.get("per_window") or []
    metric = v.production.get("metric", "metric")
    return _Table(("window", str(metric)), [(w, _fmt(_at(per_window, i))) for i, w in enumerate(_windows(v, len(per_window)))])


def _feature_dicts(v: Verdict, features: list[dict] | None) -> list[dict]:
    """Caller's rows if given, else the verdict's own FeatureStats; absent columns first, then most drifted."""
    rows = features if features is not None else [asdict(f) for f in v.features if isinstance(f, FeatureStat)]
    return sorted(rows, key=lambda r: (r.get("present") is False, _served(r)), reverse=True)


def _served(row: dict) -> float:
    """Drift as served (a verdict from before it was recorded: the seen range's)."""
    value = row.get("served_tv") if row.get("per_window_served_tv") else row.get("drift_tv")
    return float(value) if _finite(value) else -1.0


def _served_curve(row: dict) -> tuple[float, ...]:
    return tuple(row.get("per_window_served_tv") or row.get("per_window_tv") or ())


def _named_by(v: Verdict) -> dict[str, list[str]]:
    """Feature -> the causes (with any score) that name it: a rescale or a new category can
    leave drift TV low, so the table says which rows the verdict is about."""
    named: dict[str, list[str]] = {}
    for c in v.causes:
        for f in c.features if c.score > 0 else ():
            named.setdefault(f, []).append(c.cause)
    return named


def _feature_table(feats: list[dict], v: Verdict, *, spark: bool) -> _Table:
    top, named = _tv_max(feats), _named_by(v)
    header = ("feature", "kind", "drift TV as served", "drift TV in seen range", "null share", "novel share",
              "named by", *(["per-window TV as served"] if spark else []))
    rows = [(str(f.get("feature", "")), f"{f.get('kind', '')}{' (absent)' if f.get('present') is False else ''}",
             _fmt(_served(f)) if f.get("present") is not False else _fmt(None), _fmt(f.get("drift_tv")),
             _fmt(f.get("null_share")), _fmt(f.get("novel_share")), ", ".join(named.get(str(f.get("feature")), [])),
             *([_sparkline(_served_curve(f), top)] if spark else []))
            for f in feats]
    return _Table(header, rows)


def _mitigation_facts(v: Verdict) -> list[tuple[str, str]]:
    top = v.top
    facts = [("Do", f"{top.mitigation}: {MITIGATION_MEANING.get(top.mitigation, '')}"),
             ("Because", f"{top.cause} (score {top.score:.2f}): {CAUSE_MEANING.get(top.cause, '')}")]
    if top.features:
        facts.append(("Features", ", ".join(top.features)))
    if top.recovery is not None:
        facts.append(("Expected gain", _recovery_text(top.recovery)))
    runner_up = next((c for c in v.causes[1:] if c.score >= 0.3), None)
    if runner_up is not None:
        facts.append(("If that is not it", f"{runner_up.cause} (score {runner_up.score:.2f}): "
                                            f"{runner_up.mitigation}"))
    return facts


# ---------------------------------------------------------------- value formatting


def _finite(x: Any) -> bool:
    """A real number we can draw: not None, not bool, not NaN/inf."""
    try:
        return not isinstance(x, bool) and x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _at(values: Sequence[Any], i: int) -> Any:
    return values[i] if i < len(values) else None


def _fmt(x: Any, *, signed: bool = False) -> str:
    """Numbers to 4 significant digits, missing as n/a: evidence is read, not parsed."""
    if x is None:
        return "n/a"
    if isinstance(x, bool) or type(x).__name__ == "bool_":
        return "yes" if x else "no"
    if isinstance(x, int) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", "") in "iu"):
        return f"{int(x):+,}" if signed else f"{int(x):,}"
    if isinstance(x, float) or hasattr(x, "dtype"):
        f = float(x)
        return "n/a" if not math.isfinite(f) else (f"{f:+.4g}" if signed else f"{f:.4g}")
    if isinstance(x, (dict, list, tuple)):
        return _compact(x)
    return str(x)


def _compact(value: Any, *, depth: int = 0) -> str:
    """Nested evidence on one line: `scale=100; null_share={reference=0.01, current=0.5}`."""
    if isinstance(value, dict):
        if value == {"found": False}:
            return "nothing above threshold"
        items, max_items = list(value.items()), 16 if depth == 0 else 6
        sep = "; " if depth == 0 else ", "
        body = sep.join(f"{k}={_compact(val, depth=depth + 1)}" for k, val in items[:max_items])
        more = f"{sep}+{len(items) - max_items} more" if len(items) > max_items else ""
        return body + more if depth == 0 else "{" + body + more + "}"
    if isinstance(value, (list, tuple)):
        shown = [_compact(val, depth=depth + 1) for val in value[:5]]
        return "[" + ", ".join(shown) + (f", +{len(value) - 5} more" if len(value) > 5 else "") + "]"
    return _fmt(value)


def _tv_max(feats: list[dict]) -> float:
    """One scale for every feature's per-window TV, at least TV_SCALE_FLOOR, so noise does not look like a step."""
    return max([TV_SCALE_FLOOR] + [float(x) for f in feats for x in _served_curve(f) if _finite(x)])


def _sparkline(values: Iterable[Any], top: float) -> str:
    """Unicode bars for Markdown on the scale 0..top, so a trend shows without a chart."""
    vals = [float(v) if _finite(v) else None for v in values]
    if top <= 0:
        return "".join(_SPARK[0] if v is not None else "·" for v in vals)
    return "".join(_SPARK[min(int(v / top * (len(_SPARK) - 1) + 0.5), len(_SPARK) - 1)] if v is not None else "·"
                   for v in vals)


def _href(name: str) -> str:
    """A relative link: percent-encoding the scheme colon keeps `javascript:` and `http:` inert."""
    return quote(str(name), safe="/#.-_~")


# ---------------------------------------------------------------- Markdown


def _md(text: Any) -> str:
    """One table-safe line; backslash escapes keep HTML tags and pipes literal in any renderer."""
    s = " ".join(str(text).split())
    for ch in "\\`*[]<>|":
        s = s.replace(ch, "\\" + ch)
    return s


def _md_facts(facts: list[tuple[str, str]]) -> str:
    return "\n".join(f"- **{_md(k)}:** {_md(v)}" for k, v in facts)


def _md_table(t: _Table) -> str:
    if not t.rows:
        return "_none_"
    lines = ["| " + " | ".join(_md(h) for h in t.header) + " |", "|" + "---|" * len(t.header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


def _md_section(title: str, blocks: list[str]) -> list[str]:
    """A heading, then blocks separated by blank lines (a table must not touch a list)."""
    return [f"## {title}", "", "\n\n".join(blocks), ""]


# ---------------------------------------------------------------- HTML


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>\n{body}\n</section>\n'


def _html_facts(facts: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>"


def _html_list(items: Iterable[str]) -> str:
    lis = "".join(f"<li>{_e(s)}</li>" for s in items)
    return f"<ul>{lis}</ul>" if lis else ""


def _html_table(t: _Table, *, raw_last: bool = False) -> str:
    """A table of escaped cells; `raw_last` lets the features table put an SVG sparkline in its last column."""
    if not t.rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f"<td>{c if raw_last and i == len(row) - 1 else _e(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in t.rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _html_headline(v: Verdict) -> str:
    top = v.top
    state = "ok" if top.cause == "healthy" else "bad"
    summary = f"<pre>{_e(v.summary)}</pre>" if v.summary else ""
    return (f'<header class="{state}"><h1>{_e(_title(v))}</h1>'
            f'<p class="big">{_e(top.cause)} <span class="conf">score {top.score:.2f}</span> '
            f'→ {_e(top.mitigation)}</p>{_html_facts(_headline(v))}{summary}</header>\n')


def _html_timeline(v: Verdict) -> str:
    onsets = _onsets(v)
    if not onsets:
        return "<p>No finding has an onset in the production windows.</p>"
    charts = []
    for c in onsets:
        o = c.onset
        labels = _windows(v, len(o.per_window))
        title = f"{c.cause} on {', '.join(c.features) or 'the model'}: {o.pattern} from {o.first_window or 'n/a'}"
        charts.append(f'<figure><figcaption>{_e(title)}</figcaption>'
                      f'{_svg_line([("effect", list(o.per_window))], labels, mark=o.window_index, title=title)}</figure>')
    return _html_table(_onset_table(v)) + '<div class="grid">' + "".join(charts) + "</div>" + _html_table(_window_table(v))


def _html_recovery(v: Verdict) -> str:
    found = _recoveries(v)
    if not found:
        return "<p>No counterfactual repair was possible for the findings.</p>"
    charts = []
    for c in found:
        r = c.recovery
        lo = min(0.0, r.before, r.after)
        charts.append(f"<figure><figcaption>{_e(c.cause)}: {_e(r.metric)} {r.gain:+.4g} if {_e(r.repair)}</figcaption>"
                      + _svg_bars([(f"before ({r.metric})", r.before), (f"after ({r.metric})", r.after)],
                                  domain=(lo, max(r.before, r.after, lo + 1e-9) * 1.05), highlight=f"after ({r.metric})",
                                  title=f"{r.metric} before and after repair") + "</figure>")
    return '<div class="grid">' + "".join(charts) + "</div>" + _html_table(_recovery_table(v))


def _html_golden(g: GoldenResult | None) -> str:
    facts = _html_facts(_golden_facts(g))
    if g is None or not all(_finite(x) for x in (g.value, g.ci_low, g.ci_high)):
        return facts
    state = ' class="bad"' if g.dropped else ""
    return f"<div{state}>{_svg_whisker(g)}</div>{facts}"


def _html_production(v: Verdict) -> str:
    p = v.production
    per_window = list(p.get("per_window") or [])
    chart = ""
    if per_window:
        onset = v.top.onset.window_index if v.top.onset is not None else None
        chart = _svg_line([(str(p.get("metric", "metric")), per_window)], _windows(v, len(per_window)), mark=onset,
                          ref=p.get("golden_value"), ref_label="golden", title=f"production {p.get('metric', '')} per window")
    table = _html_table(_production_window_table(v)) if per_window else ""
    return _html_facts(_production_facts(v)) + chart + table


def _html_features(feats: list[dict], v: Verdict) -> str:
    """Small multiples (features at fault, then the most drifted) on one y scale; the full table with sparklines."""
    at_fault = set(v.top.features)
    charted = sorted(feats, key=lambda f: f.get("feature") not in at_fault)  # stable: drift order otherwise
    top = [f for f in charted if _served_curve(f)][:TOP_FEATURE_CHARTS]
    ymax = _tv_max(feats)
    onset = v.top.onset.window_index if v.top.onset is not None else None
    panels = "".join(
        f'<figure class="small"><figcaption>{_e(f.get("feature", ""))} '
        f'<span class="conf">drift TV as served {_e(_fmt(_served(f)))}</span></figcaption>'
        + _svg_line([("TV", list(_served_curve(f)))], _windows(v, len(_served_curve(f))), width=240, height=110,
                    y_range=(0.0, ymax), axis_labels=False, mark=onset if f.get("feature") in v.top.features else None,
                    title=f"per-window TV as served of {f.get('feature', '')}") + "</figure>"
        for f in top)
    table = _feature_table(feats, v, spark=False)
    rows = [(*row, _svg_spark(_served_curve(f), ymax)) for row, f in zip(table.rows, feats)]
    return (f'<p>Per-window total variation against the reference, as served (values outside the seen range '
            f'count as moved): 0 = same distribution; all panels share the y scale 0 to {ymax:.3g}.</p>'
            f'<div class="grid">{panels}</div>'
            + _html_table(_Table((*table.header, "per-window TV as served"), rows), raw_last=True))


# ---------------------------------------------------------------- SVG charts


def _svg_open(width: int, height: int, title: str) -> str:
    return (f'<svg viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>')


def _axis_labels(labels: list[str]) -> list[str]:
    """Axis labels stay short: the date of a timestamp (without the year when all share it), else 12 characters."""
    dates = all(len(s) >= 10 and s[4:5] == "-" and s[:4].isdigit() for s in labels)
    if not dates:
        return [s[:12] for s in labels]
    same_year = len({s[:4] for s in labels}) == 1
    return [s[5:10] if same_year else s[:10] for s in labels]


def _y_range(values: list[float], extra: Sequence[float] = ()) -> tuple[float, float]:
    vals = values + [x for x in extra if _finite(x)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.1, 0.05)
    return lo - pad, hi + pad


def _svg_line(series: list[tuple[str, list[Any]]], labels: list[str], *, mark: int | None = None,
              ref: Any = None, ref_label: str = "", width: int = 560, height: int = 190,
              y_range: tuple[float, float] | None = None, axis_labels: bool = True, title: str = "") -> str:
    """Lines over windows; gaps where a window has no value; dashed marks for onset and reference."""
    left, right, top, bottom = (58, 14, 10, 40) if axis_labels else (6, 6, 6, 6)
    n = max(len(s) for _, s in series)
    finite = [float(x) for _, s in series for x in s if _finite(x)]
    lo, hi = y_range or _y_range(finite, [ref] if _finite(ref) else [])
    if hi <= lo:
        hi = lo + 1.0
    pw, ph = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (pw / 2 if n <= 1 else pw * i / (n - 1))

    def y(val: float) -> float:
        return top + ph * (1 - (min(max(val, lo), hi) - lo) / (hi - lo))

    parts = [_svg_open(width, height, title),
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ddd"/>']
    if axis_labels:
        for val in (lo, (lo + hi) / 2, hi):
            parts.append(f'<text x="{left - 4}" y="{y(val) + 4:.1f}" class="tick" text-anchor="end">{val:.3g}</text>')
        step, short = max(1, math.ceil(n / 6)), _axis_labels(labels)
        for i in range(0, n, step):
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 15}" class="tick" text-anchor="{anchor}">'
                         f'{_e(short[i] if i < len(short) else i)}</text>')
    if _finite(ref):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(float(ref)):.1f}" y2="{y(float(ref)):.1f}" '
                     f'class="ref"/><text x="{left + pw - 2}" y="{y(float(ref)) - 4:.1f}" class="tick" '
                     f'text-anchor="end">{_e(ref_label)} {float(ref):.4g}</text>')
    if mark is not None and 0 <= mark < n:
        label = _e(labels[mark]) if mark < len(labels) else mark
        parts.append(f'<line x1="{x(mark):.1f}" x2="{x(mark):.1f}" y1="{top}" y2="{top + ph}" class="onset"/>'
                     f'<text x="{x(mark) + 3:.1f}" y="{top + 11}" class="onset-label">onset<title>{label}</title></text>')
    for k, (name, values) in enumerate(series):
        color = _PALETTE[k % len(_PALETTE)]
        for seg in _segments(values):
            pts = " ".join(f"{x(i):.1f},{y(float(values[i])):.1f}" for i in seg)
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, val in enumerate(values):
            if _finite(val):
                tip = f"{labels[i] if i < len(labels) else i}: {float(val):.4g}"
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(float(val)):.1f}" r="2.5" fill="{color}">'
                             f"<title>{_e(name)} {_e(tip)}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def _segments(values: Sequence[Any]) -> list[list[int]]:
    """Runs of consecutive finite values: a missing window breaks the line instead of bridging it."""
    runs, run = [], []
    for i, val in enumerate(values):
        if _finite(val):
            run.append(i)
        elif run:
            runs.append(run)
            run = []
    return [r for r in runs + [run] if r]


def _svg_bars(items: list[tuple[str, float]], *, domain: tuple[float, float], highlight: str | None = None,
              title: str = "", width: int = 560, digits: str = ".4g") -> str:
    """Horizontal bars with the value written at the end; the highlighted bar is the one that matters."""
    label_w, row_h, lo, hi = 200, 22, domain[0], domain[1]
    pw = width - label_w - 60
    height = row_h * len(items) + 8

    def x(val: float) -> float:
        return label_w + pw * (min(max(val, lo), hi) - lo) / ((hi - lo) or 1.0)

    parts = [_svg_open(width, height, title)]
    for k, (label, val) in enumerate(items):
        yk = 4 + k * row_h
        v = float(val) if _finite(val) else lo
        color = _PALETTE[0] if label == highlight else "#95a5a6"
        x0, x1 = sorted((x(0.0 if lo <= 0 <= hi else lo), x(v)))
        parts.append(f'<text x="{label_w - 6}" y="{yk + 15}" class="tick" text-anchor="end">{_e(label)}</text>'
                     f'<rect x="{x0:.1f}" y="{yk + 3}" width="{max(x1 - x0, 1):.1f}" height="{row_h - 6}" fill="{color}"/>'
                     f'<text x="{x1 + 4:.1f}" y="{yk + 15}" class="tick">{format(v, digits)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_whisker(g: GoldenResult, width: int = 560, height: int = 70) -> str:
    """The golden value with its 95% CI as a whisker, the baseline as a dashed line across it."""
    ends = [float(e) for e in (g.ci_low, g.ci_high, g.value, g.baseline) if _finite(e)]
    span = (max(ends) - min(ends)) or max(abs(max(ends)) * 0.1, 0.05)
    lo, hi = min(ends) - 0.15 * span, max(ends) + 0.15 * span
    left, pw = 20, width - 40

    def x(val: float) -> float:
        return left + pw * (float(val) - lo) / (hi - lo)

    def anchor(val: float) -> str:
        return "end" if x(val) > left + pw * 0.8 else "start"

    color = _PALETTE[0] if g.dropped else _PALETTE[1]
    parts = [_svg_open(width, height, f"golden {g.metric} with 95% CI vs baseline"),
             f'<line x1="{x(g.ci_low):.1f}" x2="{x(g.ci_high):.1f}" y1="30" y2="30" stroke="{color}" stroke-width="2"/>',
             *(f'<line x1="{x(e):.1f}" x2="{x(e):.1f}" y1="23" y2="37" stroke="{color}" stroke-width="2"/>'
               for e in (g.ci_low, g.ci_high)),
             f'<circle cx="{x(g.value):.1f}" cy="30" r="5" fill="{color}"/>',
             f'<text x="{x(g.value):.1f}" y="14" class="tick" text-anchor="middle">{_e(g.metric)} {g.value:.4g}</text>',
             f'<text x="{x(g.ci_low):.1f}" y="54" class="tick" text-anchor="middle">{g.ci_low:.4g}</text>',
             f'<text x="{x(g.ci_high):.1f}" y="54" class="tick" text-anchor="middle">{g.ci_high:.4g}</text>']
    if _finite(g.baseline):
        parts.append(f'<line x1="{x(g.baseline):.1f}" x2="{x(g.baseline):.1f}" y1="8" y2="62" class="ref"/>'
                     f'<text x="{x(g.baseline) + (-4 if anchor(g.baseline) == "end" else 4):.1f}" y="66" class="tick" '
                     f'text-anchor="{anchor(g.baseline)}">baseline {float(g.baseline):.4g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_spark(values: Iterable[Any], top: float, width: int = 90, height: int = 20) -> str:
    """A table-cell sparkline on the shared scale 0..top."""
    vals = list(values)
    if not any(_finite(v) for v in vals):
        return ""
    n = len(vals)
    pts = " ".join(f"{2 + (width - 4) * (i / max(n - 1, 1)):.1f},{height - 2 - (height - 4) * min(float(v) / top, 1.0):.1f}"
                   for i, v in enumerate(vals) if _finite(v))
    return (f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-hidden="true">'
            f'<polyline points="{pts}" fill="none" stroke="{_PALETTE[1]}" stroke-width="1.5"/></svg>')


_CSS = """
body{margin:0;background:#f4f5f7;color:#1c2833;font:15px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:16px}
header,section{background:#fff;border-radius:6px;padding:12px 20px;margin:0 0 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
header.bad{border-left:6px solid #c0392b}header.ok{border-left:6px solid #229954}
h1{font-size:22px;margin:4px 0 8px}h2{font-size:17px;margin:4px 0 10px}
.big{font-size:19px;font-weight:600;margin:4px 0 10px}.conf{font-weight:400;color:#566573}
dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:6px 0}dt{font-weight:600;color:#34495e}dd{margin:0}
pre{background:#f8f9f9;border:1px solid #e5e8e8;padding:8px;white-space:pre-wrap;font-size:13px}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #e5e8e8;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f2f3f4}
td:nth-child(n+2){font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:10px}figure{margin:4px 0}figcaption{font-size:13px;color:#34495e}
figure.small figcaption{font-weight:600}
svg{max-width:100%;height:auto}svg .tick{font-size:11px;fill:#566573}
svg .onset{stroke:#c0392b;stroke-dasharray:4 3;stroke-width:1.5}svg .onset-label{font-size:11px;fill:#c0392b}
svg .ref{stroke:#7f8c8d;stroke-dasharray:5 4;stroke-width:1.2}
div.bad svg{outline:2px solid #f5b7b1}
@media print{body{background:#fff}header,section{box-shadow:none;border:1px solid #ddd}}
"""
