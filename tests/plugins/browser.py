"""Debian's headless Chromium (``/usr/bin/chromium``, installed by ``make test`` through the
Makefile's APT_PACKAGES) driven by playwright, shared by the browser tests of every app.

Chromium resolves ``*.localhost`` to the loopback itself; ``--host-resolver-rules`` pins it so
a school's host always reaches the test server on 127.0.0.1. Screenshots go to
``ARTIFACTS_DIR`` (default ``var/test-artifacts/``).

One browser serves a run of consecutive browser tests (``tests/plugins/stack.py`` puts them
together); each test gets fresh contexts and whatever contexts it leaves are closed after it.
The browser is closed as soon as the next test does not use it: while playwright's sync API is
open it holds a running asyncio loop on the main thread, on which other tests'
``async_to_sync`` calls would refuse to run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.plugins.stack import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"


class _SharedChromium:
    """Starts playwright and Chromium on first use; ``close`` stops both."""

    def __init__(self) -> None:
        self._playwright = None
        self._browser = None
        self._previous_async_unsafe: str | None = None

    def get(self):
        if self._browser is None:
            if not Path(CHROMIUM).exists():
                pytest.fail(
                    f"{CHROMIUM} is missing: `make test` installs the Debian package chromium"
                )
            if not (REPO_ROOT / "static" / "build" / "player.js").exists():
                pytest.fail(
                    "static/build/player.js is missing: run `make assets` (part of `make test`)"
                )
            from playwright.sync_api import sync_playwright

            # playwright's sync API keeps an asyncio loop on this thread, which makes Django
            # refuse ORM calls from the test; the loop only runs while playwright waits, never
            # beside the ORM.
            self._previous_async_unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            )
        return self._browser

    def close_contexts(self) -> None:
        if self._browser is not None:
            for context in list(self._browser.contexts):
                context.close()

    def close(self) -> None:
        if self._browser is None:
            return
        try:
            self._browser.close()
        finally:
            self._playwright.stop()
            self._browser = self._playwright = None
            if self._previous_async_unsafe is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = self._previous_async_unsafe


_SHARED = _SharedChromium()


@pytest.fixture
def chromium():
    """The shared headless Chromium (playwright ``Browser``); open a context per page set."""
    return _SHARED.get()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a test: close the contexts it left open, and the browser itself unless the next
    test uses it too."""
    try:
        return (yield)
    finally:
        _SHARED.close_contexts()
        if nextitem is None or "chromium" not in getattr(nextitem, "fixturenames", ()):
            _SHARED.close()


def pytest_sessionfinish(session, exitstatus) -> None:
    _SHARED.close()


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
