"""Flower, the Celery queues' web console (config/flowerconfig.py, README "Monitoring"),
started for real on the test broker beside the session's Celery worker: anonymous and
wrong-password requests are refused, the configured account sees the worker and its queues,
and Flower will not start without an account."""

import secrets
import subprocess
import time

import pytest
import requests

from tests.plugins.stack import (
    REPO_ROOT,
    STARTUP_TIMEOUT,
    VENV_BIN,
    _free_port,
    _log_tail,
    _spawn,
    _stop_process_group,
)

USER = "ops"

# The django_db mark makes pytest-django create the test database, which the session's worker
# (``celery_worker``, through ``e2e_env``) runs against; these tests do not touch it themselves.
pytestmark = pytest.mark.django_db


def _flower_command(port: int) -> list[str]:
    return [
        *(str(VENV_BIN / "celery"), "-A", "config", "flower"),
        *("--conf=config/flowerconfig.py", "--address=127.0.0.1", f"--port={port}"),
    ]


@pytest.fixture(scope="module")
def flower(e2e_env, celery_worker, e2e_logs):
    """Flower on a free loopback port with a random password; yields ``(base_url, password)``
    once its ``/healthcheck`` answers."""
    password = secrets.token_urlsafe(16)
    port = _free_port()
    log = e2e_logs / "flower.log"
    env = {**e2e_env, "FLOWER_BASIC_AUTH": f"{USER}:{password}"}
    process = _spawn(_flower_command(port), env, log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"flower exited with {process.returncode}:\n{_log_tail(log)}")
            try:
                if requests.get(f"{base_url}/healthcheck", timeout=2).text == "OK":
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"flower did not answer in time:\n{_log_tail(log)}")
            time.sleep(0.2)
        yield base_url, password
    finally:
        _stop_process_group(process)


@pytest.mark.parametrize("path", ["/", "/workers", "/broker", "/api/workers", "/api/queues/length"])
def test_anonymous_and_wrong_password_requests_are_refused(flower, celery_worker, path):
    base_url, password = flower
    anonymous = requests.get(f"{base_url}{path}", timeout=10)
    wrong = requests.get(f"{base_url}{path}", auth=(USER, password + "x"), timeout=10)
    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert celery_worker not in anonymous.text + wrong.text


def test_the_account_sees_the_worker_and_its_queues(flower, celery_worker):
    base_url, password = flower
    auth = (USER, password)
    page = requests.get(f"{base_url}/workers", auth=auth, timeout=10)
    assert page.status_code == 200
    workers = requests.get(f"{base_url}/api/workers?refresh=1", auth=auth, timeout=30)
    assert workers.status_code == 200
    assert celery_worker in workers.json()
    queues = requests.get(f"{base_url}/api/queues/length", auth=auth, timeout=30)
    assert queues.status_code == 200
    names = {queue["name"] for queue in queues.json()["active_queues"]}
    assert names == {"transcode", "captions", "default"}


def _flower_run(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run Flower in the foreground with ``env`` (it exits at once when refused)."""
    return subprocess.run(
        _flower_command(_free_port()),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_flower_refuses_to_start_without_an_account(e2e_env):
    env = {key: value for key, value in e2e_env.items() if key != "FLOWER_BASIC_AUTH"}
    missing = _flower_run(env)
    half = _flower_run({**env, "FLOWER_BASIC_AUTH": f"{USER}:"})
    assert (missing.returncode, half.returncode) == (1, 1)
    assert "Flower needs FLOWER_BASIC_AUTH" in missing.stderr
    assert "each pair must be user:password" in half.stderr
