"""`mlflow-postmortem`: parse, call the package, exit.

Exit codes: 0 for a completed diagnosis whatever the verdict, 2 for bad input (one line on
stderr, no stack trace). Heavy imports (MLflow, the core) happen inside the commands, so
`--help` and config errors answer at once.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, NoReturn, Sequence

from . import __version__
from .errors import Interrupted, PostmortemError

PROG = "mlflow-postmortem"


def entry_point(argv: Sequence[str] | None = None) -> NoReturn:
    """The process's entry: `main`, Python's own shutdown, then exit without C++ teardown.

    Arrow's Parquet reader leaves native threads that, now and then, abort the process while
    C++ statics are destroyed after Python is done (SIGABRT, "terminate called without an
    active exception", apache/arrow#34314): a finished post-mortem or a clean exit 2 would read
    as a crash. So the exit code is decided, threads joined, exit handlers run (MLflow's
    included) and streams flushed as usual, and only that last native teardown is skipped.
    """
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors and --help, the tracking-server probe
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    threading._shutdown()  # what the interpreter does first on exit: wait for non-daemon threads
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(drill_arguments=argv[:1] == ["drill"]).parse_args(argv)
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", _arrow_allocator(getattr(args, "config", None)))
    _probe_tracking_server(args)
    _stop_on_signals()
    try:
        return args.run(args)
    except PostmortemError as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        adapter = sys.modules.get("mlflow_postmortem.adapters.runs")
        ended = adapter.end_open_runs(exc) if adapter else []
        print(f"{PROG}: {exc}" + (f"; runs {', '.join(ended)} ended KILLED" if ended else ""), file=sys.stderr)
        return 128 + exc.signum


#: a signal's clean-up (ending runs, stopping a training process) gets this long, within the 10 s promised
CLEANUP_S = 8.0


def _stop_on_signals() -> None:
    """SIGTERM and SIGINT raise Interrupted in the main thread: every run open on the way out
    ends KILLED with the reason. Later signals are ignored so the clean-up is not cut short;
    it is bounded instead (CLEANUP_S), and SIGKILL still works."""
    def interrupt(signum: int, _frame) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        adapter = sys.modules.get("mlflow_postmortem.adapters.tracking")
        if adapter is not None:
            adapter.give_up_by(time.monotonic() + CLEANUP_S)
        raise Interrupted(signal.Signals(signum).name, signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, interrupt)


def _probe_tracking_server(args: argparse.Namespace) -> None:
    """An unreachable or silent server fails here, before the seconds of heavy imports."""
    from .reachable import probe_tracking_server

    uri = getattr(args, "tracking_uri", None) or os.environ.get("MLFLOW_TRACKING_URI", "")
    try:
        probe_tracking_server(uri)
    except PostmortemError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def diagnose_command(args: argparse.Namespace) -> int:
    """Config -> verdict, no runs: summary on stdout, JSON to --output, progress on stderr."""
    from .postmortem import diagnose_config

    return _report(diagnose_config(args.config, args.output, tracking_uri=args.tracking_uri,
                                   record=not args.no_record, say=_progress(args.quiet)))


def run_command(args: argparse.Namespace) -> int:
    """The whole post-mortem recorded in MLflow: a parent run, one child run per step."""
    from .postmortem import run_postmortem

    outcome = run_postmortem(args.config, args.output, tracking_uri=args.tracking_uri, record=not args.no_record,
                             experiment=args.experiment, mitigate=not args.no_mitigate, say=_progress(args.quiet))
    _report(outcome)
    if outcome.mitigation is not None:
        print(outcome.mitigation.describe())
    return 0


def mitigate_command(args: argparse.Namespace) -> int:
    """Act on a finished post-mortem run: retrain / fine-tune and gate, or write an action plan."""
    from .postmortem import mitigate_run

    print(mitigate_run(args.from_run, tracking_uri=args.tracking_uri, say=_progress(args.quiet)).describe())
    return 0


def train_command(args: argparse.Namespace) -> int:
    """The reference trainer (the package's `trainer` project): logs into the run `mlflow run` opened."""
    from .adapters import runs
    from .lifecycle import guarded
    from .mitigation import train_reference

    run = runs.project_run()
    if run is None:
        raise PostmortemError("train runs inside 'mlflow run' of the package's trainer/ folder, as mitigate launches it "
                              "(it needs the run MLflow opens)")
    runs.claim_run(run, {runs.STEP_TAG: "train"})  # this process's host and pid: a later post-mortem sees if it died
    guarded(run, lambda: train_reference(args.diagnosis_run, args.mitigation, run, say=_progress(args.quiet)))
    return 0


def step_command(args: argparse.Namespace) -> int:
    """One step of the post-mortem on its own, logging into the run `mlflow run` opened."""
    from .postmortem import run_step

    result = run_step(args.step, args.config, golden_uri=args.golden_uri or None, drift_run=args.drift_run or None,
                      say=_progress(args.quiet))
    print(getattr(result, "summary", None) or f"{args.step} finished")
    return 0


def evaluate_versions_command(args: argparse.Namespace) -> int:
    """Versions side by side: one run per version, the same metric keys, a table on stdout."""
    from .evaluate_versions import evaluate_versions, table

    evaluated = evaluate_versions(args.config, versions=args.versions, tracking_uri=args.tracking_uri,
                                  experiment=args.experiment, say=_progress(args.quiet))
    print(table(evaluated))
    return 0


def monitor_command(args: argparse.Namespace) -> int:
    """The complete windows not recorded yet, one line each, added to the version's monitoring run;
    windows updated by late labels and alerts raised, one line each."""
    from .adapters import runs
    from .monitor import describe, monitor

    done = monitor(args.config, tracking_uri=args.tracking_uri, experiment=args.experiment, say=_progress(args.quiet))
    for report in done.new:
        print(describe(report, done.metric))
    for late in done.relabelled:
        print(f"{late.window.start:%Y-%m-%d %H:%M} late labels: realised {done.metric} {late.realised:.3f} on "
              f"{late.labelled:,} labelled rows (was {late.before:,})")
    print(f"{len(done.new)} new window(s), {done.skipped} recorded before"
          + (f", {len(done.relabelled)} updated by late labels" if done.relabelled else "")
          + (f", {done.open_window.start:%Y-%m-%d %H:%M} still open" if done.open_window else "")
          + f"; {done.estimate_note}")
    for fired in done.alerts:
        print(fired.describe())
        if fired.webhook_error:
            print(f"{PROG}: warning: the webhook of alert {fired.number} failed ({fired.webhook_error}); the alert "
                  "is recorded on the model version and its post-mortem started all the same", file=sys.stderr)
    print(f"monitoring run {done.run_id}: {runs.ui_url(runs.run_experiment(done.run_id), done.run_id)}")
    return 0


def refresh_golden_command(args: argparse.Namespace) -> int:
    """The next golden set: its file, its counts, the run that logged it."""
    from .adapters import runs
    from .golden_refresh import refresh_golden

    done = refresh_golden(args.config, tracking_uri=args.tracking_uri, experiment=args.experiment,
                          say=_progress(args.quiet))
    lineage = done.lineage
    print(f"golden set {done.path}: {lineage.size:,} rows ({lineage.kept['golden']:,} from the golden set "
          f"{lineage.parent_digest}, {lineage.kept['production']:,} labelled production rows); edge cases "
          + ", ".join(f"{k} {v}" for k, v in lineage.edge_cases.items()) + "; removed "
          + ", ".join(f"{k} {v}" for k, v in lineage.removed.items()))
    for note in lineage.notes:
        print(note)
    print(f"named on {done.model} (postmortem.golden.uri); run {done.run_id}: "
          f"{runs.ui_url(runs.run_experiment(done.run_id), done.run_id)}")
    return 0


def profile_command(args: argparse.Namespace) -> int:
    """The reference profile stored with the version: where, and what it covers."""
    from .adapters import runs
    from .reference_store import store_profile

    done = store_profile(args.config, tracking_uri=args.tracking_uri, experiment=args.experiment,
                         say=_progress(args.quiet))
    print(f"reference profile of {done.rows:,} rows (digest {done.digest}) stored as {done.uri} and named on the "
          f"version (postmortem.profile.uri): configs without data.reference now diagnose and monitor from it")
    print(f"run {done.run_id}: {runs.ui_url(runs.run_experiment(done.run_id), done.run_id)}")
    return 0


def _report(outcome) -> int:
    model = outcome.verdict.model
    print(f"post-mortem of {outcome.model_uri} ({model['name']} version {model['version']})")
    if outcome.repeat_of:
        print(f"repeat of the identical post-mortem run {outcome.repeat_of}: its verdict follows")
    print(outcome.verdict.summary)
    written = f"verdict written to {outcome.output}" if str(outcome.output) != "-" else "verdict.json kept in the run"
    print(written + (f"; MLflow run {outcome.run_id}" if outcome.run_id else ""))
    if outcome.url:
        print(f"in the MLflow UI: {outcome.url}")
    return 0


def demo_command(args: argparse.Namespace) -> int:
    """A real model, a production log with a known fault, and the post-mortem that finds it."""
    from .demo import run_demo

    return run_demo(Path(args.folder), say=_progress(args.quiet))


def drill_command(args: argparse.Namespace) -> int:
    """Inject a known fault into real data and check that the post-mortem names it."""
    from .drills import cli_drill

    return cli_drill(args)


def _progress(quiet: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if not quiet:
            print(f"[postmortem] {message}", file=sys.stderr, flush=True)

    return say


def _store_options(command: argparse.ArgumentParser, *, experiment: bool) -> None:
    """Where a command records (the tracking store, the experiment) and whether it says so as it goes."""
    command.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    if experiment:
        command.add_argument("--experiment", help="MLflow experiment (default: MLFLOW_EXPERIMENT_NAME, else 'postmortem')")
    command.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")


def _arrow_allocator(config_path: str | None) -> str:
    """Arrow's allocator for this process, chosen before Arrow loads (it reads the choice once); a
    user's own ARROW_DEFAULT_MEMORY_POOL is kept. Reading a log or a reference in batches (engine
    arrow): Arrow's own (mimalloc), since the system's malloc would hold the pages each batch frees
    around the few rows kept from it, and memory would grow with the rows read. Reading files
    whole: the system's, which read a 400 MB Parquet file in 0.4 s here where mimalloc took 0.3 to
    1.2 s."""
    import yaml

    from .config import _resolve, engine_for_log

    try:  # the config's few keys only: loading it whole would load pandas, and Arrow with it
        raw = yaml.safe_load(Path(config_path).read_text()) if config_path else None
        engine, data = str(raw.get("engine", "auto")), raw["data"]  # type: ignore[union-attr,index]
        current = _resolve(str(data["current"]), Path(config_path).parent, str(config_path))
        reference = _resolve(str(data["reference"]), Path(config_path).parent, str(config_path)) \
            if data.get("reference") else None
        batches = engine_for_log(engine, current) == "arrow" or (  # the spark engine reads a reference with Arrow
            reference is not None and engine_for_log(engine, reference) != "pandas")
        return "mimalloc" if batches else "system"
    except Exception:  # any problem with the config is the command's to report
        return "system"


def _parser(*, drill_arguments: bool) -> argparse.ArgumentParser:
    """Every command; the drill command's own arguments only when it is the one given, as they
    import the drills and scikit-learn's estimators (a second and a half in every process)."""
    parser = argparse.ArgumentParser(prog=PROG, description="Why did a registered MLflow model get worse in production?")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    diagnose = commands.add_parser("diagnose", help="run the post-mortem for a config and write the verdict JSON")
    diagnose.add_argument("config", metavar="CONFIG", help="post-mortem config (YAML)")
    diagnose.add_argument("--output", "-o", default="verdict.json", help="where to write the verdict JSON (default: %(default)s)")
    _store_options(diagnose, experiment=False)
    diagnose.add_argument("--no-record", action="store_true", help="do not tag the reviewed model version with the verdict")
    diagnose.set_defaults(run=diagnose_command)

    run = commands.add_parser("run", help="the whole post-mortem recorded in MLflow (parent run, one child run per step)")
    run.add_argument("config", metavar="CONFIG", help="post-mortem config (YAML)")
    run.add_argument("--output", "-o", default="verdict.json",
                     help="where to write the verdict JSON, '-' for nowhere (default: %(default)s)")
    _store_options(run, experiment=True)
    run.add_argument("--no-record", action="store_true", help="do not tag the reviewed model version")
    run.add_argument("--no-mitigate", action="store_true", help="stop after the verdict (no mitigate step)")
    run.set_defaults(run=run_command)

    mitigate = commands.add_parser("mitigate", help="act on a finished post-mortem run (retrain, fine-tune, action plan)")
    mitigate.add_argument("--from-run", required=True, metavar="RUN_ID", help="the post-mortem (parent) run")
    _store_options(mitigate, experiment=False)
    mitigate.set_defaults(run=mitigate_command)

    versions = commands.add_parser("evaluate-versions", help="score a model's versions side by side on the golden set "
                                                            "and the newest labelled production rows, one run each")
    versions.add_argument("config", metavar="CONFIG", help="post-mortem config (YAML); its model names the registered model")
    versions.add_argument("--versions", default="aliases", metavar="WHICH",
                          help="'aliases' (the config's version, the one before it, every aliased one), 'all', or "
                               "version numbers like 2,5 (default: %(default)s)")
    _store_options(versions, experiment=True)
    versions.set_defaults(run=evaluate_versions_command)

    watch = commands.add_parser("monitor", help="record the production log's complete calendar windows not recorded "
                                                "yet (drift, score drift, estimated and realised metric) as curves")
    watch.add_argument("config", metavar="CONFIG", help="post-mortem config (YAML) with a timestamp; `monitor:` sets "
                                                        "the window and the drift test")
    _store_options(watch, experiment=True)
    watch.set_defaults(run=monitor_command)

    refresh = commands.add_parser("refresh-golden", help="the next golden set from labelled production rows and the "
                                                         "current one, logged with its lineage and named on the version")
    refresh.add_argument("config", metavar="CONFIG", help="post-mortem config (YAML) with a timestamp; `golden:` sets "
                                                          "the size, the edge-case share and the time strata")
    _store_options(refresh, experiment=True)
    refresh.set_defaults(run=refresh_golden_command)

    stored = commands.add_parser("profile", help="store the reference profile with the model version, so "
                                                 "diagnose and monitor need no data.reference")
    stored.add_argument("config", metavar="CONFIG", help="post-mortem config (YAML) with data.reference")
    _store_options(stored, experiment=True)
    stored.set_defaults(run=profile_command)

    train = commands.add_parser("train", help="the reference trainer (mlflow_postmortem/trainer, inside 'mlflow run')")
    train.add_argument("--diagnosis-run", required=True, metavar="RUN_ID")
    train.add_argument("--mitigation", required=True, choices=("retrain", "fine_tune", "online_update",
                                                                "retrain_correct_feature_version"))
    train.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    train.set_defaults(run=train_command)

    step = commands.add_parser("step", help="one post-mortem step on its own (the MLproject's step entry points)")
    step.add_argument("step", choices=("golden_eval", "drift_report", "diagnose"))
    step.add_argument("config", metavar="CONFIG", help="post-mortem config (YAML)")
    step.add_argument("--golden-uri", default="", help="diagnose: golden.json of a golden_eval run (runs:/ID/golden.json)")
    step.add_argument("--drift-run", default="", help="diagnose: the drift_report run whose Evidently reports to link")
    step.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    step.set_defaults(run=step_command)

    demo = commands.add_parser("demo", help="train and register a model, break its production data, diagnose it")
    demo.add_argument("--folder", default="postmortem-demo", help="where the demo writes its data, config and verdict "
                                                                 "(default: %(default)s)")
    demo.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    demo.set_defaults(run=demo_command)

    drill = commands.add_parser("drill", help="inject known faults into real data and check the diagnosis names them")
    if drill_arguments:
        from .drills.suite import add_drill_arguments

        add_drill_arguments(drill)
    drill.set_defaults(run=drill_command)
    return parser
