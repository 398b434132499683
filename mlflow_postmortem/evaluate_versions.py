"""`evaluate-versions`: a model's versions scored on the same rows, one run per version.

Each version's run holds the same metric keys (`golden.accuracy`, `recent.accuracy`,
`golden.slice.contract:month-to-month.accuracy`, ...), linked to the version's logged model and
to the dataset they were computed on, so the version's model page shows them and MLflow's compare
view puts versions side by side. `recent` is the newest labelled production rows: the share a
retrained version was not trained on (the mitigation's holdout), so old and new versions meet on
rows neither has seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import retrain
from .adapters import models, registry, runs
from .config import Config, load_config
from .data import Inputs, load_inputs
from .errors import DataError, PostmortemError
from .golden_refresh import golden_in_use
from .reference_store import profile_in_use
from .evaluation import VersionScores, scored_for_ranking, slices_of, version_scores, worst_slices
from .lifecycle import Say, data_digests, digest, guarded, placement, point_to, registered_version
from .records import rounded, verdict_from_run
from .scoring import primary_metric

STEP = "evaluate_version"
#: which versions `--versions` picks by default
CHOICES = ("aliases", "all")


@dataclass(frozen=True)
class Evaluated:
    version: str
    aliases: tuple[str, ...]
    run_id: str
    scores: VersionScores


def evaluate_versions(config_path: str | Path, *, versions: str = "aliases", tracking_uri: str | None = None,
                      experiment: str | None = None, say: Say = lambda message: None) -> list[Evaluated]:
    """The command: the chosen versions of the config's model, each in a child run of one parent run."""
    config = load_config(config_path)
    reviewed = registered_version(config, tracking_uri, "evaluate-versions compares registered versions", say)
    config = profile_in_use(golden_in_use(config, reviewed, say), reviewed, say)
    chosen = choose_versions(reviewed, versions)
    where = placement(experiment, say)
    name = f"evaluate versions {reviewed.name}"
    if where.project_run is not None:
        runs.claim_run(where.project_run, {runs.STEP_TAG: "evaluate_versions", runs.RUN_NAME_TAG: name})
    parent = where.project_run or runs.start_run(where.experiment, name, tags={runs.STEP_TAG: "evaluate_versions"})
    point_to(where.pointer, parent.run_id, name, {})
    say(f"evaluating versions {', '.join(v.version for v in chosen)} of {reviewed.name} in run {parent.run_id}")
    return guarded(parent, lambda: evaluate_into(parent, config, reviewed, chosen, say))


def choose_versions(reviewed: registry.RegisteredVersion, which: str) -> list[registry.RegisteredVersion]:
    """`aliases`: the reviewed version, the one before it and every version an alias points at;
    `all`: every version; `2,5`: those."""
    every = registry.list_versions(reviewed.name)
    if which == "all":
        return every
    if which == "aliases":
        below = [v for v in every if int(v.version) < int(reviewed.version)]
        keep = {reviewed.version} | {v.version for v in below[-1:]}
        return [v for v in every if v.version in keep or v.aliases]
    wanted = [w.strip() for w in which.split(",") if w.strip()]
    known = {v.version: v for v in every}
    missing = [w for w in wanted if w not in known]
    if not wanted or missing:
        raise PostmortemError(f"--versions {which!r}: expected {' or '.join(CHOICES)} or version numbers of "
                              f"{reviewed.name} (it has {', '.join(known) or 'none'})")
    return [known[w] for w in wanted]


