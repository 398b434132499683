"""A post-mortem stopped at each step (SIGTERM, or its tracking server killed), then rerun.

Each test walks one post-mortem through its steps: it starts `run`, interrupts it when the
progress lines say a step has begun, checks the store, and starts again; the reruns reuse
what finished. After the last rerun the post-mortem is complete and recorded exactly once.
"""

from __future__ import annotations

import re
import signal
import socket
import threading
import time
from pathlib import Path

from mlflow import MlflowClient

from harness import Cli, new_versions, problems, scenario

#: progress lines that open each step, in order; the last is the training process at work
STEP_LINES = ["golden_eval: scoring", "drift_report: ", "diagnose: ", r"mitigate: .* launching"]
#: where the tracking server dies: as each step begins, and right after mitigation registered a version
SERVER_LOSS_LINES = ["golden_eval: scoring", "drift_report: ", "diagnose: ", "mitigate: registered"]


def test_sigterm_at_each_step_ends_every_run_killed_within_ten_seconds_and_a_rerun_completes(
        server, tmp_path: Path) -> None:
    name = f"pm-rel-sigterm-{server.backend}"
    config = scenario(server.uri, tmp_path, name)
    env = {"MLFLOW_TRACKING_URI": server.uri}
    client = MlflowClient(server.uri)

    for line in STEP_LINES:
        cli = Cli("run", str(config), "--experiment", name, "--output", "-", env=env, cwd=tmp_path)
        cli.wait_for(line)
        if "launching" in line:
            training = _wait_for_training_run(client, name)
        sent = time.monotonic()
        cli.proc.send_signal(signal.SIGTERM)
        code, _, err = cli.finish(timeout_s=60)
        took = time.monotonic() - sent

        assert code == 143, err[-2000:]
        assert took <= 10, f"{took:.1f}s to stop after SIGTERM at {line!r}"
        assert err.strip().splitlines()[-1].startswith("mlflow-postmortem: interrupted by SIGTERM")
        assert problems(server.uri, name, name) == [], line
        killed = [r for r in client.search_runs([client.get_experiment_by_name(name).experiment_id])
                  if r.info.status == "KILLED"]
        assert killed and all(r.data.tags["postmortem.failure"] == "interrupted by SIGTERM" for r in killed), line
        if "launching" in line:
            assert not _alive(int(training.data.tags["postmortem.pid"])), "the training process outlived the post-mortem"
            assert client.get_run(training.info.run_id).info.status == "KILLED"

    code, out, err = Cli("run", str(config), "--experiment", name, "--output", "-", env=env, cwd=tmp_path).finish()
    assert code == 0, err[-3000:]
    assert "mitigation: retrain_correct_feature_version" in out
    assert problems(server.uri, name, name) == []
    assert len(new_versions(server.uri, name)) == 1


def test_tracking_server_lost_at_each_step_then_back_a_rerun_completes_exactly_once(server, tmp_path: Path) -> None:
    name = f"pm-rel-loss-{server.backend}"
    config = scenario(server.uri, tmp_path, name)
    env = {"MLFLOW_TRACKING_URI": server.uri, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}

    for line in SERVER_LOSS_LINES:
        cli = Cli("run", str(config), "--experiment", name, "--output", "-", env=env, cwd=tmp_path)
        cli.wait_for(line)
        server.kill()
        code, _, err = cli.finish(timeout_s=300)
        server.start()

        assert code == 2, err[-2000:]
        assert err.strip().splitlines()[-1].startswith("mlflow-postmortem: error: ") and server.uri in err, err[-2000:]
        if "registered" in line:
            assert len(new_versions(server.uri, name)) == 1

    code, out, err = Cli("run", str(config), "--experiment", name, "--output", "-", env=env, cwd=tmp_path).finish()
    assert code == 0, err[-3000:]
    dangling = re.findall(r"run (\w+) was left RUNNING by a post-mortem that died; marked FAILED", err)
    assert dangling
    client = MlflowClient(server.uri)
    for run_id in dangling:
        left = client.get_run(run_id)
        assert left.info.status == "FAILED" and "abandoned" in left.data.tags["postmortem.failure"]
    assert "registered by an interrupted mitigation; gating it now" in err
    assert problems(server.uri, name, name) == []
    assert len(new_versions(server.uri, name)) == 1


def test_a_server_that_accepts_and_never_answers_fails_the_command_within_ten_seconds(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    threading.Thread(target=_accept_and_say_nothing, args=(silent,), daemon=True).start()
    uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
    (tmp_path / "pm.yaml").write_text("model: models:/anything/1\ntask: classification\ntarget: y\n"
                                      "data: {reference: r.csv, golden: g.csv, current: c.csv}\n")
    try:
        start = time.monotonic()
        code, _, err = Cli("run", str(tmp_path / "pm.yaml"), env={"MLFLOW_TRACKING_URI": uri}, cwd=tmp_path).finish()
        took = time.monotonic() - start
    finally:
        silent.close()

    assert code == 2
    assert err.strip().splitlines() == [f"mlflow-postmortem: error: tracking server {uri} did not answer within 5s"]
    assert took <= 10


def _wait_for_training_run(client: MlflowClient, experiment: str, timeout_s: float = 120):
    """The RUNNING training run, once its process has tagged it (the process is then at work)."""
    exp = client.get_experiment_by_name(experiment).experiment_id
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = client.search_runs([exp], "tags.`postmortem.step` = 'train' and attributes.status = 'RUNNING'")
        if runs and "postmortem.pid" in runs[0].data.tags:
            return runs[0]
        time.sleep(0.2)
    raise AssertionError("no training run started")


def _accept_and_say_nothing(listener: socket.socket) -> None:
    held = []
    while True:
        try:
            held.append(listener.accept()[0])
        except OSError:  # the test closed the listener
            return


def _alive(pid: int) -> bool:
    """Whether the process runs; a zombie no one has reaped yet is dead too."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
