"""The migration that moved each lecture's media state into a media asset (courses 0004).

A school's schema is taken back to the state before media assets existed, inside the test's
transaction (PostgreSQL DDL is transactional, so the rollback restores it): lectures that are
ready (one of them failing a re-upload while it plays), failed, queued, processing and
uploading are written as the old code wrote them, then the migrations run forward. Each lecture
must then play or report exactly as before, through the public API and the pipeline's rules.
"""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from enrollment.models import Enrollment
from media_pipeline import transcoding
from media_pipeline.models import MediaAsset, Upload
from tenants.storage import lecture_version_prefix
from tenants.testing import TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db

BEFORE = [("courses", "0003_course_thumbnail"), ("media_pipeline", "0001_initial")]
RENDITIONS = [
    {"name": "360p", "width": 640, "height": 360, "bandwidth": 900000, "codecs": "avc1.64001e"},
    {"name": "720p", "width": 1280, "height": 720, "bandwidth": 3100000, "codecs": "avc1.64001f"},
]
# The state columns of the old courses_lecture, as the old pipeline left them per status.
OLD_STATES = {
    "ready": {
        "status": "ready",
        "progress": 100.0,
        "error": None,
        "duration": 12.5,
        "renditions": RENDITIONS,
        "media_version": 2,
        "pending_version": 2,
        "source_duration": 12.5,
        "transcode_attempts": 1,
        "transcode_claim": "run-done",
    },
    "reupload_failed": {
        "status": "failed",
        "progress": 0.0,
        "error": "The file is not a video: it looks like text.",
        "duration": 30.0,
        "renditions": RENDITIONS[:1],
        "media_version": 1,
        "pending_version": 1,
    },
    "failed": {
        "status": "failed",
        "progress": 0.0,
        "error": "The video could not be processed after 3 attempts.",
        "duration": 8.0,
        "pending_version": 1,
        "source_duration": 8.0,
        "transcode_attempts": 3,
        "transcode_claim": "run-3",
    },
    "queued": {
        "status": "queued",
        "duration": 61.25,
        "pending_version": 1,
        "source_duration": 61.25,
        "source_key": "sources/queued.mp4",
    },
    "processing": {
        "status": "processing",
        "progress": 42.0,
        "duration": 20.0,
        "pending_version": 1,
        "source_duration": 20.0,
        "source_key": "sources/processing.mp4",
        "transcode_attempts": 1,
        "transcode_claim": "run-live",
    },
    "uploading": {"status": "uploading"},
}


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)


def _api(payload: dict) -> dict:
    keep = ("status", "progress", "error", "duration", "media_version")
    return {key: payload[key] for key in keep} | {
        "renditions": [r["name"] for r in payload["renditions"]]
    }


