"""MLflow and Evidently stay at the edge: one adapter module imports each, nothing else does."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mlflow_postmortem

PACKAGE = Path(mlflow_postmortem.__file__).parent


def _imports(path: Path, library: str) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == library for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == library:
            return True
    return False


@pytest.mark.parametrize("library", ["mlflow", "evidently"])
def test_only_the_library_s_own_adapter_imports_it(library: str) -> None:
    importers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if _imports(p, library))

    assert importers == [f"adapters/{library}.py"]
