"""Thin adapters at the edge: the only modules that import MLflow and Evidently.

Submodules are imported on use (`from mlflow_postmortem.adapters import runs`), so the
core and `--help` never pay for importing MLflow.
"""
