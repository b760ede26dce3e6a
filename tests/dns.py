"""A DNS server for the tests (dnslib, UDP on a free loopback port) answering from a zone the
test writes: ``server.records["shop.example"] = [("CNAME", "alpha.localhost")]``.

A name in ``records`` answers its records of the asked type (NOERROR without records for
other types; a CNAME is answered, with its target's records when the target is in
``records`` too, for any type); a name that is not there answers NXDOMAIN. Names listed in
``silent`` get no answer at all (a timeout for the client).
"""

from __future__ import annotations

import contextlib
import socket

from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, TXT, A, DNSError
from dnslib.server import BaseResolver, DNSServer

_RDATA = {"A": A, "AAAA": AAAA, "CNAME": CNAME, "TXT": TXT}


class _Silent(DNSError):
    """Raised for a name of ``silent``: the handler sends nothing."""


class _ZoneResolver(BaseResolver):
    def __init__(self, records: dict, silent: set) -> None:
        self.records = records
        self.silent = silent

    def _records_of(self, name: str, qtype: str, reply, depth: int = 0) -> bool:
        entries = self.records.get(name)
        if entries is None:
            return False
        for rtype, value in entries:
            if rtype == qtype or (rtype == "CNAME" and qtype != "CNAME"):
                reply.add_answer(
                    RR(name + ".", getattr(QTYPE, rtype), rdata=_RDATA[rtype](value), ttl=1)
                )
                if rtype == "CNAME" and qtype != "CNAME" and depth < 5:
                    self._records_of(value.rstrip(".").lower(), qtype, reply, depth + 1)
        return True

    def resolve(self, request, handler):
        name = str(request.q.qname).rstrip(".").lower()
        if name in self.silent:
            raise _Silent(name)
        reply = request.reply()
        qtype = QTYPE[request.q.qtype]
        if not self._records_of(name, qtype, reply):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class _QuietLogger:
    def log_recv(self, *args):
        pass

    def log_send(self, *args):
        pass

    def log_request(self, *args):
        pass

    def log_reply(self, *args):
        pass

    def log_truncated(self, *args):
        pass

    def log_error(self, handler, exc):
        pass

    def log_data(self, *args):
        pass


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DnsServer:
    """The running server: ``address`` is ``"127.0.0.1:<port>"`` (DOMAIN_DNS_NAMESERVERS,
    pebble's ``-dnsserver``); ``records`` and ``silent`` may be changed while it runs."""

    def __init__(self) -> None:
        self.records: dict[str, list[tuple[str, str]]] = {}
        self.silent: set[str] = set()
        self.port = _free_udp_port()
        self.address = f"127.0.0.1:{self.port}"
        self._server = DNSServer(
            _ZoneResolver(self.records, self.silent),
            port=self.port,
            address="127.0.0.1",
            logger=_QuietLogger(),
        )

    def start(self) -> DnsServer:
        self._server.start_thread()
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._server.stop()
        self._server.server.server_close()


@contextlib.contextmanager
def dns_server():
    """A started ``DnsServer``, stopped at the end of the block."""
    server = DnsServer().start()
    try:
        yield server
    finally:
        server.stop()


__all__ = ["DnsServer", "dns_server"]
