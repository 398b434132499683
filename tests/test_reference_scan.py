"""A Parquet reference read in batches (engines arrow and spark): the profile it gives is the one
the rows give in memory, exactly while the reference fits in the edge sample, and with exact
counts and edges within a fraction of a percent of rank beyond it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import synthetic
from mlflow import MlflowClient
from sklearn.linear_model import Ridge
from support import register, run_cli
from test_reference_profile import _equal, mixed_reference

from mlflow_postmortem import reference_profile, reference_scan
from mlflow_postmortem.config import parse_config
from mlflow_postmortem.data import build_inputs, file_parts, load_inputs
from mlflow_postmortem.diagnose import diagnose, fill_values, reference_profiles
from mlflow_postmortem.drills.suite import default_drill
from mlflow_postmortem.errors import DataError
from mlflow_postmortem.profile import NumericReference
from mlflow_postmortem.reference_scan import EDGE_SAMPLE_ROWS, scan_reference

SPECIAL = {"label", "event_time", "customer_id"}


def _scanned(kwargs: dict, path: Path):
    """The drill's inputs with its reference written to `path` (Parquet) and read in batches."""
    special = {kwargs[k] for k in ("target", "prediction", "timestamp", "entity_id") if kwargs.get(k)}
    scan = scan_reference(file_parts(path, "data.reference"), target=kwargs["target"], features=kwargs.get("features"),
                          special=special, categorical=kwargs.get("categorical", ()), text=kwargs.get("text", ()))
    inputs = build_inputs(**{**kwargs, "reference": scan.sample, "features": kwargs.get("features") or scan.features},
                          known=scan.schema(kwargs["task"], kwargs["target"]))
    return replace(inputs, profile=scan.profile(inputs))


def _profile_in_memory(reference: pd.DataFrame) -> reference_profile.ReferenceProfile:
    inputs = build_inputs(reference, reference.head(100), reference.head(100), task="classification", target="label")
    references = reference_profiles(inputs)
    return reference_profile.build(inputs.reference, inputs.schema, references, fill_values(inputs, references), "")


def test_a_reference_that_fits_the_edge_sample_gives_the_in_memory_profile_exactly(tmp_path: Path) -> None:
    n = 12_000
    reference = mixed_reference(n)
    (tmp_path / "ref").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(n), 3)):
        reference.iloc[rows].to_parquet(tmp_path / "ref" / f"part-{i}.parquet", index=False)
    kwargs = dict(reference=reference, golden=reference.head(100), current=reference.head(100), task="classification",
                  target="label")

    ours, theirs = _scanned(kwargs, tmp_path / "ref" / "*.parquet").profile, _profile_in_memory(reference)

    assert ours.schema == theirs.schema and ours.rows == theirs.rows == n
    assert ours.fill == theirs.fill
    assert all(_equal(ours.references[f], theirs.references[f]) for f in theirs.references)
    pd.testing.assert_frame_equal(ours.sample, theirs.sample)  # the same rows sampled
    assert np.array_equal(ours.labels, theirs.labels)


DRILLS = [("fair", "healthy"), ("fair", "training_serving_skew"), ("breast_cancer", "prediction_label_bias"),
          ("diabetes", "feature_recalibration")]


