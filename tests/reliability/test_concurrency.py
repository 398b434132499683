"""Post-mortems started together against a live server: one does the work, none is lost."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from mlflow import MlflowClient

from harness import Cli, new_versions, problems, scenario


def test_eight_identical_runs_at_once_make_one_post_mortem_and_at_most_one_new_version(server, tmp_path: Path) -> None:
    name = f"pm-rel-same-{server.backend}"
    config = scenario(server.uri, tmp_path, name)
    env = {"MLFLOW_TRACKING_URI": server.uri}

    clis = [Cli("run", str(config), "--experiment", name, "--output", str(tmp_path / f"v{i}.json"), env=env, cwd=tmp_path)
            for i in range(8)]
    results = [cli.finish() for cli in clis]

    assert [code for code, _, _ in results] == [0] * 8, [err[-2000:] for code, _, err in results if code]
    assert problems(server.uri, name, name) == []
    client = MlflowClient(server.uri)
    exp = client.get_experiment_by_name(name).experiment_id
    postmortems = client.search_runs([exp], "tags.`postmortem.step` = 'postmortem'")
    assert len(postmortems) == 1
    the_one = postmortems[0].info.run_id
    named = {re.search(r"(?:MLflow run|repeat of the identical post-mortem run) ([0-9a-f]{32})", out)[1]
             for _, out, _ in results}
    assert named == {the_one}
    assert {json.loads((tmp_path / f"v{i}.json").read_text())["run_id"] for i in range(8)} == {the_one}
    assert len(new_versions(server.uri, name)) == 1
    assert len(client.search_runs([exp], "tags.`postmortem.step` = 'mitigate'")) == 1


def test_eight_different_configs_at_once_each_get_their_post_mortem(server, tmp_path: Path) -> None:
    name = f"pm-rel-many-{server.backend}"
    config = scenario(server.uri, tmp_path, name)
    raw = yaml.safe_load(config.read_text())
    env = {"MLFLOW_TRACKING_URI": server.uri}
    clis = []
    for windows in range(3, 11):  # a different config each: a different key
        path = tmp_path / f"pm{windows}.yaml"
        path.write_text(yaml.safe_dump({**raw, "windows": windows}))
        clis.append(Cli("run", str(path), "--no-mitigate", "--experiment", name, "--output", "-", env=env, cwd=tmp_path))
    results = [cli.finish() for cli in clis]

    assert [code for code, _, _ in results] == [0] * 8, [err[-2000:] for code, _, err in results if code]
    assert not any("repeat of" in out for _, out, _ in results)
    assert problems(server.uri, name, name) == []
    client = MlflowClient(server.uri)
    exp = client.get_experiment_by_name(name).experiment_id
    finished = client.search_runs([exp], "tags.`postmortem.step` = 'postmortem' and attributes.status = 'FINISHED'")
    assert len({r.data.tags["postmortem.key"] for r in finished}) == 8
