"""The reference profile stored with a model version: `diagnose` and `monitor` without the
training rows give the figures they give with them, and what still needs the rows says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from mlflow_postmortem import reference_profile
from mlflow_postmortem.data import build_inputs
from mlflow_postmortem.diagnose import fill_values, reference_profiles
from mlflow_postmortem.profile import MAX_CATEGORIES

from reliability.harness import scenario
from support import run_cli

PROFILE_TAG = "postmortem.profile.uri"


def _without_reference(config: Path, name: str = "pm-profile-only.yaml") -> Path:
    raw = yaml.safe_load(config.read_text())
    raw["data"].pop("reference")
    out = config.parent / name
    out.write_text(yaml.safe_dump(raw, sort_keys=False))
    return out


def _verdict(path: Path) -> dict:
    verdict = json.loads(path.read_text())
    verdict.pop("run_id", None)
    return verdict


def _equal(a: object, b: object) -> bool:
    if isinstance(a, pd.Index):
        return a.equals(b)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if hasattr(a, "__dataclass_fields__"):
        return type(a) is type(b) and all(_equal(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return a == b


def mixed_reference(n: int = 12_000) -> pd.DataFrame:
    """A reference of every kind of feature a profile holds: skewed with gaps, discrete, categorical
    with missing values, and categorical beyond the category cap."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "amount": np.where(rng.random(n) < 0.05, np.nan, rng.lognormal(3, 1, n)),
        "rooms": rng.integers(1, 6, n).astype(float),  # discrete: binned per value
        "city": np.where(rng.random(n) < 0.02, None, rng.choice(["north", "south", "east"], n)),
        "shop": [f"s{i}" for i in rng.integers(0, MAX_CATEGORIES + 300, n)],  # beyond the category cap
        "label": rng.integers(0, 2, n),
    })


def test_a_profile_written_and_read_back_holds_the_same_bins_fills_sample_and_labels(tmp_path: Path) -> None:
    n = 12_000
    reference = mixed_reference(n)
    inputs = build_inputs(reference, reference.head(100), reference.head(100), task="classification", target="label")
    references = reference_profiles(inputs)
    built = reference_profile.build(inputs.reference, inputs.schema, references, fill_values(inputs, references), "abc")

    back = reference_profile.read(reference_profile.write(built, tmp_path / "p"), "here")

    assert back.schema == inputs.schema and back.rows == n and back.digest == "abc"
    assert back.fill == built.fill
    assert set(back.references) == {"amount", "rooms", "city", "shop"}
    assert all(_equal(back.references[f], built.references[f]) for f in built.references)
    assert len(back.sample) == reference_profile.SAMPLE_ROWS
    pd.testing.assert_frame_equal(back.sample, built.sample)
    assert np.array_equal(back.labels, reference["label"].to_numpy())


def test_a_missing_or_damaged_profile_is_one_line_naming_it(tmp_path: Path) -> None:
    from mlflow_postmortem.errors import DataError

    with pytest.raises(DataError, match=r"^reference profile runs:/x/reference_profile cannot be read \(.*\): store it "
                                        r"again with `mlflow-postmortem profile`$"):
        reference_profile.read(tmp_path, "runs:/x/reference_profile")


