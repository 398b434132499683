"""The client side of every MLflow call: where the store is, whether it answers, and patience.

Every call to the store goes through `call` (or `patient`), so each failure leaves the
package as one line naming what was being done and where, and a store that is only busy
(a locked sqlite file, a server dropping connections under load) is waited for, not failed.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import mlflow
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ..errors import TrackingError
from ..reachable import PROBE_TIMEOUT_S, probe_tracking_server

# progress bars for kilobyte artifacts drown the post-mortem's own progress lines
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def use_tracking_uri(uri: str | None) -> str:
    """Point MLflow at `uri` (when given) and return the tracking URI in effect."""
    if uri:
        mlflow.set_tracking_uri(uri)
    return mlflow.get_tracking_uri()


def check_tracking_reachable(timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Fail fast on an unreachable tracking server (reachable.py), and bound the client's own
    retries (unless the user set them) for failures later in the run."""
    uri = mlflow.get_tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    probe_tracking_server(uri, timeout_s)


def os_reason(exc: BaseException) -> str:
    """The socket-level reason ("Connection refused") buried under requests' and urllib3's wrappers."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def give_up_by(deadline: float) -> None:
    """From now on a call to the store that starts after `deadline` (time.monotonic) fails at once,
    and each waits at most 2 s: a signal's clean-up must end within its budget."""
    global _deadline
    _deadline = deadline
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "2"
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"


_deadline: float | None = None

#: refusals that wrote nothing and pass: a busy store (a sqlite file another process writes, a server whose
#: database connections concurrent post-mortems hold), or a row two of them inserted at once (the dataset
#: both log, which the second attempt finds and links)
_BUSY = ("database is locked", "QueuePool limit", "UniqueViolation", "UNIQUE constraint failed",
         "duplicate key value violates unique constraint")


#: a connection a busy server dropped mid-answer (a worker replaced under load): the request may have been
#: applied, so only calls that may safely run twice repeat it
_BROKEN = ("Connection broken", "IncompleteRead", "RemoteDisconnected", "Connection aborted")

#: how long a call waits, in all, for a busy store before it counts as failed
BUSY_WAIT_S = 120.0


def call(fn: Callable[[MlflowClient], Any], what: str, *, once: bool = False) -> Any:
    """One MLflow call; its failure becomes one line naming what was being done and where.
    `once`: the call creates something, so a dropped connection is not a reason to repeat it."""
    try:
        return patient(fn, once=once)
    except MlflowException as exc:
        raise TrackingError(f"could not {what} at {mlflow.get_tracking_uri()}: {first_line(exc)}") from None
    except requests.RequestException as exc:
        raise TrackingError(f"could not {what}: tracking server {mlflow.get_tracking_uri()} "
                            f"is not reachable ({os_reason(exc)})") from None


def patient(fn: Callable[[MlflowClient], Any], *, once: bool = False) -> Any:
    """`fn(client)`, repeated while the store is busy rather than broken.

    A store refuses some requests for a moment without writing anything (_BUSY), and a busy
    server may drop a connection mid-answer (_BROKEN, repeated unless `once`); the call is
    repeated with growing pauses for up to BUSY_WAIT_S (not at all once a signal's clean-up
    has begun), then the store's error stands.
    """
    waited, pause = 0.0, 0.1
    while True:
        if _deadline is not None and time.monotonic() > _deadline:
            raise TrackingError("out of time after a signal")
        try:
            return fn(MlflowClient())
        except MlflowException as exc:
            passing = _BUSY if once else _BUSY + _BROKEN
            if not any(marker in str(exc) for marker in passing) or waited >= BUSY_WAIT_S or _deadline is not None:
                raise
            time.sleep(pause)
            waited, pause = waited + pause, min(pause * 2, 5.0)
