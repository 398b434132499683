"""Models in and out: a version loaded as plain callables the core can score with (under the
trust the user configured), and a fitted estimator logged as a run's model.

Everything returned is MLflow-free (a `ModelHandle`), so the core never sees an MLflow object.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import Model

from ..config import TRUST_PICKLE_ENV
from ..errors import ModelError
from ..types import ModelHandle
from .registry import UNREGISTERED, recorded_golden, resolve_version
from .runs import RunRef
from .tracking import call, first_line, patient


#: flavours whose files MLflow loads with pickle (behind MLFLOW_ALLOW_PICKLE_DESERIALIZATION, on by default)
PICKLE_FLAVORS = ("pytorch", "statsmodels", "pmdarima", "paddle", "dspy")


def load_model_handle(uri: str, *, trusted_types: tuple[str, ...] = (), trust_pickle: bool = False) -> ModelHandle:
    """Load a model version as plain callables the core can score with.

    Models with the sklearn flavor load as the estimator itself (for `predict_proba` and
    `classes_`); others load through pyfunc. A URI outside the registry (runs:/, a path) is
    allowed: its name is the URI and its version UNREGISTERED. A model whose files load with
    pickle or cloudpickle can run any code as it loads, so it loads only with `trust_pickle`;
    whatever a load raises or returns instead of a model ends in one ModelError line.
    """
    registered = resolve_version(uri)
    source = registered.uri if registered else uri
    try:
        local = patient(lambda _: mlflow.artifacts.download_artifacts(artifact_uri=source))  # a download may repeat
        meta = Model.load(local)
    except MlflowException as exc:
        raise ModelError(f"model URI {uri} could not be downloaded: {first_line(exc)}") from None
    except OSError as exc:
        raise ModelError(f"model URI {uri} has no readable MLmodel file: {exc.strerror or exc}") from None

    _refuse_untrusted_pickle(uri, meta, trust_pickle)
    signature_features = _signature_features(meta)
    flavor = meta.flavors.get("sklearn")
    if flavor is not None:
        estimator = _loaded(uri, lambda: _load_sklearn(uri, local, flavor, trusted_types))
        names = getattr(estimator, "feature_names_in_", None)
        features = signature_features or (tuple(str(n) for n in names) if names is not None else None)
        predict = _on_features(estimator.predict, features)
        has_proba = hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")
        predict_proba = _on_features(estimator.predict_proba, features) if has_proba else None
        classes = tuple(np.asarray(estimator.classes_).tolist()) if has_proba else None
    else:
        pyfunc = _loaded(uri, lambda: mlflow.pyfunc.load_model(local))
        features = signature_features
        predict = _on_features(pyfunc.predict, features)
        predict_proba, classes = None, None

    return ModelHandle(
        name=registered.name if registered else uri,
        version=registered.version if registered else UNREGISTERED,
        predict=predict,
        predict_proba=predict_proba,
        classes=classes,
        features=features,
        recorded_golden=recorded_golden(registered) if registered else None,
    )


def _refuse_untrusted_pickle(uri: str, meta: Model, trust_pickle: bool) -> None:
    pickled = _pickled(meta)
    if pickled and not trust_pickle:
        raise ModelError(f"model URI {uri} is saved with {pickled}, which runs code from the model's files as it "
                         f"loads; set trust_pickle: true in the config (or {TRUST_PICKLE_ENV}=1) only if you trust "
                         "whoever logged it")


def _pickled(meta: Model) -> str | None:
    """How the model's files load, when that is pickle or cloudpickle (code runs as they load)."""
    sklearn = meta.flavors.get("sklearn")
    if sklearn is not None and sklearn.get("serialization_format") != "skops":
        return f"{sklearn.get('serialization_format') or 'pickle'} (sklearn flavour)"
    pyfunc = meta.flavors.get("python_function") or {}
    if pyfunc.get("loader_module") == "mlflow.pyfunc.model" or "python_model" in pyfunc:
        return "cloudpickle (a custom python_function model)"
    return next((f"pickle ({name} flavour)" for name in PICKLE_FLAVORS if name in meta.flavors), None)


