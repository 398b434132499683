"""The alert webhook: one JSON POST with the standard library, its failure a sentence, never an exception.

A webhook that is down must not cost the alert or the post-mortem it starts, so every way the
POST can fail (refused, timed out, an answer outside 2xx) comes back as the reason to warn with.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_S = 10.0


def post_json(url: str, payload: dict[str, Any], timeout_s: float = TIMEOUT_S) -> str | None:
    """POST `payload` as JSON to `url`; None when it answered 2xx, else why it failed."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (TimeoutError, socket.timeout):
        return f"no answer within {timeout_s:g}s"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return f"no answer within {timeout_s:g}s"
        return reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
    except OSError as exc:  # a reset connection outside urllib's wrapping
        return exc.strerror or str(exc)
    return None if 200 <= status < 300 else f"HTTP {status}"
