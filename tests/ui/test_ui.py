"""What a user sees of a post-mortem in the MLflow UI, in a real browser.

One module-scoped setup does what a user does: a real `mlflow server` on loopback (sqlite store, its own
tmp folder, so nothing another test registered shows up), then `mlflow-postmortem demo` against it as a
subprocess. The demo registers `postmortem-demo` versions 1 and 2 (2 aliased `champion`) and records the
post-mortem of version 2 in the `postmortem` experiment: a parent run with the verdict as its description
and `report.html` among its artifacts, the version tagged with `postmortem.run_id`, `.root_cause` and
`.history`, and a mitigation that registers version 3 (a logged model) and evaluates versions 2 and 3 side
by side in two child runs of its own, `evaluate v2` and `evaluate v3`, with the same metric keys linked to
each version's logged model (README: "Recorded in MLflow"). The demo prints a link to the post-mortem's
run page. What each page must show is read back through the MLflow client first, so the tests check the
UI, not the verdict.

Each test saves a screenshot (conftest.py: `$PM_UI_SCREENSHOTS`, else a tmp folder).

MLflow 3.17's UI has two views, GenAI (its default) and Model training, picked by a switch in the side
bar (remembered in the browser's localStorage) or a `?workflowType=` URL parameter (honoured while it is
in the URL, not remembered); never by the experiment's `mlflow.experimentKind` tag. The pages below are
opened with `?workflowType=machine_learning`, as the demo's link is, so the screenshots show the view a
user of this package is in.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, Locator, Page, Request, Response, expect

from servers import TrackingServer
from support import run_cli

#: what `mlflow-postmortem demo` registers (README; mlflow_postmortem/demo.py) and the alias of the version it reviews
MODEL = "postmortem-demo"
ALIAS = "champion"
NOTE_TAG = "mlflow.note.content"
#: the line of the demo's output with the link to the post-mortem (`..., then open URL` for a sqlite store)
UI_LINK = re.compile(r"^see it in the MLflow UI: .*?(?P<url>https?://\S+)\s*$", re.MULTILINE)
MODEL_TRAINING = "workflowType=machine_learning"
#: the step tag of evaluate-versions' per-version runs (mlflow_postmortem/evaluate_versions.py)
EVALUATE_STEP = "evaluate_version"
#: conftest.TIMEOUT_MS, for what is polled here rather than awaited by Playwright
POLL_S = 30


@dataclass(frozen=True)
class Demo:
    """The demo's records on a live server, as the MLflow client reads them back."""

    uri: str
    client: MlflowClient
    version: ModelVersion
    run: Run
    #: the URL the demo printed for the post-mortem
    printed_url: str
    #: the mitigation's evaluation runs, by version: the reviewed one and the one it registered
    evaluations: dict[str, Run]

    @property
    def experiment_id(self) -> str:
        return self.run.info.experiment_id

    @property
    def run_page(self) -> str:
        return f"{self.uri}/#/experiments/{self.experiment_id}/runs/{self.run.info.run_id}?{MODEL_TRAINING}"

    @property
    def retrained(self) -> str:
        """The version the mitigation registered."""
        return next(v for v in self.evaluations if v != self.version.version)

    @property
    def headline(self) -> str:
        """The verdict's headline: the first Markdown heading of the run's description."""
        note = self.run.data.tags.get(NOTE_TAG, "")
        heading = next((line for line in note.splitlines() if line.startswith("#")), None)
        assert heading, f"the post-mortem run's {NOTE_TAG} has no heading line:\n{note}"
        return heading.lstrip("#").strip()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("ui")
    (root / "server").mkdir()
    with TrackingServer("sqlite", root / "server") as server:
        env = {"MLFLOW_TRACKING_URI": server.uri, "MLFLOW_REGISTRY_URI": server.uri}
        made = run_cli("demo", "--folder", str(root / "postmortem-demo"), "--quiet", env=env, cwd=root, timeout=600)
        assert made.returncode == 0, f"mlflow-postmortem demo exited {made.returncode}:\n{made.stdout}\n{made.stderr}"
        links = UI_LINK.findall(made.stdout)
        assert len(links) == 1, f"mlflow-postmortem demo printed {len(links)} MLflow UI links:\n{made.stdout}"
        client = MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)
        version = client.get_model_version_by_alias(MODEL, ALIAS)
        run_id = version.tags.get("postmortem.run_id")
        assert run_id, f"{MODEL} version {version.version} has no postmortem.run_id tag: {version.tags}"
        run = client.get_run(run_id)
        mitigate = run.data.tags.get("postmortem.mitigate.run_id")
        assert mitigate, f"the post-mortem run has no postmortem.mitigate.run_id tag: {run.data.tags}"
        found = client.search_runs([run.info.experiment_id], f"tags.`postmortem.step` = '{EVALUATE_STEP}' and "
                                   f"tags.`mlflow.parentRunId` = '{mitigate}'")
        evaluations = {r.data.tags["postmortem.version"]: r for r in found}
        assert len(found) == len(evaluations) == 2 and version.version in evaluations, \
            f"the mitigation's evaluation runs are not one for version {version.version} and one for the new one: " \
            f"{[(r.info.run_name, r.data.tags.get('postmortem.version')) for r in found]}"
        yield Demo(server.uri, client, version, run, links[0], evaluations)