def _loaded(uri: str, load: Callable[[], Any]) -> Any:
    """What `load` returns, when it is a model: anything else, or anything it raises, is one line."""
    try:
        model = load()
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - a model's own files may raise anything as they load
        raise ModelError(f"model URI {uri} could not be loaded: {type(exc).__name__}: {first_line(exc)}") from None
    if not callable(getattr(model, "predict", None)):
        raise ModelError(f"model URI {uri} loaded as a {type(model).__name__}, which has no predict(); "
                         "is it a model?")
    return model


def _load_sklearn(uri: str, local: str, flavor: dict[str, Any], trusted_types: tuple[str, ...]) -> Any:
    """Load the estimator, trusting only the types the user listed.

    `mlflow.sklearn.load_model` trusts the skops types listed in the model's own MLmodel file,
    which whoever logged the model controls; here only the config's `skops_trusted_types`
    (plus skops' built-in safe set) are trusted. Pickle formats arrive here only with
    `trust_pickle`.
    """
    if flavor.get("serialization_format") != "skops":
        return mlflow.sklearn.load_model(local)  # pickle: only reached with trust_pickle
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    path = Path(local) / flavor["pickled_model"]
    try:
        return skops.io.load(path, trusted=list(trusted_types))
    except UntrustedTypesFoundException:
        untrusted = sorted(set(skops.io.get_untrusted_types(file=path)) - set(trusted_types))
        raise ModelError(
            f"model URI {uri} needs skops types that are not trusted: {', '.join(untrusted)}; "
            "list them under 'skops_trusted_types' in the config if you trust this model"
        ) from None


def _signature_features(meta: Model) -> tuple[str, ...] | None:
    inputs = meta.signature.inputs if meta.signature is not None else None
    if inputs is None or not inputs.has_input_names():
        return None
    return tuple(str(n) for n in inputs.input_names())


def _on_features(fn: Callable[[pd.DataFrame], Any], features: tuple[str, ...] | None) -> Callable[[pd.DataFrame], np.ndarray]:
    """Score on the model's own columns in its own order, whatever else the frame carries."""
    columns = list(features) if features else None

    def call(frame: pd.DataFrame) -> np.ndarray:
        out = np.asarray(fn(frame[columns] if columns else frame))
        return out.ravel() if out.ndim == 2 and out.shape[1] == 1 else out

    return call


def load_sklearn_estimator(uri: str, *, trusted_types: tuple[str, ...] = (), trust_pickle: bool = False) -> Any:
    """The fitted scikit-learn estimator behind a version, for training to continue from."""
    registered = resolve_version(uri)
    source = registered.uri if registered else uri
    try:
        local = patient(lambda _: mlflow.artifacts.download_artifacts(artifact_uri=source))  # a download may repeat
        meta = Model.load(local)
    except (MlflowException, OSError) as exc:
        raise ModelError(f"model URI {uri} could not be downloaded: {first_line(exc)}") from None
    flavor = meta.flavors.get("sklearn")
    if flavor is None:
        raise ModelError(f"model URI {uri} has no scikit-learn flavour: name your own training project under "
                         "'mitigation.project' in the config")
    _refuse_untrusted_pickle(uri, meta, trust_pickle)
    return _loaded(uri, lambda: _load_sklearn(uri, local, flavor, trusted_types))


def log_sklearn_model(run: RunRef, estimator: Any, X: pd.DataFrame, *, trusted_types: tuple[str, ...] = ()) -> str:
    """Log the estimator as the run's logged model `model`, with its signature and an input example
    (five rows it was fitted on); returns the logged model's id."""
    from mlflow.models import infer_signature

    def log(_: Any) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = mlflow.sklearn.log_model(
                estimator, name="model", run_id=run.run_id, signature=infer_signature(X, estimator.predict(X)),
                input_example=X.head(5), pip_requirements=["scikit-learn"],
                skops_trusted_types=list(trusted_types) or None)
        return info.model_id

    return call(log, f"log the model to run {run.run_id}", once=True)
