"""Exactly once: of several identical post-mortems started together, one does the work.

Alerts, cron and CI trigger post-mortems at once, often on different machines, so the claim
lives in the tracking store, the one thing they all share (a lock file would not be). MLflow
offers no compare-and-set, but every store gives what Lamport's bakery algorithm needs: a run
created with its tags in one request, tags that read back as written, and searches that see
every write finished before they started.

A contender's run (the post-mortem or mitigate run it would work in) appears with its key and
`postmortem.claim = choosing`; it reads the tickets of the other RUNNING runs with that key,
takes one more than the highest and writes it. It then waits while another such run is still
choosing, or holds a smaller (ticket, run id). The first in line does the work; the others
wait, then report its FINISHED run as the repeat; if it failed, the next in line takes over.
A contender that died cannot block the line: on the same host its process id is checked;
elsewhere its heartbeat tag, rewritten every 10 s while it lives, must change within
`STALE_S`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable

CLAIM_TAG = "postmortem.claim"
CHOOSING = "choosing"
#: a run on another host whose heartbeat has not changed for this long is taken for dead
STALE_S = 120.0
POLL_S = 1.5
Say = Callable[[str], None]


@dataclass(frozen=True)
class Contender:
    """One run in the line for a key: its ticket, or None while it is still choosing one."""

    run_id: str
    status: str
    ticket: int | None

    @property
    def order(self) -> tuple[int, str]:
        return (self.ticket if self.ticket is not None else -1, self.run_id)


def contender(run_id: str, status: str, tags: dict[str, str]) -> Contender:
    claim = tags.get(CLAIM_TAG, "")
    return Contender(run_id, status, int(claim) if claim.isdigit() else None)


def next_ticket(line: list[Contender]) -> int:
    return 1 + max((c.ticket for c in line if c.status == "RUNNING" and c.ticket is not None), default=0)


def ahead_of(me: Contender, line: list[Contender]) -> list[Contender]:
    """The RUNNING contenders `me` must wait for: still choosing, or first by (ticket, run id)."""
    return [c for c in line if c.status == "RUNNING" and c.run_id != me.run_id
            and (c.ticket is None or c.order < me.order)]


def done_by(line: list[Contender]) -> str | None:
    """The FINISHED run that already did the work, if any."""
    return min((c.run_id for c in line if c.status == "FINISHED"), default=None)


def wait_turn(run, key: str, step: str, say: Say) -> str | None:
    """Wait until `run` (a RunRef already tagged with the key, the step and `choosing`) may do the
    work; returns the FINISHED run that did it meanwhile, or None when the work is ours."""
    from .adapters import runs

    def line() -> list[Contender]:
        keyed = runs.keyed_runs(run.experiment_id, key, step)
        tags.update({r.run_id: r.tags for r in keyed})
        return [contender(r.run_id, r.status, r.tags) for r in keyed]

    tags: dict[str, dict[str, str]] = {}
    first = line()
    if (earlier := done_by(first)) is not None:
        return earlier
    ticket = next_ticket(first)
    runs.set_tags(run, {CLAIM_TAG: str(ticket)})
    me = Contender(run.run_id, "RUNNING", ticket)
    heartbeats = _Heartbeats()
    told = 0.0
    while True:
        current = line()
        if (earlier := done_by(current)) is not None:
            return earlier
        waiting = [c for c in ahead_of(me, current) if not _abandoned(c, tags[c.run_id], heartbeats, run.experiment_id, say)]
        if not waiting:
            return None
        if time.monotonic() - told > 30:
            first_in_line = min(waiting, key=lambda c: c.order)
            say(f"{step}: {len(waiting)} identical {step} run(s) ahead; waiting for run {first_in_line.run_id}")
            told = time.monotonic()
        time.sleep(POLL_S * random.uniform(0.7, 1.3))


class _Heartbeats:
    """When each run's heartbeat last changed, on this machine's clock (no clock is shared)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, float]] = {}

    def silent_for(self, run_id: str, beat: str) -> float:
        now = time.monotonic()
        last, since = self._seen.get(run_id, (None, now))
        if last != beat:
            self._seen[run_id] = (beat, now)
            return 0.0
        return now - since


def _abandoned(c: Contender, tags: dict[str, str], heartbeats: _Heartbeats, experiment: str, say: Say) -> bool:
    """Whether `c`'s process is gone; if so its run is ended FAILED, out of everyone's way."""
    from .adapters import runs

    alive = runs.is_alive_here(tags)
    if alive is None:
        silent = heartbeats.silent_for(c.run_id, tags.get(runs.HEARTBEAT_TAG, ""))
        if silent < STALE_S:
            return False
        reason = f"no heartbeat for {silent:.0f}s from {tags.get(runs.HOST_TAG, 'an unknown host')}"
    elif alive:
        return False
    else:
        reason = f"process {tags.get(runs.PID_TAG)} on {tags.get(runs.HOST_TAG)} ended without finishing the run"
    say(f"run {c.run_id} was left RUNNING ({reason}); marked FAILED")
    runs.abandon_run(c.run_id, experiment, reason)
    return True
