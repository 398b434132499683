"""A real `mlflow server` a test starts, kills and restarts itself, on a sqlite or a PostgreSQL store."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Literal

import pytest
import requests

from support import free_port

Backend = Literal["sqlite", "postgresql"]
#: a PostgreSQL server without a database name (.ci/run starts one): each server gets a database of its own on it
POSTGRES_URI_ENV = "MLFLOW_TEST_POSTGRES_URI"
#: unless the environment says otherwise, no GenAI job runner: its 8 extra processes cost ~25 s of CPU per start
#: (enough to miss the health deadline on a busy 2-core runner) and leak a /dev/shm folder each; no test needs jobs
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class TrackingServer:
    """`mlflow server` on a loopback port of its own, its whole process group owned by the test.

    The store and the artifacts outlive the process, so `restart()` after `kill()` shows what a crash
    kept. A postgresql store is a fresh database `pm_<random>`, created on the first start and dropped
    by `close()`; a context manager starts the server and closes it.
    """

    def __init__(self, backend: Backend, root: Path) -> None:
        self.backend = backend
        self.root = root
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._database = f"pm_{secrets.token_hex(6)}" if backend == "postgresql" else None
        self.backend_uri = f"{_postgres()}/{self._database}" if self._database else f"sqlite:///{root / 'mlflow.db'}"
        self._log = root / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 90) -> None:
        """Start on this server's port and store; returns once /health answers. A new store is a copy of
        one migrated once per process."""
        assert self._proc is None or self._proc.poll() is not None, f"mlflow server at {self.uri} is already running"
        if self._proc is None and self._database:
            _admin(f'CREATE DATABASE "{self._database}" TEMPLATE "{_migrated_postgres_template()}"')
        elif self._proc is None and not (self.root / "mlflow.db").exists():
            _migrated_sqlite_store(self.root / "mlflow.db")
        with open(self._log, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", self.backend_uri,
                 "--artifacts-destination", str(self.root / "artifacts"), "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "1"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.root, env={**SERVER_ENV, **os.environ},
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {self._proc.returncode}:\n{self._log_tail()}")
            try:
                if requests.get(f"{self.uri}/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        self.kill()
        pytest.fail(f"mlflow server at {self.uri} not healthy after {timeout_s}s:\n{self._log_tail()}")

    @property
    def running(self) -> bool:
        """Whether the server process is up (started, and neither killed nor stopped since)."""
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (mlflow and its uvicorn): a crash, no shutdown code runs.

        Returns once every process of the group is dead, so the port has no listener left to restart on.
        """
        self._signal(signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait()
            _wait_group_dead(self._proc.pid)

    def stop(self) -> None:
        """A clean shutdown: SIGTERM to the process group, SIGKILL if it is still up after 15 s."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> None:
        """Stop if still running, then start on the same port and store: clients keep their URI."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop, and drop a postgresql store's database (WITH FORCE: a killed server may leave sessions)."""
        self.stop()
        if self._database:
            _admin(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')

    def __enter__(self) -> TrackingServer:
        try:
            self.start()
        except BaseException:  # pytest.fail's exception is a BaseException: drop the database all the same
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _signal(self, signum: int) -> None:
        # start_new_session made the server the leader of its own group: its pid is the group id
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signum)
            except ProcessLookupError:
                pass

    def _log_tail(self) -> str:
        return self._log.read_text(errors="replace")[-3000:]


_template: Path | None = None


def _migrated_sqlite_store(path: Path) -> None:
    """A new sqlite store at `path`, copied from one this process migrated once: an `mlflow server` on a
    new file runs every schema migration first, seconds of CPU per server on a 2-core runner."""
    global _template
    if _template is None:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        folder = Path(tempfile.mkdtemp(prefix="pm-sqlite-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        # the artifact root `mlflow server --artifacts-destination` gives its stores: the Default experiment keeps it
        SqlAlchemyStore(f"sqlite:///{folder / 'mlflow.db'}", "mlflow-artifacts:/").engine.dispose()
        _template = folder / "mlflow.db"
    shutil.copyfile(_template, path)


_postgres_template: str | None = None


def _migrated_postgres_template() -> str:
    """A database this process migrated once, dropped at exit: new stores are copies of it, as for sqlite."""
    global _postgres_template
    if _postgres_template is None:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        name = f"pm_template_{secrets.token_hex(6)}"
        _admin(f'CREATE DATABASE "{name}"')
        atexit.register(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        SqlAlchemyStore(f"{_postgres()}/{name}", "mlflow-artifacts:/").engine.dispose()  # no session left to block a copy
        _postgres_template = name
    return _postgres_template


def _postgres() -> str:
    return os.environ[POSTGRES_URI_ENV].rstrip("/")


def _admin(sql: str) -> None:
    """One statement on the maintenance database; CREATE/DROP DATABASE cannot run inside a transaction."""
    import psycopg  # here: sqlite servers need no PostgreSQL driver

    with psycopg.connect(f"{_postgres()}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _wait_group_dead(pgid: int, timeout_s: float = 10) -> None:
    """Wait until no thread of the group runs. Threads, not processes: a killed process's main thread turns
    zombie before its other threads have closed the sockets. Zombies count as dead (a container's init
    may never reap them)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(_alive_in_group(stat, pgid) for stat in Path("/proc").glob("[0-9]*/task/[0-9]*/stat")):
            return
        time.sleep(0.05)
    raise TimeoutError(f"processes of group {pgid} still alive {timeout_s}s after SIGKILL")


def _alive_in_group(stat: Path, pgid: int) -> bool:
    """Whether /proc/<pid>/task/<tid>/stat is a running thread of the group: not a zombie, not gone already."""
    try:
        state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]  # the fields after "pid (comm)"
    except OSError:
        return False
    return int(pgrp) == pgid and state not in ("Z", "X")
