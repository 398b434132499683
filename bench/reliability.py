"""Reliability benchmark (issue 8): many `mlflow-postmortem run`s at once against one real `mlflow server`.

On a PostgreSQL store (a throwaway cluster this script starts, unless one is given) it times, each as
fresh `mlflow-postmortem` subprocesses and by the OS clock:

1. one lone `run` of a config whose verdict retrains the model (feature_recalibration);
2. 32 concurrent `run`s of one identical config: afterwards the store must hold 1 finished
   post-mortem, at most 1 new model version, no run left RUNNING, and no process may fail;
   every process must name the same post-mortem run;
3. one lone `run --no-mitigate`, then 32 concurrent `run --no-mitigate`s of 32 different configs
   (`windows: 3..34`): 32 finished post-mortems with 32 distinct keys, none lost, none RUNNING,
   no error.

Each phase has its own experiment and its own registered model, so nothing is shared between
phases. It exits 1 when a bar is missed, naming it.

    python bench/reliability.py [--postgres-uri postgresql://user@127.0.0.1:PORT] [--concurrency 32]
                                [--quick] [--workers 4] [--uvicorn-opts OPTS] [--backend postgresql|sqlite]
                                [--timeout S] [--output PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Iterator

RESULTS = Path(__file__).parent / "results" / "reliability.json"
REPO = Path(__file__).resolve().parent.parent
#: the venv's console scripts (mlflow-postmortem, mlflow) come first on every subprocess's PATH
BIN_DIR = Path(sys.executable).parent
POSTGRES_URI_ENV = "MLFLOW_TEST_POSTGRES_URI"
#: the throwaway cluster's postmaster, whose CPU (and its backends') each phase records
POSTMASTER: list[int] = []
RUN_ID = re.compile(r"(?:MLflow run|repeat of the identical post-mortem run) ([0-9a-f]{32})")


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- PostgreSQL and the tracking server -------------------------------------------------------


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster in a temp dir, as .ci/run starts one: loopback only, trust auth, its unix
    socket inside its own dir; as the `postgres` user when running as root. Stopped and removed after."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)])
    if not bins:
        raise SystemExit("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: "
                         "apt-get install -y postgresql, or pass --postgres-uri")
    pg_bin = bins[-1]
    root = Path(tempfile.mkdtemp(prefix="pm-bench-pg-"))
    user = _user_name()
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = "postgres"
        shutil.chown(root, user, user)
        run_as = ["runuser", "-u", user, "--"]
    port = free_port()
    data = root / "data"

    def pg(*argv: str, log: str) -> None:
        with open(root / log, "ab") as out:  # the file is opened by us (root), written by the child through the fd
            proc = subprocess.run([*run_as, *argv], cwd=root, stdout=out, stderr=subprocess.STDOUT)
        if proc.returncode:
            raise RuntimeError(f"{Path(argv[0]).name} failed:\n{(root / log).read_text(errors='replace')[-3000:]}")

    started = False
    try:
        pg(str(pg_bin / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "--no-sync", log="initdb.log")
        pg(str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(root / "postgres.log"),
           "-o", f"-h 127.0.0.1 -p {port} -k {root}", "-w", "start", log="pg_ctl.log")
        started = True
        say(f"throwaway PostgreSQL {pg_bin.parent.name} on 127.0.0.1:{port} ({root})")
        POSTMASTER.append(int((data / "postmaster.pid").read_text().split()[0]))
        yield f"postgresql://{user}@127.0.0.1:{port}"
    finally:
        if started:
            subprocess.run([*run_as, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], cwd=root,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _admin(postgres: str, sql: str) -> list[tuple]:
    """One statement on the maintenance database (CREATE/DROP DATABASE cannot run in a transaction)."""
    import psycopg

    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


@dataclass
class Server:
    uri: str
    backend_uri: str
    log: Path
    proc: subprocess.Popen


@contextmanager
def tracking_server(backend: str, postgres: str | None, root: Path, workers: int,
                    uvicorn_opts: str | None = None) -> Iterator[Server]:
    """`mlflow server` on a fresh store: a new database `pm_bench_<random>` on `postgres`, or a sqlite
    file. Its whole process group is stopped afterwards and the database dropped."""
    database = f"pm_bench_{secrets.token_hex(5)}" if backend == "postgresql" else None
    if database:
        _admin(postgres, f'CREATE DATABASE "{database}"')
        DATABASE[:] = [postgres, database]
    backend_uri = f"{postgres}/{database}" if database else f"sqlite:///{root / 'mlflow.db'}"
    port = free_port()
    log = root / "server.log"
    proc = None
    try:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
                 "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
                 "--workers", str(workers), *(["--uvicorn-opts", uvicorn_opts] if uvicorn_opts else [])],
                stdout=out, stderr=subprocess.STDOUT, cwd=root, start_new_session=True, env=_child_env(),
            )
        server = Server(f"http://127.0.0.1:{port}", backend_uri, log, proc)
        SERVER_PGRP[:], SERVER_LOG[:] = [proc.pid], [log]
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {proc.returncode}:\n{_tail(log)}")
            try:
                with urllib.request.urlopen(f"{server.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - t0 > 180:
                raise RuntimeError(f"mlflow server at {server.uri} not healthy after 180s:\n{_tail(log)}")
            time.sleep(0.25)
        say(f"mlflow server {server.uri} on {backend_uri} with {workers} workers, healthy in {time.monotonic() - t0:.1f}s")
        yield server
    finally:
        if proc is not None:
            _stop_group(proc, grace_s=15)
        if database:
            _admin(postgres, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM to the process group this script started (its leader's pid is the group id), SIGKILL after grace_s."""
    if proc.poll() is None:
        _killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    _killpg(proc.pid, signal.SIGKILL)  # what is left of the group (uvicorn workers, job runners, `mlflow run`s)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _killpg(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _stat(pid: str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after "pid (comm)": [0] is the state, [1] ppid, [2] pgrp, [11:15] the CPU ticks."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(*, pgrp: int | None = None, parent: int | None = None) -> float:
    """CPU seconds (user + system) of the live processes of a process group, or of a process and its
    children, including children they have already reaped (cutime, cstime). Linux /proc only."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (fields := _stat(entry.name)) is None:
            continue
        pid = int(entry.name)
        if (pgrp is not None and int(fields[2]) == pgrp) or (parent is not None and parent in (pid, int(fields[1]))):
            total += sum(int(x) for x in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds of this script's reaped children and their reaped descendants."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME",
                                                            "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


# --- the scenario ----------------------------------------------------------------------------


class Scenario:
    """The churn demo data with `monthly_charges` served in cents (feature_recalibration: the
    mitigation retrains), its two models fitted once; `place` registers them as v1 and v2 of a model
    name of its own on the server and writes the data and a pm.yaml reviewing v2 into a folder."""

    def __init__(self, n_rows: int = 2_000) -> None:
        from mlflow_postmortem import demo
        from mlflow_postmortem.drills import inject, make_dataset, make_drill, split_dataset

        self.trusted = [*demo.TRUSTED_TYPES, "functools.partial", "sklearn.utils.validation.check_array"]
        self.ds = make_dataset(demo.customers(6_000, seed=11), name="churn", task="classification",
                               target=demo.TARGET, categorical=demo.CATEGORICAL)
        self.split = split_dataset(self.ds)
        self.drill = inject(make_drill(self.ds, n_rows=n_rows, seed=3), "feature_recalibration",
                            feature="monthly_charges", variant="scale", magnitude=100.0)
        self.target = demo.TARGET

    def place(self, server: str, folder: Path, name: str) -> dict[str, Any]:
        """Register `name` v1 and v2, write the data files; returns the pm.yaml content (not yet written)."""
        import mlflow

        from mlflow_postmortem.adapters.registry import register_sklearn_model

        folder.mkdir(parents=True, exist_ok=True)
        for role in ("reference", "golden", "current"):
            getattr(self.drill.frames, role).to_parquet(folder / f"{role}.parquet", index=False)
        X = self.split.reference[list(self.ds.features)]
        mlflow.set_tracking_uri(server)
        with redirect_stdout(sys.stderr):  # MLflow prints "View run ..." links: stdout is for the results
            mlflow.set_experiment("pm-bench-setup")
            register_sklearn_model(self.split.baseline, name, X, trusted_types=tuple(self.trusted))
            version = register_sklearn_model(self.split.model, name, X, trusted_types=tuple(self.trusted))
        return {"model": f"models:/{name}/{version}", "task": "classification", "target": self.target,
                "timestamp": self.drill.timestamp, "entity_id": self.drill.entity_id,
                "categorical": list(self.ds.categorical), "skops_trusted_types": self.trusted,
                "data": {role: f"{role}.parquet" for role in ("reference", "golden", "current")}}


def write_config(folder: Path, filename: str, raw: dict[str, Any]) -> Path:
    import yaml

    path = folder / filename
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


# --- running processes -----------------------------------------------------------------------


@dataclass
class Proc:
    index: int
    argv: list[str]
    popen: subprocess.Popen
    started: float
    stdout: Path
    stderr: Path
    ended: float | None = None
    code: int | None = None

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def out(self) -> str:
        return self.stdout.read_text(errors="replace")

    def err(self) -> str:
        return self.stderr.read_text(errors="replace")


class PgSampler:
    """Every 2 s, the tracking database's sessions by state and wait: how many connections the server
    holds, how many wait on a lock, how many sit idle inside a transaction."""

    def __init__(self) -> None:
        import threading

        self.peaks: Counter = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True) if DATABASE else None
        if self._thread:
            self._thread.start()

    def _run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(f"{DATABASE[0]}/{DATABASE[1]}", autocommit=True) as conn:
                while not self._stop.is_set():
                    rows = conn.execute("SELECT state, wait_event_type FROM pg_stat_activity "
                                        "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
                    now = Counter({"connections": len(rows),
                                   "active": sum(state == "active" for state, _ in rows),
                                   "waiting_on_lock": sum(wait == "Lock" for _, wait in rows),
                                   "idle_in_transaction": sum((state or "").startswith("idle in transaction")
                                                              for state, _ in rows)})
                    self.peaks |= now  # the elementwise maximum
                    self.samples += 1
                    self._stop.wait(2)
        except Exception as exc:  # noqa: BLE001 - a sampler that fails must not end the benchmark
            self.peaks["sampler_failed"] = 1
            say(f"pg_stat_activity sampler stopped: {exc}")

    def stop(self) -> dict[str, int] | None:
        if not self._thread:
            return None
        self._stop.set()
        self._thread.join(timeout=10)
        return {f"max_{k}": v for k, v in self.peaks.items()} | {"samples": self.samples}


def launch_all(label: str, commands: list[list[str]], folder: Path, env: dict[str, str], timeout_s: float,
               live: list[Proc]) -> tuple[list[Proc], float, bool, dict[str, Any]]:
    """Start every command at once (each its own process group, output to files), wait for all.
    Returns (processes, wall seconds from the first start to the last exit, whether all ended in time,
    CPU seconds spent meanwhile by the processes, the tracking server and PostgreSQL, and the load)."""
    before = _snapshot()
    load_max = 0.0
    sampler = PgSampler()
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[Proc] = []
    t0 = time.monotonic()
    for i, argv in enumerate(commands):
        out, err = logs / f"{label}-{i:02d}.out", logs / f"{label}-{i:02d}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            started = time.monotonic()
            popen = subprocess.Popen(argv, stdout=o, stderr=e, stdin=subprocess.DEVNULL, cwd=folder, env=env,
                                     start_new_session=True)
        proc = Proc(i, argv, popen, started, out, err)
        procs.append(proc)
        live.append(proc)
    say(f"{label}: {len(procs)} process(es) started in {time.monotonic() - t0:.2f}s")
    done, told = 0, time.monotonic()
    while done < len(procs):
        for p in procs:
            if p.code is None and (code := p.popen.poll()) is not None:
                p.code, p.ended = code, time.monotonic()
                done += 1
                say(f"{label}: {done}/{len(procs)} done (process {p.index} exit {code} after {p.seconds:.1f}s)")
        if done == len(procs):
            break
        now = time.monotonic()
        load_max = max(load_max, os.getloadavg()[0])
        if now - t0 > timeout_s:
            say(f"{label}: TIMEOUT after {timeout_s:.0f}s with {len(procs) - done} still running: killing them")
            for p in procs:
                if p.code is None:
                    _killpg(p.popen.pid, signal.SIGKILL)
                    p.popen.wait()
            return procs, now - t0, False, {**_since(before), "loadavg_max": round(load_max, 1),
                                            "postgresql_sessions": sampler.stop()}
        if now - told > 30:
            load = os.getloadavg()[0]
            say(f"{label}: {done}/{len(procs)} done, {now - t0:.0f}s elapsed, load average {load:.1f}")
            told = now
        time.sleep(0.1)
    wall = max(p.ended for p in procs) - t0
    for p in procs:
        live.remove(p)
    return procs, wall, True, {**_since(before), "loadavg_max": round(load_max, 1),
                               "postgresql_sessions": sampler.stop()}


#: the tracking server's process group and log, which each phase reads
SERVER_PGRP: list[int] = []
SERVER_LOG: list[Path] = []
#: (postgresql://user@host:port, database) of the tracking store, whose sessions each phase samples
DATABASE: list[str] = []


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, every process of every user (/proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    total = sum(ticks[:8])  # guest time is already counted in user
    return total - idle, total


def _snapshot() -> dict[str, Any]:
    return {"machine": machine_ticks(), "processes": children_cpu_seconds(),
            "tracking_server": cpu_seconds(pgrp=SERVER_PGRP[0]) if SERVER_PGRP else None,
            "postgresql": cpu_seconds(parent=POSTMASTER[0]) if POSTMASTER else None,
            "log_offset": SERVER_LOG[0].stat().st_size if SERVER_LOG else 0,
            "wall": time.monotonic()}


def _since(before: dict[str, Any]) -> dict[str, Any]:
    """CPU seconds since `before` (None where not measured: an external PostgreSQL), their share of
    what the machine's cores could give in that wall time, the whole machine's busy share, and what
    the server logged meanwhile."""
    now = _snapshot()
    spent = {k: None if before[k] is None else round(now[k] - before[k], 1)
             for k in ("processes", "tracking_server", "postgresql")}
    wall = now["wall"] - before["wall"]
    busy, total = (a - b for a, b in zip(now["machine"], before["machine"]))
    log = ""
    if SERVER_LOG:
        with open(SERVER_LOG[0], "rb") as f:
            f.seek(before["log_offset"])
            log = f.read(now["log_offset"] - before["log_offset"]).decode(errors="replace")
    return {"cpu_seconds": spent,
            "cpu_share_of_machine": round(sum(v for v in spent.values() if v) / (wall * (os.cpu_count() or 1)), 2),
            "machine_busy": round(busy / total, 2) if total else None,
            "server": server_log_facts(log)}


#: uvicorn's access log line, and its supervisor replacing a worker that missed its health check
ACCESS = re.compile(r'"(GET|POST|PATCH|DELETE|PUT) (/[^ ?"]*)[^"]*" (\d{3})')
WORKER_DIED = re.compile(r"Child process \[(\d+)\] died")
TROUBLE = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b|too many clients|OperationalError|deadlock|QueuePool")


def server_log_facts(text: str) -> dict[str, Any]:
    """Responses by status, every response that was not a success or a 404 (by status and endpoint),
    uvicorn workers replaced, and lines speaking of an error."""
    statuses: Counter = Counter()
    failed: Counter = Counter()
    trouble = []
    died = WORKER_DIED.findall(text)
    for line in text.splitlines():
        if m := ACCESS.search(line):
            statuses[m[3]] += 1
            if m[3] >= "400" and m[3] != "404":
                failed[f"{m[3]} {m[1]} {m[2]}"] += 1
        elif TROUBLE.search(line):
            trouble.append(line[:300])
    times = [line[:19] for line in text.splitlines() if WORKER_DIED.search(line)]
    return {"responses": dict(sorted(statuses.items())), "failed_responses": dict(failed.most_common()),
            "workers_replaced": len(died), "workers_replaced_at": times, "error_lines": len(trouble),
            "first_error_lines": trouble[:10]}


def process_stats(procs: list[Proc]) -> dict[str, Any]:
    seconds = [p.seconds for p in procs]
    return {"exit_codes": {str(k): v for k, v in sorted(Counter(p.code for p in procs).items(), key=lambda kv: str(kv[0]))},
            "process_seconds_p50": round(statistics.median(seconds), 1),
            "process_seconds_min": round(min(seconds), 1),
            "process_seconds_max": round(max(seconds), 1)}


def error_messages(procs: list[Proc]) -> dict[str, int]:
    """The `mlflow-postmortem: ...` lines of failing processes, run ids and ports blanked, counted."""
    found: Counter = Counter()
    for p in procs:
        if p.code != 0:
            lines = [line for line in p.err().splitlines() if line.startswith("mlflow-postmortem:")] or ["(none)"]
            found[re.sub(r"\b[0-9a-f]{32}\b", "<run>", re.sub(r"127\.0\.0\.1:\d+", "<server>", lines[-1]))[:400]] += 1
    return dict(found.most_common())


def failures(procs: list[Proc], limit: int = 3) -> list[dict[str, Any]]:
    """The exit code and stderr tail of failing processes (the first `limit`), for the report."""
    bad = [p for p in procs if p.code != 0]
    return [{"process": p.index, "exit": p.code, "seconds": round(p.seconds, 1), "stderr_tail": p.err()[-4000:]}
            for p in bad[:limit]]


# --- reading the store back ------------------------------------------------------------------


def store_facts(server: str, experiment: str, model: str) -> dict[str, Any]:
    """Every run of `experiment` by step and status, the finished post-mortems by key, the
    versions a mitigation registered on `model` and their gates."""
    from mlflow import MlflowClient

    client = MlflowClient(server)
    exp = client.get_experiment_by_name(experiment)
    runs = []
    if exp is not None:
        token = None
        while True:
            page = client.search_runs([exp.experiment_id], max_results=1000, page_token=token)
            runs += list(page)
            token = page.token
            if not token:
                break
    by_step: dict[str, Counter] = {}
    for r in runs:
        by_step.setdefault(r.data.tags.get("postmortem.step", "(none)"), Counter())[r.info.status] += 1
    finished_pm = [r for r in runs if r.info.status == "FINISHED" and r.data.tags.get("postmortem.step") == "postmortem"]
    keys = Counter(r.data.tags.get("postmortem.key") for r in finished_pm)
    versions = [v for v in client.search_model_versions(f"name='{model}'") if "postmortem.key" in v.tags]
    return {
        "runs": len(runs),
        "runs_by_step_and_status": {step: dict(c) for step, c in sorted(by_step.items())},
        "running": [f"{r.info.run_id} ({r.data.tags.get('postmortem.step', r.info.run_name)})"
                    for r in runs if r.info.status == "RUNNING"],
        "finished_postmortems": len(finished_pm),
        "finished_postmortem_ids": sorted(r.info.run_id for r in finished_pm),
        "finished_postmortem_keys": len(keys),
        "duplicate_keys": {k: n for k, n in keys.items() if n > 1},
        "new_versions": {str(v.version): v.tags.get("postmortem.gate", "(no gate)") for v in versions},
        "root_causes": dict(Counter(r.data.tags.get("postmortem.root_cause", "?") for r in finished_pm)),
    }


# --- the phases ------------------------------------------------------------------------------


def phase_lone(label: str, server: str, scenario: Scenario, root: Path, env: dict[str, str], timeout_s: float,
               live: list[Proc], *, mitigate: bool) -> dict[str, Any]:
    folder = root / label
    name = f"bench-{label}"
    say(f"{label}: registering {name} v1 and v2")
    config = write_config(folder, "pm.yaml", {**scenario.place(server, folder, name), "windows": 3})
    argv = ["mlflow-postmortem", "run", str(config), "--experiment", name, "--output", str(folder / "verdict.json")]
    argv += [] if mitigate else ["--no-mitigate"]
    say(f"{label}: one `{' '.join(argv[:2])} ...{' --no-mitigate' if not mitigate else ''}`")
    procs, wall, in_time, cpu = launch_all(label, [argv], folder, env, timeout_s, live)
    facts = store_facts(server, name, name)
    named = {m[1] for p in procs if (m := RUN_ID.search(p.out()))}
    bars = {
        "no error": procs[0].code == 0 and in_time,
        "1 finished post-mortem": facts["finished_postmortems"] == 1,
        "0 runs left RUNNING": not facts["running"],
        "stdout names the post-mortem run": named == set(facts["finished_postmortem_ids"]),
    }
    if mitigate:
        bars["1 new version, gated"] = len(facts["new_versions"]) == 1 and all(
            g in ("passed", "failed") for g in facts["new_versions"].values())
    return {"phase": label, "processes": 1, "mitigate": mitigate, "wall_seconds": round(wall, 1),
            "finished_in_time": in_time, **process_stats(procs), **cpu, "store": facts, "bars": bars,
            "error_messages": error_messages(procs), "failures": failures(procs)}


def phase_same(label: str, server: str, scenario: Scenario, root: Path, env: dict[str, str], timeout_s: float,
               live: list[Proc], n: int) -> dict[str, Any]:
    folder = root / label
    name = f"bench-{label}"
    say(f"{label}: registering {name} v1 and v2")
    config = write_config(folder, "pm.yaml", {**scenario.place(server, folder, name), "windows": 3})
    commands = [["mlflow-postmortem", "run", str(config), "--experiment", name, "--output", str(folder / f"verdict-{i:02d}.json")]
                for i in range(n)]
    say(f"{label}: {n} concurrent `mlflow-postmortem run` of one identical config, with mitigation")
    procs, wall, in_time, cpu = launch_all(label, commands, folder, env, timeout_s, live)
    facts = store_facts(server, name, name)
    named = [m[1] if (m := RUN_ID.search(p.out())) else None for p in procs]
    repeats = sum("repeat of the identical post-mortem run" in p.out() for p in procs)
    outputs = set()
    for i in range(n):
        try:
            outputs.add(json.loads((folder / f"verdict-{i:02d}.json").read_text()).get("run_id"))
        except (OSError, ValueError):
            outputs.add(None)
    bars = {
        "1 finished post-mortem": facts["finished_postmortems"] == 1,
        "<= 1 new version": len(facts["new_versions"]) <= 1,
        "0 runs left RUNNING": not facts["running"],
        "0 errors": all(p.code == 0 for p in procs) and in_time,
        "every process names the one post-mortem run": set(named) == set(facts["finished_postmortem_ids"])
        and len(facts["finished_postmortem_ids"]) == 1,
    }
    return {"phase": label, "processes": n, "mitigate": True, "wall_seconds": round(wall, 1),
            "finished_in_time": in_time, **process_stats(procs), **cpu, "repeats_reported": repeats,
            "run_ids_named": dict(Counter(str(x) for x in named)),
            "verdict_file_run_ids": sorted(str(x) for x in outputs),
            "store": facts, "bars": bars,
            "error_messages": error_messages(procs), "failures": failures(procs)}


def phase_many(label: str, server: str, scenario: Scenario, root: Path, env: dict[str, str], timeout_s: float,
               live: list[Proc], n: int) -> dict[str, Any]:
    folder = root / label
    name = f"bench-{label}"
    say(f"{label}: registering {name} v1 and v2")
    raw = scenario.place(server, folder, name)
    windows = list(range(3, 3 + n))  # a different config each: a different key
    commands = [["mlflow-postmortem", "run", str(write_config(folder, f"pm{w}.yaml", {**raw, "windows": w})),
                 "--no-mitigate", "--experiment", name, "--output", str(folder / f"verdict{w}.json")] for w in windows]
    say(f"{label}: {n} concurrent `mlflow-postmortem run --no-mitigate` of {n} different configs (windows {windows[0]}..{windows[-1]})")
    procs, wall, in_time, cpu = launch_all(label, commands, folder, env, timeout_s, live)
    facts = store_facts(server, name, name)
    named = [m[1] if (m := RUN_ID.search(p.out())) else None for p in procs]
    repeats = sum("repeat of" in p.out() for p in procs)
    bars = {
        f"{n} finished post-mortems, {n} distinct keys": facts["finished_postmortems"] == n
        and facts["finished_postmortem_keys"] == n,
        "none lost: each process names its own finished post-mortem": None not in named and len(set(named)) == n
        and set(named) == set(facts["finished_postmortem_ids"]) and repeats == 0,
        "0 runs left RUNNING": not facts["running"],
        "0 errors": all(p.code == 0 for p in procs) and in_time,
    }
    return {"phase": label, "processes": n, "mitigate": False, "wall_seconds": round(wall, 1),
            "finished_in_time": in_time, **process_stats(procs), **cpu, "repeats_reported": repeats,
            "distinct_run_ids_named": len({x for x in named if x}),
            "store": facts, "bars": bars,
            "error_messages": error_messages(procs), "failures": failures(procs)}


# --- report ----------------------------------------------------------------------------------


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def source_digest() -> str:
    """sha256 of the package's source files: the tree is edited while benchmarks run, and a commit
    id alone does not say which uncommitted code a run measured."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((REPO / "mlflow_postmortem").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def _cpu_cell(cpu: dict[str, float | None]) -> str:
    return "/".join("-" if v is None else f"{v:.0f}" for v in cpu.values())


