"""Several hosts on one machine for the tests of what crosses a network: Linux network
namespaces (``ip netns``, iproute2) joined by veth pairs to one bridge, as root.

``Network`` makes a bridge ``<prefix>br`` with the address ``10.<net>.0.1/24`` in the machine's
own namespace and, per host, a namespace ``<prefix><name>`` whose end of a veth pair has
``10.<net>.0.<n>``. Processes run inside a host with ``ip netns exec``. The machine's services
(PostgreSQL, Redis, RabbitMQ, the S3 server) listen on 127.0.0.1 only; ``forward(port)`` opens a
TCP relay on the bridge address to the same port on 127.0.0.1, so every host reaches them at
``10.<net>.0.1``. ``cut(host)`` takes a host's link down (packets are dropped, nothing is reset:
what a pulled cable or a dead machine looks like) and ``restore(host)`` brings it back.
Everything is removed by ``close()``, also after a failure, and a run killed half-way is cleaned
up by the next ``Network`` with the same prefix.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import subprocess
import threading
from dataclasses import dataclass, field


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class _Relay:
    """A TCP relay from ``listen`` to ``target`` (threads, one pair per connection)."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(listen, reuse_port=False)
        self.server.settimeout(0.5)
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        client.setblocking(False)
        upstream.setblocking(False)
        peers = {client: upstream, upstream: client}
        selector = selectors.DefaultSelector()
        for sock in peers:
            selector.register(sock, selectors.EVENT_READ)
        try:
            while not self.closed.is_set():
                for key, _ in selector.select(timeout=0.5):
                    try:
                        data = key.fileobj.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    if not data:
                        return
                    peers[key.fileobj].setblocking(True)
                    peers[key.fileobj].sendall(data)
                    peers[key.fileobj].setblocking(False)
        except OSError:
            return
        finally:
            selector.close()
            client.close()
            upstream.close()

    def close(self) -> None:
        self.closed.set()
        self.server.close()
        self.thread.join(timeout=5)


@dataclass
class Network:
    """A bridge and its hosts (module doc). ``net`` is the second octet of ``10.<net>.0.0/24``."""

    prefix: str = "lt"
    net: int = 77
    hosts: dict[str, str] = field(default_factory=dict)  # name -> address
    relays: list[_Relay] = field(default_factory=list)

    def __post_init__(self) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root (ip netns)")
        self._remove_leftovers()
        self.bridge = f"{self.prefix}br"
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    @property
    def gateway(self) -> str:
        """The machine's own address on the bridge, where ``forward`` relays listen."""
        return f"10.{self.net}.0.1"

    def _remove_leftovers(self) -> None:
        listed = _ip("netns", "list", check=False).stdout.split()
        for name in listed:
            if name.startswith(self.prefix):
                _ip("netns", "del", name, check=False)
        _ip("link", "del", f"{self.prefix}br", check=False)

    def add(self, name: str) -> str:
        """Add the host ``name`` and return its address."""
        number = len(self.hosts) + 10
        namespace, outside, inside = f"{self.prefix}{name}", f"{self.prefix}{name}o", "eth0"
        address = f"10.{self.net}.0.{number}"
        _ip("netns", "add", namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", f"{self.prefix}{name}i")
        _ip("link", "set", f"{self.prefix}{name}i", "netns", namespace)
        _ip("-n", namespace, "link", "set", f"{self.prefix}{name}i", "name", inside)
        _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "route", "add", "default", "via", self.gateway)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        self.hosts[name] = address
        return address

    def command(self, name: str, argv: list[str]) -> list[str]:
        """``argv`` run inside the host ``name``."""
        return ["ip", "netns", "exec", f"{self.prefix}{name}", *argv]

    def forward(self, port: int) -> str:
        """Relay ``gateway:port`` to ``127.0.0.1:port``; returns ``gateway:port``."""
        self.relays.append(_Relay((self.gateway, port), ("127.0.0.1", port)))
        return f"{self.gateway}:{port}"

    def cut(self, name: str) -> None:
        """Take the host's link down: its packets are dropped from now on."""
        _ip("link", "set", f"{self.prefix}{name}o", "down")

    def restore(self, name: str) -> None:
        _ip("link", "set", f"{self.prefix}{name}o", "up")

    def close(self) -> None:
        for relay in self.relays:
            relay.close()
        for name in list(self.hosts):
            _ip("netns", "del", f"{self.prefix}{name}", check=False)
            _ip("link", "del", f"{self.prefix}{name}o", check=False)
        _ip("link", "del", self.bridge, check=False)


@contextlib.contextmanager
def network(**kwargs):
    """A ``Network`` for the block, removed afterwards."""
    made = Network(**kwargs)
    try:
        yield made
    finally:
        made.close()
