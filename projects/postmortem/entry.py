"""Entry points of the MLproject: parse, call the package, exit (see `mlflow-postmortem --help`).

`mlflow run` opens a run and passes its id in MLFLOW_RUN_ID; the package logs into that run
(and, for `postmortem`, creates one child run per step under it).
"""

from mlflow_postmortem.cli import entry_point

if __name__ == "__main__":
    entry_point()
