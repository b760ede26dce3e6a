"""RabbitMQ virtual hosts for the tests: one per test process, created and deleted here.

Tests share one RabbitMQ server (TEST_RABBITMQ_URL, by default ``amqp://guest:guest@
127.0.0.1:5672//``); a virtual host is a namespace of its own (queues, exchanges, messages), so
every test process, and every module that needs a broker nobody else consumes from, works in
its own. Virtual hosts cannot be made over AMQP: ``rabbitmqctl`` does it (``add_vhost``,
``set_permissions``, ``delete_vhost``), which needs the node's Erlang cookie, i.e. root or the
``rabbitmq`` user, as on the development machines and in CI (Debian's ``rabbitmq-server``
package; the HTTP management plugin is not enabled there).

Names are ``lectern-test-<host>-<pid>-<hex>``: a run killed before it could delete its virtual
host leaves one whose process is gone, and the next run on the same machine deletes it
(``vhosts_stale_remove``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

VHOST_PREFIX = "lectern-test-"
RABBITMQCTL_TIMEOUT = 60  # seconds one rabbitmqctl call may take
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:20] or "host"
_OWN = re.compile(rf"^{re.escape(VHOST_PREFIX)}{re.escape(_HOST)}-(?P<pid>\d+)-[0-9a-f]+$")


class RabbitMQUnavailable(RuntimeError):
    """``rabbitmqctl`` is missing or failed: the message says which command and why."""


def rabbitmqctl(*args: str) -> str:
    """Run ``rabbitmqctl --quiet <args>`` (RABBITMQCTL, default ``rabbitmqctl`` on PATH or
    ``/usr/sbin``); returns its standard output. Raises ``RabbitMQUnavailable`` when it cannot
    run or exits non-zero."""
    binary = os.environ.get("RABBITMQCTL") or shutil.which("rabbitmqctl", path="/usr/sbin:/sbin")
    binary = binary or shutil.which("rabbitmqctl")
    if binary is None:
        raise RabbitMQUnavailable(
            "rabbitmqctl was not found (Debian package rabbitmq-server); set RABBITMQCTL"
        )
    try:
        result = subprocess.run(
            [binary, "--quiet", *args],
            capture_output=True,
            text=True,
            timeout=RABBITMQCTL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RabbitMQUnavailable(f"rabbitmqctl {' '.join(args)}: {error}") from error
    if result.returncode != 0:
        raise RabbitMQUnavailable(
            f"rabbitmqctl {' '.join(args)} exited {result.returncode} (run the tests as root "
            f"or as the rabbitmq user): {(result.stderr or result.stdout).strip()}"
        )
    return result.stdout


def vhost_url(server_url: str, vhost: str) -> str:
    """``server_url`` (``amqp://user:password@host:port/<any vhost>``) naming ``vhost``."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def vhosts() -> list[str]:
    """Names of the server's virtual hosts."""
    return [line.strip() for line in rabbitmqctl("list_vhosts", "name").splitlines()[1:]]


def vhosts_stale_remove() -> list[str]:
    """Delete the test virtual hosts of this machine whose process is gone; returns them."""
    removed = []
    for name in vhosts():
        match = _OWN.match(name)
        if match and not os.path.exists(f"/proc/{match['pid']}"):
            rabbitmqctl("delete_vhost", name)
            removed.append(name)
    return removed


@dataclass(frozen=True)
class VirtualHost:
    """A virtual host of the test RabbitMQ: ``name`` and the broker ``url`` that opens it."""

    name: str
    url: str


def vhost_create(server_url: str, label: str = "") -> VirtualHost:
    """Create a virtual host for this process (``lectern-test-<host>-<pid>-<hex>``, ``label``
    appended to the hex) on the server of ``server_url``, and give its user (the URL's, guest
    by default) every permission on it. Stale test virtual hosts are deleted first."""
    vhosts_stale_remove()
    name = f"{VHOST_PREFIX}{_HOST}-{os.getpid()}-{secrets.token_hex(4)}{label}"
    user = urlsplit(server_url).username or "guest"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
    except RabbitMQUnavailable:
        rabbitmqctl("delete_vhost", name)
        raise
    return VirtualHost(name=name, url=vhost_url(server_url, name))


def vhost_delete(vhost: VirtualHost) -> None:
    """Delete ``vhost`` with everything in it (queues, exchanges, messages); connections to it
    are closed by the server."""
    rabbitmqctl("delete_vhost", vhost.name)


def queue_counts(vhost: VirtualHost) -> dict[str, tuple[int, int]]:
    """``{queue name: (messages ready, messages delivered and not acknowledged)}`` of
    ``vhost``, as the server counts them."""
    counts = {}
    output = rabbitmqctl(
        "list_queues", "-p", vhost.name, "name", "messages_ready", "messages_unacknowledged"
    )
    for line in output.splitlines()[1:]:
        name, ready, unacked = line.split("\t")
        counts[name] = (int(ready), int(unacked))
    return counts


def is_amqp(url: str) -> bool:
    """Whether the broker ``url`` is RabbitMQ's (``amqp://``, ``amqps://``, ``pyamqp://``)."""
    return url.partition("://")[0].lower() in ("amqp", "amqps", "pyamqp")
