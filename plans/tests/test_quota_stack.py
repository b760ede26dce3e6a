"""Quotas against the session's web server and Celery worker (tests/plugins/stack.py).

Real tus uploads race for a storage limit that admits only some of them; the admitted ones
are transcoded by the worker and counted in transcode minutes; then a transcode-minute limit
refuses the next upload's processing. A segment the server's fast path sends is counted in
the school's media bytes served once the server flushed its counts. Everything is committed
(the server and the worker are other processes) and removed at the end.
"""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from tests.plugins.media import TINY
from tests.plugins.stack import worker_idle

pytestmark = pytest.mark.timeout(240)

READY_TIMEOUT = 120.0  # seconds two tiny transcodes may take in the session worker
UPLOADERS = 4  # concurrent tus creations; the storage limit admits ADMITTED of them
ADMITTED = 2


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": "1.0.0", **extra}


def _metadata(lecture_id: str, filename: str) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("lecture_id", lecture_id), ("filename", filename))
    )


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack_school(e2e_school, web_server, celery_worker, django_db_blocker):
    """The session school with a course of five lectures, its owner's JWT, a plan of its own
    (limits set by the tests) and what its storage held before; all removed afterwards."""
    from courses.models import Course
    from courses.services import course_create, course_delete, lecture_create, section_create
    from plans.models import Plan
    from plans.services import plan_assign, plan_create
    from tenants.accounts.tokens import tokens_for_user
    from tenants.models import Tenant

    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(schema_name=e2e_school.schema_name)
        with tenant_context(tenant):
            from django.contrib.auth import get_user_model

            owner = get_user_model().objects.get(email=e2e_school.owner_email)
            access = tokens_for_user(owner)["access"]
            course = course_create(title="Quota course", created_by=owner)
            section = section_create(course=course, title="Part one")
            lectures = [
                str(lecture_create(section=section, title=f"Lecture {n}").pk) for n in range(5)
            ]
        plan = plan_create(name="Stack test", slug=f"stack-{tenant.schema_name}")
        plan_assign(tenant=tenant, plan=plan)
        connection.set_schema_to_public()
    yield {
        "tenant": tenant,
        "host": web_server.host(e2e_school.subdomain),
        "access": access,
        "course_id": course.pk,
        "lectures": lectures,
        "plan": plan,
    }
    with django_db_blocker.unblock():
        plan_assign(tenant=tenant, plan=None)
        Plan.objects.filter(pk=plan.pk).delete()
        with tenant_context(tenant):
            if Course.objects.filter(pk=course.pk).exists():
                course_delete(course=Course.objects.get(pk=course.pk))
        connection.set_schema_to_public()


def _measure(tenant) -> dict[str, int]:
    from media_pipeline.uploads import storage_measure

    with tenant_context(tenant):
        figures = storage_measure()
    connection.set_schema_to_public()
    return figures


def _sources_bytes(tenant, lecture_ids: list[str]) -> int:
    """Bytes of the source files stored under the lectures' prefixes."""
    from tenants.storage import lecture_prefix

    total = 0
    for lecture_id in lecture_ids:
        folder = Path(settings.MEDIA_ROOT) / lecture_prefix(tenant.schema_name, lecture_id)
        total += sum(path.stat().st_size for path in folder.glob("sources/*"))
    return total


def _asset(tenant, lecture_id: str):
    from media_pipeline.models import MediaAsset

    with tenant_context(tenant):
        asset = MediaAsset.objects.get(owner_id=lecture_id, kind="video")
    connection.set_schema_to_public()
    return asset


def _served_through_the_server(stack_school, web_server, lecture_id: str) -> None:
    from media_pipeline.delivery import media_access_issue
    from plans import metering
    from plans.selectors import month_usage
    from tenants.storage import lecture_version_prefix

    tenant = stack_school["tenant"]
    asset = _asset(tenant, lecture_id)
    with tenant_context(tenant):
        access = media_access_issue(asset=asset, viewer_id=1)
    connection.set_schema_to_public()
    folder = Path(settings.MEDIA_ROOT) / lecture_version_prefix(
        tenant.schema_name, lecture_id, asset.version
    )
    segment = sorted((folder / "hls").glob("*/*.ts"))[0]
    metering.served_collect()
    before = month_usage(tenant)[1]

    answer = requests.get(
        f"{web_server.base_url}/media/hls/{lecture_id}/v{asset.version}/"
        f"{segment.parent.name}/{segment.name}?token={access.token}",
        headers={"Host": stack_school["host"]},
        timeout=30,
    )

    assert answer.status_code == 200
    assert len(answer.content) == segment.stat().st_size

    def counted() -> bool:
        metering.served_collect()
        return month_usage(tenant)[1] - before == segment.stat().st_size

    _wait(counted, 10.0, "the server to flush the bytes it served")


