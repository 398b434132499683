"""One post-mortem, end to end: config -> registered model and baseline -> data -> verdict.

The CLI, the demo and (later) the MLflow Project entry points all call `run_postmortem`, so
there is one path from a config file to a verdict and its registry tags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import load_config
from .data import load_inputs
from .diagnose import diagnose
from .errors import PostmortemError
from .types import Verdict


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    model_uri: str
    output: Path


def run_postmortem(config_path: str | Path, output: str | Path, *, tracking_uri: str | None = None,
                   record: bool = True, say: Callable[[str], None] = lambda message: None) -> Outcome:
    """Diagnose the model version a config names; write the verdict JSON; tag the version."""
    from .adapters import mlflow as registry

    config = load_config(config_path)
    say(f"tracking store {registry.use_tracking_uri(tracking_uri)}")
    registry.check_tracking_reachable()

    say(f"loading model {config.model}")
    model = registry.load_model_handle(config.model, trusted_types=config.skops_trusted_types)
    baseline_uri = config.baseline
    if baseline_uri is None and model.recorded_golden is None:
        baseline_uri = registry.previous_version_uri(config.model)
    if baseline_uri is not None:
        say(f"loading baseline {baseline_uri}")
    elif model.recorded_golden is not None:
        say("baseline: golden metrics recorded on the version's tags")
    baseline = registry.load_model_handle(baseline_uri, trusted_types=config.skops_trusted_types) if baseline_uri else None

    say("reading data")
    inputs = load_inputs(config, model.features)
    verdict = diagnose(inputs, model, baseline=baseline, windows=config.windows, progress=say)

    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(verdict.to_dict(), indent=2) + "\n")
    except OSError as exc:
        raise PostmortemError(f"cannot write --output {output}: {exc.strerror or exc}") from None

    if model.version != registry.UNREGISTERED and record:
        say(f"tagging models:/{model.name}/{model.version} with {registry.ROOT_CAUSE_TAG}={verdict.root_cause}")
        registry.record_version_tags(model.name, model.version, verdict)
    return Outcome(verdict, config.model, output)
