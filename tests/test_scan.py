"""The arrow engine: a Parquet log read in bounded batches gives the verdict the in-memory engine
gives, exactly while the log fits in the engine's samples and within stated tolerances beyond."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
import synthetic
from support import RECALIBRATED_FEATURE, run_cli

from mlflow_postmortem.config import AUTO_ARROW_BYTES, engine_for_log, parse_config
from mlflow_postmortem.data import build_inputs, file_parts, load_inputs
from mlflow_postmortem.diagnose import diagnose, profile_inputs
from mlflow_postmortem.drills.suite import default_drill
from mlflow_postmortem.errors import ConfigError, DataError
from mlflow_postmortem.profile import NumericReference
from mlflow_postmortem.scan import SAMPLE_ROWS, TIME_SAMPLE_ROWS, first_rows, scanned

#: every cause, on the tables the core dependencies ship (classification and regression), each a real model
DRILLS = [("fair", "healthy"), ("fair", "feature_drift"), ("fair", "feature_unavailability"),
          ("fair", "training_serving_skew"), ("breast_cancer", "data_drift"), ("breast_cancer", "model_regression"),
          ("breast_cancer", "feature_recalibration"), ("breast_cancer", "prediction_label_bias"),
          ("diabetes", "feature_recalibration"), ("diabetes", "feature_unavailability")]


def _batched(kwargs: dict, folder: Path, *, files: int = 1):
    """The same inputs with data.current written as `files` Parquet files and read by the arrow engine."""
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(kwargs["current"])), files)):
        kwargs["current"].iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    parts = file_parts(folder / "*.parquet" if files > 1 else folder / "part-0.parquet", "data.current")
    return scanned(build_inputs(**{**kwargs, "current": first_rows(parts)}), parts, windows=8)


def _in_spark(kwargs: dict, folder: Path):
    """The same inputs with data.current written as one Parquet file and profiled by Spark."""
    from mlflow_postmortem.adapters import spark

    folder.mkdir()
    kwargs["current"].to_parquet(folder / "log.parquet", index=False)  # nanosecond times, as pandas writes them
    log = spark.read_log(str(folder / "log.parquet"))
    return spark.scanned(build_inputs(**{**kwargs, "current": spark.first_rows(log)}), log, windows=8)


@lru_cache(maxsize=None)
def _drill(dataset: str, cause: str):
    """A drill and its in-memory verdict, shared by the engines' tests."""
    drill = default_drill(dataset, cause)
    kwargs = drill.build_inputs_kwargs()
    return drill, kwargs, diagnose(build_inputs(**kwargs), drill.models.model, baseline=drill.models.baseline)


