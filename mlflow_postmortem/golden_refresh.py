"""`refresh-golden`: the next golden set written beside the current one, logged, and named on the version.

The set (refresh.py) is written as `golden-v<N>.parquet` in the current golden set's folder
(never overwriting a file), logged as the `golden` dataset input of a `refresh-golden` run with
its lineage (params, tags and `golden_lineage.json`), and named on the model version by
`postmortem.golden.uri` and `postmortem.golden.digest`. A post-mortem of that version then reads
it instead of `data.golden`, unless the config says `golden.pin: true` (`golden_in_use`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd

from .adapters import models, registry, runs
from .config import Config, load_config
from .data import load_inputs
from .diagnose import fill_values, reference_profiles
from .errors import ConfigError, PostmortemError
from .lifecycle import Say, command_run, guarded, registered_version
from .refresh import Lineage, next_golden
from .retrain import split_recent

STEP = "refresh-golden"
URI_TAG, DIGEST_TAG, RUN_TAG = "postmortem.golden.uri", "postmortem.golden.digest", "postmortem.golden.run_id"
LINEAGE_ARTIFACT = "golden_lineage.json"
_VERSIONED = re.compile(r"^golden-v(\d+)\.parquet$")


@dataclass(frozen=True)
class GoldenRefresh:
    run_id: str
    path: Path
    #: sha256 of the file's bytes: the digest its dataset input and later post-mortems record
    file_digest: str
    lineage: Lineage
    model: str


def refresh_golden(config_path: str | Path, *, tracking_uri: str | None = None, experiment: str | None = None,
                   say: Say = lambda message: None) -> GoldenRefresh:
    """The command: the next golden set of the config's version, in a run of its own."""
    config = load_config(config_path)
    if not config.timestamp:
        raise ConfigError(f"{config.source}: refresh-golden needs key 'timestamp' (the next golden set is "
                          "stratified by time window)")
    if config.data.reference is None:
        raise ConfigError(f"{config.source}: refresh-golden needs key 'data.reference' (the next golden set leaves "
                          "out the rows the version was trained on; a stored profile holds only a sample of them)")
    version = registered_version(config, tracking_uri, "refresh-golden names the golden set on a registered version", say)
    config = golden_in_use(config, version, say)
    run = command_run(experiment, STEP, f"refresh golden {version.name} v{version.version}", version, say)
    say(f"refreshing the golden set of {version.uri} in run {run.run_id}")
    return guarded(run, lambda: refresh_into(run, config, version, say))


def refresh_into(run: runs.RunRef, config: Config, version: registry.RegisteredVersion, say: Say, *,
                 holdout_fraction: float | None = None) -> GoldenRefresh:
    """Build, write, log and name the next golden set. `holdout_fraction`: the version also learned
    from the labelled production rows older than this newest share (a mitigation's training rows),
    so those are kept out too."""
    trust = dict(trusted_types=config.skops_trusted_types, trust_pickle=config.trust_pickle)
    model = models.load_model_handle(version.uri, **trust)
    inputs = load_inputs(config, model.features)
    schema = inputs.schema
    references = reference_profiles(inputs)
    trained_on = inputs.reference if holdout_fraction is None else pd.concat(
        [inputs.reference, split_recent(inputs.current, schema.target, holdout_fraction)[0]])
    settings = config.golden
    say(f"refresh-golden: pooling {len(inputs.golden):,} golden rows with the labelled production rows of "
        f"{len(inputs.current):,}; excluding {len(trained_on):,} training rows")
    refreshed = next_golden(inputs.golden, inputs.current, trained_on, schema, model, fill_values(inputs, references),
                            references, size=settings.size, edge_share=settings.edge_share, window=settings.window,
                            slices=config.slices, sources={"golden": config.data.golden, "current": config.data.current,
                                                           "reference": config.data.reference})
    lineage = refreshed.lineage
    for note in lineage.notes:
        say(f"refresh-golden: {note}")
    path = _write_next(refreshed.frame, Path(config.data.golden.removeprefix("file://")))
    file_digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    say(f"refresh-golden: wrote {path} ({lineage.size:,} rows: {lineage.kept['golden']:,} from the golden set, "
        f"{lineage.kept['production']:,} from production; edge cases {lineage.edge_cases})")
    runs.log_datasets(run, [("golden", refreshed.frame, str(path), file_digest, schema.target)],
                      models=(version.model_id,) if version.model_id else ())
    runs.log_params(run, _params(lineage, path))
    runs.set_tags(run, {URI_TAG: str(path), DIGEST_TAG: file_digest, "postmortem.golden.parent_digest": lineage.parent_digest,
                        "postmortem.golden.rule": lineage.rule})
    runs.log_artifact_text(run, LINEAGE_ARTIFACT, json.dumps({**asdict(lineage), "uri": str(path),
                                                              "file_digest": file_digest}, indent=2))
    registry.set_version_tags(version.name, version.version, {URI_TAG: str(path), DIGEST_TAG: file_digest,
                                                              RUN_TAG: run.run_id})
    say(f"refresh-golden: {version.uri} tagged {URI_TAG}={path}")
    return GoldenRefresh(run.run_id, path, file_digest, lineage, version.uri)


