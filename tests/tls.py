"""A self-signed TLS certificate for the tests that put nginx with TLS in front of Lectern."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed_certificate(folder: Path, *, addresses: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """A self-signed ECDSA certificate for localhost, *.localhost and 127.0.0.1 (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("*.localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    *(x509.IPAddress(ipaddress.ip_address(a)) for a in addresses),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsSite:
    """A school's host behind a TLS proxy at ``base`` (``https://address[:port]``), named by
    ``host`` in the Host header, with ``certificate`` the only trusted one."""

    def __init__(self, *, base: str, host: str, certificate: Path) -> None:
        self.base = base
        self.host = host
        self.certificate = certificate

    def session(self, access: str | None = None) -> requests.Session:
        """A client of the host (verifying the proxy's certificate), with a JWT if given."""
        session = requests.Session()
        session.trust_env = False  # not the environment's CA bundle (REQUESTS_CA_BUNDLE)
        session.verify = str(self.certificate)
        session.headers["Host"] = self.host
        if access:
            session.headers["Authorization"] = f"Bearer {access}"
        return session

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def login(self, email: str, password: str) -> str:
        """The access JWT of ``email`` (``POST /api/v1/auth/token``)."""
        response = self.session().post(
            self.url("/api/v1/auth/token"), json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return response.json()["access"]