@pytest.mark.parametrize("engine", ["arrow", "spark"])
@pytest.mark.parametrize(("dataset", "cause"), DRILLS, ids=[f"{d}-{c}" for d, c in DRILLS])
def test_a_drill_profiled_by_another_engine_gets_the_in_memory_verdict_and_figures(
        dataset: str, cause: str, engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    drill, kwargs, in_memory = _drill(dataset, cause)
    if engine == "spark":
        request.getfixturevalue("spark_session")
        inputs = _in_spark(dict(kwargs), tmp_path / "log")
    else:
        inputs = _batched(dict(kwargs), tmp_path / "log", files=3)
    other = diagnose(inputs, drill.models.model, baseline=drill.models.baseline)

    assert other.root_cause == in_memory.root_cause
    assert [c.features for c in other.causes] == [c.features for c in in_memory.causes]
    # a drill's log fits in every engine's samples: the figures are the in-memory ones, to rounding
    for ours, theirs in zip(other.features, in_memory.features, strict=True):
        assert ours.feature == theirs.feature and ours.present == theirs.present
        assert ours.drift_tv == pytest.approx(theirs.drift_tv, abs=1e-9)
        assert ours.per_window_tv == pytest.approx(theirs.per_window_tv, abs=1e-9)
        assert ours.null_share == pytest.approx(theirs.null_share, abs=1e-12)
    assert other.production.get("rows") == in_memory.production.get("rows")


@pytest.mark.parametrize("engine", ["arrow", "spark"])
def test_rows_sharing_a_time_at_a_window_edge_fall_where_the_in_memory_engine_puts_them(
        engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    log = synthetic.current(3000).assign(event_time=lambda f: f["event_time"].dt.floor("D"))  # 144 rows a day
    w = synthetic.world()
    kwargs = dict(reference=w.reference, golden=w.golden, current=log, task="classification", target="label",
                  features=synthetic.FEATURES, timestamp="event_time", entity_id="customer_id")
    if engine == "spark":
        request.getfixturevalue("spark_session")
    other = _in_spark(kwargs, tmp_path / "log") if engine == "spark" else _batched(kwargs, tmp_path / "log", files=3)

    theirs, ours = profile_inputs(build_inputs(**kwargs)), profile_inputs(other)

    # equal-count windows cut through days: the split follows the rows' order in the log
    assert [p.n for p in ours.profiles["age"].windows] == [p.n for p in theirs.profiles["age"].windows] == [375] * 8
    for name in theirs.references:
        for a, b in zip(ours.profiles[name].windows, theirs.profiles[name].windows, strict=True):
            assert np.array_equal(a.counts, b.counts)


def _big_log() -> pd.DataFrame:
    """A log past every sample of the engine: `age` drifts upward (1.2 sd) in its second half."""
    n = TIME_SAMPLE_ROWS + 50_000
    log = synthetic.current(n, seed=5)
    later = np.arange(n) >= n // 2
    log.loc[later, "age"] += 12.0
    log.loc[np.arange(n) % 97 == 0, "income"] = np.nan
    return log


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory):
    log = _big_log()
    kwargs = dict(reference=synthetic.world().reference, golden=synthetic.world().golden, current=log,
                  task="classification", target="label", features=synthetic.FEATURES, timestamp="event_time",
                  entity_id="customer_id")
    return build_inputs(**kwargs), _batched(kwargs, tmp_path_factory.mktemp("big") / "log", files=4)


def test_a_log_beyond_the_samples_keeps_exact_counts_and_close_quantiles(big) -> None:
    in_memory, batched = big
    ours, theirs = profile_inputs(batched), profile_inputs(in_memory)

    assert batched.current_rows == len(in_memory.current) and len(batched.current) == SAMPLE_ROWS
    assert ours.labels[0] == theirs.labels[0] and len(ours.labels) == len(theirs.labels) == 8
    for name, ref in theirs.references.items():
        a, b = ours.profiles[name].overall, theirs.profiles[name].overall
        assert (a.n, a.n_null) == (b.n, b.n_null) and np.array_equal(a.counts, b.counts)  # exact, whatever the size
        if isinstance(ref, NumericReference):
            assert a.mean == pytest.approx(b.mean, rel=1e-9) and a.std == pytest.approx(b.std, rel=1e-9)
            assert (a.minimum, a.maximum) == (b.minimum, b.maximum)
            spread = b.quantiles[-1] - b.quantiles[0]
            assert np.abs(a.quantiles - b.quantiles).max() <= 0.02 * spread  # from 8 x 20,000 sampled rows
        for wa, wb in zip(ours.profiles[name].windows, theirs.profiles[name].windows, strict=True):
            # windows cut at times read off a sample of 200,000: their sizes within 1%
            assert abs(wa.n - wb.n) <= 0.01 * wb.n


def test_a_log_beyond_the_samples_gets_the_in_memory_verdict(big) -> None:
    in_memory, batched = big
    model = synthetic.world().model

    ours, theirs = diagnose(batched, model), diagnose(in_memory, model)

    assert ours.root_cause == theirs.root_cause and ours.top.features == theirs.top.features
    assert "age" in ours.top.features
    drift = {f.feature: f.drift_tv for f in ours.features}
    assert all(abs(drift[f.feature] - f.drift_tv) <= 0.005 for f in theirs.features)


def _config(tmp_path: Path, current: Path, **extra) -> dict:
    w = synthetic.world()
    w.reference.to_parquet(tmp_path / "reference.parquet", index=False)
    w.golden.to_parquet(tmp_path / "golden.parquet", index=False)
    return {"model": "models:/unused/1", "task": "classification", "target": "label", "timestamp": "event_time",
            "features": synthetic.FEATURES, "data": {"reference": str(tmp_path / "reference.parquet"),
                                                     "golden": str(tmp_path / "golden.parquet"), "current": str(current)},
            **extra}


def test_a_hive_partitioned_log_is_read_in_batches_with_its_partition_columns(tmp_path: Path) -> None:
    log = synthetic.current(3000).assign(plan=lambda f: np.where(np.arange(len(f)) < 1500, "basic", "pro"))
    pq.write_to_dataset(pa.Table.from_pandas(log, preserve_index=False), tmp_path / "log", partition_cols=["plan"])

    inputs = load_inputs(parse_config(_config(tmp_path, tmp_path / "log", engine="arrow")))

    plan = inputs.scan.profiles["plan"].overall
    assert inputs.scan.rows == 3000 and plan.n == 3000 and plan.top_count == 1500
    assert sorted(inputs.current["plan"].unique()) == ["basic", "pro"]


def _skewed_log_and_view(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Serving that joined last week's `visits`: each customer's view holds its history (five
    weekly rows, the last an hour before serving), beside 20,000 customers never served."""
    log = synthetic.current(3000, seed=52)
    history = [log[["customer_id", "event_time", "visits"]].assign(
        event_time=log["event_time"] - pd.Timedelta(days=7 * weeks) - pd.Timedelta(hours=1), visits=log["visits"] + 3 * weeks)
        for weeks in range(5)]
    view = pd.concat(history).merge(log.drop(columns=["visits", "label", "event_time"]), on="customer_id")
    never_served = synthetic.make_rows(20_000, 9).assign(event_time=pd.Timestamp("2025-12-01"))[view.columns]
    log["visits"] += 3  # serving joined last week's row
    log.to_parquet(tmp_path / "log.parquet", index=False)
    pd.concat([view.sample(frac=1.0, random_state=0), never_served]).to_parquet(tmp_path / "view.parquet", index=False,
                                                                                 row_group_size=4096)
    return log, view


@pytest.mark.parametrize("engine", ["arrow", "spark"])
def test_the_skew_join_brings_only_the_view_rows_in_force_for_the_sampled_rows(
        engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    log, view = _skewed_log_and_view(tmp_path)
    raw = _config(tmp_path, tmp_path / "log.parquet", engine=engine, entity_id="customer_id")
    raw["data"]["training_view"] = str(tmp_path / "view.parquet")
    if engine == "spark":  # the view as a table of the session's catalog, as a feature store's offline table
        spark = request.getfixturevalue("spark_session")
        spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")  # pandas wrote nanoseconds
        spark.read.parquet(str(tmp_path / "view.parquet")).createOrReplaceTempView("pm_skew_view")
        raw["data"]["training_view"] = "table:pm_skew_view"

    batched = load_inputs(parse_config(raw))
    in_memory = load_inputs(parse_config({**raw, "engine": "pandas", "data": {
        **raw["data"], "training_view": str(tmp_path / "view.parquet")}}))

    # the point-in-time join in the engine: one view row per serving row (the latest at or before
    # its time), not the 35,000 the view holds
    assert len(in_memory.training_view) == 35_000 and len(batched.training_view) == 3_000
    pairs = batched.training_view.merge(log[["customer_id", "visits"]], on="customer_id", suffixes=("_view", "_served"))
    assert (pairs["visits_served"] == pairs["visits_view"] + 3).all()
    model = synthetic.world().model
    ours, theirs = diagnose(batched, model), diagnose(in_memory, model)
    assert ours.root_cause == theirs.root_cause == "training_serving_skew" and ours.top.features[0] == "visits"
    assert [(c.cause, c.features, c.score) for c in ours.causes] == [(c.cause, c.features, c.score) for c in theirs.causes]


def test_without_a_time_in_the_view_each_sampled_entity_keeps_two_rows_to_show_it_is_ambiguous(tmp_path: Path) -> None:
    log, view = _skewed_log_and_view(tmp_path)
    pd.read_parquet(tmp_path / "view.parquet").drop(columns="event_time").to_parquet(tmp_path / "view.parquet")
    raw = _config(tmp_path, tmp_path / "log.parquet", engine="arrow", entity_id="customer_id")
    raw["data"]["training_view"] = str(tmp_path / "view.parquet")

    inputs = load_inputs(parse_config(raw))

    assert len(inputs.training_view) == 6_000
    verdict = diagnose(inputs, synthetic.world().model)
    assert any(item.startswith("training_serving_skew: 3000 entities have several training-view rows")
               for item in verdict.not_checked)


def test_the_arrow_engine_on_a_csv_log_is_one_line_saying_to_convert_it(tmp_path: Path) -> None:
    synthetic.current(500).to_csv(tmp_path / "current.csv", index=False)

    with pytest.raises(DataError, match=r"^data.current: engine 'arrow' reads Parquet, not \.csv .*current\.csv\); "
                                        r"convert it, or set engine: pandas$"):
        load_inputs(parse_config(_config(tmp_path, tmp_path / "current.csv", engine="arrow")))


def test_a_time_that_is_not_a_time_in_a_later_file_names_the_file_and_its_row(tmp_path: Path) -> None:
    log = synthetic.current(1000)
    (tmp_path / "log").mkdir()
    log.iloc[:500].astype({"event_time": str}).to_parquet(tmp_path / "log" / "a.parquet", index=False)
    bad = log.iloc[500:].astype({"event_time": str}).reset_index(drop=True)
    bad.loc[41, "event_time"] = "yesterday"
    bad.to_parquet(tmp_path / "log" / "b.parquet", index=False)

    with pytest.raises(DataError, match=r"^timestamp column 'event_time' in .*b\.parquet has values that are not "
                                        r"times \(the first at row 42 of the file\)$"):
        load_inputs(parse_config(_config(tmp_path, tmp_path / "log" / "*.parquet", engine="arrow")))


def test_an_unknown_engine_is_a_config_error_listing_the_engines() -> None:
    with pytest.raises(ConfigError, match=r"key 'engine' must be one of \['auto', 'pandas', 'arrow', 'spark'\], got 'spark2'"):
        parse_config({"model": "m", "task": "classification", "target": "y", "engine": "spark2",
                      "data": {"reference": "r.csv", "golden": "g.csv", "current": "c.csv"}})


def test_an_auto_engine_reads_a_parquet_log_of_256_mb_in_batches_and_smaller_or_csv_logs_whole(tmp_path: Path) -> None:
    (tmp_path / "big").mkdir()
    with open(tmp_path / "big" / "part-0.parquet", "wb") as f:  # sparse: its size is all the choice reads
        f.truncate(AUTO_ARROW_BYTES)
    (tmp_path / "big" / "_SUCCESS").touch()  # a writer's marker is no reason to read the log whole
    (tmp_path / "small.parquet").write_bytes(b"x" * 1024)
    with open(tmp_path / "big.csv", "wb") as f:
        f.truncate(2 * AUTO_ARROW_BYTES)

    assert engine_for_log("auto", str(tmp_path / "big")) == "arrow"
    assert engine_for_log("auto", str(tmp_path / "small.parquet")) == "pandas"
    assert engine_for_log("auto", str(tmp_path / "big.csv")) == "pandas"
    assert engine_for_log("pandas", str(tmp_path / "big")) == "pandas"


def test_arrow_allocates_for_the_command_whenever_a_log_or_a_reference_is_read_in_batches(tmp_path: Path) -> None:
    from mlflow_postmortem.cli import _arrow_allocator

    with open(tmp_path / "reference.parquet", "wb") as f:  # sparse: its size is all the choice reads
        f.truncate(AUTO_ARROW_BYTES)
    (tmp_path / "small.parquet").write_bytes(b"x" * 1024)

    def allocator(engine: str, reference: str) -> str:
        config = tmp_path / f"pm-{engine}-{reference}.yaml"
        config.write_text(yaml.safe_dump({"engine": engine, "data": {"current": "small.parquet", "reference": reference}}))
        return _arrow_allocator(str(config))

    assert allocator("auto", "small.parquet") == "system"  # both read whole: the system's malloc reads faster
    assert allocator("auto", "reference.parquet") == "mimalloc"  # the reference alone is big enough for batches
    assert allocator("arrow", "small.parquet") == "mimalloc"
    assert allocator("spark", "small.parquet") == "mimalloc"  # Spark reads the log; Arrow the Parquet reference
    assert allocator("pandas", "reference.parquet") == "system"


def test_a_table_is_a_config_error_unless_spark_reads_the_log_or_the_training_view() -> None:
    base = {"model": "m", "task": "classification", "target": "y",
            "data": {"reference": "r.csv", "golden": "g.csv", "current": "table:logs.requests",
                     "training_view": "table:features.offline"}}

    assert parse_config({**base, "engine": "spark"}).data.training_view == "table:features.offline"
    with pytest.raises(ConfigError, match=r"data.current names a table \(table:logs.requests\): only data.current "
                                          r"and data.training_view may, with engine: spark$"):
        parse_config(base)
    with pytest.raises(ConfigError, match=r"data.reference names a table"):
        parse_config({**base, "engine": "spark", "data": {**base["data"], "reference": "table:train"}})


@pytest.mark.parametrize("engine", ["arrow", "spark"])
def test_the_command_gets_the_in_memory_verdict_with_either_engine(
        engine: str, cancer_models: str, cancer, make_config, tmp_path: Path) -> None:
    import shutil

    if engine == "spark" and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java for Spark (.ci/run installs openjdk-17-jre-headless with apt-get)")
    current = pd.read_parquet(cancer.current)
    current.loc[len(current) // 2:, RECALIBRATED_FEATURE] *= 1000
    current.to_parquet(tmp_path / "current.parquet", index=False)
    data = {"reference": str(cancer.reference), "golden": str(cancer.golden), "current": str(tmp_path / "current.parquet")}
    verdicts = {}
    for name in ("pandas", engine):
        config = make_config(cancer, f"models:/{cancer_models}@champion", data=data, engine=name)
        result = run_cli("diagnose", str(config), "--output", str(tmp_path / f"{name}.json"), "--no-record",
                         env={**os.environ, "POSTMORTEM_SPARK_MASTER": "local[1]"})
        assert result.returncode == 0, result.stderr
        verdicts[name] = json.loads((tmp_path / f"{name}.json").read_text())

    ours, theirs = verdicts[engine], verdicts["pandas"]
    assert theirs["root_cause"] == "feature_recalibration" and RECALIBRATED_FEATURE in theirs["causes"][0]["features"]
    assert [(c["cause"], c["features"], c["score"]) for c in ours["causes"]] == \
        [(c["cause"], c["features"], c["score"]) for c in theirs["causes"]]
    assert ours["features"] == theirs["features"]


def test_a_dataframe_of_the_active_session_is_diagnosed_in_process_through_a_temporary_view(
        spark_session, cancer_models: str, cancer, make_config, tmp_path: Path) -> None:
    from mlflow_postmortem.postmortem import diagnose_config

    log = pd.read_parquet(cancer.current)
    log.loc[len(log) // 2:, RECALIBRATED_FEATURE] *= 1000
    spark_session.createDataFrame(log).createOrReplaceTempView("pm_requests")  # a notebook's DataFrame
    log.to_parquet(tmp_path / "log.parquet", index=False)
    data = {"reference": str(cancer.reference), "golden": str(cancer.golden)}
    model = f"models:/{cancer_models}@champion"
    in_spark = make_config(cancer, model, data={**data, "current": "table:pm_requests"}, engine="spark")
    ours = diagnose_config(in_spark, tmp_path / "spark.json", record=False).verdict
    in_memory = make_config(cancer, model, data={**data, "current": str(tmp_path / "log.parquet")}, engine="pandas")
    theirs = diagnose_config(in_memory, tmp_path / "pandas.json", record=False).verdict  # (make_config rewrites pm.yaml)

    assert ours.root_cause == "feature_recalibration" and RECALIBRATED_FEATURE in ours.top.features
    assert [(c.cause, c.features, c.score) for c in ours.causes] == [(c.cause, c.features, c.score) for c in theirs.causes]


def test_a_post_mortem_read_in_batches_says_so_on_its_runs(
        tracking_uri: str, cancer_models: str, cancer, make_config, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from mlflow_postmortem.postmortem import diagnose_config, run_postmortem

    diagnosed = diagnose_config(make_config(cancer, f"models:/{cancer_models}/2", engine="pandas"),
                                tmp_path / "pandas.json", record=False)
    config = make_config(cancer, f"models:/{cancer_models}/2", engine="arrow")

    outcome = run_postmortem(config, tmp_path / "v.json", experiment="pm-arrow-engine", record=False, mitigate=False)

    assert {**outcome.verdict.to_dict(), "run_id": None} == diagnosed.verdict.to_dict()
    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("pm-arrow-engine").experiment_id])
    steps = {r.data.tags["postmortem.step"]: r for r in runs}
    rows, reference = len(pd.read_parquet(cancer.current)), len(pd.read_parquet(cancer.reference))
    for step in ("drift_report", "diagnose"):
        assert steps[step].data.tags["postmortem.engine"] == (
            f"arrow: {rows:,} rows profiled in batches; row-level checks and the `current` dataset on a uniform "
            f"sample of {rows:,}; data.reference: {reference:,} rows profiled in batches, the `reference` dataset a "
            f"sample of {reference:,}")
