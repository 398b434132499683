"""Entry point of the reference trainer: parse, call the package, exit."""

import sys

from mlflow_postmortem.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
