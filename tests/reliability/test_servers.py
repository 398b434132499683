"""The reliability tests' own server: a crash keeps what was committed, and it comes back where clients look."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from servers import TrackingServer


def test_a_killed_server_restarts_on_its_port_with_the_runs_it_had(server: TrackingServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # a dead server fails the call now, not after backoff
    client = MlflowClient(server.uri)  # its pooled connection is open when the server dies: the port is not clean
    run = client.create_run(client.create_experiment("survives-a-crash"))
    client.log_param(run.info.run_id, "alpha", "0.5")

    server.kill()
    with pytest.raises(MlflowException, match="127.0.0.1"):
        client.get_run(run.info.run_id)

    server.restart()
    again = client.get_run(run.info.run_id)
    assert again.data.params == {"alpha": "0.5"}
    assert again.info.status == "RUNNING"  # nothing ended it: the crash left it as it was
