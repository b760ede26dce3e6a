"""Fixtures for the browser tests: Debian's Chromium (``/usr/bin/chromium``, installed by
``make test`` through the Makefile's APT_PACKAGES) driven by playwright, against the real
uvicorn server and Celery worker of ``tests/conftest.py``.

Chromium resolves ``*.localhost`` to the loopback itself; ``--host-resolver-rules`` pins it so
the school's host always reaches the test server on 127.0.0.1. Screenshots go to
``ARTIFACTS_DIR`` (default ``var/test-artifacts/``).
"""

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
CLIP_SECONDS = 20
READY_TIMEOUT = 240.0  # seconds for the worker to transcode both lectures


@dataclass(frozen=True)
class BrowserCourse:
    """The published course the browser tests watch: two transcoded lectures and one unused
    access code per test."""

    base_url: str
    course_id: str
    lecture_ids: tuple[str, str]
    codes: tuple[str, str]
    duration: float


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where screenshots are written (``ARTIFACTS_DIR``, default ``var/test-artifacts/``)."""
    folder = Path(os.environ.get("ARTIFACTS_DIR") or REPO_ROOT / "var" / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (the system's) for one test module. Not for the whole run: while
    playwright's sync API is open it holds an asyncio loop on the main thread, on which later
    tests' ``async_to_sync`` calls would refuse to run."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs the Debian package chromium")
    if not (REPO_ROOT / "static" / "build" / "player.js").exists():
        pytest.fail("static/build/player.js is missing: run `make assets` (part of `make test`)")
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


def _make_clip(folder: Path) -> Path:
    """A CLIP_SECONDS long 640x360 H.264 + AAC clip with a moving test picture (FFmpeg)."""
    from media_pipeline.probe import ffmpeg_binary

    path = folder / "lecture.mp4"
    subprocess.run(
        [
            *(ffmpeg_binary(), "-v", "error", "-y"),
            *("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
            *("-t", str(CLIP_SECONDS), "-c:v", "libx264", "-pix_fmt", "yuv420p"),
            *("-c:a", "aac", "-ac", "2", "-shortest", str(path)),
        ],
        check=True,
    )
    return path


@pytest.fixture(scope="session")
def browser_course(
    e2e_school, web_server, celery_worker, django_db_blocker, tmp_path_factory
) -> BrowserCourse:
    """A published course with two lectures uploaded and transcoded by the real worker."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import tenant_context

    from courses.models import Lecture
    from courses.services import course_create, lecture_create, section_create
    from enrollment.services import access_codes_create
    from media_pipeline.uploads import upload_from_path
    from tenants.models import Tenant

    clip = _make_clip(tmp_path_factory.mktemp("browser-media"))
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(schema_name=e2e_school.schema_name)
        with tenant_context(tenant):
            owner = get_user_model().objects.get(email=e2e_school.owner_email)
            course = course_create(title="Browser course", published=True, created_by=owner)
            section = section_create(course=course, title="Getting started")
            lectures = [
                lecture_create(section=section, title="First steps"),
                lecture_create(section=section, title="Second steps"),
            ]
            for lecture in lectures:
                upload_from_path(user=owner, lecture_id=lecture.id, path=clip)
            codes = access_codes_create(course=course, quantity=2).codes
            deadline = time.monotonic() + READY_TIMEOUT
            while True:
                states = list(
                    Lecture.objects.filter(id__in=[lec.id for lec in lectures]).values_list(
                        "status", "duration"
                    )
                )
                if all(status == "ready" for status, _ in states):
                    break
                assert time.monotonic() < deadline, f"lectures not ready: {states}"
                assert not any(status == "failed" for status, _ in states), states
                time.sleep(0.5)
        connection.set_schema_to_public()
    return BrowserCourse(
        base_url=f"http://{web_server.host(e2e_school.subdomain)}",
        course_id=str(course.id),
        lecture_ids=(str(lectures[0].id), str(lectures[1].id)),
        codes=(codes[0], codes[1]),
        duration=float(states[0][1]),
    )


def save_screenshot(page, artifacts_dir: Path, name: str, **kwargs) -> Path:
    """Write a PNG screenshot of ``page`` to the artefacts folder and print its path."""
    path = artifacts_dir / name
    page.screenshot(path=str(path), **kwargs)
    print(f"screenshot: {path}")
    return path
