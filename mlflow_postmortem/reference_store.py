"""The reference profile on the model version: stored once, found again by configs without `data.reference`.

`mlflow-postmortem profile` stores it in a `profile` run of its own; a recorded post-mortem of a
version that has none stores it in its diagnose run. Either way the artifact folder
`reference_profile/` (reference_profile.py) is named on the version by `postmortem.profile.uri`,
with the digest of the reference file(s) and their row count beside it. A config without
`data.reference` then diagnoses and monitors from it (`profile_in_use`); retraining still needs
the rows.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from . import reference_profile
from .adapters import models, registry, runs
from .config import Config, load_config
from .data import Inputs, load_inputs, log_head
from .diagnose import fill_values, reference_profiles
from .errors import ConfigError, DataError
from .lifecycle import Say, command_run, data_digests, guarded, registered_version
from .types import ModelHandle

STEP = "profile"
ARTIFACT = "reference_profile"
URI_TAG, DIGEST_TAG, ROWS_TAG = "postmortem.profile.uri", "postmortem.profile.digest", "postmortem.profile.rows"


@dataclass(frozen=True)
class Stored:
    uri: str
    digest: str
    rows: int
    run_id: str


def store_profile(config_path: str | Path, *, tracking_uri: str | None = None, experiment: str | None = None,
                  say: Say = lambda message: None) -> Stored:
    """The command: profile `data.reference` and name the profile on the config's version, in a run of its own."""
    config = load_config(config_path)
    if config.data.reference is None:
        raise ConfigError(f"{config.source}: profile needs key 'data.reference' (the rows the version was trained on)")
    version = registered_version(config, tracking_uri, "profile stores the profile on a registered version", say)
    run = command_run(experiment, STEP, f"profile {version.name} v{version.version}", version, say)

    def work() -> Stored:
        trust = dict(trusted_types=config.skops_trusted_types, trust_pickle=config.trust_pickle)
        model = models.load_model_handle(version.uri, **trust)
        say(f"profiling data.reference ({config.data.reference})")
        inputs = load_inputs(config, model.features, current=log_head(config), profile_reference=True, say=say)
        earlier = version.tags.get(URI_TAG)
        stored = store(run, inputs, data_digests(config, ("reference",))["reference"], model)
        say(f"stored {stored.rows:,} reference rows' profile as {stored.uri}"
            + (f" (replacing {earlier})" if earlier else ""))
        return stored

    return guarded(run, work)


def keep_first(run: runs.RunRef, config: Config, inputs: Inputs, reference_digest: str, model: ModelHandle,
               say: Say) -> None:
    """At a recorded post-mortem: store the profile if the version has none yet."""
    if config.data.reference is None or model.version == registry.UNREGISTERED:  # a stored profile in use
        return
    if URI_TAG in registry.version_tags(model.name, model.version):
        return
    stored = store(run, inputs, reference_digest, model)
    say(f"stored the reference profile on models:/{model.name}/{model.version}: {stored.uri}")


def store(run: runs.RunRef, inputs: Inputs, reference_digest: str, model: ModelHandle) -> Stored:
    """Profile the reference rows (or take the profile read in batches), log it to `run`, and name
    it on the (registered) version."""
    if inputs.profile is not None:
        profile = replace(inputs.profile, digest=reference_digest)
    else:
        references = reference_profiles(inputs)
        profile = reference_profile.build(inputs.reference, inputs.schema, references, fill_values(inputs, references),
                                          reference_digest)
    with tempfile.TemporaryDirectory() as tmp:
        runs.log_artifacts(run, reference_profile.write(profile, Path(tmp) / ARTIFACT), ARTIFACT)
    stored = Stored(f"runs:/{run.run_id}/{ARTIFACT}", reference_digest, profile.rows, run.run_id)
    registry.set_version_tags(model.name, model.version,
                              {URI_TAG: stored.uri, DIGEST_TAG: stored.digest, ROWS_TAG: str(stored.rows)})
    return stored


def profile_in_use(config: Config, version: registry.RegisteredVersion | None, say: Say) -> Config:
    """The config with `data.profile` set to the version's stored profile when `data.reference` is not given."""
    if config.data.reference is not None:
        return config
    uri = version.tags.get(URI_TAG) if version is not None else None
    if not uri:
        where = version.uri if version is not None else config.model
        raise DataError(f"data.reference is not given and {where} has no stored reference profile (tag {URI_TAG}): "
                        "add data.reference, or store one first with `mlflow-postmortem profile` on a config that has it")
    rows = version.tags.get(ROWS_TAG, "?")
    say(f"reference: the profile stored on {version.uri}, {uri} ({rows} rows; data.reference is not given)")
    folder = runs.cached_artifacts(uri, f"profile-{version.tags.get(DIGEST_TAG, 'unknown')}-{_run_of(uri)}")
    return replace(config, data=replace(config.data, profile=str(folder)))


def _run_of(uri: str) -> str:
    return uri.removeprefix("runs:/").partition("/")[0]
