"""The README documents what the code does: every detector threshold, with its default."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_postmortem.detectors import parameters

README = (Path(__file__).parent.parent / "README.md").read_text()
TABLE = README.split("### Thresholds", 1)[-1].split("\n## ", 1)[0]
THRESHOLDS = [(key, name, default) for key, values in parameters().items() for name, default in values.items()]


@pytest.mark.parametrize(("key", "name", "default"), THRESHOLDS, ids=[f"{k}.{n}" for k, n, _ in THRESHOLDS])
def test_every_threshold_is_documented_with_its_default(key: str, name: str, default: float) -> None:
    row = next((line for line in TABLE.splitlines() if line.startswith(f"| `{key}` |")), None)
    assert row is not None, f"no row for detectors.{key} in the README's thresholds table"
    assert f"`{name}` = {default:g}" in row
