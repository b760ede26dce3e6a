"""One HTTP POST of a webhook message, to the address ``webhooks.addresses`` checked.

The request goes to that IP (urllib3 pool on the address, ``Host`` and the TLS server name and
certificate check set to the URL's host), so nothing resolves the name again between the check
and the connection; redirects are not followed (a 3xx is a failed attempt, as in the Standard
Webhooks spec); connect and read waits are WEBHOOK_CONNECT_TIMEOUT and WEBHOOK_READ_TIMEOUT;
at most ``RESPONSE_EXCERPT_BYTES`` of the answer are read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import urllib3
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from webhooks.addresses import Target

RESPONSE_EXCERPT_BYTES = 1000
USER_AGENT = "Lectern-Webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: ``status_code`` (``None`` without an answer), ``error`` (plain
    words, empty on success), ``excerpt`` (the answer's first bytes as text), ``address``
    connected to, ``duration_ms``."""

    status_code: int | None
    error: str
    excerpt: str
    address: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        """A 2xx answer (Standard Webhooks: any other status is a failure)."""
        return self.status_code is not None and 200 <= self.status_code < 300


def _pool(target: Target, address: str) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(
        connect=settings.WEBHOOK_CONNECT_TIMEOUT, read=settings.WEBHOOK_READ_TIMEOUT
    )
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            assert_hostname=target.host,
            server_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def post(*, target: Target, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST ``body`` (JSON) with ``headers`` to ``target``'s first address. Never raises for
    network errors: they are the ``Outcome``'s ``error``."""
    address = str(target.addresses[0])
    started = time.monotonic()
    pool = _pool(target, address)
    all_headers = {
        **headers,
        "Host": _host_header(target),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=all_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            raw = response.read(RESPONSE_EXCERPT_BYTES)
        finally:
            response.release_conn()
        status_code: int | None = response.status
        error = "" if 200 <= response.status < 300 else f"HTTP {response.status}"
        excerpt = raw.decode("utf-8", errors="replace")
    # NewConnectionError is a ConnectTimeoutError too (urllib3 2): it goes first.
    except urllib3.exceptions.NewConnectionError as exc:
        status_code, error, excerpt = None, f"Could not connect: {_reason(exc)}", ""
    except urllib3.exceptions.ConnectTimeoutError:
        status_code, error, excerpt = None, "Connection timed out.", ""
    except urllib3.exceptions.ReadTimeoutError:
        status_code, error, excerpt = None, "No answer in time (read timeout).", ""
    except urllib3.exceptions.SSLError as exc:
        status_code, error, excerpt = None, f"TLS error: {_reason(exc)}", ""
    except SoftTimeLimitExceeded:
        status_code, error, excerpt = None, "The answer took too long (task time limit).", ""
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        status_code, error, excerpt = None, f"Request failed: {_reason(exc)}", ""
    finally:
        pool.close()
    duration_ms = round((time.monotonic() - started) * 1000)
    return Outcome(
        status_code=status_code,
        error=error[:300],
        excerpt=excerpt,
        address=address,
        duration_ms=duration_ms,
    )


def _reason(exc: BaseException) -> str:
    """The innermost cause of a urllib3 error, without the pool's object reprs."""
    while exc.__cause__ is not None or getattr(exc, "reason", None) is not None:
        inner = exc.__cause__ or exc.reason  # type: ignore[attr-defined]
        if inner is exc or not isinstance(inner, BaseException):
            break
        exc = inner
    text = str(exc)
    if "] " in text and text.startswith("["):
        text = text.split("] ", 1)[1]
    return text.split(": ", 1)[-1] if "object at 0x" in text else text
