"""`mlflow-postmortem demo`: the whole product on the embedded default, in about a minute.

A subscription business predicts churn. Two real classifiers are trained on generated
customer data and registered as versions 1 and 2 of `postmortem-demo` (2 aliased `champion`)
in the tracking store in effect (default `sqlite:///mlflow.db` in the current folder).
Halfway through the production log the billing service starts reporting `monthly_charges`
in cents instead of dollars; the post-mortem has to find that. A second run reuses the
registered versions instead of registering new ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml

MODEL = "postmortem-demo"
FAULTY_FEATURE = "monthly_charges"
UNIT_CHANGE = 100.0
TARGET = "churned"
CATEGORICAL = ("plan", "region", "payment_method")
#: the skops types these two tree models need beyond skops' built-in safe set
TRUSTED_TYPES = ("sklearn.tree._tree.Tree", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor")
ROWS = {"reference": 8_000, "golden": 2_000, "production": 6_000}


def run_demo(folder: Path, *, say: Callable[[str], None] = lambda message: None) -> int:
    from .adapters import registry, tracking
    from .postmortem import run_postmortem

    store = tracking.use_tracking_uri(None)
    tracking.check_tracking_reachable()
    reference = write_demo_data(folder)
    if registry.alias_version(MODEL, "champion") is None:
        say(f"training and registering {MODEL} versions in {store}")
        _register_models(reference)
    else:
        say(f"reusing {MODEL}@champion already in {store}")
    config = folder / "pm.yaml"
    config.write_text(yaml.safe_dump({
        "model": f"models:/{MODEL}@champion",
        "task": "classification",
        "target": TARGET,
        "timestamp": "event_time",
        "entity_id": "customer_id",
        "categorical": list(CATEGORICAL),
        "skops_trusted_types": list(TRUSTED_TYPES),
        "data": {"reference": "data/reference.parquet", "golden": "data/golden.parquet", "current": "data/production.parquet"},
    }, sort_keys=False))

    outcome = run_postmortem(config, folder / "verdict.json", say=say)
    print(f"post-mortem of {outcome.model_uri}; injected fault: {FAULTY_FEATURE} reported in cents instead of "
          "dollars from the middle of the production log on")
    if outcome.repeat_of:
        print(f"this exact post-mortem already ran (MLflow run {outcome.repeat_of}); its verdict:")
    print(outcome.verdict.summary)
    if outcome.mitigation is not None:
        print(outcome.mitigation.describe())
    print(f"verdict written to {outcome.output}; config in {config}; MLflow run {outcome.run_id or outcome.repeat_of}")
    if store.startswith("sqlite:///"):
        print(f"see it in the MLflow UI: mlflow ui --backend-store-uri {store}, then open {outcome.url}")
    else:
        print(f"see it in the MLflow UI: {outcome.url}")
    return 0


def customers(n: int, seed: int) -> pd.DataFrame:
    """Generated subscription customers: who churns depends on price, support and engagement."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "standard", "premium"], n, p=[0.5, 0.35, 0.15])
    base = pd.Series(plan).map({"basic": 25.0, "standard": 55.0, "premium": 95.0}).to_numpy()
    frame = pd.DataFrame({
        "tenure_months": rng.integers(1, 73, n).astype(float),
        "monthly_charges": np.round(base + rng.normal(0, 8, n), 2),
        "support_calls_90d": rng.poisson(1.2, n).astype(float),
        "data_usage_gb": np.round(rng.lognormal(2.5, 0.7, n), 1),
        "last_login_days": np.round(rng.exponential(6, n), 1),
        "plan": plan,
        "region": rng.choice(["north", "south", "east", "west", "central"], n),
        "payment_method": rng.choice(["card", "bank_transfer", "paypal", "invoice"], n, p=[0.5, 0.2, 0.2, 0.1]),
    })
    logit = (-1.0 + 0.035 * (frame["monthly_charges"] - 50) - 0.04 * frame["tenure_months"]
             + 0.5 * frame["support_calls_90d"] + 0.08 * frame["last_login_days"]
             - 0.3 * (frame["payment_method"] == "card") + 0.4 * (frame["plan"] == "basic"))
    frame[TARGET] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def write_demo_data(folder: Path) -> pd.DataFrame:
    """Reference (training), golden and production files; the fault is in production only."""
    reference, golden = customers(ROWS["reference"], seed=1), customers(ROWS["golden"], seed=2)
    production = customers(ROWS["production"], seed=3)
    production.insert(0, "customer_id", np.arange(100_000, 100_000 + len(production)))
    production.insert(1, "event_time", pd.Timestamp("2026-10-01") + pd.to_timedelta(
        np.sort(np.random.default_rng(4).random(len(production))) * 28, unit="D"))
    late = np.arange(len(production)) >= len(production) // 2
    production.loc[late, FAULTY_FEATURE] *= UNIT_CHANGE
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    reference.to_parquet(data / "reference.parquet", index=False)
    golden.to_parquet(data / "golden.parquet", index=False)
    production.to_parquet(data / "production.parquet", index=False)
    return reference


def _register_models(reference: pd.DataFrame) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from .adapters import registry

    X, y = reference.drop(columns=TARGET), reference[TARGET]
    version = None
    for model in (RandomForestClassifier(n_estimators=100, min_samples_leaf=5, random_state=0),
                  HistGradientBoostingClassifier(random_state=0)):
        encode = ColumnTransformer([("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                                     list(CATEGORICAL))], remainder="passthrough")
        estimator = Pipeline([("encode", encode), ("model", model)]).fit(X, y)
        version = registry.register_sklearn_model(estimator, MODEL, X, trusted_types=TRUSTED_TYPES,
                                                  run_name=f"train {type(model).__name__}")
    registry.set_alias(MODEL, "champion", version)
