"""MLflow stays at the edge: one adapter module imports it, nothing else in the package does."""

from __future__ import annotations

import ast
from pathlib import Path

import mlflow_postmortem

PACKAGE = Path(mlflow_postmortem.__file__).parent


def _imports_mlflow(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "mlflow" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "mlflow":
            return True
    return False


def test_only_the_mlflow_adapter_imports_mlflow() -> None:
    importers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if _imports_mlflow(p))

    assert importers == ["adapters/mlflow.py"]
