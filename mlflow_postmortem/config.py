"""The YAML config contract of DESIGN.md, validated into a frozen dataclass.

Errors name the key or file at fault so that a user can fix the file from the message alone.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import ConfigError

if TYPE_CHECKING:
    from .alerts import Rule

_TOP_KEYS = {
    "model", "task", "target", "prediction", "timestamp", "entity_id", "features",
    "categorical", "text", "baseline", "data", "windows", "skops_trusted_types", "trust_pickle", "mitigation",
    "detectors", "slices", "evidently", "monitor", "alerts", "golden", "engine",
}
#: how data.current is read: in memory, in Arrow batches (Parquet), or chosen by its size
ENGINES = ("auto", "pandas", "arrow", "spark")
#: with engine spark, data.current and data.training_view may name a table of the Spark session's catalog
TABLE_PREFIX = "table:"
#: set to 1 (or true) to trust pickle-based models for every config, as `trust_pickle: true` does
TRUST_PICKLE_ENV = "MLFLOW_POSTMORTEM_TRUST_PICKLE"
_DATA_KEYS = {"reference", "golden", "current", "training_view"}
_REQUIRED_DATA = ("golden", "current")
_TASKS = ("classification", "regression")


@dataclass(frozen=True)
class DataPaths:
    golden: str
    current: str
    #: optional once the model version has a stored reference profile (`mlflow-postmortem profile`)
    reference: str | None = None
    training_view: str | None = None
    #: not a config key: the stored profile's local folder, found on the version when `reference` is not given
    profile: str | None = None

    def as_written(self) -> dict[str, str]:
        """The paths as a config file gives them: a stored profile is found on the version again."""
        return {k: v for k, v in asdict(self).items() if v is not None and k != "profile"}


@dataclass(frozen=True)
class MonitorSettings:
    """`monitor:`: how `mlflow-postmortem monitor` cuts and compares the production log."""

    #: calendar window length: a whole number of h, d or w (`1d`, `7d`, `30d`)
    window: str = "7d"
    #: drift test per feature: tv | ks | psi | chi2
    test: str = "tv"


@dataclass(frozen=True)
class AlertSettings:
    """`alerts:`: the rules monitor checks after each call, and what a fired rule sets off."""

    rules: tuple[Rule, ...] = ()
    #: a URL that receives each alert as a JSON POST
    webhook: str | None = None
    #: mitigate after the post-mortem an alert starts (retrain, fine-tune, ...), as `run` does
    mitigate: bool = False


@dataclass(frozen=True)
class GoldenSettings:
    """`golden:`: how `refresh-golden` builds the next golden set, and which one a post-mortem reads."""

    #: rows in the next golden set; None: as many as the current one
    size: int | None = None
    #: share of the rows chosen as edge cases (novel values, the worst slices)
    edge_share: float = 0.1
    #: time strata: a window length (`7d`); None: calendar months. Default: `monitor.window` when given
    window: str | None = None
    #: read `data.golden` even when the version names a refreshed golden set
    pin: bool = False
    #: refresh the golden set at the end of a mitigation that registered a version
    refresh: bool = False


@dataclass(frozen=True)
class Config:
    model: str
    task: str
    target: str
    data: DataPaths
    prediction: str | None = None
    timestamp: str | None = None
    entity_id: str | None = None
    features: tuple[str, ...] | None = None
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    baseline: str | None = None
    #: number of time windows the current data is cut into (needs `timestamp`)
    windows: int = 8
    #: extra types skops may load (e.g. HistGradientBoosting internals); never "trust all"
    skops_trusted_types: tuple[str, ...] = ()
    #: load models whose files run code when loaded (pickle, cloudpickle); off unless the user says so
    trust_pickle: bool = False
    mitigation: dict[str, Any] = field(default_factory=dict)
    #: threshold overrides per detector: `{data_drift: {min_tv: 0.15}}` (see `detectors.parameters()`)
    detectors: dict[str, dict[str, float]] = field(default_factory=dict)
    #: features whose values (categories, or quartiles of a number) evaluate-versions scores one by one
    slices: tuple[str, ...] = ()
    #: Evidently's pages beside the verdict; off saves their seconds (the verdict never reads them)
    evidently: bool = True
    #: how data.current is read (ENGINES): `auto` reads a big Parquet log in batches (scan.py)
    engine: str = "auto"
    monitor: MonitorSettings = field(default_factory=lambda: MonitorSettings())
    alerts: AlertSettings = field(default_factory=lambda: AlertSettings())
    golden: GoldenSettings = field(default_factory=lambda: GoldenSettings())
    source: str | None = None


#: with `engine: auto`, a Parquet data.current of at least this many bytes on disk is read in
#: batches (engine arrow): about a million rows of 50 columns, where arrow is as fast and half the memory
AUTO_ARROW_BYTES = 256 * 2**20


def resolved_engine(config: Config) -> str:
    """`pandas`, `arrow` or `spark`: the config's choice, else (`auto`) by the log's size on disk."""
    return engine_for_log(config.engine, config.data.current)


def engine_for_log(engine: str, path: str) -> str:
    """`engine` resolved for the log at `path`: from file listings alone (no pandas, no Arrow), so
    the command can pick Arrow's allocator before Arrow loads."""
    if engine != "auto":
        return engine
    import glob

    paths = [Path(p) for p in sorted(glob.glob(path))] if glob.has_magic(path) else [Path(path)]
    files = [f for p in paths for f in (sorted(p.rglob("*")) if p.is_dir() else [p])
             if f.is_file() and not f.name.startswith((".", "_"))]  # a writer's _SUCCESS, .crc files
    if not files or any(f.suffix.lower() not in (".parquet", ".pq") for f in files):
        return "pandas"
    return "arrow" if sum(f.stat().st_size for f in files) >= AUTO_ARROW_BYTES else "pandas"


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; relative data paths resolve against its folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_config(raw, base_dir=path.parent, source=str(path))


