"""Which webhook URLs Lectern may call (server-side request forgery): an endpoint's host must
resolve only to public addresses, checked when the URL is registered and again before every
attempt, and the attempt connects to the address checked (``webhooks.delivery``), so a DNS
answer that changes in between (rebinding) cannot send the request elsewhere.

Refused: loopback, private (RFC 1918, unique local fc00::/7), shared (100.64/10), link-local
(169.254/16 with the cloud metadata address, fe80::/10), multicast, reserved, unspecified, and
anything else Python's ``ipaddress`` does not call global; an IPv4-mapped IPv6 address
(``::ffff:127.0.0.1``) is judged as the IPv4 address it carries. Settings (README "Webhooks"):
``WEBHOOK_ALLOW_HTTP`` and ``WEBHOOK_ALLOWED_NETWORKS`` for development and tests only,
``WEBHOOK_DNS_SERVERS`` to resolve with given name servers.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from tenants.errors import ApplicationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(ApplicationError):
    """The URL is not one webhooks may call (400 ``WEBHOOK_URL_REFUSED``, ``details.url``)."""

    code = "WEBHOOK_URL_REFUSED"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message, details={"url": [message]})


@dataclass(frozen=True)
class Target:
    """A checked URL: ``scheme``, ``host`` (the name, for ``Host`` and TLS), ``port``,
    ``path`` (with the query) and ``addresses``, the public addresses it resolved to (the
    first is connected to)."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[Address, ...]


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(net, strict=False) for net in settings.WEBHOOK_ALLOWED_NETWORKS]


def address_refusal(address: Address) -> str | None:
    """Why ``address`` may not be called (``"private"``, ``"loopback"``...), or ``None`` when
    it is public or inside ``WEBHOOK_ALLOWED_NETWORKS``."""
    if any(address in net for net in _allowed_networks()):
        return None
    judged: Address = address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        judged = address.ipv4_mapped
        if any(judged in net for net in _allowed_networks()):
            return None
    for reason, flag in (
        ("unspecified", judged.is_unspecified),
        ("loopback", judged.is_loopback),
        ("link-local", judged.is_link_local),
        ("multicast", judged.is_multicast),
        ("private", judged.is_private),
        ("reserved", judged.is_reserved),
    ):
        if flag:
            return reason
    if not judged.is_global:
        return "not public"
    return None


def _resolve(host: str, port: int) -> list[Address]:
    """The addresses of ``host``: itself when it is an address literal, else from
    ``WEBHOOK_DNS_SERVERS`` (A and AAAA) or the system resolver. Raises ``UrlRefused`` when the
    name does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    if settings.WEBHOOK_DNS_SERVERS:
        return _resolve_with_servers(host)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UrlRefused(f"The host {host} does not resolve to an address.") from None
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


def _resolve_with_servers(host: str) -> list[Address]:
    import dns.exception
    import dns.nameserver
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    nameservers = []
    for server in settings.WEBHOOK_DNS_SERVERS:
        address, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        nameservers.append(dns.nameserver.Do53Nameserver(address or server, int(port or 53)))
    resolver.nameservers = nameservers
    resolver.lifetime = settings.WEBHOOK_CONNECT_TIMEOUT
    found: list[Address] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = resolver.resolve(host, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            continue
        except dns.exception.DNSException:
            raise UrlRefused(f"The host {host} could not be resolved.") from None
        found.extend(ipaddress.ip_address(record.address) for record in answer)
    if not found:
        raise UrlRefused(f"The host {host} does not resolve to an address.")
    return found


def _shown(address: Address) -> str:
    """An address as people write it (an IPv4-mapped one with its IPv4 part dotted)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def url_check(url: str) -> Target:
    """Check ``url`` and resolve its host (every address must be allowed: a name with one
    private address among public ones is refused). Returns the ``Target`` to connect to.
    Raises ``UrlRefused`` for another scheme than https (http too with WEBHOOK_ALLOW_HTTP),
    user info in the URL, a missing host, a name that does not resolve, or a refused address
    (the message names it and why)."""
    parts = urlsplit(url)
    schemes = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in schemes:
        raise UrlRefused("The URL must start with https://.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("The URL may not contain a user name or password.")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise UrlRefused("The URL's port is not valid.") from None
    if not host:
        raise UrlRefused("The URL has no host.")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(host.rstrip("."), port)
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            raise UrlRefused(f"The URL's host {host} is {_shown(address)}, a {reason} address.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, addresses=tuple(addresses))
