"""Fixtures for the browser tests: a published course with two lectures transcoded by the
real Celery worker, watched through the real uvicorn server (``tests/plugins/stack.py``) in
the shared headless Chromium (``tests/plugins/browser.py``).
"""

import time
from dataclasses import dataclass

import pytest

from tests.plugins.media import ClipSpec
from tests.plugins.stack import worker_idle

CLIP_SECONDS = 20
# A CLIP_SECONDS long 640x360 H.264 + stereo AAC clip with a moving test picture.
CLIP = ClipSpec(640, 360, CLIP_SECONDS, preset=None, channels=2, shortest=True)
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
def browser_course(e2e_school, web_server, celery_worker, django_db_blocker, clip) -> BrowserCourse:
    """A published course with two lectures uploaded and transcoded by the real worker."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import tenant_context

    from courses.models import Lecture
    from courses.services import course_create, lecture_create, section_create
    from enrollment.services import access_codes_create
    from media_pipeline.uploads import upload_from_path
    from tenants.models import Tenant

    source = clip(CLIP)
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
                upload_from_path(user=owner, lecture_id=lecture.id, path=source)
            codes = access_codes_create(course=course, quantity=2).codes
            deadline = time.monotonic() + READY_TIMEOUT
            while True:
                states = list(
                    Lecture.objects.filter(id__in=[lec.id for lec in lectures]).values_list(
                        "video__status", "video__duration"
                    )
                )
                if all(status == "ready" for status, _ in states):
                    break
                assert time.monotonic() < deadline, f"lectures not ready: {states}"
                assert not any(status == "failed" for status, _ in states), states
                time.sleep(0.5)
            # What the worker does next for the ready lectures (their captions runs, the
            # "new lecture" fan-out) ends before any test enrols someone or counts rows.
            worker_idle(celery_worker, timeout=READY_TIMEOUT)
        connection.set_schema_to_public()
    return BrowserCourse(
        base_url=f"http://{web_server.host(e2e_school.subdomain)}",
        course_id=str(course.id),
        lecture_ids=(str(lectures[0].id), str(lectures[1].id)),
        codes=(codes[0], codes[1]),
        duration=float(states[0][1]),
    )