def test_concurrent_uploads_fill_the_storage_limit_exactly_then_transcode_minutes(
    stack_school, web_server, celery_worker, clip, django_db_blocker, committed
):
    from plans.models import Plan
    from plans.selectors import month_usage

    tenant, lectures = stack_school["tenant"], stack_school["lectures"]
    data = clip(TINY).read_bytes()
    size = len(data)
    with django_db_blocker.unblock():
        before = _measure(tenant)
        seconds_before, _ = month_usage(tenant)
        # Room for ADMITTED files and half of another one.
        limit = before["storage_bytes"] + before["reserved_bytes"] + ADMITTED * size + size // 2
        Plan.objects.filter(pk=stack_school["plan"].pk).update(storage_bytes=limit)

    # Given UPLOADERS instructors' clients creating uploads at the same moment
    barrier = threading.Barrier(UPLOADERS)
    answers: dict[str, requests.Response] = {}

    def create(lecture_id: str) -> None:
        session = requests.Session()
        barrier.wait()
        answers[lecture_id] = session.post(
            web_server.base_url + "/api/v1/uploads/",
            headers=_tus_headers(
                Host=stack_school["host"],
                Authorization=f"Bearer {stack_school['access']}",
                **{"Upload-Length": str(size), "Upload-Metadata": _metadata(lecture_id, "a.mp4")},
            ),
            timeout=30,
        )

    threads = [threading.Thread(target=create, args=(lid,)) for lid in lectures[:UPLOADERS]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly ADMITTED are created, the others refused with the plan's limit named
    created = [lid for lid, answer in answers.items() if answer.status_code == 201]
    refused = [answer for answer in answers.values() if answer.status_code != 201]
    assert len(created) == ADMITTED
    assert len(refused) == UPLOADERS - ADMITTED
    for answer in refused:
        assert answer.status_code == 413
        error = answer.json()["error"]
        assert error["code"] == "QUOTA_EXCEEDED"
        assert error["message"].startswith('The plan "Stack test" allows ')
        assert error["details"]["resource"] == "storage_bytes"
        assert error["details"]["limit"] == limit
        assert error["details"]["requested"] == size
    with django_db_blocker.unblock():
        assert _measure(tenant)["reserved_bytes"] == before["reserved_bytes"] + ADMITTED * size

    # When the admitted uploads send their bytes
    for lecture_id in created:
        location = urlsplit(answers[lecture_id].headers["Location"]).path
        sent = requests.patch(
            web_server.base_url + location,
            data=data,
            headers=_tus_headers(
                Host=stack_school["host"],
                Authorization=f"Bearer {stack_school['access']}",
                **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
            ),
            timeout=60,
        )
        assert sent.status_code == 204, sent.text

    # Then the storage counter is exactly the stored sources, nothing reserved any more
    with django_db_blocker.unblock():
        after = _measure(tenant)
        assert after["storage_bytes"] - before["storage_bytes"] == ADMITTED * size
        assert after["reserved_bytes"] == before["reserved_bytes"]
        assert _sources_bytes(tenant, lectures) == ADMITTED * size

        # and once transcoded, each version counts its source's seconds once
        _wait(
            lambda: all(_asset(tenant, lid).status == "ready" for lid in created),
            READY_TIMEOUT,
            "the admitted uploads to be transcoded",
        )
        durations = [_asset(tenant, lid).source_duration for lid in created]
        seconds, _ = month_usage(tenant)
        assert seconds - seconds_before == pytest.approx(sum(durations))

        # and a segment the server's fast path sends counts in the media bytes served
        _served_through_the_server(stack_school, web_server, created[0])

        # Given a plan with no transcode minutes left (and storage enough)
        Plan.objects.filter(pk=stack_school["plan"].pk).update(
            storage_bytes=None, transcode_minutes=0
        )
    worker_idle(celery_worker)

    # When another video is uploaded
    third = lectures[UPLOADERS]
    created = requests.post(
        web_server.base_url + "/api/v1/uploads/",
        data=data,
        headers=_tus_headers(
            Host=stack_school["host"],
            Authorization=f"Bearer {stack_school['access']}",
            **{
                "Upload-Length": str(size),
                "Upload-Metadata": _metadata(third, "b.mp4"),
                "Content-Type": "application/offset+octet-stream",
            },
        ),
        timeout=60,
    )
    assert created.status_code == 201, created.text

    # Then nothing is queued: the video failed with the reason, its source is not kept
    with django_db_blocker.unblock():
        asset = _asset(tenant, third)
        assert asset.status == "failed"
        expected = (
            f'The plan "Stack test" allows 0.0 minutes of transcoding a month; '
            f"{seconds / 60:.1f} minutes is used"
        )
        assert asset.error.startswith(expected)
        assert asset.error.endswith("The video was not processed: upload it again next month.")
        assert (asset.version, asset.pending_version, asset.source_key) == (0, 0, "")
        assert _sources_bytes(tenant, [third]) == 0
        assert _measure(tenant)["storage_bytes"] == after["storage_bytes"]
    worker_idle(celery_worker)
    with django_db_blocker.unblock():
        assert month_usage(tenant)[0] == pytest.approx(seconds)
        assert _asset(tenant, third).status == "failed"