def evaluate_into(parent: runs.RunRef, config: Config, reviewed: registry.RegisteredVersion,
                  chosen: list[registry.RegisteredVersion], say: Say) -> list[Evaluated]:
    """Score each chosen version in a child run of `parent`, on slices fixed by the reviewed version."""
    from .diagnose import fill_values, reference_profiles

    trust = dict(trusted_types=config.skops_trusted_types, trust_pickle=config.trust_pickle)
    handles = {v.version: models.load_model_handle(f"models:/{v.name}/{v.version}", **trust) for v in chosen}
    pivot = handles.get(reviewed.version) or models.load_model_handle(reviewed.uri, **trust)
    inputs = load_inputs(config, pivot.features, profile_reference=True)
    schema = inputs.schema
    fill = fill_values(inputs, reference_profiles(inputs))
    fraction = dict(config.mitigation or {}).get("holdout_fraction", retrain.HOLDOUT_FRACTION)
    recent = _recent(inputs, fraction, say)

    configured = slices_of(inputs.reference, schema, config.slices)
    candidates = [s for s in slices_of(inputs.reference, schema, tuple(f for f in schema.features if f not in schema.text))
                  if s.key not in {c.key for c in configured}]
    worst = worst_slices(scored_for_ranking(pivot, inputs.golden, recent, schema, fill), candidates, schema.task)
    slices = configured + worst
    say(f"evaluate: slices {', '.join(s.description for s in slices) or 'none'}"
        + (f" (worst for version {reviewed.version}: {', '.join(s.key for s in worst)})" if worst else ""))

    digests = data_digests(config)
    recent_digest = digest({"current": digests["current"], "newest_labelled_share": fraction})[:16]
    evaluated = []
    for v in chosen:
        run = runs.start_run(parent.experiment_id, f"evaluate v{v.version}", parent=parent, tags={
            runs.STEP_TAG: STEP, "postmortem.model": f"{v.name}/{v.version}", "postmortem.version": v.version,
            "postmortem.aliases": ",".join(v.aliases) or "-",
            "postmortem.slices.worst": "; ".join(s.description for s in worst) or "-"})

        def work(v: registry.RegisteredVersion = v, run: runs.RunRef = run) -> VersionScores:
            golden = _golden_as_read_by(v, inputs.golden)
            scores = version_scores(v.version, handles[v.version], golden, recent, schema, fill, slices)
            runs.log_params(run, {"model_uri": f"models:/{v.name}/{v.version}", "model_id": v.model_id,
                                  "recent_rows": f"newest {fraction:.0%} of labelled production rows ({len(recent):,})",
                                  "slices": "; ".join(s.description for s in slices) or "-"})
            runs.log_datasets(run, [("golden", golden, config.data.golden, digests["golden"], config.target),
                                    ("recent", recent, config.data.current, recent_digest, config.target)],
                              models=(v.model_id,) if v.model_id else ())
            runs.log_metrics(run, rounded({f"golden.{k}": x for k, x in scores.golden.items()}),
                             model_id=v.model_id, dataset=("golden", digests["golden"]))
            runs.log_metrics(run, rounded({f"recent.{k}": x for k, x in scores.recent.items()}),
                             model_id=v.model_id, dataset=("recent", recent_digest))
            return scores

        scores = guarded(run, work)
        evaluated.append(Evaluated(v.version, v.aliases, run.run_id, scores))
        say(f"evaluate: version {v.version}{' (' + ', '.join(v.aliases) + ')' if v.aliases else ''}: "
            + _headline(scores, schema.task))
    return evaluated


def table(evaluated: list[Evaluated]) -> str:
    """One line per version: its aliases, each set's whole-set metrics, its run."""
    sets = ("golden", "recent")
    keys = sorted({k for e in evaluated for k in (*e.scores.golden, *e.scores.recent) if "." not in k and k != "rows"})
    lines = ["version  aliases              " + "  ".join(f"{s + '.' + k:>16}" for s in sets for k in keys) + "  run"]
    for e in evaluated:
        values = [getattr(e.scores, s).get(k) for s in sets for k in keys]
        lines.append(f"{e.version:>7}  {','.join(e.aliases) or '-':<20} "
                     + "  ".join(f"{v:>16.4f}" if v is not None else f"{'-':>16}" for v in values) + f"  {e.run_id}")
    return "\n".join(lines)


def _recent(inputs: Inputs, fraction: float, say: Say) -> pd.DataFrame:
    """The newest labelled production rows, or none when there are too few labels to hold any out."""
    try:
        return retrain.split_recent(inputs.current, inputs.schema.target, fraction)[1]
    except DataError as exc:
        say(f"evaluate: no recent production metrics ({exc})")
        return inputs.current.iloc[0:0]


def _golden_as_read_by(version: registry.RegisteredVersion, golden: pd.DataFrame) -> pd.DataFrame:
    """The golden set in the feature definition the version was trained on: a version retrained for a
    recalibrated feature reads it in its new definition, as the challenger gate scored it."""
    if version.tags.get("postmortem.mitigation") != "retrain_correct_feature_version":
        return golden
    verdict = verdict_from_run(version.tags["postmortem.diagnosis_run_id"])
    return retrain.transform_feature(golden, verdict.top.features[0], verdict.top.evidence)


def _headline(scores: VersionScores, task: str) -> str:
    metric, _ = primary_metric(task)
    parts = [f"{name} {values[metric]:.4g}" for name, values in (("golden", scores.golden), ("recent", scores.recent))
             if metric in values]
    return f"{metric}: " + ", ".join(parts) if parts else "nothing scored"

