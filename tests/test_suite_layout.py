"""The suite collects every app's tests: an app missing from pytest's ``testpaths``
(pyproject.toml) would have its tests silently skipped by ``make test`` and CI."""

import tomllib
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent


def test_every_project_app_is_in_testpaths():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    testpaths = set(config["tool"]["pytest"]["ini_options"]["testpaths"])
    project_apps = {
        Path(app.path).relative_to(ROOT).parts[0]
        for app in apps.get_app_configs()
        if Path(app.path).is_relative_to(ROOT) and "site-packages" not in Path(app.path).parts
    }
    assert project_apps == {
        "tenants",
        "media_pipeline",
        "courses",
        "enrollment",
        "catalog",
        "teams",
        "community",
        "engagement",
        "trust",
        "plans",
        "learning",
        "notifications",
        "search",
        "analytics",
        "recommendations",
        "sso",
        "webhooks",
        "schools",
        "domains",
    }
    assert project_apps | {"tests"} == testpaths
