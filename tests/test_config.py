"""The config contract: every error names its file and key, relative paths follow the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_postmortem.config import load_config
from mlflow_postmortem.errors import ConfigError

from support import VALID


def _without(text: str, line: str) -> str:
    assert line in text
    return text.replace(line, "")


@pytest.mark.parametrize(("text", "expected"), [
    ("model: [models:/churn/2\ntask: classification\n", r"is not valid YAML \(line \d+\)"),
    ("- model\n- task\n", "expected a mapping of keys at the top level, got list"),
    (VALID + "modle: models:/churn/1\n", "unknown key 'modle'"),
    (VALID.replace("  golden:", "  goldn:"), "unknown key 'data.goldn'"),
    (VALID.replace("task: classification", "task: clustering"), "key 'task' must be one of .*'clustering'"),
    (_without(VALID, "  golden: data/golden.parquet\n"), "missing required key 'data.golden'"),
    (_without(VALID, "target: label\n"), "missing required key 'target'"),
    (VALID + "windows: 0\n", "key 'windows' must be an integer from 1 to 100, got 0"),
    (VALID + "slices: {plan: 1}\n", "key 'slices' must be a list of column names, got {'plan': 1}"),
    (VALID + "features: 3\n", "key 'features' must be a list of column names, got 3"),
    (VALID + "evidently: off please\n", "key 'evidently' must be true or false, got 'off please'"),
], ids=["malformed-yaml", "not-a-mapping", "unknown-key", "unknown-data-key", "bad-task", "missing-data-key",
        "missing-target", "bad-windows", "slices-not-a-list", "features-not-a-list", "evidently-not-a-boolean"])
def test_config_error_names_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "pm.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError, match=expected) as err:
        load_config(path)

    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"config file not found: {tmp_path / 'absent.yaml'}"):
        load_config(tmp_path / "absent.yaml")


def test_relative_data_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pm.yaml").write_text(VALID + "  training_view: /abs/offline.parquet\n")
    monkeypatch.chdir(tmp_path)

    config = load_config("project/pm.yaml")

    assert config.data.reference == str(folder.resolve() / "data" / "train.parquet")
    assert config.data.current == str(folder.resolve() / "data" / "production.parquet")
    assert config.data.training_view == "/abs/offline.parquet"


def test_data_uris_pass_through_unresolved(tmp_path: Path) -> None:
    path = tmp_path / "pm.yaml"
    path.write_text(VALID.replace("data/golden.parquet", "s3://bucket/golden.parquet"))

    assert load_config(path).data.golden == "s3://bucket/golden.parquet"


@pytest.mark.parametrize(("section", "expected"), [
    ("mitigation:\n  promte: true\n", "unknown key 'mitigation.promte'"),
    ("mitigation:\n  promote: yes please\n", "key 'mitigation.promote' must be a bool"),
    ("mitigation:\n  holdout_fraction: 1.5\n", "'mitigation.holdout_fraction' must be between 0 and 1"),
    ("mitigation:\n  gate: 0.01\n", "key 'mitigation.gate' must be a dict"),
], ids=["unknown-key", "not-a-bool", "holdout-out-of-range", "gate-not-a-mapping"])
def test_mitigation_section_errors_name_the_key(tmp_path: Path, section: str, expected: str) -> None:
    path = tmp_path / "pm.yaml"
    path.write_text(VALID + section)

    with pytest.raises(ConfigError, match=expected):
        load_config(path)


@pytest.mark.parametrize(("detectors", "expected"), [
    ("detectors: [data_drift]\n", "key 'detectors' must be a mapping"),
    ("detectors:\n  data_drifts: {min_tv: 0.2}\n", r"unknown detector 'detectors.data_drifts' \(known: .*data_drift"),
    ("detectors:\n  data_drift: {min_tvs: 0.2}\n", r"unknown threshold 'detectors.data_drift.min_tvs' \(known: fdr, min_category_points, min_category_ratio, min_tv\)"),
    ("detectors:\n  data_drift: {min_tv: high}\n", "'detectors.data_drift.min_tv' must be a number >= 0, got 'high'"),
    ("detectors:\n  feature_drift: {permutations: 99.5}\n", "'detectors.feature_drift.permutations' must be a whole number"),
], ids=["not-a-mapping", "unknown-detector", "unknown-threshold", "not-a-number", "not-whole"])
def test_detector_overrides_are_validated_with_the_key_named(tmp_path: Path, detectors: str, expected: str) -> None:
    path = tmp_path / "pm.yaml"
    path.write_text(VALID + detectors)

    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_detector_overrides_reach_the_detectors(tmp_path: Path) -> None:
    from mlflow_postmortem.detectors import configured

    path = tmp_path / "pm.yaml"
    path.write_text(VALID + "detectors:\n  data_drift: {min_tv: 0.25}\n  production_drop: {alpha: 0.001}\n")

    config = load_config(path)
    stage_1, stage_2, drop_test = configured(config.detectors)

    assert next(d for d in stage_2 if d.key == "data_drift").min_tv == 0.25
    assert drop_test.alpha == 0.001
    assert next(d for d in stage_1 if d.key == "feature_recalibration").max_shape_tv == 0.08  # defaults stay


def test_pickle_trust_is_off_by_default_a_boolean_in_the_config_or_set_by_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pm.yaml"
    monkeypatch.delenv("MLFLOW_POSTMORTEM_TRUST_PICKLE", raising=False)
    path.write_text(VALID)
    assert load_config(path).trust_pickle is False
    path.write_text(VALID + "trust_pickle: true\n")
    assert load_config(path).trust_pickle is True
    path.write_text(VALID + "trust_pickle: 'yes please'\n")
    with pytest.raises(ConfigError, match="key 'trust_pickle' must be true or false, got 'yes please'"):
        load_config(path)
    path.write_text(VALID)
    monkeypatch.setenv("MLFLOW_POSTMORTEM_TRUST_PICKLE", "1")
    assert load_config(path).trust_pickle is True


@pytest.mark.parametrize("climb", ["../secret/credentials.txt", "data/../../secret.csv", "../../../etc/passwd"])
def test_a_relative_data_path_that_climbs_out_of_the_config_folder_is_refused_naming_the_key(
        tmp_path: Path, climb: str) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pm.yaml").write_text(VALID.replace("data/golden.parquet", climb))

    with pytest.raises(ConfigError, match=r"data\.golden: relative path .* leaves the config's folder .*absolute path"):
        load_config(folder / "pm.yaml")


def test_inside_the_folder_dot_dot_and_symlinks_are_fine_and_absolute_paths_read_anywhere(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (folder / "linked").symlink_to(tmp_path / "shared")
    (folder / "pm.yaml").write_text(VALID.replace("data/golden.parquet", "data/../linked/golden.parquet")
                                    .replace("data/production.parquet", str(tmp_path / "elsewhere.parquet")))

    config = load_config(folder / "pm.yaml")

    assert config.data.golden == str((tmp_path / "shared" / "golden.parquet").resolve())
    assert config.data.current == str(tmp_path / "elsewhere.parquet")
