"""Fixtures of the reliability tests: a real `mlflow server` of the test's own, on each store a team runs."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from servers import POSTGRES_URI_ENV, Backend, TrackingServer


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend store; postgresql needs a PostgreSQL server to create databases on (.ci/run starts one)."""
    if request.param == "postgresql" and not os.environ.get(POSTGRES_URI_ENV):
        pytest.skip(f"{POSTGRES_URI_ENV} is unset: no PostgreSQL server for a postgresql store (.ci/run starts one)")
    return request.param


@pytest.fixture(scope="module")
def _module_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    """One server per module and backend (a start is seconds of CPU); stopped (database dropped) after."""
    with TrackingServer(backend, tmp_path_factory.mktemp(f"server-{backend}")) as server:
        yield server


@pytest.fixture
def server(_module_server: TrackingServer) -> TrackingServer:
    """A started server for the test, which may kill and restart it. The module's tests share its store: each
    registers a model and records into an experiment of its own name, and checks only those. A test that
    failed with the server down left it down: it is started again here."""
    if not _module_server.running:
        _module_server.start()
    return _module_server
