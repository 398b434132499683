"""Is the tracking server there? Asked first, with the standard library only.

MLflow's own client retries with backoff for minutes before it gives up, so a typo in the URI
or a server that accepts connections and never answers would look like a hang. This probe
answers within PROBE_TIMEOUT_S, before the seconds that importing MLflow and pandas take, so
an unreachable server fails a command in well under 10 s.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

from .errors import TrackingError

PROBE_TIMEOUT_S = 5.0


def probe_tracking_server(uri: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """GET `<uri>/health` of an http(s) tracking URI; other stores (sqlite, files) need no probe."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (TimeoutError, socket.timeout):
        raise TrackingError(f"tracking server {uri} did not answer within {timeout_s:g}s") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise TrackingError(f"tracking server {uri} did not answer within {timeout_s:g}s") from None
        why = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
        raise TrackingError(f"tracking server {uri} is not reachable: {why}") from None
    except OSError as exc:  # a reset or refused connection outside urllib's wrapping
        raise TrackingError(f"tracking server {uri} is not reachable: {exc.strerror or exc}") from None
    if status >= 500:
        raise TrackingError(f"tracking server {uri} answered HTTP {status} on /health")
