"""The dashboard's access-code and student pages of a course (enrollment/dashboard/): the
one-time CSV of new codes, revoking codes, students with progress, revoke / reinstate and their
CSV."""

import csv
import io

import pytest
from django.db import connection

from courses.models import Course
from courses.services import course_create, lecture_create, section_create
from enrollment.models import AccessCode, Enrollment
from enrollment.services import access_code_redeem, access_codes_create
from tenants.testing import browser, in_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def school(tenant):
    """School A with an owner, an instructor, a student and a draft course with one section
    and one lecture."""
    owner = make_user(tenant, "own@alpha.test", role="owner")
    instructor = make_user(tenant, "teach@alpha.test", role="instructor")
    student = make_user(tenant, "learn@alpha.test")
    with in_tenant(tenant):
        course = course_create(title="Draft course", created_by=instructor)
        section = section_create(course=course, title="Intro")
        lecture_create(section=section, title="Welcome")
    connection.set_schema_to_public()
    return {
        "tenant": tenant,
        "owner": owner,
        "instructor": instructor,
        "student": student,
        "course": course,
    }


def test_access_codes_csv_exactly_once(school):
    client = browser(school["tenant"], school["instructor"])
    c = school["course"].id
    response = client.post(f"/dashboard/courses/{c}/codes/", {"quantity": "0"})
    assert response.status_code == 400
    assert b"Ensure this value is greater than or equal to 1." in response.content
    response = client.post(
        f"/dashboard/courses/{c}/codes/", {"quantity": "1", "expires_at": "2001-01-01T00:00"}
    )
    assert b"The expiry must be in the future." in response.content
    response = client.post(
        f"/dashboard/courses/{c}/codes/", {"quantity": "3", "expires_at": "2099-01-01T10:00"}
    )
    created = response["Location"]
    assert created.startswith(f"/dashboard/courses/{c}/codes/new/")
    assert b"Download CSV" in client.get(created).content
    download = client.get(created + "download")
    assert (download.status_code, download["Content-Type"]) == (200, "text/csv; charset=utf-8")
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0] == ["code", "course", "batch_id"] and len(rows) == 4
    with in_tenant(school["tenant"]):
        stored = AccessCode.objects.filter(course_id=c)
        assert stored.count() == 3
        assert all(row.expires_at.year == 2099 for row in stored)
        # Only hashes and prefixes are stored, never the plaintext.
        assert {r.prefix for r in stored} == {row[0][:4] for row in rows[1:]}
        assert not any(row[0] in (r.code_hash + r.prefix) for r in stored for row in rows[1:])
    again = client.get(created + "download")
    assert again.status_code == 410
    assert b"Download CSV" not in client.get(created).content
    # Another instructor cannot use this link.
    other = browser(school["tenant"], school["owner"])
    assert other.get(created + "download").status_code == 410
    # The list and revocation.
    page = client.get(f"/dashboard/courses/{c}/codes/")
    assert page.content.count(b"badge--ok") == 3
    with in_tenant(school["tenant"]):
        first = AccessCode.objects.filter(course_id=c).order_by("id").first()
    assert client.post(f"/dashboard/courses/{c}/codes/{first.id}/revoke/").status_code == 302
    with in_tenant(school["tenant"]):
        first.refresh_from_db()
        assert first.revoked_at is not None
    assert client.post(f"/dashboard/courses/{c}/codes/999999/revoke/").status_code == 404
    page = client.get(f"/dashboard/courses/{c}/codes/?status=revoked")
    assert page.content.count(b"badge--bad") == 1


def test_students_progress_revoke_reinstate_and_csv(school):
    client = browser(school["tenant"], school["instructor"])
    c = school["course"].id
    with in_tenant(school["tenant"]):
        Course.objects.filter(pk=c).update(status=Course.Status.PUBLISHED)
        code = access_codes_create(course=school["course"], quantity=1).codes[0]
        enrollment = access_code_redeem(student=school["student"], code=code)
    connection.set_schema_to_public()
    page = client.get(f"/dashboard/courses/{c}/students/")
    assert b"learn@alpha.test" in page.content and b"Active" in page.content
    exported = client.get(f"/dashboard/courses/{c}/students/export.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows[0] == ["email", "name", "status", "enrolled_at", "revoked_at", "progress"]
    assert (rows[1][0], rows[1][2], rows[1][5]) == ("learn@alpha.test", "active", "0.00")
    base = f"/dashboard/courses/{c}/students/{enrollment.id}"
    assert client.post(f"{base}/revoke/").status_code == 302
    with in_tenant(school["tenant"]):
        assert Enrollment.objects.get(pk=enrollment.id).revoked_at is not None
    assert b"Revoked" in client.get(f"/dashboard/courses/{c}/students/").content
    client.post(f"{base}/reinstate/")
    with in_tenant(school["tenant"]):
        assert Enrollment.objects.get(pk=enrollment.id).revoked_at is None
    assert client.post(f"{base}/explode/").status_code == 404
    assert client.post(f"/dashboard/courses/{c}/students/999999/revoke/").status_code == 404
