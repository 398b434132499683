"""Reports rendered from real verdicts of the synthetic world: facts present, page self-contained, input escaped."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from dataclasses import asdict, replace
from functools import lru_cache
from html.parser import HTMLParser

import numpy as np
import pytest

from mlflow_postmortem.diagnose import diagnose
from mlflow_postmortem.report import MITIGATION_MEANING, render_html, render_markdown
from mlflow_postmortem.types import Verdict

from synthetic import current, inputs, world

HOSTILE = "<b>enterprise</b>"
HOSTILE_FEATURE = "<img src=x onerror=alert(1)>"
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class Page(HTMLParser):
    """Parses a page and records what a browser would see: tags, attributes, text, nesting errors."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.errors: list[str] = []
        self._stack: list[str] = []
        self.feed(page)
        self.close()
        self.errors += [f"unclosed <{t}>" for t in self._stack]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))
        if tag not in VOID:
            self._stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self._stack or self._stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self._stack[-1] if self._stack else None}>")
        else:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


def _late_half(frame, column, fn):
    late = frame.index >= len(frame) // 2
    frame.loc[late, column] = fn(frame.loc[late, column])
    return frame


@lru_cache(maxsize=None)
def recalibrated() -> Verdict:
    """income reported in thousands from the middle of the log on; the same model as baseline."""
    cur = _late_half(current(), "income", lambda s: s / 1000)
    return diagnose(inputs(cur), world().model, baseline=world().model)


@lru_cache(maxsize=None)
def novel() -> Verdict:
    """A fifth of the rows bring plan categories never seen in training, one of them markup."""
    cur = current()
    rng = np.random.default_rng(4)
    rows = rng.random(len(cur)) < 0.2
    cur.loc[rows, "plan"] = rng.choice([HOSTILE, "edu", "gov"], rows.sum())
    return diagnose(inputs(cur), world().model)


def _number(x: float) -> str:
    return f"{x:.4g}"


def test_markdown_names_cause_feature_onset_recovery_and_golden_baseline() -> None:
    v = recalibrated()
    assert (v.root_cause, v.top.features[0]) == ("feature_recalibration", "income")
    onset, recovery, golden = v.top.onset, v.top.recovery, v.golden

    md = render_markdown(v)

    assert md.startswith("# Post-mortem: synthetic v1: feature_recalibration")
    assert "- **Root cause:** feature_recalibration" in md
    assert f"- **Mitigation:** retrain_correct_feature_version: {MITIGATION_MEANING['retrain_correct_feature_version']}" in md
    assert "- **Features at fault:** income" in md
    assert f"| feature_recalibration | income | step | {onset.first_window} | {onset.window_index} |" in md
    assert f"| {v.production['windows'][onset.window_index]} |" in md and "◀ onset" in md
    assert f"| {_number(recovery.before)} | {_number(recovery.after)} | {recovery.gain:+.4g} |" in md
    assert f"{_number(golden.baseline)} ({golden.baseline_source})" in md
    assert f"95% CI {_number(golden.ci_low)} to {_number(golden.ci_high)}" in md
    assert md.index("## Timeline of onsets") < md.index("## Evidence") < md.index("## Recommended mitigation")
    for cause in v.causes:
        assert f"| {cause.cause} | {cause.score:.2f} |" in md


def test_html_is_one_well_formed_page_with_inline_svg_and_nothing_fetched() -> None:
    page = render_html(recalibrated(), evidently={"Data drift": "evidently/data_drift.html"})
    parsed = Page(page)

    assert parsed.errors == []
    assert parsed.tags.count("svg") >= 5  # onset line, scores, recovery bars, golden whisker, production line
    assert not {"script", "link", "iframe", "img", "object", "embed"} & set(parsed.tags)
    assert [a for _, attrs in parsed.attrs for k, a in attrs.items() if k == "src"] == []
    assert "http://" not in page and "https://" not in page and "@import" not in page and "url(" not in page
    hrefs = [attrs["href"] for tag, attrs in parsed.attrs if "href" in attrs]
    assert hrefs == ["evidently/data_drift.html"]


def test_an_evidently_page_not_built_is_a_note_where_its_link_would_be() -> None:
    links = {"Evidently data summary": "evidently/data_summary.html"}
    skipped = {"data_drift": "the current frame has 1 row; Evidently needs at least 2 in each"}
    note = "Evidently data drift page not built: the current frame has 1 row; Evidently needs at least 2 in each"

    md = render_markdown(recalibrated(), evidently=links, evidently_skipped=skipped)
    parsed = Page(render_html(recalibrated(), evidently=links, evidently_skipped=skipped))
    alone = Page(render_html(recalibrated(), evidently_skipped=skipped))

    section = md[md.index("## Evidently reports"):md.index("## Not checked")]
    assert "- [Evidently data summary](evidently/data_summary.html)" in section and f"- {note}" in section
    assert f"Evidently reports Evidently data summary {note}" in parsed.visible
    assert [a["href"] for _, a in parsed.attrs if "href" in a] == ["evidently/data_summary.html"]
    assert f"Evidently reports {note}" in alone.visible and parsed.errors == alone.errors == []


