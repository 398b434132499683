"""mlflow-postmortem: why a registered model got worse in production, and what to do about it."""

__version__ = "0.1.0"
