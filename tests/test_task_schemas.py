"""Every Celery task runs in the right school's schema, through a real worker process.

One Celery worker (prefork, concurrency 1, ``tests/plugins/stack.py`` ``celery_worker``) gets the
runs of both committed test schools, A (alpha) and B (beta), interleaved A, B, A, B. Each run
must write only in its own school's schema: the transcodes make their lecture ``ready`` in
their school and the lecture id never exists in the other; the per-school sweeps (watch event
flush, rollup, upload expiry, transcode recovery) process the data of A while B's waits, then
B's, each in its own schema. Watch events of both schools carry the same student id, so a
flush or rollup on the wrong schema would be caught by the rows, not only by the counts.

``test_every_task_has_a_schema_case`` fails when a task is registered in the Celery app
without an entry in TASK_CASES here. Everything is committed (``django_db_blocker.unblock()``)
because the worker is another process; each test removes what it created.
"""

import secrets
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from media_pipeline.models import MediaAsset
from tenants.models import Tenant
from tenants.testing import TEST_TENANTS, make_user
from tests.plugins.media import ClipSpec

pytestmark = pytest.mark.timeout(240)

RESULT_TIMEOUT = 60.0  # seconds a sweep task may take in the worker
READY_TIMEOUT = 120.0  # seconds four short transcodes may take in one worker process

# Every task of the Celery app and the test below that runs it in both schools.
TASK_CASES = {
    "media_pipeline.tasks.lecture_transcode": "test_lecture_transcode_interleaved_in_one_worker",
    "media_pipeline.tasks.lecture_transcode_chunk": "test_chunked_transcodes_in_one_worker",
    "analytics.tasks.watch_events_flush": "test_analytics_sweeps_interleaved_in_one_worker",
    "analytics.tasks.analytics_rollup": "test_analytics_sweeps_interleaved_in_one_worker",
    "media_pipeline.tasks.uploads_expire": "test_uploads_expire_interleaved_in_one_worker",
    "media_pipeline.tasks.lecture_transcodes_recover": (
        "test_lecture_transcodes_recover_interleaved_in_one_worker"
    ),
    "media_pipeline.tasks.document_convert": "test_document_convert_interleaved_in_one_worker",
    "media_pipeline.tasks.lecture_captions": "test_lecture_captions_interleaved_in_one_worker",
    "media_pipeline.tasks.captions_recover": "test_captions_recover_interleaved_in_one_worker",
    "media_pipeline.tasks.documents_recover": "test_documents_recover_interleaved_in_one_worker",
    "enrollment.tasks.password_reset_email_send": (
        "test_password_reset_email_send_interleaved_in_one_worker"
    ),
    "enrollment.tasks.email_change_email_send": "test_email_change_mails_interleaved_in_one_worker",
    "enrollment.tasks.email_changed_notice_send": (
        "test_email_change_mails_interleaved_in_one_worker"
    ),
    "enrollment.tasks.welcome_email_send": "test_welcome_email_send_interleaved_in_one_worker",
    "teams.tasks.invitation_emails_send": "test_invitation_emails_send_interleaved_in_one_worker",
    "trust.tasks.image_check": "test_trust_checks_interleaved_in_one_worker",
    "trust.tasks.lecture_check": "test_trust_checks_interleaved_in_one_worker",
    "learning.tasks.certificate_render": "test_certificate_render_interleaved_in_one_worker",
    "notifications.tasks.event_notify": "test_event_notify_interleaved_in_one_worker",
    "notifications.tasks.notification_mails_send": (
        "test_notification_mails_send_interleaved_in_one_worker"
    ),
    "notifications.tasks.weekly_reminders": "test_weekly_reminders_in_each_school",
    "search.tasks.transcript_index": "test_transcript_index_interleaved_in_one_worker",
    "search.tasks.search_maintain": "test_search_maintain_in_each_school",
    "webhooks.tasks.event_publish": "test_webhook_tasks_interleaved_in_one_worker",
    "webhooks.tasks.message_deliver": "test_webhook_tasks_interleaved_in_one_worker",
    "webhooks.tasks.message_replay": "test_webhook_tasks_interleaved_in_one_worker",
    "webhooks.tasks.endpoint_disabled_emails_send": "test_webhook_tasks_interleaved_in_one_worker",
    "recommendations.tasks.course_embed": "test_recommendations_interleaved_in_one_worker",
    "recommendations.tasks.recommendations_refresh": (
        "test_recommendations_interleaved_in_one_worker"
    ),
    "tenants.tasks.backup_scheduled": "test_backup_scheduled_holds_every_school",
    "plans.tasks.served_bytes_collect": "test_served_bytes_collect_in_each_school",
    "schools.tasks.owner_welcome_email_send": (
        "test_owner_welcome_email_send_interleaved_in_one_worker"
    ),
    "schools.tasks.signup_email_send": "test_platform_tasks_run_in_the_public_schema",
    "schools.tasks.idempotency_records_prune": "test_platform_tasks_run_in_the_public_schema",
    "domains.tasks.domains_check": "test_domain_tasks_interleaved_in_one_worker",
    "domains.tasks.domain_check": "test_domain_tasks_interleaved_in_one_worker",
    "domains.tasks.domain_notice_send": "test_domain_tasks_interleaved_in_one_worker",
}


@pytest.mark.django_db
def test_every_task_has_a_schema_case():
    """The registry of the Celery app (celery.* built-ins aside) equals TASK_CASES, and each
    case names a test of this module."""
    from config.celery import app

    app.loader.import_default_modules()
    registered = {name for name in app.tasks if not name.startswith("celery.")}
    assert registered == set(TASK_CASES)
    assert all(callable(globals().get(test)) for test in TASK_CASES.values())


@pytest.fixture(scope="module")
def two_schools(django_db_setup, django_db_blocker):
    """``(A, B, instructor of A, instructor of B)``, committed; courses and accounts made by
    the tests (titles and e-mails tagged ``schema-<tag>``) are deleted afterwards."""
    from courses.models import Course

    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        alpha = Tenant.objects.get(subdomain=TEST_TENANTS["tenant"][0])
        beta = Tenant.objects.get(subdomain=TEST_TENANTS["other_tenant"][0])
        owners = [
            make_user(tenant, f"schema-{tag}@{tenant.schema_name}.test", role="instructor")
            for tenant in (alpha, beta)
        ]
        connection.set_schema_to_public()
    yield alpha, beta, *owners
    with django_db_blocker.unblock():
        for tenant, owner in zip((alpha, beta), owners, strict=True):
            with tenant_context(tenant):
                Course.objects.filter(created_by=owner).delete()
                owner.delete()
        connection.set_schema_to_public()


def _lecture(tenant, owner, title: str):
    from courses.services import course_create, lecture_create, section_create

    with tenant_context(tenant):
        course = course_create(title=f"Schema test: {title}", created_by=owner)
        section = section_create(course=course, title="Schemas")
        return lecture_create(section=section, title=title)


def _lecture_row(tenant, lecture_id):
    """``(status, version)`` of the lecture's video in ``tenant``'s schema, or None."""
    with tenant_context(tenant):
        return (
            MediaAsset.objects.filter(owner_id=lecture_id, kind=MediaAsset.Kind.VIDEO)
            .values_list("status", "version")
            .first()
        )


