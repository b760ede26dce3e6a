"""The production files in ``deploy/``: the nginx configuration that ``manage.py deploy_nginx``
renders passes ``nginx -t`` for local and S3 media, every option that could break out of a
directive is refused, and the systemd units pass ``systemd-analyze verify``. The running stack is
``tests/test_production_stack.py``."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from bench.common import NGINX
from tenants.deploy import DeployConfigError, NginxOptions, nginx_config

UNITS = Path(settings.BASE_DIR) / "deploy" / "systemd"


def _options(tmp_path: Path, **changes) -> NginxOptions:
    (tmp_path / "cert.pem").write_text("")
    values = {
        "server_names": ["lectern.example", "*.lectern.example"],
        "certificate": str(tmp_path / "cert.pem"),
        "certificate_key": str(tmp_path / "key.pem"),
        "static_root": str(tmp_path / "static"),
        "media_root": str(tmp_path / "media"),
        "cache_dir": str(tmp_path / "cache"),
        "acme_root": str(tmp_path / "acme"),
        "access_log": str(tmp_path / "access.log"),
        "https_listen": "127.0.0.1:1443",
        "http_listen": "127.0.0.1:1080",
    }
    values.update(changes)
    return NginxOptions(**values)


def _nginx_test(tmp_path: Path, config: str) -> subprocess.CompletedProcess:
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
            "-days", "1", "-subj", "/CN=lectern.example",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    prefix = tmp_path / "nginx"
    prefix.mkdir(exist_ok=True)
    (prefix / "nginx.conf").write_text(config)
    command = [NGINX, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    command += ["-e", str(prefix / "error.log"), "-g", "user root;"]
    return subprocess.run(command, capture_output=True, text=True)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"s3_endpoint": "http://127.0.0.1:9000", "brotli": True},
        {"s3_endpoint": "https://s3.eu-west-1.amazonaws.com", "resolver": "127.0.0.53"},
        {"upstreams": ["unix:/run/lectern/web.sock", "[::1]:8001"], "accel_prefix": "/_m/"},
    ],
    ids=["local media", "s3 and brotli", "named s3 endpoint", "sockets"],
)
def test_the_rendered_configuration_passes_nginx_t(tmp_path, changes):
    config = nginx_config(
        _options(tmp_path, **changes), standalone=True, prefix=str(tmp_path / "nginx")
    )

    result = _nginx_test(tmp_path, config)

    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    assert ("s3(/.*)$ {" in config) == bool(changes.get("s3_endpoint"))
    assert ("brotli on;" in config) == bool(changes.get("brotli"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"server_names": []}, "at least one server name"),
        ({"server_names": ["a.example; include /etc/passwd"]}, "is not a host name"),
        ({"upstreams": ["127.0.0.1:8001; }"]}, "is not host:port"),
        ({"upstreams": []}, "at least one upstream"),
        ({"https_listen": "443 ssl; listen 80"}, "is not a port"),
        ({"api_rate": "20r/s; evil"}, "is not an nginx rate"),
        ({"accel_prefix": "media"}, "must be a path that starts and ends with /"),
        ({"media_root": "/srv/media; alias /"}, "must be an absolute path"),
        ({"certificate": "relative.pem"}, "must be an absolute path"),
        ({"cache_size": "10 g"}, "is not an nginx size"),
        ({"s3_endpoint": "ftp://x"}, "must be scheme://host"),
        ({"s3_endpoint": "https://s3.example.com"}, "give --resolver"),
        ({"s3_endpoint": "http://127.0.0.1:9000/bucket"}, "must be scheme://host"),
    ],
)
def test_unsafe_or_invalid_options_are_refused(tmp_path, changes, message):
    with pytest.raises(DeployConfigError, match=message.replace("(", r"\(")):
        nginx_config(_options(tmp_path, **changes))


def test_the_command_writes_the_file_and_refuses_bad_options(tmp_path):
    output = tmp_path / "lectern.conf"
    call_command(
        "deploy_nginx",
        "--certificate", "/etc/ssl/lectern/fullchain.pem",
        "--certificate-key", "/etc/ssl/lectern/privkey.pem",
        "--server-name", "lectern.example",
        "--upstream", "127.0.0.1:9001",
        "--brotli", "off",
        "--access-log", str(tmp_path / "access.log"),
        "-o", str(output),
    )  # fmt: skip

    text = output.read_text()
    assert "server 127.0.0.1:9001 max_fails=2 fail_timeout=10s;" in text
    assert "server_name lectern.example;" in text
    assert "ssl_certificate /etc/ssl/lectern/fullchain.pem;" in text
    assert "daemon off;" not in text  # the http-context file, not a standalone nginx.conf
    with pytest.raises(CommandError, match="is not host:port"):
        call_command(
            "deploy_nginx", "--certificate", "/c.pem", "--certificate-key", "/k.pem",
            "--upstream", "web; }",
        )  # fmt: skip


def test_the_systemd_units_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (Debian's systemd package)")
    # The units name /opt/lectern; here the checkout stands in for it (its .venv has the
    # programs the units start).
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/lectern", str(settings.BASE_DIR))
        (tmp_path / unit.name).write_text(text)
    (tmp_path / "lectern-web@8001.service").write_text(
        (tmp_path / "lectern-web@.service").read_text()
    )
    names = ["lectern-web@8001.service", "lectern-worker.service", "lectern-beat.service"]

    result = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            *(f"./{name}" for name in names),
            "./lectern.target",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )

    assert (result.returncode, result.stderr) == (0, "")
