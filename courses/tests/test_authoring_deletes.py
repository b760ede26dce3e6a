"""Deleting a section or a lecture through the API removes its lectures' stored media once the
delete commits (local storage and S3, through ``media_pipeline.assets.assets_delete``), its
students' watch progress in the same transaction, and nothing at all when the transaction
fails; the dashboard's confirmation counts exactly what will go
(``courses.selectors.lectures_delete_impact``)."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from courses.hooks import lectures_deleted
from courses.models import Lecture, Section
from courses.selectors import lectures_delete_impact
from courses.services import (
    course_create,
    lecture_create,
    lecture_delete,
    section_create,
    section_delete,
)
from enrollment.models import LectureProgress
from tenants.storage import lecture_prefix
from tenants.testing import TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db

# Three files of 1000, 2000 and 3000 bytes under each lecture's prefix.
FILES = {"source/upload.mp4": 1000, "v1/master.m3u8": 2000, "v1/360p/seg_00000.ts": 3000}


def lectures_with_media(tenant, instructor=None) -> dict:
    """A section with lectures a and b (each with FILES stored and a playing version), and b
    with a pending version too; returns the rows and the stored keys per lecture."""
    with in_tenant(tenant):
        course = course_create(title="Media course", created_by=instructor)
        section = section_create(course=course, title="Media section")
        made = {"course": course, "section": section, "keys": {}}
        for name in "ab":
            lecture = lecture_create(section=section, title=name)
            lecture.video.version = 1
            lecture.video.pending_version = 2 if name == "b" else 0
            lecture.video.save(update_fields=["version", "pending_version"])
            prefix = lecture_prefix(tenant.schema_name, lecture.pk)
            made[name] = lecture
            made["keys"][name] = {
                default_storage.save(f"{prefix}/{path}", ContentFile(b"x" * size))
                for path, size in FILES.items()
            }
    connection.set_schema_to_public()
    return made


def stored(keys) -> set[str]:
    return {key for key in keys if default_storage.exists(key)}


def progress_on(tenant, *lectures) -> None:
    for index in range(2):
        student = make_user(tenant, f"viewer{index}-{lectures[0].pk.hex[:6]}@alpha.test")
        with in_tenant(tenant):
            for lecture in lectures:
                LectureProgress.objects.create(student=student, lecture_id=lecture.pk)


def test_impact_counts_lectures_versions_bytes_and_progress(tenant):
    made = lectures_with_media(tenant)
    progress_on(tenant, made["a"], made["b"])
    with in_tenant(tenant):
        impact = lectures_delete_impact(lecture_ids=[made["a"].pk, made["b"].pk])
        single = lectures_delete_impact(lecture_ids=[made["a"].pk])
    assert impact == {
        "lectures": 2,
        "media_versions": 3,
        "media_bytes": 12000,
        "progress_records": 4,
        "students": 2,
    }
    assert single == {
        "lectures": 1,
        "media_versions": 1,
        "media_bytes": 6000,
        "progress_records": 2,
        "students": 2,
    }


def test_lecture_delete_removes_its_files_on_commit_only(
    tenant, instructor, django_capture_on_commit_callbacks
):
    made = lectures_with_media(tenant, instructor)
    client = TenantClient(tenant, user=instructor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.delete(f"/api/v1/lectures/{made['a'].pk}").status_code == 204
        # Deleted rows, files still there until the commit.
        assert stored(made["keys"]["a"]) == made["keys"]["a"]
    for callback in callbacks:
        callback()
    assert stored(made["keys"]["a"]) == set()
    assert stored(made["keys"]["b"]) == made["keys"]["b"]


def test_section_delete_removes_every_lectures_files(
    tenant, instructor, django_capture_on_commit_callbacks
):
    made = lectures_with_media(tenant, instructor)
    with django_capture_on_commit_callbacks(execute=True):
        response = TenantClient(tenant, user=instructor).delete(
            f"/api/v1/sections/{made['section'].pk}"
        )
    assert response.status_code == 204
    assert stored(made["keys"]["a"] | made["keys"]["b"]) == set()


def test_a_delete_rolled_back_keeps_rows_progress_and_every_file(
    tenant, django_capture_on_commit_callbacks
):
    """A receiver of ``lectures_deleted`` that fails after the rows are gone rolls the whole
    delete back: rows, progress and files all stay."""
    made = lectures_with_media(tenant)
    progress_on(tenant, made["a"])

    def failing(**payload):
        raise RuntimeError("receiver failed")

    lectures_deleted.connect(failing)
    try:
        with in_tenant(tenant):
            with (
                django_capture_on_commit_callbacks(execute=True) as callbacks,
                pytest.raises(RuntimeError),
            ):
                lecture_delete(lecture=Lecture.objects.get(pk=made["a"].pk))
            assert callbacks == []
            assert Lecture.objects.filter(pk=made["a"].pk).exists()
            assert LectureProgress.objects.filter(lecture_id=made["a"].pk).count() == 2
            assert list(
                Lecture.objects.filter(section=made["section"]).values_list("title", "order")
            ) == [("a", 1), ("b", 2)]
    finally:
        lectures_deleted.disconnect(failing)
    assert stored(made["keys"]["a"]) == made["keys"]["a"]


def test_s3_lecture_delete_removes_exactly_its_objects(
    tenant, s3, s3_storage, django_capture_on_commit_callbacks
):
    made = lectures_with_media(tenant)
    all_keys = made["keys"]["a"] | made["keys"]["b"]
    assert s3.objects(f"tenants/{tenant.schema_name}/lectures/") == all_keys
    with in_tenant(tenant):
        assert lectures_delete_impact(lecture_ids=[made["a"].pk])["media_bytes"] == 6000
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            lecture_delete(lecture=Lecture.objects.get(pk=made["a"].pk))
        assert s3.objects(f"tenants/{tenant.schema_name}/lectures/") == all_keys
        for callback in callbacks:
            callback()
        assert s3.objects(f"tenants/{tenant.schema_name}/lectures/") == made["keys"]["b"]
        with django_capture_on_commit_callbacks(execute=True):
            section_delete(section=Section.objects.get(pk=made["section"].pk))
    assert s3.objects(f"tenants/{tenant.schema_name}/lectures/") == set()