@pytest.mark.parametrize(("dataset", "cause"), DRILLS, ids=[f"{d}-{c}" for d, c in DRILLS])
def test_a_drill_with_its_reference_read_in_batches_gets_the_in_memory_verdict(
        dataset: str, cause: str, tmp_path: Path) -> None:
    drill = default_drill(dataset, cause)
    kwargs = drill.build_inputs_kwargs()
    kwargs["reference"].to_parquet(tmp_path / "reference.parquet", index=False)

    theirs = diagnose(build_inputs(**kwargs), drill.models.model, baseline=drill.models.baseline)
    ours = diagnose(_scanned(kwargs, tmp_path / "reference.parquet"), drill.models.model, baseline=drill.models.baseline)

    assert ours.root_cause == theirs.root_cause == cause
    assert [(c.cause, c.features, c.score) for c in ours.causes] == [(c.cause, c.features, c.score) for c in theirs.causes]
    assert ours.features == theirs.features


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory):
    """A reference of 2.5 x the edge sample in four files, with missing incomes, and a log whose
    `age` drifts upward (1.2 sd) in its second half."""
    folder = tmp_path_factory.mktemp("big-reference")
    reference = synthetic.make_rows(int(2.5 * EDGE_SAMPLE_ROWS), 11)
    reference.loc[np.arange(len(reference)) % 53 == 0, "income"] = np.nan
    for i, rows in enumerate(np.array_split(np.arange(len(reference)), 4)):
        reference.iloc[rows].to_parquet(folder / f"part-{i}.parquet", index=False)
    log = synthetic.current(20_000, seed=5)
    log.loc[log.index >= 10_000, "age"] += 12.0
    kwargs = dict(reference=reference, golden=synthetic.world().golden, current=log, task="classification",
                  target="label", features=synthetic.FEATURES, timestamp="event_time", entity_id="customer_id")
    return kwargs, build_inputs(**kwargs), _scanned(kwargs, folder / "*.parquet")


def test_a_reference_beyond_the_edge_sample_keeps_exact_counts_and_places_edges_within_half_a_percent_of_rank(big) -> None:
    kwargs, in_memory, batched = big
    ours, theirs = batched.profile.references, reference_profiles(in_memory)

    for name, ref in theirs.items():
        a, b = ours[name].summary, ref.summary
        if not isinstance(ref, NumericReference):
            assert _equal(ours[name], ref)  # categories are counted exactly
            continue
        assert ours[name].discrete == ref.discrete and len(ours[name].edges) == len(ref.edges)
        values = np.sort(kwargs["reference"][name].dropna().to_numpy())
        if ref.discrete:
            assert np.array_equal(ours[name].edges, ref.edges)
        else:  # each edge's rank among all the rows, against the in-memory edge's
            ranks = np.searchsorted(values, ours[name].edges) / len(values)
            assert np.abs(ranks - np.searchsorted(values, ref.edges) / len(values)).max() <= 0.005
        # every row counted on the bins: the counts are exact for the bins the scan placed
        assert np.array_equal(a.counts, ours[name].sorted_bin_counts(values))
        assert (a.n, a.n_null, a.n_inf, a.minimum, a.maximum) == (b.n, b.n_null, b.n_inf, b.minimum, b.maximum)
        assert a.mean == pytest.approx(b.mean, rel=1e-9) and a.std == pytest.approx(b.std, rel=1e-9)
    assert batched.profile.rows == len(kwargs["reference"])
    assert np.array_equal(batched.profile.labels, kwargs["reference"]["label"].to_numpy())
    columns = [*synthetic.FEATURES, "label"]  # the same rows sampled
    pd.testing.assert_frame_equal(batched.reference[columns].reset_index(drop=True),
                                  reference_profile.sample_rows(in_memory.reference)[columns].reset_index(drop=True))


def test_a_reference_beyond_the_edge_sample_gets_the_in_memory_verdict(big) -> None:
    _, in_memory, batched = big
    model = synthetic.world().model

    ours, theirs = diagnose(batched, model), diagnose(in_memory, model)

    assert ours.root_cause == theirs.root_cause == "data_drift" and ours.top.features == theirs.top.features == ("age",)
    drift = {f.feature: f.drift_tv for f in ours.features}
    assert all(abs(drift[f.feature] - f.drift_tv) <= 0.005 for f in theirs.features)


def test_past_a_million_labels_a_uniform_sample_of_them_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reference_scan, "LABEL_ROWS", 2_000)  # the rule, at a size a test can write
    reference = synthetic.make_rows(20_000, 3)
    reference.to_parquet(tmp_path / "reference.parquet", index=False)

    scan = scan_reference(file_parts(tmp_path / "reference.parquet", "data.reference"), target="label",
                          features=synthetic.FEATURES, special=SPECIAL)

    assert abs(len(scan.labels) - 2_000) <= 200  # about 2,000, each row kept with the same chance
    assert abs(scan.labels.mean() - reference["label"].mean()) <= 0.04
    assert scan.rows == 20_000