def ui_metric(value: float) -> str:
    """A metric value as MLflow's compare view prints it (Utils.formatMetric in its JS bundle; the run and
    logged-model pages print the value as logged)."""
    if value == 0:
        return "0"
    if abs(value) < 0.001:
        mantissa, exponent = f"{value:.3e}".split("e")
        return f"{mantissa}e{int(exponent):+d}"
    digits = 3 if abs(value) < 10 else 2 if abs(value) < 100 else 1
    return js_number(math.floor(value * 10 ** digits + 0.5) / 10 ** digits)  # Math.round: halves up


def js_number(value: float) -> str:
    """A number as JavaScript's String() prints it (shortest round trip, no `.0`), as tables show raw values."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def poll(read: Callable[[], object], expected: object, timeout_s: float = POLL_S) -> object:
    """What `read` returns once it equals `expected`, or its last answer when the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = read()
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.25)


def test_post_mortem_run_page_shows_the_verdict_headline_from_its_description(
        demo: Demo, new_page: Callable[[], Page], shoot: Callable[[Page, str], Path]) -> None:
    page = new_page()
    page.goto(demo.run_page, wait_until="domcontentloaded")
    # a heading, not the text alone: the description is Markdown and has to be rendered as such ("### ..." is not)
    headline = page.get_by_role("heading", name=demo.headline, exact=True)
    expect(headline).to_be_visible()
    expand = page.get_by_role("button", name="Expand description")  # a long note is cut after a few lines
    if expand.count():
        expand.click()
    description = page.get_by_role("heading", name="Description").first
    description.evaluate("element => element.scrollIntoView({block: 'start'})")
    expect(headline).to_be_in_viewport()
    shoot(page, "run_page")