def refresh_after_mitigation(parent: runs.RunRef, config: Config, name: str, version: str, holdout_fraction: float,
                             say: Say) -> GoldenRefresh | None:
    """`golden.refresh: true`: the version a mitigation registered gets its own next golden set, in a
    child run of the mitigate run. A failure costs a line, never the registered version."""
    registered = registry.resolve_version(f"models:/{name}/{version}")
    run = runs.start_run(parent.experiment_id, f"refresh golden {name} v{version}", parent=parent,
                         tags={runs.STEP_TAG: STEP, "postmortem.model": f"{name}/{version}"})
    try:
        return guarded(run, lambda: refresh_into(run, config, registered, say, holdout_fraction=holdout_fraction))
    except PostmortemError as exc:
        say(f"mitigate: the golden set was not refreshed ({exc})")
        return None


def golden_in_use(config: Config, version: registry.RegisteredVersion | None, say: Say) -> Config:
    """The config with `data.golden` as the version names it (its newest refresh), unless pinned or unnamed."""
    named = version.tags.get(URI_TAG) if version is not None else None
    if not named or config.golden.pin or named == config.data.golden:
        return config
    say(f"golden set: {named}, the newest refresh named on {version.uri} (golden.pin: true keeps data.golden)")
    return replace(config, data=replace(config.data, golden=named))


def _write_next(frame: pd.DataFrame, current: Path) -> Path:
    """`golden-v<N>.parquet` beside the current golden set, N one past the highest there (the first
    refresh writes v2: the config's own file is v1); an existing file is never overwritten."""
    folder = current.parent
    taken = [int(m.group(1)) for f in folder.glob("golden-v*.parquet") if (m := _VERSIONED.match(f.name))]
    number = max([1, *taken]) + 1
    while True:
        path = folder / f"golden-v{number}.parquet"
        try:
            with open(path, "xb") as handle:
                frame.to_parquet(handle, index=False)
            return path
        except FileExistsError:  # another refresh took this number a moment ago
            number += 1


def _params(lineage: Lineage, path: Path) -> dict[str, object]:
    out: dict[str, object] = {"golden.uri": str(path), "golden.parent_digest": lineage.parent_digest,
                              "golden.digest": lineage.digest, "golden.size": lineage.size, "golden.seed": lineage.seed,
                              "golden.strata": len(lineage.strata),
                              "golden.worst_slices": "; ".join(lineage.worst_slices) or "-"}
    for group in ("sources", "edge_cases", "removed", "kept"):
        out |= {f"golden.{group}.{k}": v for k, v in getattr(lineage, group).items()}
    return out