def test_a_category_with_too_many_values_to_count_is_skipped_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reference_scan, "CATEGORY_LIMIT", 100)
    reference = synthetic.make_rows(5_000, 3).assign(region=lambda f: [f"r{i % 150}" for i in range(len(f))])
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    kwargs = dict(reference=reference, golden=synthetic.world().golden, current=synthetic.current(1000),
                  task="classification", target="label", features=synthetic.FEATURES, timestamp="event_time")

    inputs = _scanned(kwargs, tmp_path / "reference.parquet")

    assert inputs.schema.skipped == (("region", "over 100 distinct values in 5,000 rows of data.reference: too many "
                                                "categories to compare"),)
    assert diagnose(inputs, synthetic.world().model).root_cause == "healthy"


def _config(tmp_path: Path, reference: Path, engine: str = "arrow") -> object:
    w = synthetic.world()
    w.golden.to_parquet(tmp_path / "golden.parquet", index=False)
    synthetic.current(1000).to_parquet(tmp_path / "current.parquet", index=False)
    return parse_config({"model": "models:/unused/1", "task": "classification", "target": "label",
                         "timestamp": "event_time", "features": synthetic.FEATURES, "engine": engine,
                         "data": {"reference": str(reference), "golden": str(tmp_path / "golden.parquet"),
                                  "current": str(tmp_path / "current.parquet")}})


def test_text_in_a_numeric_reference_column_read_in_batches_names_the_file_column_and_row(tmp_path: Path) -> None:
    reference = synthetic.make_rows(100_000, 3).astype({"income": str})
    reference.loc[70_000, "income"] = "unknown"  # in the second batch: the first rows read as numbers
    reference.to_parquet(tmp_path / "reference.parquet", index=False)

    with pytest.raises(DataError, match=r"^data.reference \(.*reference\.parquet\): column 'income' mixes numbers and "
                                        r"text \(the first that is not a number at row 70001 of the file\): clean it, "
                                        r"or list 'income' under 'categorical'$"):
        load_inputs(_config(tmp_path, tmp_path / "reference.parquet"), profile_reference=True)


def test_an_empty_reference_feature_read_in_batches_is_one_line_naming_it(tmp_path: Path) -> None:
    synthetic.make_rows(2_000, 3).assign(visits=np.nan).to_parquet(tmp_path / "reference.parquet", index=False)

    with pytest.raises(DataError, match=r"^data.reference \(.*reference\.parquet\): feature 'visits' has no values "
                                        r"\(every row is empty\)"):
        load_inputs(_config(tmp_path, tmp_path / "reference.parquet"), profile_reference=True)


def test_commands_that_train_read_the_reference_rows_whatever_the_engine(tmp_path: Path) -> None:
    reference = synthetic.make_rows(12_000, 3)
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    config = _config(tmp_path, tmp_path / "reference.parquet")

    trains, compares = load_inputs(config), load_inputs(config, profile_reference=True)

    assert len(trains.reference) == 12_000 and trains.profile is None
    assert len(compares.reference) == reference_profile.SAMPLE_ROWS and compares.profile.rows == 12_000


def test_the_profile_command_with_the_arrow_engine_stores_the_profile_the_rows_give(
        tracking_uri: str, diabetes, make_config, tmp_path: Path) -> None:
    X, y = diabetes.xy()
    register("pm-scan-profile", Ridge(alpha=1.0), X, y)
    config = make_config(diabetes, "models:/pm-scan-profile/1", engine="arrow")

    done = run_cli("profile", str(config), env={"MLFLOW_EXPERIMENT_NAME": "pm-scan-profile"}, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "in batches" in done.stderr
    uri = MlflowClient().get_model_version("pm-scan-profile", "1").tags["postmortem.profile.uri"]
    stored = reference_profile.read(Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "p"))), uri)
    reference = pd.read_parquet(diabetes.reference)
    inputs = build_inputs(reference, pd.read_csv(diabetes.golden), pd.read_parquet(diabetes.current),
                          task="regression", target="label", features=diabetes.features, timestamp="event_time")
    references = reference_profiles(inputs)
    assert stored.rows == len(reference)
    assert all(_equal(stored.references[f], references[f]) for f in references)
    assert stored.fill == fill_values(inputs, references)