def test_report_html_renders_in_the_artifact_viewer_without_errors(
        demo: Demo, new_page: Callable[[], Page], shoot: Callable[[Page, str], Path]) -> None:
    page = new_page()
    # Everything the page reports, told apart afterwards. MLflow shows an artifact's HTML in a sandboxed
    # <iframe src="blob:..."> (scripts allowed, opaque origin): what the report itself logs or throws
    # carries that frame's blob: URL (console location, error stack). A resource the report fails to load
    # is logged by Chromium with the resource's URL instead, so those come from the report frame's
    # requests. MLflow's own page is left out: 3.17 logs a 404 of /ajax-api/2.0/mlflow/users/current
    # (no auth configured) on every page.
    child_frames: set[str] = set()
    console: list[tuple[str, str, str]] = []
    uncaught: list[str] = []
    failed: list[tuple[str, str, str]] = []

    def frame_url(request: Request) -> str:
        try:
            return request.frame.url
        except PlaywrightError:  # a service worker's request has no frame
            return ""

    def on_frame(frame: Frame) -> None:
        if frame.parent_frame is not None and frame.url:
            child_frames.add(frame.url)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failed.append((frame_url(response.request), response.url, f"HTTP {response.status}"))

    page.on("framenavigated", on_frame)
    page.on("console", lambda m: m.type == "error" and console.append((m.location.get("url", ""), m.text, m.type)))
    page.on("pageerror", lambda error: uncaught.append(f"{error.name}: {error.message}\n{error.stack or ''}"))
    page.on("requestfailed", lambda r: failed.append((frame_url(r), r.url, r.failure or "failed")))
    page.on("response", on_response)

    page.goto(demo.run_page, wait_until="domcontentloaded")
    page.get_by_role("tab", name="Artifacts").click()
    page.get_by_label("report.html", exact=True).click()
    viewer = page.locator("iframe").first
    report = viewer.content_frame
    title = report.get_by_role("heading", level=1)
    expect(title).to_be_visible()
    expect(title).to_have_text(demo.headline)  # the report's title is the description's headline
    features = demo.run.data.tags.get("postmortem.features")
    assert features, f"the post-mortem run has no postmortem.features tag: {demo.run.data.tags}"
    expect(report.get_by_text(features.split(",")[0]).first).to_be_visible()
    # what the report logs or throws while loading is in by its load event
    frame = viewer.element_handle().content_frame()
    assert frame is not None, "the artifact viewer's iframe has no document"
    frame.wait_for_load_state("load")
    shoot(page, "report")

    reports = child_frames | {viewer.get_attribute("src") or ""}
    reports.discard("")
    assert reports, "the artifact viewer shows report.html in no frame of its own"
    from_report = ([f"console {kind} at {url}: {text}" for url, text, kind in console if url in reports]
                   + [f"uncaught {error}" for error in uncaught if any(url in error for url in reports)]
                   + [f"request {url}: {why}" for origin, url, why in failed if origin in reports])
    assert not from_report, "report.html in MLflow's artifact viewer:\n" + "\n".join(from_report)


def test_model_version_page_shows_its_root_cause_and_post_mortem_history(
        demo: Demo, new_page: Callable[[], Page], shoot: Callable[[Page, str], Path]) -> None:
    expected = {key: demo.version.tags.get(key, "") for key in ("postmortem.root_cause", "postmortem.history")}
    assert all(expected.values()), f"{MODEL} version {demo.version.version} lacks a diagnosis tag: {demo.version.tags}"
    page = new_page()
    page.goto(f"{demo.uri}/#/models/{MODEL}/versions/{demo.version.version}?{MODEL_TRAINING}",
              wait_until="domcontentloaded")
    rows = {key: page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True))
            for key in expected}
    for key, value in expected.items():
        # the tag table scrolls inside a box of its own, sorted by name: bring each row into sight
        rows[key].scroll_into_view_if_needed()
        expect(rows[key]).to_be_in_viewport()
        expect(rows[key]).to_contain_text(value)  # whitespace normalised: the history's lines run together
    rows["postmortem.history"].evaluate("row => row.scrollIntoView({block: 'center'})")
    shoot(page, "version_page")


