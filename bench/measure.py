"""A command's wall time and peak RSS as the OS counts them, the same way for every benchmark.

The peak is `wait4`'s for a process started by a small launcher, not by the benchmark itself:
Linux carries the parent's peak RSS into the child it forks (recorded when the child execs),
so a benchmark holding gigabytes of generated tables would report them as the child's peak.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MARK = "@@measure"
#: forks from a fresh interpreter of a few MB, execs the command, reports its wait4 figures
LAUNCHER = f"""
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.stderr.write(f"\\n{MARK} {{usage.ru_maxrss}} {{code}}\\n")
sys.exit(code if code >= 0 else 1)
"""


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    #: (seconds since start, line) for each line the command wrote to stderr
    stderr: list[tuple[float, str]]


def measured(command: list[str], *, env: dict[str, str], cwd: Path,
             echo: Callable[[float, str], None] | None = None) -> Measured:
    """Run `command` in a fresh process; `echo` sees each stderr line as it arrives."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=cwd, text=True)
    lines: list[tuple[float, str]] = []
    for line in proc.stderr:
        lines.append((round(time.perf_counter() - start, 2), line.rstrip("\n")))
        if echo is not None and not line.startswith(MARK):
            echo(*lines[-1])
    stdout = proc.stdout.read()
    proc.wait()
    seconds = time.perf_counter() - start
    while lines and not lines[-1][1].startswith(MARK):  # the launcher's report is its last line
        lines.pop()
    if not lines:
        raise RuntimeError(f"{command[0]} did not report its peak: the launcher failed (exit {proc.returncode})")
    _, maxrss_kb, code = lines.pop()[1].split()
    if lines and lines[-1][1] == "":
        lines.pop()  # the blank line the launcher wrote before its report
    return Measured(round(seconds, 2), round(int(maxrss_kb) / 1024, 1), int(code), stdout, lines)
