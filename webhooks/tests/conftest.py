"""A real HTTP receiver and a real DNS server on loopback for the webhook tests.

``receiver``: a threaded HTTP server (one per module) recording every request (path, headers,
body) and answering the statuses queued in ``answers`` (204 when none is queued).
``dns_zone``: a dnslib server (one per module) answering the names of ``ZONE`` (changeable by
a test: ``dns_zone.records``), used through WEBHOOK_DNS_SERVERS.
``loopback_allowed``: the development settings that let the tests reach 127.0.0.1 over http,
and a retry schedule of milliseconds.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Receiver:
    """The test's webhook receiver: ``url`` (``http://127.0.0.1:<port>/hooks``), the
    ``requests`` it got (``(path, headers, body)``) and the ``answers`` to give next
    (``(status, body, headers)``)."""

    url: str
    port: int
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    answers: deque = field(default_factory=deque)

    def reset(self) -> None:
        self.requests.clear()
        self.answers.clear()


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.requests.append((self.path, dict(self.headers.items()), body))
            status, text, headers = (
                receiver.answers.popleft() if receiver.answers else (204, b"", {})
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture(scope="module")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)
    port = server.server_address[1]
    found = Receiver(url=f"http://127.0.0.1:{port}/hooks", port=port)
    server.RequestHandlerClass = _handler(found)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield found
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class Zone:
    """The names the test DNS server answers: ``records`` maps a name (``"hook.test."``) to
    ``[("A" | "AAAA", address), ...]``; ``server`` is ``"127.0.0.1:<port>"``."""

    server: str
    records: dict[str, list[tuple[str, str]]]


ZONE = {
    "loopback.test.": [("A", "127.0.0.1")],
    "private.test.": [("A", "10.1.2.3")],
    "metadata.test.": [("A", "169.254.169.254")],
    "v6-loopback.test.": [("AAAA", "::1")],
    "mapped.test.": [("AAAA", "::ffff:127.0.0.1")],
    "mixed.test.": [("A", "93.184.216.34"), ("A", "192.168.0.10")],
    "public.test.": [("A", "93.184.216.34")],
}


@pytest.fixture(scope="module")
def dns_zone():
    from dnslib import AAAA, QTYPE, RR, A
    from dnslib.server import BaseResolver, DNSServer

    zone = Zone(server="", records={name: list(rrs) for name, rrs in ZONE.items()})

    class Resolver(BaseResolver):
        def resolve(self, request, handler):
            reply = request.reply()
            name = str(request.q.qname).lower()
            qtype = QTYPE[request.q.qtype]
            for rtype, address in zone.records.get(name, []):
                if rtype == qtype:
                    packed = list(ipaddress.ip_address(address).packed)
                    rdata = A(address) if rtype == "A" else AAAA(packed)
                    reply.add_answer(RR(name, getattr(QTYPE, rtype), rdata=rdata, ttl=0))
            if name not in zone.records:
                reply.header.rcode = 3  # NXDOMAIN
            return reply

    server = DNSServer(Resolver(), address="127.0.0.1", port=0, logger=_Quiet())
    server.start_thread()
    zone.server = f"127.0.0.1:{server.server.server_address[1]}"
    yield zone
    server.stop()
    server.server.server_close()


class _Quiet:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@pytest.fixture
def loopback_allowed(settings, receiver):
    """http:// and 127.0.0.1 allowed (development settings), retries after 1, 2 and 3 ms."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_RETRY_SCHEDULE = [0.001, 0.002, 0.003]
    receiver.reset()
    return settings