def test_printed_ui_link_opens_the_post_mortem_run_page_in_the_model_training_view(
        demo: Demo, new_page: Callable[[], Page], shoot: Callable[[Page, str], Path]) -> None:
    assert demo.printed_url.startswith(f"{demo.uri}/#/"), f"the demo's link is not on its server {demo.uri}: " \
                                                          f"{demo.printed_url}"
    page = new_page()  # a first visit: nothing in localStorage picks a view, the link has to
    page.goto(demo.printed_url, wait_until="domcontentloaded")
    # the post-mortem's own run page: its name as the title, its id, the verdict's headline
    expect(page.get_by_role("heading", name=demo.run.info.run_name, exact=True)).to_be_visible()
    expect(page.get_by_text(demo.run.info.run_id, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name=demo.headline, exact=True)).to_be_visible()
    # in the Model training view: the side navigation's current entry is the experiment's runs, and GenAI's
    # entries (Overview, Training runs, Evaluation runs: where GenAI puts a run page) are not there
    current = page.locator(f'nav a[aria-current="page"][href*="/experiments/{demo.experiment_id}/"]')
    expect(current).to_have_count(1)
    expect(current).to_have_text("Runs")
    expect(current).to_have_attribute(
        "href", re.compile(rf"^#/experiments/{demo.experiment_id}/runs\?(.*&)?{MODEL_TRAINING}(&|$)"))
    expect(page.locator("nav").get_by_role("link", name="Evaluation runs")).to_have_count(0)
    expect(page.locator("nav").get_by_role("link", name="Training runs")).to_have_count(0)
    shoot(page, "ui_link")


def test_retrained_version_links_to_its_logged_model_which_shows_its_evaluation_metrics(
        demo: Demo, new_page: Callable[[], Page], shoot: Callable[[Page, str], Path]) -> None:
    version = demo.client.get_model_version(MODEL, demo.retrained)
    evaluation = demo.evaluations[demo.retrained]
    # the version was registered from a logged model (models:/<model_id>), the one its evaluation scored
    model_id = evaluation.data.params.get("model_id", "")
    assert model_id and version.source == f"models:/{model_id}", (version.source, evaluation.data.params)
    logged = demo.client.get_logged_model(model_id)
    linked = {m.key: m for m in logged.metrics or [] if m.run_id == evaluation.info.run_id}
    assert {k: m.value for k, m in linked.items()} == evaluation.data.metrics, \
        f"the metrics of {evaluation.info.run_name} are not all linked to logged model {model_id}"

    page = new_page()
    page.goto(f"{demo.uri}/#/models/{MODEL}/versions/{demo.retrained}?{MODEL_TRAINING}", wait_until="domcontentloaded")
    # MLflow 3.17's version page shows no metrics of its own (registered at, source run, source model,
    # aliases, description, tags, schema): its Source Model link leads to the logged model, which has them
    source_model = page.get_by_role("link", name=logged.name, exact=True)
    href = f"#/experiments/{logged.experiment_id}/models/{model_id}"
    expect(source_model).to_have_attribute("href", href)
    # followed with the view named: a click would land in the GenAI view, the link drops ?workflowType=
    page.goto(f"{demo.uri}/{href}?{MODEL_TRAINING}", wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name=logged.name, exact=True)).to_be_visible()
    # and links back to the version (About this logged model: Model versions)
    expect(page.locator(f'a[href="#/models/{MODEL}/versions/{demo.retrained}"]')).to_be_visible()
    # Metric | Dataset | Source run | Value, the value as logged (no rounding in this table)
    for key in sorted(linked, key=lambda k: (k not in ("golden.accuracy", "recent.accuracy"), k)):
        metric = linked[key]
        row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True))
        expect(row.get_by_role("cell")).to_have_text(
            [key, f"{metric.dataset_name} (#{metric.dataset_digest})", evaluation.info.run_name, js_number(metric.value)])
    # the picture: the accuracies only, the golden and the recent one in sight together
    page.get_by_placeholder("Search metrics").fill("accuracy")
    expect(page.get_by_role("row").filter(has=page.get_by_role("cell", name="golden.rows", exact=True))).to_have_count(0)
    for key in ("golden.accuracy", "recent.accuracy"):
        expect(page.get_by_role("cell", name=key, exact=True)).to_be_in_viewport(ratio=1)
    shoot(page, "logged_model")


