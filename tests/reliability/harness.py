"""What the reliability tests build on a live server and check afterwards.

`scenario` registers two real churn models on the server and writes a production log whose
`monthly_charges` arrives in cents (a post-mortem that ends in retraining, so every step,
the training process and the gate all run). `problems` reads the store back and lists what
must never be there: a run left RUNNING, two finished post-mortems with one key, a version a
mitigation registered without a finished gate, an alias on a version that did not pass it.
"""

from __future__ import annotations

import functools
import queue
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from mlflow import MlflowClient

from mlflow_postmortem import demo
from mlflow_postmortem.drills import Dataset, Drill, inject, make_dataset, make_drill, split_dataset
from mlflow_postmortem.drills.base import Split

from support import BIN_DIR, tracking

TRUSTED = [*demo.TRUSTED_TYPES, "functools.partial", "sklearn.utils.validation.check_array"]


def scenario(server: str, root: Path, name: str, *, n_rows: int = 2_000, customers: int = 6_000,
             **config: Any) -> Path:
    """Data files, `name` v1 and v2 registered on `server`, and a pm.yaml reviewing v2; 45% of
    `customers` are the reference."""
    from mlflow_postmortem.adapters import registry

    ds, split, drill = _drill(n_rows, customers)
    root.mkdir(parents=True, exist_ok=True)
    for role in ("reference", "golden", "current"):
        getattr(drill.frames, role).to_parquet(root / f"{role}.parquet", index=False)
    X = split.reference[list(ds.features)]
    with tracking(server, experiment="pm-reliability-setup"):
        registry.register_sklearn_model(split.baseline, name, X, trusted_types=tuple(TRUSTED))
        version = registry.register_sklearn_model(split.model, name, X, trusted_types=tuple(TRUSTED))
    raw = {"model": f"models:/{name}/{version}", "task": "classification", "target": demo.TARGET,
           "timestamp": drill.timestamp, "entity_id": drill.entity_id, "categorical": list(ds.categorical),
           "skops_trusted_types": TRUSTED, "data": {role: f"{role}.parquet" for role in ("reference", "golden", "current")},
           "evidently": False,  # Evidently's pages are tested elsewhere; seconds saved in every run here
           **config}
    (root / "pm.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return root / "pm.yaml"


@functools.cache
def _drill(n_rows: int, customers: int) -> tuple[Dataset, Split, Drill]:
    """The churn table, its split (the models it fits) and the drill, built once per process: every scenario
    is the same data; only the server it is registered on and the model's name differ."""
    ds = make_dataset(demo.customers(customers, seed=11), name="churn", task="classification", target=demo.TARGET,
                      categorical=demo.CATEGORICAL)
    split = split_dataset(ds)
    drill = inject(make_drill(ds, n_rows=n_rows, seed=3), "feature_recalibration", feature="monthly_charges",
                   variant="scale", magnitude=100.0)
    return ds, split, drill


def problems(server: str, experiment: str, model: str) -> list[str]:
    """Everything in the store that breaks the guarantees; empty when all is well."""
    client = MlflowClient(server)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000) if exp else []
    found = [f"run {r.info.run_id} ({r.info.run_name}) left RUNNING" for r in runs if r.info.status == "RUNNING"]
    keys = Counter(r.data.tags.get("postmortem.key") for r in runs
                   if r.info.status == "FINISHED" and r.data.tags.get("postmortem.step") == "postmortem")
    found += [f"{n} finished post-mortems with key {key}" for key, n in keys.items() if n > 1]
    versions = {str(v.version): v.tags for v in client.search_model_versions(f"name='{model}'")}
    found += [f"version {v} registered by a mitigation has no finished gate" for v, tags in versions.items()
              if "postmortem.key" in tags and tags.get("postmortem.gate") not in ("passed", "failed")]
    for alias, version in client.get_registered_model(model).aliases.items():
        tags = versions[str(version)]
        if "postmortem.key" in tags and tags.get("postmortem.gate") != "passed":
            found.append(f"alias {alias} on version {version}, whose gate did not pass")
    return found


def new_versions(server: str, model: str) -> list[str]:
    """The versions mitigations registered (the two the scenario registered have no key)."""
    return sorted(str(v.version) for v in MlflowClient(server).search_model_versions(f"name='{model}'")
                  if "postmortem.key" in v.tags)


class Cli:
    """`mlflow-postmortem ARGS` as a subprocess whose stderr is read as it comes, line by line,
    so a test can act (send a signal, kill the server) when the command reaches a step."""

    def __init__(self, *args: str, env: dict[str, str], cwd: Path) -> None:
        import os

        full_env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")}
        full_env.update(env)
        full_env["PATH"] = f"{BIN_DIR}{os.pathsep}{full_env.get('PATH', '')}"
        self.proc = subprocess.Popen(["mlflow-postmortem", *args], env=full_env, cwd=cwd, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self._stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self._stdout.append(self.proc.stdout.read()), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self._new.put(line)
        self._new.put(None)

    def wait_for(self, pattern: str, timeout_s: float = 300) -> str:
        """The first stderr line matching `pattern`; fails if the command ends or time runs out first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._new.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"command ended before {pattern!r}:\n{''.join(self.lines)[-3000:]}")
            self.lines.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no {pattern!r} within {timeout_s}s:\n{''.join(self.lines)[-3000:]}")

    def finish(self, timeout_s: float = 600) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) once the command has ended."""
        code = self.proc.wait(timeout=timeout_s)
        while (line := self._new.get(timeout=30)) is not None:
            self.lines.append(line)
        for _ in range(300):
            if self._stdout:
                break
            time.sleep(0.1)
        return code, "".join(self._stdout), "".join(self.lines)
