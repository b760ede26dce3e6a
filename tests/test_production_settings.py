"""Production settings refuse to start with a SECRET_KEY anyone could know, and the compose file
has no fallback key. Each case imports ``config.settings.production`` in a fresh interpreter
with only SECRET_KEY changed."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HOW = 'python3 -c "import secrets; print(secrets.token_urlsafe(50))"'


def import_production(secret_key: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import config.settings.production as s; print(s.SECRET_KEY == __import__('os')"
            ".environ['SECRET_KEY'], s.SIMPLE_JWT['SIGNING_KEY'] == s.SECRET_KEY)",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("secret_key", "reason"),
    [
        (None, "SECRET_KEY is not set."),
        ("", "SECRET_KEY is not set."),
        ("short-but-random-Zq8x", "SECRET_KEY is too short or too repetitive."),
        ("ab" * 40, "SECRET_KEY is too short or too repetitive."),
        # The fallback docker-compose.yml used to have.
        (
            "change-me-in-production-please-0123456789abcdef",
            "SECRET_KEY is a published placeholder.",
        ),
        # The development default of config/settings/base.py (51 characters).
        (
            "insecure-development-key-change-me-0123456789abcdef",
            "SECRET_KEY is a published placeholder.",
        ),
        # What `django-admin startproject` writes.
        (
            "django-insecure-" + secrets.token_urlsafe(50),
            "SECRET_KEY is a published placeholder.",
        ),
    ],
    # Named by position: a key in a test id would differ between xdist workers (the random one)
    # and would print the keys in every report.
    ids=[
        "unset",
        "empty",
        "short",
        "repetitive",
        "compose-fallback",
        "dev-default",
        "startproject",
    ],
)
def test_production_settings_refuse_a_missing_short_or_placeholder_key(secret_key, reason):
    result = import_production(secret_key)

    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f"django.core.exceptions.ImproperlyConfigured: {reason} Set SECRET_KEY in the "
        "environment (or .env) to a random value of at least 50 characters, e.g. the output "
        f"of: {HOW}"
    )


def test_production_settings_take_a_random_key():
    result = import_production(secrets.token_urlsafe(50))

    assert (result.returncode, result.stdout, result.stderr) == (0, "True True\n", "")


def test_compose_requires_the_secret_key():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

    value = compose["x-app-environment"]["SECRET_KEY"]

    assert value.startswith("${SECRET_KEY:?Set SECRET_KEY to a random value of at least 50 ")
    assert ":-" not in value
    assert "change-me" not in (ROOT / "docker-compose.yml").read_text()