#: MLflow's compare view draws its Metrics as two virtualized grids side by side, the names and the values,
#: each row an absolutely placed cell: a value belongs to the name at the same offset (what is on the same
#: line on screen can differ: MLflow 3.17 moves the names to where the values were one scroll event before,
#: so after a scroll they lag one step behind). Rows scrolled out of a grid are not in the page, so this
#: scrolls the values grid through and reads each screenful.
READ_COMPARED_ROWS = """async section => {
  const [names, values] = section.querySelectorAll('[role="grid"]');
  if (!names || !values) return {};
  const painted = () => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const cells = grid => [...grid.querySelectorAll('[role="rowgroup"] > *')];
  const rows = {};
  values.scrollTop = 0;
  await painted();
  for (;;) {
    for (const name of cells(names)) {
      const line = cells(values).filter(v => v.offsetTop === name.offsetTop);
      if (line.length) rows[name.innerText.trim()] = line.sort((a, b) => a.offsetLeft - b.offsetLeft).map(v => v.innerText.trim());
    }
    if (values.scrollTop + values.clientHeight >= values.scrollHeight - 1) break;
    values.scrollTop += Math.max(values.clientHeight / 2, 1);
    await painted();
  }
  // back to the top, names too: MLflow scrolls the names to where the values were one scroll event before
  values.scrollTop = 0;
  await painted();
  names.scrollTop = 0;
  await painted();
  return rows;
}"""


def compared_section(page: Page, title: str) -> Locator:
    """A section of the compare view (Run details, Parameters, Metrics, ...): its header and content."""
    return page.get_by_role("button", name=title, exact=True).locator("xpath=..")


def test_compare_view_puts_both_versions_evaluation_metrics_side_by_side(
        demo: Demo, new_page: Callable[[], Page], shoot: Callable[[Page, str], Path]) -> None:
    runs = [demo.evaluations[v] for v in (demo.version.version, demo.retrained)]
    keys = set(runs[0].data.metrics)
    assert keys == set(runs[1].data.metrics), "the two evaluation runs do not have the same metric keys"
    assert {"golden.accuracy", "recent.accuracy"} <= keys, keys
    expected = {key: [ui_metric(run.data.metrics[key]) for run in runs] for key in keys}

    ids = json.dumps([run.info.run_id for run in runs], separators=(",", ":"))  # as MLflow's JSON.stringify
    page = new_page()
    page.goto(f"{demo.uri}/#/compare-runs?runs={ids}&experiments={json.dumps([demo.experiment_id])}&{MODEL_TRAINING}",
              wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name="Comparing 2 Runs from 1 Experiment")).to_be_visible()
    # the columns, left to right: the reviewed version's run, then the new version's
    names = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Run Name:", exact=True))
    expect(names.get_by_role("cell")).to_have_text([run.info.run_name for run in runs])
    metrics = compared_section(page, "Metrics")
    for key in ("golden.accuracy", "recent.accuracy"):
        expect(metrics.get_by_role("link", name=key, exact=True)).to_be_attached()
    shown = poll(lambda: metrics.evaluate(READ_COMPARED_ROWS), expected)
    assert shown == expected, "the compare view's Metrics (name: [reviewed version, new version]) differ " \
                              f"from the runs' metrics:\n{json.dumps(shown, indent=1)}"

    # the picture: the plots folded away; from the run names on, the parameters and metrics that differ
    visualizations = page.get_by_role("button", name="Visualizations", exact=True)
    if visualizations.get_attribute("aria-expanded") == "true":
        visualizations.click()
    expect(visualizations).to_have_attribute("aria-expanded", "false")
    for section in ("Parameters", "Metrics"):
        diff_only = page.get_by_role("switch", name=f"{section} - Show diff only", exact=True)
        diff_only.click()
        expect(diff_only).to_have_attribute("aria-checked", "true")
    names.evaluate("row => row.scrollIntoView({block: 'start'})")
    for key in ("golden.accuracy", "recent.accuracy"):  # the demo's versions differ on both
        expect(metrics.get_by_role("link", name=key, exact=True)).to_be_in_viewport(ratio=1)
    page.mouse.move(0, 0)  # no row highlighted by the pointer left on the last switch
    shoot(page, "compare_versions")
