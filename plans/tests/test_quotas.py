"""Plans and quotas in the test's transaction: every entry point refuses past its limit with
``QUOTA_EXCEEDED`` and leaves nothing behind; storage reservations are released; counters follow
deletes; the usage API, the dashboard page and the platform admin show the figures."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from courses.models import Course
from courses.services import course_create, lecture_create, lecture_delete, section_create
from enrollment.models import AccessCode, Enrollment
from enrollment.services import (
    access_code_redeem,
    access_codes_create,
    enrollment_reinstate,
    enrollment_revoke,
    enrollments_create,
)
from media_pipeline.models import MediaAsset, Upload
from media_pipeline.uploads import storage_measure, upload_from_path
from plans.models import SchoolPlan, UsageMonth
from plans.selectors import month_start, month_usage, school_usage, tenant_plan
from plans.services import QuotaExceeded, plan_assign, plan_create, transcode_seconds_add
from tenants.testing import TenantClient, browser, in_tenant, make_user
from tenants.tests.test_admin import HostClient, cell, row_of, sign_in
from tests.plugins.media import TINY
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_earlier_usage(tenant, other_tenant):
    """Each test starts from schools that use nothing: what other tests committed in the
    shared test schools (the monthly rows of their workers' transcodes and collected media
    bytes, kept sources of media fixtures, uploads in progress) is cleared inside this test's
    transaction, so it is all back afterwards."""
    UsageMonth.objects.filter(tenant__in=[tenant, other_tenant]).delete()
    for school in (tenant, other_tenant):
        with in_tenant(school):
            MediaAsset.objects.exclude(source_bytes=0).update(source_bytes=0)
            Upload.objects.all().delete()
    connection.set_schema_to_public()


@pytest.fixture
def owner(tenant):
    return make_user(tenant, "owner-plans@alpha.test", role="owner")


def _plan(tenant, **limits):
    plan = plan_create(name="Starter", slug="starter", **limits)
    plan_assign(tenant=tenant, plan=plan)
    return plan


def _tus_create(client, lecture_id, length: int):
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("lecture_id", str(lecture_id)), ("filename", "a.mp4"))
    )
    return client.post(
        "/api/v1/uploads/",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=metadata,
    )


def _lectures(tenant, instructor, count: int) -> list:
    with in_tenant(tenant):
        course = course_create(title="Uploads", created_by=instructor)
        section = section_create(course=course, title="One")
        lectures = [lecture_create(section=section, title=f"L{n}") for n in range(count)]
    connection.set_schema_to_public()
    return lectures


# ----------------------------------------------------------------------------- plans


def test_a_school_has_its_assigned_plan_else_the_default_else_no_limits(tenant, other_tenant):
    starter = plan_create(name="Starter", slug="starter", courses=3)
    free = plan_create(name="Free", slug="free", courses=1)

    assert tenant_plan(tenant) is None
    with override_settings(PLANS_DEFAULT_PLAN="free"):
        assert tenant_plan(tenant) == free
        plan_assign(tenant=tenant, plan=starter)
        assert tenant_plan(tenant) == starter
        assert tenant_plan(other_tenant) == free
        assert plan_assign(tenant=tenant, plan=None) is None
        assert tenant_plan(tenant) == free
    assert not SchoolPlan.objects.filter(tenant=tenant).exists()


# ----------------------------------------------------------------------------- courses


def test_the_course_limit_refuses_creation_in_the_api_and_the_dashboard(tenant, owner):
    _plan(tenant, courses=1)
    api = TenantClient(tenant, owner)
    assert api.post("/api/v1/courses", {"title": "First"}, format="json").status_code == 201

    refused = api.post("/api/v1/courses", {"title": "Second"}, format="json")
    page = browser(tenant, owner).post("/dashboard/courses/new/", {"title": "Third", "price": "0"})

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "QUOTA_EXCEEDED"
    assert refused.json()["error"]["message"] == (
        'The plan "Starter" allows 1 courses; 1 is used and this needs 1 more.'
    )
    assert refused.json()["error"]["details"] == {
        "resource": "courses",
        "limit": 1,
        "used": 1,
        "requested": 1,
        "plan": "starter",
    }
    assert page.status_code == 400
    assert "The plan &quot;Starter&quot; allows 1 courses" in page.content.decode()
    with in_tenant(tenant):
        assert list(Course.objects.values_list("title", flat=True)) == ["First"]


def test_the_course_limit_is_per_school(tenant, other_tenant, owner):
    _plan(tenant, courses=0)
    other_owner = make_user(other_tenant, "owner-plans@beta.test", role="owner")

    created = TenantClient(other_tenant, other_owner).post(
        "/api/v1/courses", {"title": "Beta course"}, format="json"
    )

    assert created.status_code == 201


# ----------------------------------------------------------------------------- students


def test_the_student_limit_refuses_redeem_rosters_and_reinstating(tenant, instructor, course):
    _plan(tenant, students=1)
    with in_tenant(tenant):
        first = make_user(tenant, "first@alpha.test")
        second = make_user(tenant, "second@alpha.test")
        other_course = course_create(title="Chemistry", published=True, created_by=instructor)
        codes = access_codes_create(course=course, quantity=2).codes
        other_code = access_codes_create(course=other_course, quantity=1).codes[0]
        enrollment = access_code_redeem(student=first, code=codes[0])
        # Already a student of the school: another course does not count again.
        access_code_redeem(student=first, code=other_code)

        with pytest.raises(QuotaExceeded) as redeem:
            access_code_redeem(student=second, code=codes[1])
        with pytest.raises(QuotaExceeded):
            enrollments_create(course=course, student_ids=[second.pk])

        assert redeem.value.status == 403
        assert redeem.value.message == (
            'The plan "Starter" allows 1 enrolled students; 1 is used and this needs 1 more.'
        )
        assert AccessCode.objects.filter(redeemed_at__isnull=True).count() == 1
        assert not Enrollment.objects.filter(student=second).exists()

        # Revoking the first student's enrollments frees the place; reinstating then refuses.
        for row in Enrollment.objects.filter(student=first):
            enrollment_revoke(course=row.course, enrollment_id=row.pk)
        assert enrollments_create(course=course, student_ids=[second.pk]) == {second.pk: "enrolled"}
        with pytest.raises(QuotaExceeded):
            enrollment_reinstate(course=course, enrollment_id=enrollment.pk)
        assert Enrollment.objects.get(pk=enrollment.pk).revoked_at is not None


def test_the_redeem_page_shows_the_refusal(tenant, course):
    _plan(tenant, students=0)
    student = make_user(tenant, "page@alpha.test")
    with in_tenant(tenant):
        code = access_codes_create(course=course, quantity=1).codes[0]
    connection.set_schema_to_public()

    page = browser(tenant, student).post("/redeem/", {"code": code})

    assert page.status_code == 403
    assert "This school cannot take more students at the moment" in page.content.decode()
    with in_tenant(tenant):
        assert not Enrollment.objects.exists()


# ----------------------------------------------------------------------------- storage


def test_tus_creation_past_the_storage_limit_is_413_and_reservations_are_released(
    tenant, instructor
):
    _plan(tenant, storage_bytes=1000)
    lectures = _lectures(tenant, instructor, 3)
    api = TenantClient(tenant, instructor)

    too_big = _tus_create(api, lectures[0].pk, 1001)
    admitted = _tus_create(api, lectures[0].pk, 600)
    reserved_out = _tus_create(api, lectures[1].pk, 600)

    assert too_big.status_code == 413
    error = too_big.json()["error"]
    assert error["code"] == "QUOTA_EXCEEDED"
    assert error["message"] == (
        'The plan "Starter" allows 1000 B of storage; 0 B is used and this needs 1001 B more.'
    )
    assert error["details"] == {
        "resource": "storage_bytes",
        "limit": 1000,
        "used": 0,
        "requested": 1001,
        "plan": "starter",
    }
    assert admitted.status_code == 201
    assert reserved_out.status_code == 413
    assert reserved_out.json()["error"]["details"]["used"] == 600
    with in_tenant(tenant):
        assert Upload.objects.count() == 1
        assert storage_measure() == {"storage_bytes": 0, "reserved_bytes": 600}

    # Termination releases the reservation.
    terminated = api.delete(
        "/api/v1/uploads/" + admitted["Location"].rsplit("/", 1)[1], HTTP_TUS_RESUMABLE="1.0.0"
    )
    assert terminated.status_code == 204
    assert _tus_create(api, lectures[1].pk, 900).status_code == 201

    # An expired upload reserves nothing, before the expiry sweep removes it.
    with in_tenant(tenant):
        Upload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert storage_measure() == {"storage_bytes": 0, "reserved_bytes": 0}
    assert _tus_create(api, lectures[2].pk, 1000).status_code == 201


def test_the_other_school_s_uploads_count_nothing_here(tenant, other_tenant, instructor):
    _plan(tenant, storage_bytes=100)
    other_instructor = make_user(other_tenant, "teacher-plans@beta.test", role="instructor")
    other_lecture = _lectures(other_tenant, other_instructor, 1)[0]
    lecture = _lectures(tenant, instructor, 1)[0]

    big = _tus_create(TenantClient(other_tenant, other_instructor), other_lecture.pk, 10_000)
    small = _tus_create(TenantClient(tenant, instructor), lecture.pk, 100)

    assert (big.status_code, small.status_code) == (201, 201)
    with in_tenant(tenant):
        assert storage_measure() == {"storage_bytes": 0, "reserved_bytes": 100}


def test_kept_sources_count_until_their_lecture_is_deleted(tenant, instructor, clip):
    path = clip(TINY)
    lectures = _lectures(tenant, instructor, 2)
    with in_tenant(tenant):
        for lecture in lectures:
            upload_from_path(user=instructor, lecture_id=lecture.pk, path=path)
        size = path.stat().st_size
        assert storage_measure() == {"storage_bytes": 2 * size, "reserved_bytes": 0}
        assert MediaAsset.objects.filter(source_bytes=size).count() == 2

        lecture_delete(lecture=lectures[0])

        assert storage_measure() == {"storage_bytes": size, "reserved_bytes": 0}


def test_a_source_past_the_transcode_minutes_is_refused_and_not_kept(
    tenant, instructor, clip, django_capture_on_commit_callbacks
):
    _plan(tenant, transcode_minutes=0)
    lecture = _lectures(tenant, instructor, 1)[0]
    with in_tenant(tenant):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            upload_from_path(user=instructor, lecture_id=lecture.pk, path=clip(TINY))
        asset = MediaAsset.objects.get(owner_id=lecture.pk, kind="video")

        assert asset.status == "failed"
        assert asset.error.startswith(
            'The plan "Starter" allows 0.0 minutes of transcoding a month; 0.0 minutes is used '
            "and this needs 0.0 minutes more."
        )
        assert (asset.pending_version, asset.source_key, asset.source_bytes) == (0, "", 0)
        assert storage_measure() == {"storage_bytes": 0, "reserved_bytes": 0}
    # Nothing was sent to the transcode queue (the callbacks ran: file removal, events).
    assert not [c for c in callbacks if "transcode" in repr(c) and "message" in repr(c)]


# ----------------------------------------------------------------------------- transcode minutes


def test_transcode_seconds_add_to_the_month_of_the_moment(tenant, other_tenant):
    december = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    january = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    with in_tenant(tenant):
        transcode_seconds_add(seconds=90.5, moment=december)
        transcode_seconds_add(seconds=30.0, moment=december)
        transcode_seconds_add(seconds=12.0, moment=january)

    assert month_usage(tenant, month_start(december)) == (120.5, 0)
    assert month_usage(tenant, month_start(january)) == (12.0, 0)
    assert month_usage(other_tenant, month_start(december)) == (0.0, 0)
    assert UsageMonth.objects.filter(tenant=tenant).count() == 2


# ----------------------------------------------------------------------------- usage


def test_the_usage_api_is_the_owner_s_and_the_school_s_own(
    tenant, other_tenant, owner, instructor, student, course
):
    _plan(tenant, storage_bytes=10_000, transcode_minutes=60, courses=5)
    with in_tenant(tenant):
        transcode_seconds_add(seconds=90.0)
        code = access_codes_create(course=course, quantity=1).codes[0]
        access_code_redeem(student=student, code=code)
    other_owner = make_user(other_tenant, "owner-plans@beta.test", role="owner")

    answer = TenantClient(tenant, owner).get("/api/v1/school/usage")

    assert answer.status_code == 200
    assert answer.json() == {
        "plan": {"name": "Starter", "slug": "starter"},
        "month": month_start().isoformat(),
        "storage_bytes": {"used": 0, "stored": 0, "reserved": 0, "limit": 10_000},
        "transcode_minutes": {"used": 1.5, "limit": 60},
        "served_bytes": 0,
        "courses": {"used": 1, "limit": 5},
        "students": {"used": 1, "limit": None},
    }
    assert TenantClient(tenant, instructor).get("/api/v1/school/usage").status_code == 403
    assert TenantClient(tenant, student).get("/api/v1/school/usage").status_code == 403
    assert TenantClient(tenant).get("/api/v1/school/usage").status_code == 401
    # Another school's owner: that school's token is refused on this host.
    theirs_client = TenantClient(other_tenant, other_owner)
    crossing = TenantClient(tenant)
    crossing.credentials(HTTP_AUTHORIZATION=f"Bearer {theirs_client.tokens['access']}")
    assert crossing.get("/api/v1/school/usage").status_code == 401
    theirs = theirs_client.get("/api/v1/school/usage").json()
    assert theirs["plan"] is None
    assert (theirs["courses"]["used"], theirs["students"]["used"]) == (0, 0)
    assert theirs["transcode_minutes"] == {"used": 0.0, "limit": None}


def test_the_usage_page_shows_bars_against_the_limits(tenant, owner, instructor, course):
    _plan(tenant, courses=2, storage_bytes=1024)

    page = browser(tenant, owner).get("/dashboard/usage/")
    refused = browser(tenant, instructor).get("/dashboard/usage/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "on the <strong>Starter</strong> plan" in html
    courses = re.search(r'<div class="usage-row" id="usage-courses">(.*?)</progress>', html, re.S)
    assert "<span>1 of 2</span>" in courses.group(1)
    assert 'max="100" value="50"' in courses.group(1)
    assert "0 B of 1.0 KiB" in html
    assert refused.status_code == 403


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_the_plan_name_is_inert_on_the_usage_page(tenant, owner, payload):
    plan = plan_create(name=payload[:100], slug="xss")
    plan_assign(tenant=tenant, plan=plan)

    html = browser(tenant, owner).get("/dashboard/usage/").content.decode()

    section = re.search(r'<p id="usage-plan">(.*?)</p>', html, re.S).group(1)
    assert_inert(section)


# ----------------------------------------------------------------------------- platform admin


@pytest.fixture
def staff_client(db):
    import secrets

    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    from tenants.testing import PASSWORD

    with schema_context("public"):
        staff = get_user_model().objects.create_superuser(
            email=f"staff-{secrets.token_hex(3)}@lectern.test", password=PASSWORD
        )
    client = HostClient("localhost")
    assert sign_in(client, staff.email)["Location"] == "/admin/"
    return client


def test_staff_see_plans_and_usage_and_assign_a_plan(staff_client, tenant, other_tenant, course):
    plan = _plan(tenant, courses=4, transcode_minutes=10)
    with in_tenant(tenant):
        transcode_seconds_add(seconds=150.0)

    listing = staff_client.get("/admin/tenants/tenant/").content.decode()
    row = row_of(listing, tenant.subdomain)
    other_row = row_of(listing, other_tenant.subdomain)
    page = staff_client.get(f"/admin/tenants/tenant/{other_tenant.pk}/change/")
    form = {
        "name": other_tenant.name,
        "status": other_tenant.status,
        "primary_color": other_tenant.primary_color,
        "language": other_tenant.language,
        "plan": str(plan.pk),
        "domains-TOTAL_FORMS": "0",
        "domains-INITIAL_FORMS": "0",
        "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000",
    }
    saved = staff_client.post(f"/admin/tenants/tenant/{other_tenant.pk}/change/", form)
    plans_page = staff_client.get("/admin/plans/plan/").content.decode()

    assert cell(row, "plan_name") == "Starter"
    assert cell(row, "plan_courses") == "1 / 4 (25 %)"
    assert cell(row, "plan_transcode") == "2.5 / 10 (25 %)"
    assert cell(row, "plan_served") == "0 B"
    assert cell(other_row, "plan_name") == "unlimited"
    assert cell(other_row, "plan_courses") == "0"
    assert page.status_code == 200
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert tenant_plan(other_tenant) == plan
    assert "Starter" in plans_page
    assert school_usage(other_tenant).plan == plan


def test_the_demo_school_gets_the_demo_plan_once(tenant):
    from analytics.management.commands.seed_demo import _demo_plan

    _demo_plan(tenant)
    _demo_plan(tenant)

    plan = tenant_plan(tenant)
    assert (plan.slug, plan.storage_bytes, plan.transcode_minutes) == ("demo", 2 * 1024**3, 120)
    assert (plan.courses, plan.students) == (20, 100)
    assert SchoolPlan.objects.filter(tenant=tenant).count() == 1