def parse_config(raw: Any, *, base_dir: str | Path = ".", source: str | None = None) -> Config:
    where = source or "config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("model", "task", "target", "data"):
        if raw.get(key) in (None, ""):
            raise ConfigError(f"{where}: missing required key {key!r}")
    task = raw["task"]
    if task not in _TASKS:
        raise ConfigError(f"{where}: key 'task' must be one of {list(_TASKS)}, got {task!r}")

    data = raw["data"]
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: key 'data' must be a mapping of reference/golden/current paths")
    unknown = sorted(set(data) - _DATA_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key 'data.{unknown[0]}' (known: {', '.join(sorted(_DATA_KEYS))})")
    for key in _REQUIRED_DATA:
        if not data.get(key):
            raise ConfigError(f"{where}: missing required key 'data.{key}'")
    base = Path(base_dir)
    paths = DataPaths(**{k: _resolve(str(v), base, f"{where}: data.{k}") for k, v in data.items() if v})

    trust_pickle = raw.get("trust_pickle", False)
    if not isinstance(trust_pickle, bool):
        raise ConfigError(f"{where}: key 'trust_pickle' must be true or false, got {trust_pickle!r}")
    evidently = raw.get("evidently", True)
    if not isinstance(evidently, bool):
        raise ConfigError(f"{where}: key 'evidently' must be true or false, got {evidently!r}")
    trust_pickle = trust_pickle or os.environ.get(TRUST_PICKLE_ENV, "").strip().lower() in ("1", "true", "yes")

    windows = raw.get("windows", 8)
    if not isinstance(windows, int) or isinstance(windows, bool) or not 1 <= windows <= 100:
        raise ConfigError(f"{where}: key 'windows' must be an integer from 1 to 100, got {windows!r}")
    engine = raw.get("engine", "auto")
    if engine not in ENGINES:
        raise ConfigError(f"{where}: key 'engine' must be one of {list(ENGINES)}, got {engine!r}")
    readable = {"current", "training_view"} if engine == "spark" else set()
    tables = [k for k, v in paths.as_written().items() if v.startswith(TABLE_PREFIX) and k not in readable]
    if tables:
        raise ConfigError(f"{where}: data.{tables[0]} names a table ({getattr(paths, tables[0])}): only data.current "
                          f"and data.training_view may, with engine: spark")
    mitigation = _mitigation(raw.get("mitigation") or {}, where)
    monitor = _monitor(raw.get("monitor") or {}, where)
    alerts = _alerts(raw.get("alerts") or {}, task, where)
    detectors = _detectors(raw.get("detectors") or {}, where)
    golden = _golden(raw.get("golden") or {}, (raw.get("monitor") or {}).get("window"), where)

    return Config(
        model=_string(raw, "model", where),
        task=task,
        target=_string(raw, "target", where),
        data=paths,
        prediction=_optional_string(raw, "prediction", where),
        timestamp=_optional_string(raw, "timestamp", where),
        entity_id=_optional_string(raw, "entity_id", where),
        features=_string_list(raw, "features", where) if raw.get("features") is not None else None,
        categorical=_string_list(raw, "categorical", where),
        text=_string_list(raw, "text", where),
        baseline=_optional_string(raw, "baseline", where),
        windows=windows,
        skops_trusted_types=_string_list(raw, "skops_trusted_types", where),
        trust_pickle=trust_pickle,
        mitigation=dict(mitigation),
        detectors=detectors,
        slices=_string_list(raw, "slices", where),
        evidently=evidently,
        engine=engine,
        monitor=monitor,
        alerts=alerts,
        golden=golden,
        source=source,
    )


#: mitigation settings and the type each must have
_MITIGATION = {"project": str, "entry_point": str, "parameters": dict, "promote": bool, "gate": dict,
               "holdout_fraction": float}


def _mitigation(value: Any, where: str) -> dict[str, Any]:
    """`mitigation:` names the user's training project and the challenger gate; all optional."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: key 'mitigation' must be a mapping")
    for key, item in value.items():
        kind = _MITIGATION.get(key)
        if kind is None:
            raise ConfigError(f"{where}: unknown key 'mitigation.{key}' (known: {', '.join(sorted(_MITIGATION))})")
        ok = isinstance(item, (int, float)) and not isinstance(item, bool) if kind is float else isinstance(item, kind)
        if not ok:
            raise ConfigError(f"{where}: key 'mitigation.{key}' must be a {kind.__name__}, got {item!r}")
    if not 0 < value.get("holdout_fraction", 0.2) < 1:
        raise ConfigError(f"{where}: key 'mitigation.holdout_fraction' must be between 0 and 1")
    return dict(value)


def _section(value: Any, key: str, known: tuple[str, ...], where: str, shape: str) -> None:
    """A config section must be a mapping of known keys: else one line naming the first problem."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: key '{key}' must be a mapping with {shape}")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{key}.{unknown[0]}' (known: {', '.join(known)})")


