"""The DNS server of the custom-domain tests (tests/dns.py), one per test process, and the
settings that point Lectern's DNS checks at it."""

import pytest

from tests.dns import DnsServer, dns_server


@pytest.fixture(scope="session")
def dns_zone() -> DnsServer:
    """The running DNS server (``records``/``silent`` are the zone the test writes)."""
    with dns_server() as server:
        yield server


@pytest.fixture
def dns(dns_zone, settings) -> DnsServer:
    """``dns_zone`` emptied, with DOMAIN_DNS_NAMESERVERS pointing at it (0.3 s timeout),
    DOMAIN_PLATFORM_ADDRESSES ``127.0.0.1`` and ``::1``, and no DOMAIN_CNAME_TARGET."""
    settings.DOMAIN_DNS_NAMESERVERS = [dns_zone.address]
    settings.DOMAIN_DNS_TIMEOUT = 0.3
    settings.DOMAIN_PLATFORM_ADDRESSES = ["127.0.0.1", "::1"]
    settings.DOMAIN_CNAME_TARGET = ""
    dns_zone.records.clear()
    dns_zone.silent.clear()
    yield dns_zone
    dns_zone.records.clear()
    dns_zone.silent.clear()