@pytest.fixture(scope="module")
def profiled(tracking_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pm-profile v2, 13,500 reference rows (more than the profile's sample), profiled by the command."""
    root = tmp_path_factory.mktemp("profiled")
    config = scenario(tracking_uri, root, "pm-profile", customers=30_000, n_rows=3_000,
                      monitor={"window": "7d", "test": "ks"})
    done = run_cli("profile", str(config), env={"MLFLOW_EXPERIMENT_NAME": "pm-profile"}, cwd=root)
    assert done.returncode == 0, done.stderr
    return config


def test_the_profile_command_names_the_profile_on_the_version(profiled: Path) -> None:
    tags = MlflowClient().get_model_version("pm-profile", "2").tags
    assert tags[PROFILE_TAG].startswith("runs:/") and tags[PROFILE_TAG].endswith("/reference_profile")
    rows = int(tags["postmortem.profile.rows"])
    assert rows == len(pd.read_parquet(profiled.parent / "reference.parquet")) > reference_profile.SAMPLE_ROWS
    run = MlflowClient().get_run(tags[PROFILE_TAG].split("/")[1])
    assert run.info.status == "FINISHED" and run.info.run_name == "profile pm-profile v2"


def test_diagnosing_from_the_stored_profile_gives_the_verdict_the_training_rows_give(profiled: Path) -> None:
    only = _without_reference(profiled)
    from_rows = run_cli("diagnose", str(profiled), "-o", "rows.json", "--no-record", cwd=profiled.parent)
    from_profile = run_cli("diagnose", str(only), "-o", "profile.json", "--no-record", cwd=profiled.parent)

    assert from_rows.returncode == from_profile.returncode == 0, from_rows.stderr + from_profile.stderr
    assert "data.reference is not given" in from_profile.stderr
    verdict = _verdict(profiled.parent / "profile.json")
    assert verdict["root_cause"] == "feature_recalibration"
    assert verdict == _verdict(profiled.parent / "rows.json")  # every cause, confidence, figure and feature


def test_monitor_from_the_stored_profile_records_the_figures_the_training_rows_give(profiled: Path) -> None:
    client = MlflowClient()
    histories = []
    for experiment, config in (("pm-profile-rows", profiled), ("pm-profile-only", _without_reference(profiled))):
        done = run_cli("monitor", str(config), env={"MLFLOW_EXPERIMENT_NAME": experiment}, cwd=profiled.parent)
        assert done.returncode == 0, done.stderr
        (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id],
                                    "tags.`postmortem.step` = 'monitor'")
        histories.append({key: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
                          for key in run.data.metrics})
    assert "monitor.drift.monthly_charges" in histories[0] and len(histories[0]["monitor.rows"]) > 3
    assert histories[0] == histories[1]


def test_without_reference_or_stored_profile_the_command_says_how_to_get_one(tracking_uri: str, tmp_path: Path) -> None:
    config = _without_reference(scenario(tracking_uri, tmp_path, "pm-no-profile"))
    done = run_cli("diagnose", str(config), "--no-record", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "mlflow-postmortem: error: data.reference is not given and models:/pm-no-profile/2 has no stored reference "
        "profile (tag postmortem.profile.uri): add data.reference, or store one first with `mlflow-postmortem "
        "profile` on a config that has it")
    refresh = run_cli("refresh-golden", str(config), cwd=tmp_path)
    assert refresh.returncode == 2 and "refresh-golden needs key 'data.reference'" in refresh.stderr


def test_the_first_recorded_postmortem_stores_the_profile_and_retraining_without_the_rows_says_it_needs_them(
        tracking_uri: str, tmp_path: Path) -> None:
    config = scenario(tracking_uri, tmp_path, "pm-first-profile")
    client = MlflowClient()
    env = {"MLFLOW_EXPERIMENT_NAME": "pm-first-profile"}

    unrecorded = run_cli("run", str(config), "--no-mitigate", "--no-record", "-o", "-", env=env, cwd=tmp_path)
    assert unrecorded.returncode == 0, unrecorded.stderr
    assert PROFILE_TAG not in client.get_model_version("pm-first-profile", "2").tags

    raw = yaml.safe_load(config.read_text())  # another post-mortem, not a repeat of the unrecorded one
    config.write_text(yaml.safe_dump({**raw, "windows": 6}, sort_keys=False))
    recorded = run_cli("run", str(config), "--no-mitigate", "-o", "-", env=env, cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    uri = client.get_model_version("pm-first-profile", "2").tags[PROFILE_TAG]
    diagnose_run = client.get_run(uri.split("/")[1])
    assert diagnose_run.data.tags["postmortem.step"] == "diagnose"

    only = _without_reference(config)
    retrain = run_cli("run", str(only), "-o", "verdict.json", env=env, cwd=tmp_path)
    assert retrain.returncode == 2
    assert "retrain_correct_feature_version with the reference trainer needs the training rows" in retrain.stderr
    assert _verdict(tmp_path / "verdict.json")["root_cause"] == "feature_recalibration"
    assert sorted(str(v.version) for v in client.search_model_versions("name='pm-first-profile'")) == ["1", "2"]


def test_an_alert_on_a_profile_only_config_starts_a_postmortem_that_also_reads_the_profile(profiled: Path) -> None:
    only = _without_reference(profiled, "pm-alerting.yaml")
    raw = yaml.safe_load(only.read_text())
    raw["alerts"] = {"rules": [{"metric": "monitor.drifted_features", "threshold": 0}]}
    only.write_text(yaml.safe_dump(raw, sort_keys=False))

    done = run_cli("monitor", str(only), env={"MLFLOW_EXPERIMENT_NAME": "pm-profile-alert"}, cwd=profiled.parent)

    assert done.returncode == 0, done.stderr
    alert = next(line for line in done.stdout.splitlines() if line.startswith("alert 1:"))
    assert "post-mortem" in alert and "feature_recalibration of monthly_charges" in alert, alert
