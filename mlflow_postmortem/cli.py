"""`mlflow-postmortem`: parse, call the package, exit.

Exit codes: 0 for a completed diagnosis whatever the verdict, 2 for bad input (one line on
stderr, no stack trace). Heavy imports (MLflow, the core) happen inside the commands, so
`--help` and config errors answer at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .config import load_config
from .errors import PostmortemError

PROG = "mlflow-postmortem"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except PostmortemError as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


def diagnose_command(args: argparse.Namespace) -> int:
    """Config → model (+ baseline) → data → verdict: summary on stdout, JSON to --output."""
    from .adapters import mlflow as registry
    from .data import load_inputs
    from .diagnose import diagnose

    say = _progress(args.quiet)
    config = load_config(args.config)
    tracking = registry.use_tracking_uri(args.tracking_uri)
    say(f"tracking store {tracking}")
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

    output = Path(args.output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(verdict.to_dict(), indent=2) + "\n")
    except OSError as exc:
        raise PostmortemError(f"cannot write --output {output}: {exc.strerror or exc}") from None

    if model.version != registry.UNREGISTERED and not args.no_record:
        say(f"tagging models:/{model.name}/{model.version} with {registry.ROOT_CAUSE_TAG}={verdict.root_cause}")
        registry.record_version_tags(model.name, model.version, verdict)

    print(f"post-mortem of {config.model} ({model.name} version {model.version})")
    print(verdict.summary)
    print(f"verdict written to {output}")
    return 0


def drill_command(args: argparse.Namespace) -> int:
    """Inject a known fault into real data and check that the post-mortem names it."""
    from .drills import cli_drill

    return cli_drill(args)


def _progress(quiet: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if not quiet:
            print(f"[postmortem] {message}", file=sys.stderr, flush=True)

    return say


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Why did a registered MLflow model get worse in production?")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    diagnose = commands.add_parser("diagnose", help="run the post-mortem for a config and write the verdict JSON")
    diagnose.add_argument("config", metavar="CONFIG", help="post-mortem config (YAML)")
    diagnose.add_argument("--output", "-o", default="verdict.json", help="where to write the verdict JSON (default: %(default)s)")
    diagnose.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    diagnose.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    diagnose.add_argument("--no-record", action="store_true", help="do not tag the reviewed model version with the verdict")
    diagnose.set_defaults(run=diagnose_command)

    drill = commands.add_parser("drill", help="inject known faults into real data and check the diagnosis names them")
    from .drills.suite import add_drill_arguments

    add_drill_arguments(drill)
    drill.set_defaults(run=drill_command)
    return parser
