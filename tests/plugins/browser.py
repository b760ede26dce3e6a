"""Debian's headless Chromium (``/usr/bin/chromium``, installed by ``make test`` through the
Makefile's APT_PACKAGES) driven by playwright, shared by the browser tests of every app.

Chromium resolves ``*.localhost`` to the loopback itself; ``--host-resolver-rules`` pins it so
a school's host always reaches the test server on 127.0.0.1. Screenshots go to
``ARTIFACTS_DIR`` (default ``var/test-artifacts/``).

One browser per test module, not per session: while playwright's sync API is open it holds a
running asyncio loop on the main thread, on which later tests' ``async_to_sync`` calls would
refuse to run, and under that running loop Django's connection is another one (asgiref's
context-local storage), so the browser must start before a module's tests open their database
transactions and stop after they close them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.plugins.stack import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (the system's) for one test module, launched before the module's
    tests set up anything else."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    if not (REPO_ROOT / "static" / "build" / "player.js").exists():
        pytest.fail("static/build/player.js is missing: run `make assets` (`make test` does)")
    from playwright.sync_api import sync_playwright

    # playwright's sync API keeps an asyncio loop on this thread, which makes Django refuse ORM
    # calls from the test; the loop only runs while playwright waits, never beside the ORM.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--host-resolver-rules=MAP *.localhost 127.0.0.1",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots are written (``ARTIFACTS_DIR``, default ``var/test-artifacts/``)."""
    folder = Path(os.environ.get("ARTIFACTS_DIR") or REPO_ROOT / "var" / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def save_screenshot(page, artifacts_dir: Path, name: str, **kwargs) -> Path:
    """Write a PNG screenshot of ``page`` to the artefacts folder and print its path."""
    path = artifacts_dir / name
    page.screenshot(path=str(path), **kwargs)
    print(f"screenshot: {path}")
    return path