def _monitor(value: Any, where: str) -> MonitorSettings:
    from .monitoring import TESTS, parse_every  # the settings' meaning lives with the monitoring core

    _section(value, "monitor", ("test", "window"), where, "window and test")
    settings = MonitorSettings(**{k: str(v) for k, v in value.items()})
    try:
        parse_every(settings.window)
    except ValueError as exc:
        raise ConfigError(f"{where}: key 'monitor.window': {exc}") from None
    if settings.test not in TESTS:
        raise ConfigError(f"{where}: key 'monitor.test' must be one of {', '.join(TESTS)}, got {settings.test!r}")
    return settings


_GOLDEN_KEYS = ("size", "edge_share", "window", "pin", "refresh")


def _golden(value: Any, monitor_window: Any, where: str) -> GoldenSettings:
    """`golden:` sizes and stratifies `refresh-golden`; its time strata follow `monitor.window` unless set."""
    from .monitoring import parse_every

    _section(value, "golden", _GOLDEN_KEYS, where, ", ".join(_GOLDEN_KEYS))
    size = value.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ConfigError(f"{where}: key 'golden.size' must be a whole number >= 1, got {size!r}")
    share = value.get("edge_share", GoldenSettings.edge_share)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ConfigError(f"{where}: key 'golden.edge_share' must be a number from 0 to 1, got {share!r}")
    window = value.get("window", monitor_window)
    if window is not None:
        try:
            parse_every(str(window))
        except ValueError as exc:
            raise ConfigError(f"{where}: key 'golden.window': {exc}") from None
    flags = {}
    for name in ("pin", "refresh"):
        flags[name] = value.get(name, False)
        if not isinstance(flags[name], bool):
            raise ConfigError(f"{where}: key 'golden.{name}' must be true or false, got {flags[name]!r}")
    return GoldenSettings(size, float(share), None if window is None else str(window), **flags)


_ALERT_KEYS = ("rules", "webhook", "mitigate")
_RULE_KEYS = ("metric", "threshold", "direction", "consecutive", "min_rows")


