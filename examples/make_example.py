"""Set up a post-mortem to try: real models in the registry, data with a known fault, a pm.yaml.

Trains two classifiers on scikit-learn's bundled breast-cancer data and registers them as
versions 1 and 2 of `postmortem-example` (version 2 aliased `champion`) in the tracking store
of MLFLOW_TRACKING_URI (default `sqlite:///mlflow.db` in the current folder). It then writes
the reference, golden and production files, where from the middle of the production log on
an upstream change reports `worst_area` in different units (x100), and a pm.yaml pointing at
them. Re-running starts the example model over.

    python examples/make_example.py && mlflow-postmortem diagnose examples/pm.yaml --output verdict.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mlflow
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

MODEL = "postmortem-example"
FAULTY_FEATURE = "worst_area"
UNIT_CHANGE = 100.0
#: the skops types these two models need beyond skops' built-in safe set
TRUSTED_TYPES = ["sklearn.tree._tree.Tree", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="folder for pm.yaml and data/ (default: examples/)")
    out: Path = parser.parse_args().out
    (out / "data").mkdir(parents=True, exist_ok=True)

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = pd.concat([X.rename(columns=lambda c: c.replace(" ", "_")), y.rename("diagnosis")], axis=1)
    frame = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    reference, golden, current = frame[:280], frame[280:400], frame[400:].copy()
    current.insert(0, "event_time", pd.date_range("2025-03-01", periods=len(current), freq="2h"))
    current.loc[len(current) // 2:, FAULTY_FEATURE] *= UNIT_CHANGE

    reference.to_parquet(out / "data" / "reference.parquet", index=False)
    golden.to_parquet(out / "data" / "golden.parquet", index=False)
    current.to_parquet(out / "data" / "production.parquet", index=False)

    features = [c for c in reference.columns if c != "diagnosis"]
    _start_over(MODEL)
    for estimator in (RandomForestClassifier(n_estimators=100, random_state=0), HistGradientBoostingClassifier(random_state=0)):
        estimator.fit(reference[features], reference["diagnosis"])
        with mlflow.start_run(run_name=type(estimator).__name__):
            info = mlflow.sklearn.log_model(
                estimator, name="model", registered_model_name=MODEL, pip_requirements=["scikit-learn"],
                signature=infer_signature(reference[features], estimator.predict(reference[features])),
                skops_trusted_types=TRUSTED_TYPES,
            )
    MlflowClient().set_registered_model_alias(MODEL, "champion", info.registered_model_version)

    config = {
        "model": f"models:/{MODEL}@champion",
        "task": "classification",
        "target": "diagnosis",
        "timestamp": "event_time",
        "skops_trusted_types": TRUSTED_TYPES,
        "data": {"reference": "data/reference.parquet", "golden": "data/golden.parquet", "current": "data/production.parquet"},
    }
    (out / "pm.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    print(f"registered {MODEL} versions 1-2 in {mlflow.get_tracking_uri()}; wrote {out / 'pm.yaml'}")


def _start_over(name: str) -> None:
    """Drop the example's own registered model, so a re-run gives versions 1 and 2 again."""
    try:
        MlflowClient().delete_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise


if __name__ == "__main__":
    main()
