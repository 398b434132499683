"""Entry point of the reference trainer: parse, call the package, exit."""

import sys

from mlflow_postmortem.cli import entry_point

if __name__ == "__main__":
    entry_point(["train", *sys.argv[1:]])