def _alerts(value: Any, task: str, where: str) -> AlertSettings:
    """`alerts:` holds `rules` (each a metric monitor records, a threshold, and optionally a
    direction, consecutive windows and minimum rows), an optional `webhook` URL and `mitigate`."""
    _section(value, "alerts", _ALERT_KEYS, where, "rules, webhook and mitigate")
    rules = value.get("rules") or []
    if not isinstance(rules, list):
        raise ConfigError(f"{where}: key 'alerts.rules' must be a list of rules, got {rules!r}")
    webhook = value.get("webhook")
    if webhook is not None and (not isinstance(webhook, str) or not webhook.startswith(("http://", "https://"))):
        raise ConfigError(f"{where}: key 'alerts.webhook' must be an http:// or https:// URL, got {webhook!r}")
    mitigate = value.get("mitigate", False)
    if not isinstance(mitigate, bool):
        raise ConfigError(f"{where}: key 'alerts.mitigate' must be true or false, got {mitigate!r}")
    return AlertSettings(tuple(_rule(rule, task, f"alerts.rules[{i}]", where) for i, rule in enumerate(rules)),
                         webhook, mitigate)


def _rule(value: Any, task: str, key: str, where: str) -> Rule:
    from .alerts import DIRECTIONS, Rule, default_direction, metric_problem  # the rules' meaning lives with the alerts core

    _section(value, key, _RULE_KEYS, where, f"metric and threshold, got {value!r}")
    metric = value.get("metric")
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"{where}: key '{key}.metric' must name a monitor metric, got {metric!r}")
    problem = metric_problem(metric, task)
    if problem:
        raise ConfigError(f"{where}: key '{key}.metric': {metric!r} {problem}")
    threshold = value.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise ConfigError(f"{where}: key '{key}.threshold' must be a number, got {threshold!r}")
    direction = value.get("direction", default_direction(metric))
    if direction not in DIRECTIONS:
        raise ConfigError(f"{where}: key '{key}.direction' must be above or below, got {direction!r}")
    counts = {}
    for name, least in (("consecutive", 1), ("min_rows", 0)):
        number = value.get(name, getattr(Rule, name))
        if isinstance(number, bool) or not isinstance(number, int) or number < least:
            raise ConfigError(f"{where}: key '{key}.{name}' must be a whole number >= {least}, got {number!r}")
        counts[name] = number
    return Rule(metric, float(threshold), direction, **counts)


def _detectors(value: Any, where: str) -> dict[str, dict[str, float]]:
    """`detectors:` overrides thresholds; each must be a known one, a number of its default's type."""
    from .detectors import parameters  # the detectors import this module's neighbours: import when used

    if not isinstance(value, dict):
        raise ConfigError(f"{where}: key 'detectors' must be a mapping of detector -> thresholds")
    known = parameters()
    out: dict[str, dict[str, float]] = {}
    for detector, thresholds in value.items():
        if detector not in known:
            raise ConfigError(f"{where}: unknown detector 'detectors.{detector}' (known: {', '.join(sorted(known))})")
        if not isinstance(thresholds, dict):
            raise ConfigError(f"{where}: key 'detectors.{detector}' must be a mapping of threshold -> number")
        for name, number in thresholds.items():
            if name not in known[detector]:
                raise ConfigError(f"{where}: unknown threshold 'detectors.{detector}.{name}' "
                                  f"(known: {', '.join(sorted(known[detector]))})")
            default = known[detector][name]
            kind = int if isinstance(default, int) else (int, float)
            if isinstance(number, bool) or not isinstance(number, kind) or number < 0:
                what = "a whole number" if kind is int else "a number"
                raise ConfigError(f"{where}: 'detectors.{detector}.{name}' must be {what} >= 0, got {number!r}")
        out[detector] = dict(thresholds)
    return out


def _resolve(value: str, base: Path, where: str) -> str:
    """Local paths resolve against the config's folder; URIs (with a scheme) pass through.

    A relative path stays inside the config's folder as written (`..` may not climb out of it; a
    symlink the folder's owner placed inside is followed): a config shared with a job runner must
    not reach `../../secret`. An absolute path says plainly what it reads."""
    if "://" in value or value.startswith(("models:", "runs:", TABLE_PREFIX)):
        return value
    p = Path(value).expanduser()
    if p.is_absolute():
        return str(p)
    folder = base.resolve()
    if not Path(os.path.normpath(folder / p)).is_relative_to(folder):
        raise ConfigError(f"{where}: relative path {value!r} leaves the config's folder {folder}; "
                          "give an absolute path to read a file outside it")
    return str((folder / p).resolve())


def _string(raw: dict, key: str, where: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: key {key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _optional_string(raw: dict, key: str, where: str) -> str | None:
    return None if raw.get(key) is None else _string(raw, key, where)


def _string_list(raw: dict, key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: key {key!r} must be a list of column names, got {value!r}")
    return tuple(value)
