"""The nginx configuration of a production deployment (``deploy/nginx/lectern.conf``), rendered
with an installation's values by ``manage.py deploy_nginx`` (README, "Production deployment").

``nginx_config(NginxOptions(...))`` gives the ``http``-context file an nginx installation
includes (Debian: ``/etc/nginx/sites-enabled/lectern.conf``); ``standalone=True`` wraps it in a
whole ``nginx.conf`` (pid, events, temporary folders under ``prefix``, the brotli module) for
running ``nginx -c`` directly, as the tests and ``bench/playback.py`` do.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.template import Context, Engine

TEMPLATE = Path(settings.BASE_DIR) / "deploy" / "nginx" / "lectern.conf"
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so")
MIME_TYPES = Path("/etc/nginx/mime.types")
# nginx's rate syntax (ngx_http_limit_req_module): a number of requests per second or minute.
_RATE = re.compile(r"[1-9][0-9]*r/[sm]")
_UPSTREAM = re.compile(r"(?:\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):[1-9][0-9]{0,4}|unix:/[^\s;{}]+")
_SERVER_NAME = re.compile(r"(?:\*\.)?[A-Za-z0-9.-]+|_")
_LISTEN = re.compile(r"(?:(?:\[[0-9A-Fa-f:]+\]|[0-9.]+):)?[1-9][0-9]{0,4}")
_SAFE_VALUE = re.compile(r"[^\s;{}'\"\\#$]+")


class DeployConfigError(ValueError):
    """An option would make an invalid or unsafe nginx configuration; the message says which."""


@dataclass
class NginxOptions:
    """The values of one installation.

    Attributes:
        server_names: Host names served (the platform host and ``*.<platform host>`` for the
            schools' subdomains; custom domains too).
        upstreams: uvicorn workers as ``host:port`` or ``unix:/path``.
        certificate, certificate_key: PEM files of the TLS certificate (full chain) and key.
        https_listen, http_listen: ``port`` or ``address:port``.
        static_root: collectstatic's folder (STATIC_ROOT); media_root: MEDIA_ROOT.
        accel_prefix: MEDIA_ACCEL_REDIRECT, the internal location media is sent from.
        s3_endpoint: ``scheme://host[:port]`` of the S3 endpoint when media is on S3 (segments
            are then cached here), else empty; resolver: DNS server nginx asks for that host
            (needed when it is a name, not an address).
        cache_dir, cache_size, cache_valid: the S3 segment cache's folder, size (nginx size,
            e.g. ``10g``) and lifetime (nginx time, e.g. ``1h``).
        api_rate, api_burst, signin_rate, signin_burst: per-IP limits (nginx rates such as
            ``20r/s``; bursts in requests).
        acme_root: folder of ACME HTTP-01 challenge files.
        access_log: the access log's file (lines without query strings, with the worker that
            answered).
        connect_timeout, read_timeout: how long nginx waits for a uvicorn worker to accept a
            connection and to answer (nginx times, e.g. ``2s``, ``60s``) before an idempotent
            request goes to the next worker.
        brotli: compress text with brotli too (needs the brotli filter module).
    """

    server_names: list[str]
    certificate: str
    certificate_key: str
    upstreams: list[str] = field(default_factory=lambda: ["127.0.0.1:8001", "127.0.0.1:8002"])
    https_listen: str = "443"
    http_listen: str = "80"
    static_root: str = ""
    media_root: str = ""
    accel_prefix: str = "/_lectern_media/"
    s3_endpoint: str = ""
    resolver: str = ""
    cache_dir: str = "/var/cache/nginx/lectern"
    cache_size: str = "10g"
    cache_valid: str = "1h"
    api_rate: str = "20r/s"
    api_burst: int = 40
    signin_rate: str = "10r/m"
    signin_burst: int = 5
    acme_root: str = "/var/www/acme"
    access_log: str = "/var/log/nginx/lectern.access.log"
    connect_timeout: str = "2s"
    read_timeout: str = "60s"
    brotli: bool = False


def _check(options: NginxOptions) -> None:
    if not options.server_names:
        raise DeployConfigError("Give at least one server name.")
    for name in options.server_names:
        if not _SERVER_NAME.fullmatch(name):
            raise DeployConfigError(f"{name!r} is not a host name nginx can serve.")
    if not options.upstreams:
        raise DeployConfigError("Give at least one upstream (a uvicorn worker's host:port).")
    for upstream in options.upstreams:
        if not _UPSTREAM.fullmatch(upstream):
            raise DeployConfigError(f"{upstream!r} is not host:port or unix:/path.")
    for label, value in (
        ("https listen", options.https_listen),
        ("http listen", options.http_listen),
    ):
        if not _LISTEN.fullmatch(value):
            raise DeployConfigError(f"{label} {value!r} is not a port or address:port.")
    for label, value in (("api rate", options.api_rate), ("sign-in rate", options.signin_rate)):
        if not _RATE.fullmatch(value):
            raise DeployConfigError(f"{label} {value!r} is not an nginx rate such as 20r/s.")
    if not re.fullmatch(r"/[A-Za-z0-9_/-]*/", options.accel_prefix):
        raise DeployConfigError(
            f"accel prefix {options.accel_prefix!r} must be a path that starts and ends with /."
        )
    paths = {
        "certificate": options.certificate,
        "certificate key": options.certificate_key,
        "static root": options.static_root,
        "media root": options.media_root,
        "cache dir": options.cache_dir,
        "acme root": options.acme_root,
        "access log": options.access_log,
    }
    for label, value in paths.items():
        if not value or not value.startswith("/") or not _SAFE_VALUE.fullmatch(value):
            raise DeployConfigError(f"{label} {value!r} must be an absolute path without spaces.")
    sizes_and_times = (
        ("cache size", options.cache_size),
        ("cache valid", options.cache_valid),
        ("connect timeout", options.connect_timeout),
        ("read timeout", options.read_timeout),
    )
    for label, value in sizes_and_times:
        if not re.fullmatch(r"[1-9][0-9]*[kmgsdhKMG]?", value):
            raise DeployConfigError(f"{label} {value!r} is not an nginx size or time.")
    if options.s3_endpoint:
        parts = urlsplit(options.s3_endpoint)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
        ):
            raise DeployConfigError(
                f"S3 endpoint {options.s3_endpoint!r} must be scheme://host[:port]."
            )
        try:
            ipaddress.ip_address(parts.hostname)
        except ValueError:
            if not options.resolver:
                raise DeployConfigError(
                    f"The S3 endpoint {parts.hostname!r} is a name: give --resolver (the DNS "
                    "server nginx asks, e.g. 127.0.0.53)."
                ) from None
    if options.resolver and not _SAFE_VALUE.fullmatch(options.resolver):
        raise DeployConfigError(f"resolver {options.resolver!r} is not an address.")


def nginx_config(options: NginxOptions, *, standalone: bool = False, prefix: str = "") -> str:
    """The nginx configuration for ``options`` (the ``http``-context file), or with
    ``standalone`` a whole ``nginx.conf`` whose pid, error log and temporary folders are under
    ``prefix`` (a folder; ``nginx -p prefix -c file``).

    Raises:
        DeployConfigError: an option is missing or not a value nginx accepts safely (every value
            is checked, so nothing can end a directive or open a block).
    """
    _check(options)
    s3 = urlsplit(options.s3_endpoint) if options.s3_endpoint else None
    context = {
        **options.__dict__,
        "server_names": " ".join(options.server_names),
        "s3_endpoint": f"{s3.scheme}://{s3.netloc}" if s3 else "",
        "s3_host": s3.netloc if s3 else "",
        "static_root": options.static_root.rstrip("/"),
        "media_root": options.media_root.rstrip("/"),
    }
    engine = Engine(autoescape=False)
    text = engine.from_string(TEMPLATE.read_text()).render(Context(context))
    if options.resolver:
        text = text.replace(
            "\nserver {", f"\nresolver {options.resolver} valid=300s;\n\nserver {{", 1
        )
    if not standalone:
        return text
    if not prefix.startswith("/") or not _SAFE_VALUE.fullmatch(prefix):
        raise DeployConfigError(f"prefix {prefix!r} must be an absolute path without spaces.")
    modules = f"load_module {BROTLI_MODULE};\n" if options.brotli else ""
    mime = f"    include {MIME_TYPES};\n" if MIME_TYPES.exists() else ""
    temp = "".join(
        f"    {name}_temp_path {prefix}/{name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    indented = "\n".join(f"    {line}" if line else "" for line in text.splitlines())
    return (
        f"{modules}worker_processes auto;\ndaemon off;\npid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log warn;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n{mime}    default_type application/octet-stream;\n"
        f"    access_log off;\n    sendfile on;\n    tcp_nopush on;\n"
        f"    server_tokens off;\n{temp}\n{indented}\n}}\n"
    )
