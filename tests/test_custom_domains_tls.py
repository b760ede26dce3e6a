"""Automatic TLS for custom domains, end to end on loopback: the shipped deploy/caddy/Caddyfile
run by Debian's caddy in front of the session's web server, Debian's pebble as the ACME CA
(HTTP-01 and TLS-ALPN-01 validation reach Caddy's ports; names resolved by the test's DNS
server, tests/dns.py). A verified domain gets a certificate from pebble at its first handshake
and serves its school over HTTPS; a pending one gets no certificate, however often a client
tries."""

import contextlib
import json
import os
import shutil
import socket
import ssl
import time
from types import SimpleNamespace

import pytest
import requests

from tests.plugins.stack import REPO_ROOT, _free_port, _log_tail, _spawn, _stop_process_group
from tests.tls import self_signed_certificate

pytestmark = pytest.mark.skipif(
    not (shutil.which("caddy") and shutil.which("pebble")),
    reason="needs Debian's caddy and pebble (make system-deps)",
)

HANDSHAKE_TIMEOUT = 30.0  # seconds: the first handshake waits for the whole ACME order


def _wait_for(check, what: str, log, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not come up:\n{_log_tail(log)}")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


@pytest.fixture(scope="module")
def edge(e2e_env, web_server, dns_zone, tmp_path_factory, e2e_logs):
    """pebble and caddy started for this module; ``https_port`` is Caddy's TLS listener and
    ``root`` pebble's root certificate (PEM), fetched from its management API."""
    folder = tmp_path_factory.mktemp("edge")
    certificate, key = self_signed_certificate(folder)
    http_port, https_port, acme_port, management_port = (_free_port() for _ in range(4))
    config = folder / "pebble.json"
    config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"127.0.0.1:{acme_port}",
                    "managementListenAddress": f"127.0.0.1:{management_port}",
                    "certificate": str(certificate),
                    "privateKey": str(key),
                    "httpPort": http_port,
                    "tlsPort": https_port,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            }
        )
    )
    pebble_env = {
        "PATH": os.environ["PATH"],
        "PEBBLE_VA_NOSLEEP": "1",  # validate at once, not after a random pause
        "PEBBLE_WFE_NONCEREJECT": "0",  # no deliberately refused nonces
    }
    pebble_log = e2e_logs / "pebble.log"
    pebble = _spawn(
        ["pebble", "-config", str(config), "-dnsserver", dns_zone.address], pebble_env, pebble_log
    )
    caddy = None
    try:
        _wait_for(lambda: _listening(management_port), "pebble", pebble_log)
        root = requests.get(
            f"https://127.0.0.1:{management_port}/roots/0", verify=str(certificate), timeout=5
        ).text
        caddy_env = {
            "PATH": os.environ["PATH"],
            "HOME": str(folder),
            "XDG_DATA_HOME": str(folder / "data"),
            "XDG_CONFIG_HOME": str(folder / "config"),
            "CADDY_HTTP_PORT": str(http_port),
            "CADDY_HTTPS_PORT": str(https_port),
            "CADDY_ADMIN": "off",
            "ACME_CA": f"https://127.0.0.1:{acme_port}/dir",
            "ACME_CA_ROOT": str(certificate),
            "LECTERN_TLS_ASK": f"{web_server.base_url}/internal/tls-allowed",
            "LECTERN_UPSTREAMS": f"127.0.0.1:{web_server.port}",
        }
        caddy_log = e2e_logs / "caddy.log"
        caddy = _spawn(
            [
                *("caddy", "run", "--adapter", "caddyfile"),
                *("--config", str(REPO_ROOT / "deploy" / "caddy" / "Caddyfile")),
            ],
            caddy_env,
            caddy_log,
        )
        _wait_for(lambda: _listening(https_port) and _listening(http_port), "caddy", caddy_log)
        yield SimpleNamespace(https_port=https_port, root=root, caddy_log=caddy_log)
    finally:
        if caddy is not None:
            _stop_process_group(caddy, grace=5)
        _stop_process_group(pebble, grace=5)


def _https_get(edge, name: str, path: str = "/") -> tuple[dict, int, bytes]:
    """A TLS handshake with Caddy for ``name`` (SNI), verified against pebble's root, then
    ``GET path`` with ``Host: name``: (peer certificate, status, body)."""
    context = ssl.create_default_context(cadata=edge.root)
    raw = socket.create_connection(("127.0.0.1", edge.https_port), HANDSHAKE_TIMEOUT)
    with raw, context.wrap_socket(raw, server_hostname=name) as tls:
        peer = tls.getpeercert()
        request = f"GET {path} HTTP/1.1\r\nHost: {name}\r\nAccept: text/html\r\n"
        tls.sendall((request + "Connection: close\r\n\r\n").encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return peer, int(head.split(b" ", 2)[1]), body


def _issuer(peer: dict) -> str:
    return dict(pair for rdn in peer["issuer"] for pair in rdn)["commonName"]


def test_a_verified_domain_gets_a_certificate_and_an_unverified_one_none(
    edge, e2e_school, dns, django_db_blocker
):
    from domains.services import domain_check
    from tenants.domains import domain_create
    from tenants.models import Domain, Tenant

    suffix = e2e_school.subdomain
    verified_name, pending_name = f"{suffix}.school.test", f"pending-{suffix}.school.test"
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(subdomain=e2e_school.subdomain)
        verified = domain_create(tenant=tenant, domain=verified_name)
        pending = domain_create(tenant=tenant, domain=pending_name)
    # Both names reach Caddy on loopback; only the first has the TXT record of its token.
    dns.records[verified_name] = [("A", "127.0.0.1")]
    dns.records[f"_lectern.{verified_name}"] = [("TXT", verified.token)]
    dns.records[pending_name] = [("A", "127.0.0.1")]
    try:
        with django_db_blocker.unblock():
            from django.db import connection
            from django_tenants.utils import tenant_context

            with tenant_context(tenant):
                assert domain_check(domain_id=verified.pk).status == "verified"
                assert domain_check(domain_id=pending.pk).status == "pending"
            connection.set_schema_to_public()

        started = time.monotonic()
        peer, status, body = _https_get(edge, verified_name)
        issued = time.monotonic() - started
        refusals = []
        for _attempt in range(2):
            with pytest.raises(ssl.SSLError) as refused:
                _https_get(edge, pending_name)
            refusals.append(refused.value.reason)
        again = _https_get(edge, verified_name)

        assert _issuer(peer).startswith("Pebble Intermediate CA"), peer["issuer"]
        assert ("DNS", verified_name) in peer["subjectAltName"]
        assert status == 200 and b"E2E Academy" in body
        assert again[1] == 200 and again[0]["serialNumber"] == peer["serialNumber"]
        assert refusals == ["TLSV1_ALERT_INTERNAL_ERROR"] * 2
        with django_db_blocker.unblock():
            statuses = dict(
                Domain.objects.filter(pk__in=[verified.pk, pending.pk]).values_list(
                    "domain", "status"
                )
            )
        assert statuses == {verified_name: "active", pending_name: "pending"}
        log = edge.caddy_log.read_text(errors="replace")
        assert f'"identifier":"{verified_name}"' in log
        assert f'"identifier":"{pending_name}"' not in log  # never ordered from the CA
        print(f"\nfirst HTTPS request of a verified domain (ACME order included): {issued:.2f} s")
    finally:
        with django_db_blocker.unblock():
            Domain.objects.filter(pk__in=[verified.pk, pending.pk]).delete()