def table(report: dict[str, Any]) -> str:
    p = report["phases"]
    lines = [f"mlflow server on {report['backend']} ({report['server_workers']} workers"
             f"{', uvicorn ' + report['uvicorn_opts'] if report['uvicorn_opts'] else ''}), "
             f"{report['machine']['cpus']} CPUs, load average {report['machine']['loadavg_start']} at start",
             f"{'phase':<14} {'procs':>5} {'wall s':>8} {'p50 s':>7} {'max s':>7}  {'exits':<10} {'post-mortems':>12} "
             f"{'new vers':>8} {'RUNNING':>7}  {'CPU s: procs/server/pg':>22} {'ours':>5} {'all':>5} {'load':>5}"]
    for r in p.values():
        s = r["store"]
        exits = ",".join(f"{k}x{v}" for k, v in r["exit_codes"].items())
        lines.append(f"{r['phase']:<14} {r['processes']:>5} {r['wall_seconds']:>8.1f} {r['process_seconds_p50']:>7.1f} "
                     f"{r['process_seconds_max']:>7.1f}  {exits:<10} {s['finished_postmortems']:>12} "
                     f"{len(s['new_versions']):>8} {len(s['running']):>7}  {_cpu_cell(r['cpu_seconds']):>22} "
                     f"{r['cpu_share_of_machine']:>5.0%} {r['machine_busy']:>5.0%} {r['loadavg_max']:>5.1f}")
    lines.append("CPU s: seconds of CPU the phase's processes (with their training subprocesses), the tracking server and "
                 "PostgreSQL spent; ours: that over wall x cores; all: the whole machine's busy share, every user's work; "
                 "load: highest 1-minute load average seen")
    for key, value in report["ratios"].items():
        lines.append(f"{key}: {value}")
    git = report["git"]
    lines.append(f"code: commit {git['commit']}{' with uncommitted changes' if git['dirty'] else ''}, "
                 f"package source sha256 {git['package_source_sha256']}; mlflow {report['versions']['mlflow']}, "
                 f"PostgreSQL {report['postgresql'] or '-'}; {report['started']}")
    for r in p.values():
        srv = r["server"]
        lines.append(f"server during {r['phase']}: {sum(srv['responses'].values())} responses, not 2xx/404: "
                     f"{srv['failed_responses'] or 'none'}; uvicorn workers replaced: {srv['workers_replaced']}; "
                     f"error lines: {srv['error_lines']}")
        if r.get("postgresql_sessions"):
            pg = r["postgresql_sessions"]
            lines.append(f"  PostgreSQL sessions of the store, peaks over {pg['samples']} samples: "
                         f"{pg.get('max_connections', 0)} connections, {pg.get('max_active', 0)} active, "
                         f"{pg.get('max_waiting_on_lock', 0)} waiting on a lock, "
                         f"{pg.get('max_idle_in_transaction', 0)} idle in a transaction")
        for message, count in r["error_messages"].items():
            lines.append(f"  {count} x {message}")
    for r in p.values():
        for bar, ok in r["bars"].items():
            lines.append(f"bar {r['phase']}: {bar}: {'met' if ok else 'NOT MET'}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-uri", default=os.environ.get(POSTGRES_URI_ENV),
                        help=f"postgresql://user@host:port, no database name (default ${POSTGRES_URI_ENV}; "
                             "without either a throwaway cluster is started)")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--workers", type=int, default=4, help="mlflow server workers")
    parser.add_argument("--uvicorn-opts", default=None, help="passed to `mlflow server --uvicorn-opts` "
                        "(e.g. '--timeout-worker-healthcheck 60'); recorded in the results")
    parser.add_argument("--concurrency", type=int, default=32, help="processes started at once in each concurrent phase")
    parser.add_argument("--quick", action="store_true", help="a smoke run: --concurrency 8")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a phase may take before its processes are killed")
    parser.add_argument("--output", type=Path, default=None, help=f"results JSON (default {RESULTS}; --quick: not written "
                                                                  "unless given)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the work folder (data, configs, process logs, server log) here")
    args = parser.parse_args()
    n = 8 if args.quick else args.concurrency
    output = args.output or (None if args.quick else RESULTS)

    live: list[Proc] = []
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    load_start = round(os.getloadavg()[0], 1)
    source_start = source_digest()
    say(f"load average at start {load_start} on {os.cpu_count()} CPUs")
    phases: dict[str, Any] = {}
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pm-bench-reliability-")))

        @stack.callback
        def _cleanup() -> None:  # processes still running after Ctrl-C or an exception: their whole groups
            for p in live:
                if p.popen.poll() is None:
                    _killpg(p.popen.pid, signal.SIGKILL)
                    p.popen.wait()
            if args.keep:
                shutil.copytree(root, args.keep, dirs_exist_ok=True)
                say(f"work folder kept in {args.keep}")

        postgres = None
        pg_version = None
        if args.backend == "postgresql":
            postgres = (args.postgres_uri.rstrip("/") if args.postgres_uri
                        else stack.enter_context(throwaway_postgres()))
            pg_version = _admin(postgres, "SHOW server_version")[0][0]
        (root / "server").mkdir()
        server = stack.enter_context(tracking_server(args.backend, postgres, root / "server", args.workers,
                                                     args.uvicorn_opts))
        env = _child_env({"MLFLOW_TRACKING_URI": server.uri})

        t0 = time.monotonic()
        scenario = Scenario()
        say(f"scenario data and models ready in {time.monotonic() - t0:.1f}s")
        phases["lone"] = phase_lone("lone", server.uri, scenario, root, env, args.timeout, live, mitigate=True)
        phases["same"] = phase_same("same", server.uri, scenario, root, env, args.timeout, live, n)
        phases["lone-verdict"] = phase_lone("lone-verdict", server.uri, scenario, root, env, args.timeout, live,
                                            mitigate=False)
        phases["many"] = phase_many("many", server.uri, scenario, root, env, args.timeout, live, n)
        log = server_log_facts(server.log.read_text(errors="replace"))
        server_alive = server.proc.poll() is None

    report = {
        "started": started_at, "backend": args.backend, "server_workers": args.workers, "uvicorn_opts": args.uvicorn_opts,
        "concurrency": n,
        "postgresql": pg_version,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loadavg_start": load_start, "loadavg_end": round(os.getloadavg()[0], 1)},
        "versions": {p: _version(p) for p in ("mlflow", "sqlalchemy", "psycopg", "pandas", "scikit-learn", "mlflow-postmortem")},
        "git": {**_git(), "package_source_sha256": source_start,
                "package_source_changed_during_run": source_digest() != source_start},
        "phases": phases,
        "ratios": {
            f"wall {n} identical / lone": round(phases["same"]["wall_seconds"] / phases["lone"]["wall_seconds"], 2),
            f"wall {n} different --no-mitigate / lone --no-mitigate":
                round(phases["many"]["wall_seconds"] / phases["lone-verdict"]["wall_seconds"], 2),
        },
        "server_log": log, "server_alive_at_end": server_alive,
    }
    missed = [f"{r['phase']}: {bar}" for r in phases.values() for bar, ok in r["bars"].items() if not ok]
    if report["git"]["package_source_changed_during_run"]:
        say("WARNING: mlflow_postmortem's source changed during the run: phases may have measured different code")
    report["missed"] = missed
    text = table(report)
    print(text)
    for r in phases.values():
        for f in r["failures"]:
            print(f"\n--- {r['phase']} process {f['process']} exit {f['exit']} after {f['seconds']}s, stderr tail:\n"
                  f"{f['stderr_tail']}", file=sys.stderr)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2) + "\n")
        output.with_suffix(".txt").write_text(text + "\n")
        say(f"wrote {output} and {output.with_suffix('.txt')}")
    if missed:
        print("\nBARS MISSED:\n" + "\n".join(f"  {m}" for m in missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: everything started was stopped and removed on the way out
        say("interrupted; processes, server, database and cluster stopped and removed")
        sys.exit(130)