def test_every_lecture_plays_or_reports_exactly_as_before(tenant):
    instructor = make_user(tenant, "migrating@alpha.test", role="instructor")
    student = make_user(tenant, "watching@alpha.test")
    heartbeat = timezone.now() - timedelta(seconds=5)
    with in_tenant(tenant):
        executor = _migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        Course, Section = old.get_model("courses", "Course"), old.get_model("courses", "Section")
        Lecture, OldUpload = (
            old.get_model("courses", "Lecture"),
            old.get_model("media_pipeline", "Upload"),
        )
        course = Course.objects.create(
            title="Before assets", published=True, created_by_id=instructor.pk
        )
        section = Section.objects.create(course=course, title="Old rows", order=1)
        lectures = {}
        for order, (name, state) in enumerate(OLD_STATES.items(), start=1):
            fields = dict(state)
            if name == "processing":
                fields["transcode_heartbeat_at"] = heartbeat
            lectures[name] = Lecture.objects.create(
                section=section, title=name, order=order, **fields
            )
        upload = OldUpload.objects.create(
            lecture=lectures["uploading"],
            created_by_id=instructor.pk,
            length=10,
            offset=5,
            filename="half.mp4",
            expires_at=timezone.now() + timedelta(days=1),
        )
        Enrollment.objects.create(student=student, course_id=course.pk)
        # Check the deferred foreign keys of the rows above now: PostgreSQL refuses ALTER TABLE
        # on a table with pending trigger events in the same transaction.
        connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")

        _migrate(executor.loader.graph.leaf_nodes())

        videos = {name: MediaAsset.objects.get(owner_id=row.pk) for name, row in lectures.items()}
        assert (
            MediaAsset.objects.filter(owner_id__in=[r.pk for r in lectures.values()]).count() == 6
        )
        assert Upload.objects.get(pk=upload.pk).asset_id == videos["uploading"].pk

    staff = TenantClient(tenant, user=instructor)
    for name, state in OLD_STATES.items():
        answer = staff.get(f"/api/v1/lectures/{lectures[name].pk}")
        assert answer.status_code == 200, name
        assert _api(answer.json()) == {
            "status": state["status"],
            "progress": state.get("progress", 0.0),
            "error": state.get("error"),
            "duration": state.get("duration"),
            "media_version": state.get("media_version", 0),
            "renditions": [r["name"] for r in state.get("renditions", [])],
        }, name

    # The unfinished upload resumes where it stopped.
    head = staff.head(f"/api/v1/uploads/{upload.pk}", HTTP_TUS_RESUMABLE="1.0.0")
    assert (head.status_code, head["Upload-Offset"], head["Upload-Length"]) == (200, "5", "10")

    # Both playing lectures still play their version, with the same media URLs and tokens.
    viewer = TenantClient(tenant, user=student)
    for name, version in (("ready", 2), ("reupload_failed", 1)):
        prefix = lecture_version_prefix(tenant.schema_name, lectures[name].pk, version)
        default_storage.save(
            f"{prefix}/hls/master.m3u8",
            ContentFile(b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000\n360p/index.m3u8\n"),
        )
        grant = viewer.get(f"/api/v1/students/courses/{course.pk}/lectures/{lectures[name].pk}")
        assert grant.status_code == 200, name
        url = urlsplit(grant.json()["playback_url"])
        assert url.path == f"/media/hls/{lectures[name].pk}/v{version}/master.m3u8"
        master = TenantClient(tenant).get(f"{url.path}?{url.query}")
        assert master.status_code == 200, name
        token = url.query.removeprefix("token=")
        assert re.findall(r"^(\S+)$", master.content.decode(), flags=re.M)[-1] == (
            f"360p/index.m3u8?token={token}"
        )
    # Lectures without a playing version still answer 409 NOT_READY to students.
    for name in ("failed", "queued", "processing", "uploading"):
        grant = viewer.get(f"/api/v1/students/courses/{course.pk}/lectures/{lectures[name].pk}")
        assert (grant.status_code, grant.json()["error"]["code"]) == (409, "NOT_READY"), name

    with in_tenant(tenant):
        # The queued source is claimed by the next run, as its task will.
        claimed = transcoding.lecture_transcode_begin(
            lecture_id=lectures["queued"].pk, version=1, claim="run-next"
        )
        assert (claimed.status, claimed.attempts, claimed.source_key) == (
            "processing",
            1,
            "sources/queued.mp4",
        )
        # The live lease carried over: another run is kept away, its own run resumes.
        processing = lectures["processing"].pk
        assert (
            transcoding.lecture_transcode_begin(lecture_id=processing, version=1, claim="other")
            is None
        )
        resumed = transcoding.lecture_transcode_begin(
            lecture_id=processing, version=1, claim="run-live"
        )
        assert (resumed.attempts, resumed.lease_claim) == (2, "run-live")
        # Used-up attempts stay used up.
        failed = MediaAsset.objects.get(owner_id=lectures["failed"].pk)
        assert (failed.attempts, failed.lease_claim) == (3, "run-3")
