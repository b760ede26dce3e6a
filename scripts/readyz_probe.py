#!/usr/bin/env python3
"""Container health check of a Lectern web process: GET its ``/readyz`` (tenants.health).

Used by the image's HEALTHCHECK (Dockerfile) and the ``web`` service of docker-compose.yml;
the image has Python but no curl. ``/readyz`` answers 200 when the database, cache, broker,
media storage and FFmpeg all work and 503 naming the failing ones otherwise.

    python scripts/readyz_probe.py                          # http://127.0.0.1:8000/readyz
    python scripts/readyz_probe.py http://10.0.0.5:8000/readyz

Exit status: 0 when the answer is 200, 1 otherwise (another status, a refused or timed-out
connection), with one line on stderr saying which. Standard library only, so it starts fast.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/readyz"
# Seconds to wait for the answer; /readyz bounds its own checks at about 4 s
# (tenants.health.CHECK_TIMEOUT + 1), and the health checks' `timeout` is 10 s.
TIMEOUT = 8.0


def probe(url: str = DEFAULT_URL, timeout: float = TIMEOUT) -> tuple[bool, str]:
    """GET ``url``; returns (ready, one-line reason). Never raises for network errors."""
    if not url.startswith(("http://", "https://")):
        return False, f"{url}: not an http(s) URL"
    try:
        # Only http(s) reaches here (checked above).
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status == 200, f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:
        try:
            failing = json.loads(exc.read() or b"{}").get("failing", [])
        except ValueError:
            failing = []
        detail = f" (failing: {', '.join(failing)})" if failing else ""
        return False, f"{url}: {exc.code}{detail}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{url}: {reason}"


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    ready, message = probe(url)
    if not ready:
        print(f"not ready: {message}", file=sys.stderr)
    return 0 if ready else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