def _wait_for(predicate, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _in_worker(task, node: str):
    """Run ``task`` (no arguments) in the worker ``node`` and return its result. ``node`` is
    the only consumer of this run's broker database (TEST_CELERY_BROKER_URL), so it takes the
    task; the argument keeps the worker fixture alive for the call."""
    return task.apply_async().get(timeout=RESULT_TIMEOUT)


@pytest.fixture(scope="module")
def short_clip(clip) -> Path:
    """A 2 s 320x180 H.264 + AAC clip (one rung of the ladder)."""
    return clip(ClipSpec(320, 180, 2, shortest=True))


def test_lecture_transcode_interleaved_in_one_worker(
    two_schools, celery_worker, short_clip, django_db_blocker, record_property
):
    """Four uploads, A, B, A, B: each is sent (on commit) with its school's schema name and
    transcoded by the same worker process; each lecture ends ``ready`` with version 1 in its own
    schema, is absent from the other one, and its media lands under its own school's folder."""
    from media_pipeline.uploads import upload_from_path

    alpha, beta, owner_a, owner_b = two_schools
    order = [(alpha, owner_a), (beta, owner_b), (alpha, owner_a), (beta, owner_b)]
    with django_db_blocker.unblock():
        lectures = []
        started = time.monotonic()
        for index, (tenant, owner) in enumerate(order):
            lecture = _lecture(tenant, owner, f"transcode {index}")
            with tenant_context(tenant), transaction.atomic():
                upload_from_path(user=owner, lecture_id=lecture.id, path=short_clip)
            lectures.append((tenant, lecture.id))
        connection.set_schema_to_public()
        for tenant, lecture_id in lectures:
            _wait_for(
                lambda t=tenant, i=lecture_id: (
                    (_lecture_row(t, i) or ("", 0))[0]
                    in (MediaAsset.Status.READY, MediaAsset.Status.FAILED)
                ),
                f"lecture {lecture_id} of {tenant.schema_name} to finish",
                READY_TIMEOUT,
            )
        record_property("four_transcodes_seconds", round(time.monotonic() - started, 2))
        for tenant, lecture_id in lectures:
            other = beta if tenant == alpha else alpha
            assert _lecture_row(tenant, lecture_id) == (MediaAsset.Status.READY, 1)
            assert _lecture_row(other, lecture_id) is None
            media = Path(settings.MEDIA_ROOT) / "tenants"
            assert list((media / tenant.schema_name).rglob(f"*{lecture_id}*"))
            assert not list((media / other.schema_name).rglob(f"*{lecture_id}*"))
        connection.set_schema_to_public()


@pytest.fixture(scope="module")
def chunked_clip(clip) -> Path:
    """A 13 s 320x180 H.264 + AAC clip: two 6 s chunks (the last one 7 s) and the audio."""
    return clip(ClipSpec(320, 180, 13, shortest=True))


def _chunked_source(tenant, lecture, path: Path) -> None:
    """Make ``path`` the queued source of the lecture's video, as an accepted upload would,
    without sending its transcode (the test plans it itself)."""
    from django.core.files.storage import default_storage

    from media_pipeline.probe import probe
    from media_pipeline.transcoding import source_info_of
    from tenants.storage import lecture_prefix, storage_put

    info = probe(path, container="mp4")
    key = f"{lecture_prefix(tenant.schema_name, lecture.id)}/source/chunked.mp4"
    storage_put(path, key, storage=default_storage)
    with tenant_context(tenant):
        MediaAsset.objects.update_or_create(
            owner_id=lecture.id,
            kind=MediaAsset.Kind.VIDEO,
            defaults={
                "status": MediaAsset.Status.QUEUED,
                "pending_version": 1,
                "source_key": key,
                "source_duration": info.duration,
                "source_info": source_info_of(info),
            },
        )


def test_chunked_transcodes_in_one_worker(
    two_schools, celery_worker, chunked_clip, django_db_blocker, settings
):
    """A chunked transcode planned in each school (6 s chunks): the worker runs A's chunk tasks
    and B's, each in its own school, then each join; each lecture ends ``ready`` in its own
    schema with its chunks encoded by that worker, and is absent from the other. Chunk tasks of
    A's lecture sent with B's schema name (and the other way round) find nothing and return
    False."""
    from media_pipeline import chunks
    from media_pipeline.models import TranscodeChunk
    from media_pipeline.tasks import lecture_transcode_chunk

    settings.TRANSCODE_CHUNK_THRESHOLD = 5
    settings.TRANSCODE_CHUNK_SECONDS = 6
    alpha, beta, owner_a, owner_b = two_schools
    with django_db_blocker.unblock():
        lectures = []
        for tenant, owner in ((alpha, owner_a), (beta, owner_b)):
            lecture = _lecture(tenant, owner, "chunked")
            _chunked_source(tenant, lecture, chunked_clip)
            lectures.append((tenant, lecture.id))
        crossed = []
        for (_, lecture_id), other in zip(lectures, (beta, alpha), strict=True):
            kwargs = {"schema_name": other.schema_name, "lecture_id": str(lecture_id)}
            kwargs.update(version=1, kind="video", index=0)
            crossed.append(lecture_transcode_chunk.apply_async(kwargs=kwargs))
        for tenant, lecture_id in lectures:
            with tenant_context(tenant):
                # Plans and sends the chunk tasks (on commit) with this school's schema name.
                assert chunks.lecture_transcode_run(
                    lecture_id=lecture_id, version=1, claim=uuid.uuid4().hex
                ) is False  # fmt: skip
        connection.set_schema_to_public()
        assert [result.get(timeout=RESULT_TIMEOUT) for result in crossed] == [False, False]
        for tenant, lecture_id in lectures:
            _wait_for(
                lambda t=tenant, i=lecture_id: (
                    (_lecture_row(t, i) or ("", 0))[0]
                    in (MediaAsset.Status.READY, MediaAsset.Status.FAILED)
                ),
                f"chunked lecture {lecture_id} of {tenant.schema_name} to finish",
                READY_TIMEOUT,
            )
        for tenant, lecture_id in lectures:
            other = beta if tenant == alpha else alpha
            assert _lecture_row(tenant, lecture_id) == (MediaAsset.Status.READY, 1)
            assert _lecture_row(other, lecture_id) is None
            with tenant_context(tenant):
                rows = TranscodeChunk.objects.filter(asset__owner_id=lecture_id)
                assert sorted((r.name, r.status, r.worker) for r in rows) == [
                    ("audio", "done", celery_worker),
                    ("c00000", "done", celery_worker),
                    ("c00001", "done", celery_worker),
                ]
            with tenant_context(other):
                assert not TranscodeChunk.objects.filter(asset__owner_id=lecture_id).exists()
        connection.set_schema_to_public()


def test_lecture_captions_interleaved_in_one_worker(
    two_schools, celery_worker, speech_media, django_db_blocker
):
    """A lecture with speech in each school, its captions run A, B, then each lecture's id
    sent with the other school's schema name: each run transcribes its own school's lecture
    (its cues stored there only), and the crossed runs find no video there ("skipped")."""
    from media_pipeline.models import CaptionCue
    from media_pipeline.tasks import lecture_captions
    from tests.plugins.media import ready_lecture_write

    alpha, beta, owner_a, owner_b = two_schools
    with django_db_blocker.unblock():
        ids = {}
        for tenant, owner in ((alpha, owner_a), (beta, owner_b)):
            lecture = _lecture(tenant, owner, "captions")
            with tenant_context(tenant):
                ready_lecture_write(lecture=lecture, media=speech_media)
            ids[tenant.pk] = str(lecture.pk)
        connection.set_schema_to_public()

        def run(tenant, lecture_id):
            return lecture_captions.apply_async(
                kwargs={"schema_name": tenant.schema_name, "lecture_id": lecture_id, "version": 1}
            ).get(timeout=RESULT_TIMEOUT)

        a, b = ids[alpha.pk], ids[beta.pk]
        outcomes = [run(alpha, a), run(beta, b), run(alpha, b), run(beta, a)]
        assert outcomes == ["transcribed", "transcribed", "skipped", "skipped"]
        for tenant, own, other in ((alpha, a, b), (beta, b, a)):
            with tenant_context(tenant):
                text = " ".join(
                    CaptionCue.objects.filter(owner_id=own).values_list("text", flat=True)
                ).lower()
                assert "photosynthesis" in text
                assert not CaptionCue.objects.filter(owner_id=other).exists()
        connection.set_schema_to_public()


def test_captions_recover_interleaved_in_one_worker(two_schools, celery_worker, django_db_blocker):
    """A lost captions run (``processing``, lease far older than its time limit, attempts used
    up) in A and a live one in B: the sweep fails A's track in A's schema only; then B's
    lapses and the next sweep fails B's."""
    from media_pipeline.tasks import captions_recover

    alpha, beta, owner_a, owner_b = two_schools

    def running(tenant, owner, *, lapsed: bool):
        lecture = _lecture(tenant, owner, "recover captions")
        with tenant_context(tenant):
            MediaAsset.objects.create(
                owner_id=lecture.pk,
                kind=MediaAsset.Kind.CAPTIONS,
                status=MediaAsset.Status.PROCESSING,
                pending_version=1,
                source_duration=10.0,
                attempts=settings.TRANSCODE_MAX_ATTEMPTS,
                lease_claim=str(uuid.uuid4()),
                lease_renewed_at=timezone.now() - timedelta(days=1 if lapsed else 0),
            )
        return lecture.id

    def status(tenant, lecture_id):
        with tenant_context(tenant):
            return MediaAsset.objects.get(owner_id=lecture_id, kind="captions").status

    with django_db_blocker.unblock():
        a_lost = running(alpha, owner_a, lapsed=True)
        b_live = running(beta, owner_b, lapsed=False)
        assert _in_worker(captions_recover, celery_worker)["failed"] >= 1
        assert status(alpha, a_lost) == MediaAsset.Status.FAILED
        assert status(beta, b_live) == MediaAsset.Status.PROCESSING
        with tenant_context(beta):
            MediaAsset.objects.filter(owner_id=b_live, kind="captions").update(
                lease_renewed_at=timezone.now() - timedelta(days=1)
            )
        assert _in_worker(captions_recover, celery_worker)["failed"] >= 1
        assert status(beta, b_live) == MediaAsset.Status.FAILED
        connection.set_schema_to_public()


def _presentation(tenant, owner, title: str):
    from courses.services import course_create, lecture_create, section_create

    with tenant_context(tenant):
        course = course_create(title=f"Schema test: {title}", created_by=owner)
        section = section_create(course=course, title="Schemas")
        return lecture_create(section=section, title=title, kind="presentation")


def _document_row(tenant, lecture_id):
    """``(status, version, page_count)`` of the lecture's document in ``tenant``, or None."""
    with tenant_context(tenant):
        return (
            MediaAsset.objects.filter(owner_id=lecture_id, kind=MediaAsset.Kind.DOCUMENT)
            .values_list("status", "version", "page_count")
            .first()
        )


def test_document_convert_interleaved_in_one_worker(
    two_schools, celery_worker, django_db_blocker, tmp_path
):
    """Four PDFs of 1-4 pages, A, B, A, B: each conversion runs in its own school's schema in
    the same worker process and ends ``ready`` with its page count there, absent elsewhere."""
    from media_pipeline.uploads import upload_from_path
    from tests.documents import pdf_write

    alpha, beta, owner_a, owner_b = two_schools
    order = [(alpha, owner_a), (beta, owner_b), (alpha, owner_a), (beta, owner_b)]
    with django_db_blocker.unblock():
        lectures = []
        for index, (tenant, owner) in enumerate(order):
            lecture = _presentation(tenant, owner, f"document {index}")
            pdf = pdf_write(tmp_path / f"doc{index}.pdf", index + 1)
            with tenant_context(tenant), transaction.atomic():
                upload_from_path(user=owner, lecture_id=lecture.id, path=pdf)
            lectures.append((tenant, lecture.id, index + 1))
        connection.set_schema_to_public()
        for tenant, lecture_id, pages in lectures:
            _wait_for(
                lambda t=tenant, i=lecture_id: (
                    (_document_row(t, i) or ("",))[0]
                    in (MediaAsset.Status.READY, MediaAsset.Status.FAILED)
                ),
                f"document {lecture_id} of {tenant.schema_name} to finish",
                RESULT_TIMEOUT,
            )
            other = beta if tenant == alpha else alpha
            assert _document_row(tenant, lecture_id) == (MediaAsset.Status.READY, 1, pages)
            assert _document_row(other, lecture_id) is None
        connection.set_schema_to_public()


def test_documents_recover_interleaved_in_one_worker(two_schools, celery_worker, django_db_blocker):
    """A lost conversion (``processing``, lease older than DOCUMENT_LEASE_TIMEOUT, attempts
    used up) in A and a live one in B: the sweep fails A's in A's schema only; then B's lapses
    and the next sweep fails B's."""
    from media_pipeline.tasks import documents_recover

    alpha, beta, owner_a, owner_b = two_schools

    def running(tenant, owner, *, lapsed: bool):
        lecture = _presentation(tenant, owner, "recover document")
        with tenant_context(tenant):
            MediaAsset.objects.filter(owner_id=lecture.pk).update(
                status=MediaAsset.Status.PROCESSING,
                pending_version=1,
                attempts=settings.TRANSCODE_MAX_ATTEMPTS,
                lease_claim=str(uuid.uuid4()),
                lease_renewed_at=timezone.now() - timedelta(days=1 if lapsed else 0),
            )
        return lecture.id

    def status(tenant, lecture_id):
        return _document_row(tenant, lecture_id)[0]

    with django_db_blocker.unblock():
        a_lost = running(alpha, owner_a, lapsed=True)
        b_live = running(beta, owner_b, lapsed=False)
        assert _in_worker(documents_recover, celery_worker)["failed"] >= 1
        assert status(alpha, a_lost) == MediaAsset.Status.FAILED
        assert status(beta, b_live) == MediaAsset.Status.PROCESSING
        with tenant_context(beta):
            MediaAsset.objects.filter(owner_id=b_live).update(
                lease_renewed_at=timezone.now() - timedelta(days=1)
            )
        assert _in_worker(documents_recover, celery_worker)["failed"] >= 1
        assert status(beta, b_live) == MediaAsset.Status.FAILED
        connection.set_schema_to_public()


def test_analytics_sweeps_interleaved_in_one_worker(two_schools, celery_worker, django_db_blocker):
    """watch_events_flush and analytics_rollup run A, B, A, B in the worker. Before each pair
    only one school has a new buffered event (same student id in both schools): the flush
    stores it in that school's schema only and reports it under that schema name; the rollup
    counts it into that school's rollup tables only."""
    from analytics import services, tasks
    from analytics.models import (
        CourseDay,
        CourseStudent,
        LectureStat,
        LectureViewer,
        RollupState,
        WatchEvent,
    )

    alpha, beta, _, _ = two_schools
    student_id = 900_000 + secrets.randbelow(99_999)
    course_ids = {alpha.pk: uuid.uuid4(), beta.pk: uuid.uuid4()}
    written = []
    watermarks = {}
    with django_db_blocker.unblock():
        for tenant in (alpha, beta):
            # Start from empty buffers: events other tests appended (and rolled back the rows
            # of) would otherwise be flushed here too.
            keys = services.watch_keys(tenant.schema_name)
            services.redis_client().delete(keys.pending, keys.processing)
            with tenant_context(tenant):
                watermarks[tenant.pk] = dict(RollupState.objects.values_list("name", "last_id"))
        try:
            for round_number, tenant in enumerate((alpha, beta, alpha, beta)):
                other = beta if tenant == alpha else alpha
                lecture_id = uuid.uuid4()
                # Buffered under this run's cache prefix, which the worker shares, as a web
                # process of a deployment shares its workers' CACHE prefix.
                appended = services.watch_events_append(
                    schema_name=tenant.schema_name,
                    student_id=student_id,
                    lecture_id=lecture_id,
                    course_id=course_ids[tenant.pk],
                    ranges=[[0.0, 5.0 + round_number]],
                )
                assert appended == 1
                written.append(lecture_id)

                flushed = _in_worker(tasks.watch_events_flush, celery_worker)
                assert flushed.get(tenant.schema_name) == 1, flushed
                assert other.schema_name not in flushed, flushed
                with tenant_context(tenant):
                    row = WatchEvent.objects.get(lecture_id=lecture_id)
                    assert (row.student_id, row.course_id) == (student_id, course_ids[tenant.pk])
                with tenant_context(other):
                    assert not WatchEvent.objects.filter(lecture_id=lecture_id).exists()

                counted = _in_worker(tasks.analytics_rollup, celery_worker)
                assert counted.get(tenant.schema_name, {}).get("watch_events") == 1, counted
                assert other.schema_name not in counted, counted
            with tenant_context(alpha):
                seconds_a = CourseDay.objects.get(course_id=course_ids[alpha.pk]).watch_seconds
                assert not CourseDay.objects.filter(course_id=course_ids[beta.pk]).exists()
            with tenant_context(beta):
                seconds_b = CourseDay.objects.get(course_id=course_ids[beta.pk]).watch_seconds
                assert not CourseDay.objects.filter(course_id=course_ids[alpha.pk]).exists()
            # Rounds 0 and 2 were A's (5 s + 7 s), rounds 1 and 3 B's (6 s + 8 s).
            assert (seconds_a, seconds_b) == (12.0, 14.0)
        finally:
            # The worker committed; leave the schools' analytics as they were.
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    WatchEvent.objects.filter(lecture_id__in=written).delete()
                    CourseDay.objects.filter(course_id__in=course_ids.values()).delete()
                    CourseStudent.objects.filter(course_id__in=course_ids.values()).delete()
                    LectureViewer.objects.filter(lecture_id__in=written).delete()
                    LectureStat.objects.filter(lecture_id__in=written).delete()
                    RollupState.objects.exclude(name__in=watermarks[tenant.pk]).delete()
                    for name, last_id in watermarks[tenant.pk].items():
                        RollupState.objects.filter(name=name).update(last_id=last_id)
            connection.set_schema_to_public()


def test_uploads_expire_interleaved_in_one_worker(two_schools, celery_worker, django_db_blocker):
    """An expired upload of A and a live one of B: the worker's run removes A's only (from A's
    schema). Then B's expires and A gets a new live one: the next run removes B's only."""
    from media_pipeline.models import Upload
    from media_pipeline.tasks import uploads_expire
    from media_pipeline.uploads import upload_create

    alpha, beta, owner_a, owner_b = two_schools

    def upload(tenant, owner):
        lecture = _lecture(tenant, owner, "upload")
        with tenant_context(tenant):
            return upload_create(
                user=owner,
                length=10,
                metadata_header=f"lecture_id {_b64(lecture.id)},filename YQ==",
            ).id

    def expire(tenant, upload_id):
        with tenant_context(tenant):
            Upload.objects.filter(pk=upload_id).update(
                expires_at=timezone.now() - timedelta(minutes=1)
            )

    def exists(tenant, upload_id) -> bool:
        with tenant_context(tenant):
            return Upload.objects.filter(pk=upload_id).exists()

    with django_db_blocker.unblock():
        a_first, b_first = upload(alpha, owner_a), upload(beta, owner_b)
        expire(alpha, a_first)
        assert _in_worker(uploads_expire, celery_worker) >= 1
        assert (exists(alpha, a_first), exists(beta, b_first)) == (False, True)

        a_second = upload(alpha, owner_a)
        expire(beta, b_first)
        assert _in_worker(uploads_expire, celery_worker) >= 1
        assert (exists(alpha, a_second), exists(beta, b_first)) == (True, False)
        with tenant_context(alpha):
            Upload.objects.filter(pk=a_second).delete()
        connection.set_schema_to_public()


def _b64(value) -> str:
    import base64

    return base64.b64encode(str(value).encode()).decode()


def test_lecture_transcodes_recover_interleaved_in_one_worker(
    two_schools, celery_worker, django_db_blocker
):
    """A lost run (``processing``, lease lapsed, attempts used up) in A and a healthy one in B:
    the worker's sweep fails A's lecture in A's schema and leaves B's alone; then B's lease
    lapses and A gets a healthy run: the next sweep fails B's only."""
    from media_pipeline.tasks import lecture_transcodes_recover

    alpha, beta, owner_a, owner_b = two_schools

    def running(tenant, owner, *, lapsed: bool):
        lecture = _lecture(tenant, owner, "recover")
        with tenant_context(tenant):
            MediaAsset.objects.filter(owner_id=lecture.pk).update(
                status=MediaAsset.Status.PROCESSING,
                pending_version=1,
                attempts=settings.TRANSCODE_MAX_ATTEMPTS,
                lease_claim=str(uuid.uuid4()),
                lease_renewed_at=timezone.now() - timedelta(days=1 if lapsed else 0),
            )
        return lecture.id

    def lapse(tenant, lecture_id):
        with tenant_context(tenant):
            MediaAsset.objects.filter(owner_id=lecture_id).update(
                lease_renewed_at=timezone.now() - timedelta(days=1)
            )

    def status(tenant, lecture_id):
        with tenant_context(tenant):
            return MediaAsset.objects.get(owner_id=lecture_id).status

    with django_db_blocker.unblock():
        a_first = running(alpha, owner_a, lapsed=True)
        b_first = running(beta, owner_b, lapsed=False)
        assert _in_worker(lecture_transcodes_recover, celery_worker)["failed"] >= 1
        assert status(alpha, a_first) == MediaAsset.Status.FAILED
        assert status(beta, b_first) == MediaAsset.Status.PROCESSING

        a_second = running(alpha, owner_a, lapsed=False)
        lapse(beta, b_first)
        assert _in_worker(lecture_transcodes_recover, celery_worker)["failed"] >= 1
        assert status(beta, b_first) == MediaAsset.Status.FAILED
        assert status(alpha, a_second) == MediaAsset.Status.PROCESSING
        with tenant_context(alpha):
            MediaAsset.objects.filter(owner_id=a_second).update(status=MediaAsset.Status.FAILED)
        connection.set_schema_to_public()


def test_password_reset_email_send_interleaved_in_one_worker(
    two_schools, celery_worker, django_db_blocker
):
    """Account ids P and Q exist in both schools: in A, P is active and Q is not; in B the
    other way round. The worker's runs A(P), B(Q), A(Q), B(P) send exactly for the active
    account of the school each run names: True, True, False, False (a run in the other
    school's schema would answer the opposite)."""
    from django.contrib.auth import get_user_model

    from enrollment.tasks import password_reset_email_send

    alpha, beta, _, _ = two_schools
    first = 800_000 + secrets.randbelow(99_999) * 2
    active = {alpha.pk: first, beta.pk: first + 1}
    with django_db_blocker.unblock():
        for tenant in (alpha, beta):
            with tenant_context(tenant):
                for pk in (first, first + 1):
                    user = get_user_model().objects.create_user(
                        email=f"reset-{pk}@{tenant.schema_name}.test",
                        password="Reset-task-pass-1",
                        id=pk,
                        is_active=pk == active[tenant.pk],
                    )
                    assert user.pk == pk
        connection.set_schema_to_public()
        try:
            runs = [(alpha, first), (beta, first + 1), (alpha, first + 1), (beta, first)]
            sent = [
                password_reset_email_send.apply_async(
                    kwargs={"schema_name": tenant.schema_name, "user_id": pk}
                ).get(timeout=RESULT_TIMEOUT)
                for tenant, pk in runs
            ]
            assert sent == [True, True, False, False]
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    get_user_model().objects.filter(pk__in=[first, first + 1]).delete()
            connection.set_schema_to_public()


def test_email_change_mails_interleaved_in_one_worker(
    two_schools, celery_worker, django_db_blocker
):
    """Account id P is active in A and inactive in B; account id Q exists only in B. The
    confirmation mail runs A(P), B(P) send True, False; the notice runs A(Q), B(Q) send False,
    True: each run reads the school it names (the wrong schema would answer the opposite)."""
    from django.contrib.auth import get_user_model

    from enrollment.tasks import email_change_email_send, email_changed_notice_send

    alpha, beta, _, _ = two_schools
    p = 900_000 + secrets.randbelow(49_999) * 2
    q = p + 1
    with django_db_blocker.unblock():
        for tenant, pk, active in ((alpha, p, True), (beta, p, False), (beta, q, True)):
            with tenant_context(tenant):
                get_user_model().objects.create_user(
                    email=f"change-{pk}@{tenant.schema_name}.test",
                    password="Change-task-pass-1",
                    id=pk,
                    is_active=active,
                )
        connection.set_schema_to_public()
        try:
            runs = [
                (email_change_email_send, alpha, p),
                (email_change_email_send, beta, p),
                (email_changed_notice_send, alpha, q),
                (email_changed_notice_send, beta, q),
            ]
            sent = [
                task.apply_async(
                    kwargs={
                        "schema_name": tenant.schema_name,
                        "user_id": pk,
                        "email": f"elsewhere-{pk}@mail.test",
                    }
                ).get(timeout=RESULT_TIMEOUT)
                for task, tenant, pk in runs
            ]
            assert sent == [True, False, False, True]
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    get_user_model().objects.filter(pk__in=[p, q]).delete()
            connection.set_schema_to_public()


def test_welcome_email_send_interleaved_in_one_worker(
    two_schools, celery_worker, django_db_blocker
):
    """Account ids P and Q exist in both schools: in A, P is a student and Q an instructor; in
    B the other way round. The worker's runs A(P), B(Q), A(Q), B(P) welcome exactly the
    student of the school each run names: True, True, False, False (a run in the other
    school's schema would answer the opposite)."""
    from django.contrib.auth import get_user_model

    from enrollment.tasks import welcome_email_send

    alpha, beta, _, _ = two_schools
    first = 700_000 + secrets.randbelow(49_999) * 2
    student = {alpha.pk: first, beta.pk: first + 1}
    with django_db_blocker.unblock():
        for tenant in (alpha, beta):
            with tenant_context(tenant):
                for pk in (first, first + 1):
                    get_user_model().objects.create_user(
                        email=f"welcome-{pk}@{tenant.schema_name}.test",
                        password="Welcome-task-pass-1",
                        id=pk,
                        role="student" if pk == student[tenant.pk] else "instructor",
                    )
        connection.set_schema_to_public()
        try:
            runs = [(alpha, first), (beta, first + 1), (alpha, first + 1), (beta, first)]
            sent = [
                welcome_email_send.apply_async(
                    kwargs={"schema_name": tenant.schema_name, "user_id": pk}
                ).get(timeout=RESULT_TIMEOUT)
                for tenant, pk in runs
            ]
            assert sent == [True, True, False, False]
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    get_user_model().objects.filter(pk__in=[first, first + 1]).delete()
            connection.set_schema_to_public()


def test_owner_welcome_email_send_interleaved_in_one_worker(
    two_schools, celery_worker, django_db_blocker
):
    """Account ids P and Q exist in both schools: in A, Q is inactive; in B, P is. The
    worker's runs A(P), B(Q), A(Q), B(P) mail exactly the active account of the school each
    run names: True, True, False, False."""
    from django.contrib.auth import get_user_model

    from schools.tasks import owner_welcome_email_send

    alpha, beta, _, _ = two_schools
    first = 750_000 + secrets.randbelow(49_999) * 2
    active = {alpha.pk: first, beta.pk: first + 1}
    with django_db_blocker.unblock():
        for tenant in (alpha, beta):
            with tenant_context(tenant):
                for pk in (first, first + 1):
                    get_user_model().objects.create_user(
                        email=f"owner-{pk}@{tenant.schema_name}.test",
                        password="Owner-task-pass-1",
                        id=pk,
                        role="owner",
                        is_active=pk == active[tenant.pk],
                    )
        connection.set_schema_to_public()
        try:
            runs = [(alpha, first), (beta, first + 1), (alpha, first + 1), (beta, first)]
            sent = [
                owner_welcome_email_send.apply_async(
                    kwargs={"schema_name": tenant.schema_name, "user_id": pk}
                ).get(timeout=RESULT_TIMEOUT)
                for tenant, pk in runs
            ]
            assert sent == [True, True, False, False]
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    get_user_model().objects.filter(pk__in=[first, first + 1]).delete()
            connection.set_schema_to_public()


def test_platform_tasks_run_in_the_public_schema(celery_worker, django_db_blocker):
    """The platform's tasks take no school: the prune deletes the expired Idempotency-Key
    records of every school (alpha's and beta's) and keeps a live one; the sign-up mail is
    sent in the platform's name."""
    from schools.models import IdempotencyRecord
    from schools.tasks import idempotency_records_prune, signup_email_send

    tag = secrets.token_hex(4)
    now = timezone.now()
    with django_db_blocker.unblock():
        for schema, expires in (("alpha", -1), ("beta", -1), ("alpha", 1)):
            IdempotencyRecord.objects.create(
                schema_name=schema,
                principal="user:1",
                key=f"{tag}-{schema}-{expires}",
                fingerprint="0" * 64,
                status=201,
                created_at=now - timedelta(hours=25),
                expires_at=now + timedelta(hours=expires),
            )
        try:
            pruned = idempotency_records_prune.apply_async().get(timeout=RESULT_TIMEOUT)
            left = set(
                IdempotencyRecord.objects.filter(key__startswith=tag).values_list("key", flat=True)
            )
            assert pruned >= 2
            assert left == {f"{tag}-alpha-1"}
            sent = signup_email_send.apply_async(
                kwargs={"to": "f@example.test", "name": "New", "verify_url": "http://x/"}
            )
            assert sent.get(timeout=RESULT_TIMEOUT) is None
            assert sent.status == "SUCCESS"
        finally:
            IdempotencyRecord.objects.filter(key__startswith=tag).delete()


def test_notification_mails_send_interleaved_in_one_worker(
    two_schools, celery_worker, django_db_blocker
):
    """Account ids P and Q exist in both schools: in A, Q turned announcement e-mails off; in
    B, P did. The worker's runs A([P]), B([Q]), A([Q]), B([P]) mail exactly the account of the
    school each run names that wants them: 1, 1, 0, 0 (a run in the other school's schema
    would answer the opposite)."""
    from django.contrib.auth import get_user_model

    from notifications.models import Preference
    from notifications.tasks import notification_mails_send

    alpha, beta, _, _ = two_schools
    first = 800_000 + secrets.randbelow(49_999) * 2
    off = {alpha.pk: first + 1, beta.pk: first}
    with django_db_blocker.unblock():
        for tenant in (alpha, beta):
            with tenant_context(tenant):
                for pk in (first, first + 1):
                    get_user_model().objects.create_user(
                        email=f"mails-{pk}@{tenant.schema_name}.test", password=None, id=pk
                    )
                Preference.objects.create(user_id=off[tenant.pk], kind="announcement", email=False)
        connection.set_schema_to_public()
        try:
            runs = [(alpha, first), (beta, first + 1), (alpha, first + 1), (beta, first)]
            sent = [
                notification_mails_send.apply_async(
                    kwargs={
                        "schema_name": tenant.schema_name,
                        "user_ids": [pk],
                        "kind": "announcement",
                        "title": "Schemas",
                        "body": "",
                        "url": "/my/",
                    }
                ).get(timeout=RESULT_TIMEOUT)
                for tenant, pk in runs
            ]
            assert sent == [1, 1, 0, 0]
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    get_user_model().objects.filter(pk__in=[first, first + 1]).delete()
            connection.set_schema_to_public()


def test_served_bytes_collect_in_each_school(two_schools, celery_worker, django_db_blocker):
    """Bytes served for A and for B, flushed to Redis by this process, go into each school's
    own month (public schema rows naming the school) in one run of the beat task."""
    from plans import metering
    from plans.models import UsageMonth
    from plans.selectors import month_start, month_usage
    from plans.tasks import served_bytes_collect

    alpha, beta, _a_teacher, _b_teacher = two_schools
    with django_db_blocker.unblock():
        metering.served_flush()
        metering.served_collect()
        before = {tenant.pk: month_usage(tenant)[1] for tenant in (alpha, beta)}
        metering.served_add(alpha.schema_name, 4096)
        metering.served_add(beta.schema_name, 17)
        metering.served_flush()
        try:
            stored = served_bytes_collect.apply_async().get(timeout=RESULT_TIMEOUT)
            assert stored == 4096 + 17
            assert month_usage(alpha)[1] - before[alpha.pk] == 4096
            assert month_usage(beta)[1] - before[beta.pk] == 17
        finally:
            for tenant in (alpha, beta):
                UsageMonth.objects.filter(tenant=tenant, month=month_start()).update(
                    served_bytes=before[tenant.pk]
                )
            connection.set_schema_to_public()


def test_weekly_reminders_in_each_school(two_schools, celery_worker, django_db_blocker):
    """Account ids P and Q exist in both schools, in a time zone where it is 08:xx now, quiet
    for a month in a published course: in A, P is a student and Q an instructor; in B the other
    way round. One run of the beat task reminds P in A and Q in B, each recorded in its own
    school only."""
    from django.contrib.auth import get_user_model

    from courses.models import Course
    from courses.services import course_create
    from enrollment.models import Enrollment
    from notifications.models import Notification, ReminderSent
    from notifications.tasks import weekly_reminders

    alpha, beta, a_teacher, b_teacher = two_schools
    offset = (8 - timezone.now().hour) % 24
    offset = offset - 24 if offset > 14 else offset
    zone = f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-9 is UTC+9
    first = 600_000 + secrets.randbelow(49_999) * 2
    student = {alpha.pk: first, beta.pk: first + 1}
    long_ago = timezone.now() - timedelta(days=30)
    with django_db_blocker.unblock():
        for tenant, teacher in ((alpha, a_teacher), (beta, b_teacher)):
            with tenant_context(tenant):
                course = course_create(
                    title=f"Schema reminders {tenant.schema_name}",
                    published=True,
                    created_by=teacher,
                )
                for pk in (first, first + 1):
                    user = get_user_model().objects.create_user(
                        email=f"remind-{pk}@{tenant.schema_name}.test",
                        password=None,
                        id=pk,
                        time_zone=zone,
                        role="student" if pk == student[tenant.pk] else "instructor",
                    )
                    Enrollment.objects.create(student=user, course=course)
                Enrollment.objects.filter(course=course).update(enrolled_at=long_ago)
        connection.set_schema_to_public()
        try:
            weekly_reminders.apply_async().get(timeout=RESULT_TIMEOUT)
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    ids = set(
                        ReminderSent.objects.filter(user_id__in=[first, first + 1]).values_list(
                            "user_id", flat=True
                        )
                    )
                assert ids == {student[tenant.pk]}
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    Notification.objects.filter(user_id__in=[first, first + 1]).delete()
                    Enrollment.objects.filter(student_id__in=[first, first + 1]).delete()
                    Course.objects.filter(title__startswith="Schema reminders").delete()
                    get_user_model().objects.filter(pk__in=[first, first + 1]).delete()
            connection.set_schema_to_public()


def test_invitation_emails_send_interleaved_in_one_worker(
    two_schools, celery_worker, django_db_blocker
):
    """Invitation ids P and Q exist in both schools: in A, P is pending and Q revoked; in B
    the other way round. The worker's runs A(P), B(Q), A(Q), B(P) mail exactly the pending
    invitation of the school each run names: 1, 1, 0, 0 (a run in the other school's schema
    would answer the opposite)."""
    from teams.models import Invitation
    from teams.tasks import invitation_emails_send

    alpha, beta, _, _ = two_schools
    first = 800_000 + secrets.randbelow(99_999) * 2
    pending = {alpha.pk: first, beta.pk: first + 1}
    with django_db_blocker.unblock():
        for tenant in (alpha, beta):
            with tenant_context(tenant):
                for pk in (first, first + 1):
                    Invitation.objects.create(
                        id=pk,
                        email=f"invite-{pk}@{tenant.schema_name}.test",
                        role="instructor",
                        nonce=f"n{pk}",
                        token_hash=f"{tenant.schema_name}-{pk}",
                        expires_at=timezone.now() + timedelta(days=1),
                        revoked_at=None if pk == pending[tenant.pk] else timezone.now(),
                    )
        connection.set_schema_to_public()
        try:
            runs = [(alpha, first), (beta, first + 1), (alpha, first + 1), (beta, first)]
            sent = [
                invitation_emails_send.apply_async(
                    kwargs={"schema_name": tenant.schema_name, "invitation_ids": [pk]}
                ).get(timeout=RESULT_TIMEOUT)
                for tenant, pk in runs
            ]
            assert sent == [1, 1, 0, 0]
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    Invitation.objects.filter(pk__in=[first, first + 1]).delete()
            connection.set_schema_to_public()


def test_domain_tasks_interleaved_in_one_worker(two_schools, celery_worker, django_db_blocker):
    """A custom domain of A (a) and one of B (b), both due. The worker's runs A(a), B(b),
    A(b), B(a) of ``domain_check`` check the first two (the test's DNS server answers "no such
    domain") and find the last two unknown (``None``, nothing recorded): a domain is checked
    only in a run of its own school. The notice A(a) mails A's one owner, B(a) nobody. The beat
    task ``domains_check`` (no school) queues the check of both, each in its own school."""
    from domains.tasks import domain_check, domain_notice_send, domains_check
    from tenants.domains import domain_create
    from tenants.models import Domain

    alpha, beta, _, _ = two_schools
    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        a = domain_create(tenant=alpha, domain=f"a-{tag}.schema.test")
        b = domain_create(tenant=beta, domain=f"b-{tag}.schema.test")
        try:

            def run(task, tenant, **kwargs):
                return task.apply_async(kwargs={"schema_name": tenant.schema_name, **kwargs}).get(
                    timeout=RESULT_TIMEOUT
                )

            checks = [
                run(domain_check, tenant, domain_id=domain.pk)
                for tenant, domain in ((alpha, a), (beta, b), (alpha, b), (beta, a))
            ]
            notices = [
                run(domain_notice_send, tenant, domain_id=a.pk, event="failed")
                for tenant in (alpha, beta)
            ]
            rows = {row.pk: row for row in Domain.objects.filter(pk__in=[a.pk, b.pk])}
            assert checks == ["pending", "pending", None, None]
            assert notices == [1, 0]
            assert [rows[a.pk].failures, rows[b.pk].failures] == [1, 1]
            assert (
                rows[a.pk].reason
                == f"No such domain: a-{tag}.schema.test does not exist in DNS yet."
            )

            Domain.objects.filter(pk__in=[a.pk, b.pk]).update(next_check_at=timezone.now())
            assert domains_check.apply_async().get(timeout=RESULT_TIMEOUT) == 2
            _wait_for(
                lambda: (
                    set(
                        Domain.objects.filter(pk__in=[a.pk, b.pk]).values_list(
                            "failures", flat=True
                        )
                    )
                    == {2}
                ),
                "the beat's checks",
                RESULT_TIMEOUT,
            )
        finally:
            Domain.objects.filter(pk__in=[a.pk, b.pk]).delete()
            connection.set_schema_to_public()


def test_event_notify_interleaved_in_one_worker(two_schools, celery_worker, django_db_blocker):
    """Enrollment ids P and Q: P exists in A only, Q in B only (each with its own student and
    course). The worker's runs A(P), B(Q), A(Q), B(P) of the ``enrollment_created`` fan-out
    notify 1, 1, 0, 0: each run finds its enrollment only in the school it names, and the
    notification is stored there, for that school's student."""
    from courses.models import Course
    from courses.services import course_create
    from enrollment.models import Enrollment
    from notifications.models import Notification
    from notifications.tasks import event_notify

    alpha, beta, a_teacher, b_teacher = two_schools
    first = 900_000 + secrets.randbelow(99_999) * 2
    ids = {alpha.pk: first, beta.pk: first + 1}
    made = {}
    with django_db_blocker.unblock():
        for tenant, teacher in ((alpha, a_teacher), (beta, b_teacher)):
            student = make_user(tenant, f"notify-{first}@{tenant.schema_name}.test")
            with tenant_context(tenant):
                course = course_create(
                    title=f"Notify {tenant.schema_name}", published=True, created_by=teacher
                )
                Enrollment.objects.create(id=ids[tenant.pk], student=student, course=course)
            made[tenant.pk] = (student, course)
        connection.set_schema_to_public()
        try:
            runs = [(alpha, first), (beta, first + 1), (alpha, first + 1), (beta, first)]
            counts = [
                event_notify.apply_async(
                    kwargs={
                        "schema_name": tenant.schema_name,
                        "event": "enrollment_created",
                        "payload": {"enrollment_id": pk},
                    }
                ).get(timeout=RESULT_TIMEOUT)
                for tenant, pk in runs
            ]
            assert counts == [1, 1, 0, 0]
            # Only this test's accounts: the session's worker also runs the fan-out of other
            # tests' committed posts (the schools' owners get those notifications).
            ours = [student.pk for student, _ in made.values()]
            for tenant in (alpha, beta):
                student, course = made[tenant.pk]
                with tenant_context(tenant):
                    rows = list(
                        Notification.objects.filter(user_id__in=ours).values_list(
                            "user_id", "title"
                        )
                    )
                assert rows == [(student.pk, f"You were enrolled in “{course.title}”")]
        finally:
            for tenant in (alpha, beta):
                student, course = made[tenant.pk]
                with tenant_context(tenant):
                    Notification.objects.filter(user=student).delete()
                    Enrollment.objects.filter(course=course).delete()
                    Course.objects.filter(pk=course.pk).delete()
                    student.delete()
            connection.set_schema_to_public()


def test_trust_checks_interleaved_in_one_worker(
    two_schools, celery_worker, ready_media, django_db_blocker
):
    """A course cover (the astronaut in A, the coffee cup in B) and a ready lecture in each
    school, checked A, B, A, B by the same worker: each check scores its own school's picture
    or lecture (NudeNet finds the astronaut's face, nothing on the cup; neither is flagged by
    the default labels; the 2 s lecture gets one frame besides its poster), and the same ids
    sent with the other school's schema name find nothing there (None)."""
    import io

    from PIL import Image
    from skimage import data

    from courses.models import Course
    from courses.services import course_update
    from tests.plugins.media import ready_lecture_write
    from trust.models import Flag
    from trust.tasks import image_check, lecture_check

    def jpeg(name: str) -> bytes:
        out = io.BytesIO()
        Image.fromarray(getattr(data, name)()).save(out, "JPEG")
        return out.getvalue()

    alpha, beta, owner_a, owner_b = two_schools
    with django_db_blocker.unblock():
        made = {}
        for tenant, owner, picture in ((alpha, owner_a, "astronaut"), (beta, owner_b, "coffee")):
            lecture = _lecture(tenant, owner, f"trust {picture}")
            with tenant_context(tenant):
                course = Course.objects.get(sections__lectures=lecture)
                course_update(course=course, data={}, thumbnail=jpeg(picture))
                key = Course.objects.get(pk=course.pk).thumbnail
                ready = ready_lecture_write(lecture=lecture, media=ready_media)
            made[tenant.pk] = (str(course.pk), key, str(lecture.pk), ready.video.version)
        connection.set_schema_to_public()

        def cover(tenant, ids):
            return image_check.apply_async(
                kwargs={
                    "schema_name": tenant.schema_name,
                    "subject": Flag.Subject.COURSE_COVER.value,
                    "object_id": ids[0],
                    "key": ids[1],
                }
            ).get(timeout=RESULT_TIMEOUT)

        def lecture_run(tenant, ids):
            result = lecture_check.apply_async(
                kwargs={"schema_name": tenant.schema_name, "lecture_id": ids[2], "version": ids[3]}
            ).get(timeout=RESULT_TIMEOUT)
            return result and {key: result[key] for key in ("frames", "flags", "matches")}

        a, b = made[alpha.pk], made[beta.pk]
        assert [cover(alpha, a), cover(beta, b), cover(alpha, b), cover(beta, a)] == [
            {"labels": ["FACE_FEMALE"], "flag": None},
            {"labels": [], "flag": None},
            None,
            None,
        ]
        checked = {"frames": 1, "flags": [], "matches": 0}
        assert [
            lecture_run(alpha, a),
            lecture_run(beta, b),
            lecture_run(alpha, b),
            lecture_run(beta, a),
        ] == [checked, checked, None, None]
        assert not Flag.objects.filter(object_id__in=[a[0], a[2], b[0], b[2]]).exists()
        connection.set_schema_to_public()


def test_certificate_render_interleaved_in_one_worker(
    two_schools, celery_worker, django_db_blocker
):
    """Certificate id P exists in both schools (named after each school's holder), Q only in
    B. The worker's runs A(P), B(P), A(Q), B(Q) store each PDF under its own school's prefix
    with its own school's name in it, and find nothing for Q in A (None)."""
    import io

    from django.core.files.storage import default_storage
    from pypdf import PdfReader

    from learning.models import Certificate
    from learning.tasks import certificate_render

    alpha, beta, owner_a, owner_b = two_schools
    p, q = uuid.uuid4(), uuid.uuid4()
    with django_db_blocker.unblock():
        for tenant, owner, ids in ((alpha, owner_a, (p,)), (beta, owner_b, (p, q))):
            with tenant_context(tenant):
                for pk in ids:
                    Certificate.objects.create(
                        id=pk,
                        student=owner,
                        course_id=uuid.uuid4(),
                        student_name=f"Holder of {tenant.schema_name}",
                        course_title="Schemas",
                    )
        connection.set_schema_to_public()
        keys: list = []
        try:
            runs = [(alpha, p), (beta, p), (alpha, q), (beta, q)]
            keys = [
                certificate_render.apply_async(
                    kwargs={"schema_name": tenant.schema_name, "certificate_id": str(pk)}
                ).get(timeout=RESULT_TIMEOUT)
                for tenant, pk in runs
            ]
            assert keys == [
                f"tenants/{alpha.schema_name}/certificates/{p.hex}.pdf",
                f"tenants/{beta.schema_name}/certificates/{p.hex}.pdf",
                None,
                f"tenants/{beta.schema_name}/certificates/{q.hex}.pdf",
            ]
            for key, tenant in ((keys[0], alpha), (keys[1], beta)):
                with default_storage.open(key, "rb") as handle:
                    text = PdfReader(io.BytesIO(handle.read())).pages[0].extract_text()
                assert f"Holder of {tenant.schema_name}" in text
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    Certificate.objects.filter(pk__in=[p, q]).delete()
            for key in [k for k in keys if k]:
                default_storage.delete(key)
            connection.set_schema_to_public()


def test_transcript_index_interleaved_in_one_worker(two_schools, celery_worker, django_db_blocker):
    """Lecture id P exists in both schools, with cues that name each school; Q only in B.
    The worker's runs A(P), B(P), A(Q), B(Q) index each school's own cues in its own schema:
    2, 1, 0 (no such lecture in A) and 1 passages."""
    from django.db import connection as db

    from courses.models import Course, Lecture, Section
    from courses.services import course_create
    from media_pipeline.models import CaptionCue
    from search.models import TranscriptPassage
    from search.tasks import transcript_index

    alpha, beta, owner_a, owner_b = two_schools
    p, q = uuid.uuid4(), uuid.uuid4()
    cues = {
        alpha.pk: [(0.0, 3.0, "alpha words"), (40.0, 43.0, "alpha again")],
        beta.pk: [(0.0, 3.0, "beta words")],
    }
    with django_db_blocker.unblock():
        for tenant, owner, ids in ((alpha, owner_a, (p,)), (beta, owner_b, (p, q))):
            with tenant_context(tenant):
                course = course_create(
                    title=f"Schema search {tenant.schema_name}", created_by=owner
                )
                section = Section.objects.create(course=course, title="S", order=1)
                for pk in ids:
                    Lecture.objects.create(id=pk, section=section, title="Spoken", order=1)
                    asset = MediaAsset.objects.create(owner_id=pk, kind="captions", status="ready")
                    CaptionCue.objects.bulk_create(
                        CaptionCue(asset=asset, owner_id=pk, position=n, start=a, end=b, text=t)
                        for n, (a, b, t) in enumerate(cues[tenant.pk])
                    )
        db.set_schema_to_public()
        try:
            runs = [(alpha, p), (beta, p), (alpha, q), (beta, q)]
            counts = [
                transcript_index.apply_async(
                    kwargs={"schema_name": tenant.schema_name, "lecture_id": str(pk)}
                ).get(timeout=RESULT_TIMEOUT)
                for tenant, pk in runs
            ]
            assert counts == [2, 1, 0, 1]
            for tenant, word in ((alpha, "alpha"), (beta, "beta")):
                with tenant_context(tenant):
                    vectors = {
                        str(v)
                        for v in TranscriptPassage.objects.filter(lecture_id=p).values_list(
                            "vector", flat=True
                        )
                    }
                    assert all(word in v for v in vectors) and vectors, (tenant, vectors)
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    MediaAsset.objects.filter(owner_id__in=[p, q], kind="captions").delete()
                    Course.objects.filter(title__startswith="Schema search").delete()
            db.set_schema_to_public()


def test_search_maintain_in_each_school(two_schools, celery_worker, django_db_blocker):
    """The beat task prunes each school's old searches and writes each school's missing
    documents in its own schema: a search of 100 days ago and one of today, and a course
    whose document was removed, in A and in B; after one run each school has only its
    recent search and the course's document again."""
    from courses.models import Course
    from courses.services import course_create
    from search.models import SearchDocument, SearchLog
    from search.tasks import search_maintain

    alpha, beta, owner_a, owner_b = two_schools
    now = timezone.now()
    courses = {}
    with django_db_blocker.unblock():
        for tenant, owner in ((alpha, owner_a), (beta, owner_b)):
            with tenant_context(tenant):
                SearchLog.objects.create(
                    query=f"old {tenant.schema_name}",
                    results=0,
                    created_at=now - timedelta(days=100),
                )
                SearchLog.objects.create(
                    query=f"new {tenant.schema_name}", results=1, created_at=now
                )
                course = course_create(
                    title=f"Schema maintain {tenant.schema_name}", created_by=owner
                )
                SearchDocument.objects.filter(course=course).delete()
                courses[tenant.pk] = course.pk
        connection.set_schema_to_public()
        try:
            result = _in_worker(search_maintain, celery_worker)
            for tenant in (alpha, beta):
                assert result[tenant.schema_name]["pruned"] == 1, result
                assert result[tenant.schema_name]["courses"] >= 1, result
                with tenant_context(tenant):
                    assert list(SearchLog.objects.values_list("query", flat=True)) == [
                        f"new {tenant.schema_name}"
                    ]
                    assert SearchDocument.objects.filter(
                        kind="course", course_id=courses[tenant.pk]
                    ).exists()
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    SearchLog.objects.all().delete()
                    Course.objects.filter(title__startswith="Schema maintain").delete()


def test_recommendations_interleaved_in_one_worker(two_schools, celery_worker, django_db_blocker):
    """Course id P exists in both schools under another title in each, Q in B only. The
    worker's embeddings A(P), B(P), A(Q), B(Q) store each school's own text (and nothing for
    Q in A). Then two beat refreshes: P has one student in A and none in B, then B's P gets
    two: each school's score of P counts its own enrollments only."""
    from courses.models import Course
    from enrollment.models import Enrollment
    from recommendations.content import text_hash
    from recommendations.models import CourseEmbedding, CourseScore
    from recommendations.tasks import course_embed, recommendations_refresh

    alpha, beta, a_teacher, b_teacher = two_schools
    p, q = uuid.uuid4(), uuid.uuid4()
    tag = p.hex[:8]
    titles = {alpha.pk: f"Schema embed {tag} in alpha", beta.pk: f"Schema embed {tag} in beta"}
    students = {}
    with django_db_blocker.unblock():
        for tenant, teacher, ids in ((alpha, a_teacher, (p,)), (beta, b_teacher, (p, q))):
            with tenant_context(tenant):
                for pk in ids:
                    Course.objects.create(
                        id=pk,
                        slug=f"schema-embed-{tag}-{pk.hex[:6]}",
                        title=titles[tenant.pk] if pk == p else f"Schema embed {tag} Q",
                        status=Course.Status.PUBLISHED,
                        created_by=teacher,
                    )
            students[tenant.pk] = [
                make_user(tenant, f"schema-recs-{tag}-{n}@{tenant.schema_name}.test")
                for n in range(2)
            ]
        with tenant_context(alpha):
            Enrollment.objects.create(student=students[alpha.pk][0], course_id=p)
        connection.set_schema_to_public()
        try:
            runs = [(alpha, p), (beta, p), (alpha, q), (beta, q)]
            results = [
                course_embed.apply_async(
                    kwargs={"schema_name": tenant.schema_name, "course_id": str(pk)}
                ).get(timeout=RESULT_TIMEOUT)
                for tenant, pk in runs
            ]
            assert results == ["stored", "stored", "skipped", "stored"]
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    hashes = dict(
                        CourseEmbedding.objects.filter(course_id__in=[p, q]).values_list(
                            "course_id", "text_hash"
                        )
                    )
                expected = {p: text_hash(titles[tenant.pk])}
                if tenant == beta:
                    expected[q] = text_hash(f"Schema embed {tag} Q")
                assert hashes == expected

            def students_of_p() -> list[int]:
                counts = []
                for tenant in (alpha, beta):
                    with tenant_context(tenant):
                        counts.append(CourseScore.objects.get(course_id=p).students)
                return counts

            done = recommendations_refresh.apply_async().get(timeout=RESULT_TIMEOUT)
            assert {alpha.schema_name, beta.schema_name} <= set(done)
            assert students_of_p() == [1, 0]
            with tenant_context(beta):
                for student in students[beta.pk]:
                    Enrollment.objects.create(student=student, course_id=p)
            recommendations_refresh.apply_async().get(timeout=RESULT_TIMEOUT)
            assert students_of_p() == [1, 2]
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    Enrollment.objects.filter(course_id__in=[p, q]).delete()
                    Course.objects.filter(pk__in=[p, q]).delete()
                    for student in students.get(tenant.pk, []):
                        student.delete()
            connection.set_schema_to_public()


def test_backup_scheduled_holds_every_school(two_schools, celery_worker, django_db_blocker):
    """The beat's backup runs in the worker outside any school and writes one archive to
    BACKUP_TARGET whose manifest counts the accounts of A's and of B's schema exactly."""
    import json
    import tarfile

    from django.contrib.auth import get_user_model

    from tenants.tasks import backup_scheduled

    alpha, beta, _owner_a, _owner_b = two_schools
    with django_db_blocker.unblock():
        location = Path(_in_worker(backup_scheduled, celery_worker))
        try:
            assert location.parent == Path(settings.BACKUP_TARGET)
            with tarfile.open(location) as tar:
                manifest = json.load(tar.extractfile("manifest.json"))
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    accounts = get_user_model().objects.count()
                tables = manifest["schemas"][tenant.schema_name]["tables"]
                assert tables["accounts_user"] == accounts >= 2
        finally:
            location.unlink(missing_ok=True)
            connection.set_schema_to_public()


def test_webhook_tasks_interleaved_in_one_worker(two_schools, celery_worker, django_db_blocker):
    """Endpoint id E exists in both schools (A's wants ``question.created``, B's
    ``video.ready``); message P is A's, Q is B's (``webhook.test``: no retries). Each run acts
    on the school it names: publishing makes a message only where an endpoint wants the type
    (1, 0, 1, 0), an attempt or replay happens only on that school's message (attempt numbers,
    or None), and the disabled-endpoint mail goes to A's owners only when A's E is disabled."""
    from django.contrib.auth import get_user_model

    from webhooks.models import WebhookEndpoint, WebhookMessage
    from webhooks.tasks import (
        endpoint_disabled_emails_send,
        event_publish,
        message_deliver,
        message_replay,
    )

    alpha, beta, _, _ = two_schools
    endpoint_id = 700_000 + secrets.randbelow(99_999)
    first = 700_000 + secrets.randbelow(99_999) * 2
    message_of = {alpha.pk: first, beta.pk: first + 1}
    wants = {alpha.pk: "question.created", beta.pk: "video.ready"}

    def run(task, tenant, **kwargs):
        return task.apply_async(kwargs={"schema_name": tenant.schema_name, **kwargs}).get(
            timeout=RESULT_TIMEOUT
        )

    with django_db_blocker.unblock():
        for tenant in (alpha, beta):
            with tenant_context(tenant):
                endpoint = WebhookEndpoint.objects.create(
                    id=endpoint_id,
                    # Never reached: the worker refuses a private address before connecting.
                    url="https://10.255.255.1/in",
                    event_types=[wants[tenant.pk]],
                    secret="whsec_c2NoZW1hIHRlc3Qgc2VjcmV0IG9mIHdlYmhvb2tz",
                )
                WebhookMessage.objects.create(
                    id=message_of[tenant.pk],
                    endpoint=endpoint,
                    event_id=f"msg_schema_{tenant.schema_name}",
                    event_type="webhook.test",
                    body="{}",
                )
        connection.set_schema_to_public()
        try:
            published = [
                run(event_publish, tenant, event_type=kind, key=f"k{first}", data={},
                    occurred_at=timezone.now().isoformat())
                for tenant, kind in (
                    (alpha, "question.created"),
                    (beta, "question.created"),
                    (beta, "video.ready"),
                    (alpha, "video.ready"),
                )
            ]  # fmt: skip
            assert published == [1, 0, 1, 0]
            runs = [(alpha, first), (beta, first + 1), (alpha, first + 1), (beta, first)]
            assert [run(message_deliver, t, message_id=m, retry=0) for t, m in runs] == [
                1, 1, None, None
            ]  # fmt: skip
            assert [run(message_replay, t, message_id=m) for t, m in runs] == [2, 2, None, None]
            with tenant_context(alpha):
                WebhookEndpoint.objects.filter(pk=endpoint_id).update(enabled=False)
                User = get_user_model()
                owners = User.objects.filter(role=User.Role.OWNER, is_active=True).count()
            connection.set_schema_to_public()
            mailed = [
                run(endpoint_disabled_emails_send, tenant, endpoint_id=endpoint_id)
                for tenant in (alpha, beta)
            ]
            assert mailed == [owners, 0]
            with tenant_context(alpha):
                attempt = WebhookMessage.objects.get(pk=first).attempts.get(number=1)
                assert attempt.error == (
                    "Refused: The URL's host 10.255.255.1 is 10.255.255.1, a private address."
                )
        finally:
            for tenant in (alpha, beta):
                with tenant_context(tenant):
                    WebhookEndpoint.objects.filter(pk=endpoint_id).delete()
            connection.set_schema_to_public()
