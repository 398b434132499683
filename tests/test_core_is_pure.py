"""The core runs without MLflow or Evidently importable: data in, typed verdict (or fired alerts) out."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).parent

SCRIPT = textwrap.dedent("""
    import sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("mlflow", "evidently"):
                raise ImportError(f"{name} is blocked: the core must not import it")

    sys.meta_path.insert(0, Block())
    sys.path.insert(0, sys.argv[1])
    import mlflow_postmortem.alerts  # the alert rules are core too
    import mlflow_postmortem.refresh  # and the choice of the next golden set
    from mlflow_postmortem.diagnose import diagnose
    from synthetic import current, inputs, world

    verdict = diagnose(inputs(current(1000)), world().model)
    print(verdict.root_cause)
""")


def test_diagnosis_runs_with_mlflow_and_evidently_unimportable() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(TESTS)], capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "healthy"


def test_the_readme_s_drill_api_imports_and_covers_every_cause() -> None:
    from mlflow_postmortem.drills import INJECTORS, inject, make_dataset, make_drill, run_drill
    from mlflow_postmortem.types import CAUSES, MITIGATIONS

    assert all(callable(f) for f in (inject, make_dataset, make_drill, run_drill))
    assert set(INJECTORS) == set(CAUSES) == set(MITIGATIONS)
