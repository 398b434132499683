"""Models whose files run code when loaded (pickle, cloudpickle) load only when the user trusts them.

Each model here is real and registered in the session's registry; the "payload" is a
custom pyfunc whose load hook writes a marker file, which is exactly what an untrusted
pickle could do instead.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from sklearn.linear_model import LogisticRegression

from mlflow_postmortem.adapters import models
from mlflow_postmortem.errors import ModelError
from support import Dataset, run


class _Payload(mlflow.pyfunc.PythonModel):
    """Writes its marker when loaded; raises instead when told to."""

    def __init__(self, marker: str, fail: bool = False) -> None:
        self.marker, self.fail = marker, fail

    def load_context(self, context) -> None:
        if self.fail:
            raise RuntimeError("the payload broke\nsecond line of a long traceback")
        Path(self.marker).write_text("ran")

    def predict(self, context, model_input):
        return model_input.iloc[:, 0]


def _register_pyfunc(name: str, model: mlflow.pyfunc.PythonModel) -> str:
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=model, registered_model_name=name,
                                       pip_requirements=["mlflow"])
    return f"models:/{name}/{info.registered_model_version}"


def _register_sklearn(name: str, estimator, cancer: Dataset, fmt: str) -> str:
    X, y = cancer.xy()
    if hasattr(estimator, "fit"):
        estimator.fit(X, y)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(estimator, name="model", registered_model_name=name,
                                        serialization_format=fmt, pip_requirements=["scikit-learn"])
    return f"models:/{name}/{info.registered_model_version}"


def test_a_cloudpickled_model_is_refused_before_any_of_its_code_runs(tracking_uri: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    uri = _register_pyfunc("pm-payload", _Payload(str(marker)))

    with pytest.raises(ModelError, match=r"pm-payload/1 is saved with cloudpickle .*trust_pickle: true"):
        models.load_model_handle(uri)

    assert not marker.exists()


def test_a_trusted_cloudpickled_model_loads_and_scores(tracking_uri: str, tmp_path: Path, cancer: Dataset) -> None:
    marker = tmp_path / "marker"
    uri = _register_pyfunc("pm-payload-trusted", _Payload(str(marker)))

    handle = models.load_model_handle(uri, trust_pickle=True)

    assert marker.read_text() == "ran"
    X, _ = cancer.xy()
    assert len(handle.predict(X.head(5))) == 5


def test_a_sklearn_model_saved_with_cloudpickle_is_refused_unless_trusted(tracking_uri: str, cancer: Dataset) -> None:
    uri = _register_sklearn("pm-pickled-sklearn", LogisticRegression(max_iter=5000), cancer, "cloudpickle")

    with pytest.raises(ModelError, match=r"saved with cloudpickle \(sklearn flavour\)"):
        models.load_model_handle(uri)
    assert models.load_model_handle(uri, trust_pickle=True).predict_proba is not None


def test_a_trusted_load_that_returns_no_model_is_one_line_naming_what_came_back(tracking_uri: str,
                                                                              cancer: Dataset) -> None:
    uri = _register_sklearn("pm-not-a-model", {"weights": [1, 2, 3]}, cancer, "pickle")

    with pytest.raises(ModelError, match=r"pm-not-a-model/1 loaded as a dict, which has no predict\(\)"):
        models.load_model_handle(uri, trust_pickle=True)


def test_a_trusted_load_that_raises_is_one_line_naming_the_uri(tracking_uri: str, tmp_path: Path) -> None:
    uri = _register_pyfunc("pm-payload-raises", _Payload(str(tmp_path / "m"), fail=True))

    with pytest.raises(ModelError) as err:
        models.load_model_handle(uri, trust_pickle=True)

    message = str(err.value)
    assert "pm-payload-raises/1 could not be loaded: RuntimeError: the payload broke" in message
    assert "\n" not in message


def test_the_cli_refuses_a_pickled_model_in_one_line_and_the_environment_can_trust_it(
        tracking_uri: str, cancer: Dataset, make_config, tmp_path: Path) -> None:
    uri = _register_sklearn("pm-pickled-cli", LogisticRegression(max_iter=5000), cancer, "cloudpickle")
    config = make_config(cancer, uri)
    env = {"MLFLOW_TRACKING_URI": tracking_uri}

    refused = run(["mlflow-postmortem", "diagnose", str(config)], env=env, cwd=tmp_path)
    trusted = run(["mlflow-postmortem", "diagnose", str(config)], env={**env, "MLFLOW_POSTMORTEM_TRUST_PICKLE": "1"},
                  cwd=tmp_path)

    assert refused.returncode == 2, refused.stderr
    errors = [line for line in refused.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "trust_pickle" in errors[0] and "Traceback" not in refused.stderr
    assert trusted.returncode == 0, trusted.stderr
