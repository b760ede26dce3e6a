"""Fixtures for the student side: a course, its instructor, students and a ready lecture."""

import subprocess
from pathlib import Path

import pytest

from courses.models import Lecture
from courses.services import course_create, lecture_create, section_create
from media_pipeline.probe import ffmpeg_binary
from tenants.middleware import tenant_host_cache_clear
from tenants.testing import in_tenant, make_user


@pytest.fixture(autouse=True)
def _fresh_host_cache():
    """Each test starts and ends with an empty host -> tenant cache of the HTTP middleware: a
    test's transaction is rolled back without the model signals that clear the cache, so a
    school changed inside one test (branding, a domain) must not be served to the next."""
    tenant_host_cache_clear()
    yield
    tenant_host_cache_clear()


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """A 2 s 320x240 H.264 + stereo AAC mp4 made by FFmpeg."""
    path = tmp_path_factory.mktemp("media") / "tiny.mp4"
    subprocess.run(
        [
            ffmpeg_binary(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-shortest",
            str(path),
        ],
        check=True,
    )
    return path


@pytest.fixture
def instructor(tenant):
    return make_user(tenant, "teacher@alpha.test", role="instructor")


@pytest.fixture
def student(tenant):
    return make_user(tenant, "student@alpha.test")


@pytest.fixture
def course(tenant, instructor):
    with in_tenant(tenant):
        course = course_create(title="Physics", published=True, created_by=instructor)
        section = section_create(course=course, title="Motion")
        lecture_create(section=section, title="Velocity")
        lecture_create(section=section, title="Acceleration")
    return course


def lectures_of(tenant, course) -> list[Lecture]:
    with in_tenant(tenant):
        return list(
            Lecture.objects.select_related("video").filter(section__course=course).order_by("order")
        )


@pytest.fixture
def ready_lecture(tenant, course, instructor, tiny_clip) -> Lecture:
    """The course's first lecture, uploaded and transcoded for real (version 1)."""
    from media_pipeline.transcoding import lecture_transcode
    from media_pipeline.uploads import upload_from_path

    lecture = lectures_of(tenant, course)[0]
    with in_tenant(tenant):
        upload_from_path(user=instructor, lecture_id=lecture.id, path=tiny_clip)
        assert lecture_transcode(lecture_id=lecture.id, version=1) is True
        return Lecture.objects.select_related("video").get(pk=lecture.pk)