def test_html_states_the_same_facts_as_the_verdict() -> None:
    v = recalibrated()
    onset, recovery, golden = v.top.onset, v.top.recovery, v.golden

    text = Page(render_html(v)).visible

    assert "feature_recalibration score 0.99 → retrain_correct_feature_version" in text
    assert "Features at fault income" in text
    assert f"step from window {v.production['windows'][onset.window_index]}" in text
    assert f"{recovery.metric} {_number(recovery.before)} → {_number(recovery.after)}" in text
    assert f"baseline {_number(golden.baseline)}" in text and f"Delta {golden.delta:+.4g}" in text
    assert f"{v.production['metric']} {_number(v.production['value'])} overall" in text
    assert all(w in text for w in v.production["windows"])


def test_user_strings_are_escaped_in_both_formats() -> None:
    v = novel()
    assert v.root_cause == "prediction_label_bias" and HOSTILE in v.top.evidence["examples"]
    features = [dict(asdict(f), feature=HOSTILE_FEATURE if f.feature == "plan" else f.feature) for f in v.features]
    links = {"<i>drift</i>": "javascript:alert(1)"}

    page = render_html(v, features=features, evidently=links)
    md = render_markdown(v, features=features, evidently=links)
    parsed = Page(page)

    assert HOSTILE not in page and HOSTILE_FEATURE not in page and "<i>" not in page
    assert "&lt;b&gt;enterprise&lt;/b&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert not {"b", "i", "img"} & set(parsed.tags) and parsed.errors == []
    assert HOSTILE in parsed.visible and HOSTILE_FEATURE in parsed.visible
    assert all(not (a.get("href") or "").lower().startswith("javascript:") for _, a in parsed.attrs)
    assert HOSTILE not in md and r"\<b\>enterprise\<\/b\>".replace(r"\/", "/") in md


def test_feature_table_is_sorted_by_drift_with_the_top_features_charted() -> None:
    v = recalibrated()
    features = [asdict(f) for f in v.features]
    random.Random(0).shuffle(features)
    expected = [f["feature"] for f in sorted(features, key=lambda f: f["served_tv"], reverse=True)]

    md = render_markdown(v, features=features)
    parsed = Page(render_html(v, features=features))

    table = md[md.index("## Features by drift"):].split("\n\n")[1].splitlines()[2:]
    assert [row.split(" | ")[0].strip("| ") for row in table] == expected
    assert expected[0] == "income" and " | feature_recalibration | " in table[0]
    panels = [a for tag, a in parsed.attrs if tag == "figure" and a.get("class") == "small"]
    assert len(panels) == min(6, len(features))


def test_a_verdict_without_golden_windows_or_onsets_still_renders() -> None:
    v = recalibrated()
    bare = replace(v, golden=None, production={"rows": 10}, features=(),
                   causes=tuple(replace(c, onset=None, recovery=None) for c in v.causes), not_checked=())

    md, page = render_markdown(bare), render_html(bare)

    assert "No finding has an onset" in md and "No counterfactual repair" in md and "Every check ran." in md
    assert "the golden set was not scored" in md
    assert Page(page).errors == [] and "Features by drift" not in page


@pytest.mark.parametrize("render", [render_markdown, render_html])
def test_rendering_is_deterministic(render) -> None:
    assert render(novel()) == render(novel())


def test_a_column_missing_from_production_leads_the_feature_table() -> None:
    v = diagnose(inputs(current().drop(columns=["visits"])), world().model)
    assert v.root_cause == "feature_unavailability"

    md = render_markdown(v)

    table = md[md.index("## Features by drift"):].split("\n\n")[1].splitlines()
    assert table[2].startswith("| visits | numeric (absent) |")


def test_the_report_module_renders_with_mlflow_and_evidently_unimportable() -> None:
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('mlflow', 'evidently'):\n"
        "            raise ImportError(name + ' is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from mlflow_postmortem.report import render_html\n"
        "from mlflow_postmortem.types import CauseAssessment, Verdict\n"
        "v = Verdict('healthy', (CauseAssessment('healthy', 0.95, (), {}, 'none'),), None, {'rows': 1}, {'name': 'm'})\n"
        "print(render_html(v).count('<svg'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_features_at_fault_are_charted_first_even_when_their_drift_tv_is_low() -> None:
    cur = current(seed=61)
    view = cur.copy()
    cur.loc[cur.index[::10], "visits"] = cur.loc[cur.index[::10], "visits"] + 1  # serving's count is off by one
    cur["age"] = cur["age"] + 4.0  # and the customers got older: more drift than the skewed count shows
    view["age"] = cur["age"]
    v = diagnose(inputs(cur, training_view=view), world().model)  # a tenth of rows: the distribution barely moves
    assert v.root_cause == "training_serving_skew" and v.top.features[0] == "visits"
    by_drift = sorted(v.features, key=lambda f: f.served_tv, reverse=True)
    assert by_drift[0].feature != "visits"

    page = render_html(v)

    panels = re.findall(r'<figure class="small"><figcaption>([^<]*) <span', page)
    assert panels[0] == "visits" and set(panels[1:]) < {f.feature for f in by_drift}
