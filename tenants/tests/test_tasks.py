"""The Celery base task that enters a school, and the one definition of "every active school"
that the periodic tasks of every app iterate."""

import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from courses.services import course_create, lecture_create, section_create
from media_pipeline import tasks as media_tasks
from media_pipeline.models import MediaAsset, Upload
from tenants.models import Tenant
from tenants.selectors import schools_active
from tenants.tasks import TenantTask
from tenants.testing import in_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema_seen():
    """A task of this test only (unregistered afterwards, so the registry of the application's
    tasks in tests/test_task_schemas.py never sees it): it answers what its body sees, the
    active schema and an argument passed through."""
    from config.celery import app

    @app.task(base=TenantTask, name="tenants.tests.schema_seen", shared=False)
    def task(*, schema_name: str, marker: str) -> tuple[str, str]:
        return connection.schema_name, marker

    yield task
    app.tasks.unregister("tenants.tests.schema_seen")


def test_a_task_runs_inside_the_school_it_names(schema_seen, tenant, other_tenant):
    alpha = schema_seen.apply(kwargs={"schema_name": tenant.schema_name, "marker": "a"})
    beta = schema_seen.apply(kwargs={"schema_name": other_tenant.schema_name, "marker": "b"})

    assert alpha.get() == (tenant.schema_name, "a")
    assert beta.get() == (other_tenant.schema_name, "b")
    # The schema is left as it was found.
    assert connection.schema_name == "public"


def test_a_task_of_a_school_that_is_gone_does_nothing(schema_seen, caplog):
    with caplog.at_level(logging.WARNING, logger="tenants.tasks"):
        result = schema_seen.apply(kwargs={"schema_name": "no_such_school", "marker": "x"})

    assert result.get() is None
    assert [r.getMessage() for r in caplog.records] == [
        "tenants.tests.schema_seen: school no_such_school no longer exists"
    ]


def test_a_task_without_a_school_is_refused(schema_seen):
    result = schema_seen.apply(kwargs={"marker": "x"})

    assert isinstance(result.result, TypeError)
    assert str(result.result) == "tenants.tests.schema_seen needs the keyword argument schema_name"


def test_active_schools_are_the_schools_not_suspended(tenant, other_tenant):
    Tenant.objects.filter(pk=other_tenant.pk).update(status=Tenant.Status.SUSPENDED)

    schools = list(schools_active().values_list("schema_name", "kind", "status"))

    assert (tenant.schema_name, "school", "active") in schools
    assert other_tenant.schema_name not in [schema for schema, _, _ in schools]
    assert {kind for _, kind, _ in schools} == {"school"}
    assert {status for _, _, status in schools} == {"active"}
    assert [schema for schema, _, _ in schools] == sorted(schema for schema, _, _ in schools)


def _expired_upload(school: Tenant) -> Upload:
    owner = make_user(school, f"expired@{school.subdomain}.test", role="instructor")
    with in_tenant(school):
        course = course_create(title="Expiring", created_by=owner)
        lecture = lecture_create(section=section_create(course=course, title="S"), title="L")
        return Upload.objects.create(
            asset=MediaAsset.objects.get(owner_id=lecture.pk),
            created_by=owner,
            length=10,
            filename="late.mp4",
            expires_at=timezone.now() - timedelta(seconds=1),
        )


def test_periodic_tasks_leave_a_suspended_school_alone_until_it_is_reactivated(
    tenant, other_tenant
):
    active, suspended = _expired_upload(tenant), _expired_upload(other_tenant)
    Tenant.objects.filter(pk=other_tenant.pk).update(status=Tenant.Status.SUSPENDED)

    media_tasks.uploads_expire.run()

    with in_tenant(tenant):
        assert not Upload.objects.filter(pk=active.pk).exists()
    with in_tenant(other_tenant):
        assert Upload.objects.filter(pk=suspended.pk).exists()

    Tenant.objects.filter(pk=other_tenant.pk).update(status=Tenant.Status.ACTIVE)
    media_tasks.uploads_expire.run()

    with in_tenant(other_tenant):
        assert not Upload.objects.filter(pk=suspended.pk).exists()
