"""MLflow and Evidently stay at the edge: only the adapters import them, and Evidently only one."""

from __future__ import annotations

import ast
from pathlib import Path

import mlflow_postmortem

PACKAGE = Path(mlflow_postmortem.__file__).parent


def _imports(path: Path, library: str) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == library for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == library:
            return True
    return False


def test_only_the_mlflow_adapters_import_mlflow() -> None:
    importers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if _imports(p, "mlflow"))

    assert importers == ["adapters/models.py", "adapters/projects.py", "adapters/registry.py", "adapters/runs.py",
                         "adapters/tracking.py"]


def test_only_the_evidently_adapter_imports_evidently() -> None:
    importers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if _imports(p, "evidently"))

    assert importers == ["adapters/evidently.py"]
