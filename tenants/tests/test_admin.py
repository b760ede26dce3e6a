"""The platform admin (public host) for staff, and each school's own admin on its host.

Requests go through the whole middleware stack with the Django test client and a Host header.
The school used here is provisioned inside the test transaction (the schema is created and
rolled back with it); its media files are written to the run's media folder and removed after.
"""

import re
import secrets
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from courses.models import Course, Section
from courses.services import lecture_create
from media_pipeline.models import MediaAsset
from tenants.middleware import tenant_host_cache_clear
from tenants.models import Tenant
from tenants.services import tenant_provision
from tenants.storage import storage_delete_prefix, tenant_prefix
from tenants.testing import PASSWORD, host_of, make_user

PLATFORM = "localhost"


class HostClient(Client):
    """A test client bound to one host; the connection returns to public after each request."""

    def __init__(self, host: str):
        super().__init__(HTTP_HOST=host)

    def request(self, **request):
        response = super().request(**request)
        connection.set_schema_to_public()
        return response


def sign_in(client: Client, email: str, password: str = PASSWORD):
    """POST the admin login form; a 302 to /admin/ means signed in."""
    return client.post("/admin/login/?next=/admin/", {"username": email, "password": password})


def add_course(tenant: Tenant, title: str, durations=()) -> None:
    with schema_context(tenant.schema_name):
        course = Course.objects.create(title=title)
        section = Section.objects.create(course=course, title="Section", order=1)
        for order, duration in enumerate(durations):
            lecture = lecture_create(section=section, title=f"L{order}", order=order)
            MediaAsset.objects.filter(owner_id=lecture.id).update(duration=duration)
    connection.set_schema_to_public()


@pytest.fixture
def school(db):
    """A school provisioned in this test's transaction: 3 students, lectures of 3600 s and
    1800 s, 3517 bytes of media under its storage prefix."""
    subdomain = f"adm-{secrets.token_hex(4)}"
    tenant = tenant_provision(
        subdomain=subdomain,
        name=f"Admin School {subdomain}",
        owner_email=f"owner@{subdomain}.test",
        owner_password=PASSWORD,
    ).tenant
    for index in range(3):
        make_user(tenant, f"student{index}@{subdomain}.test")
    make_user(tenant, f"teacher@{subdomain}.test", role="instructor")
    add_course(tenant, "Alpha course of the school", durations=(3600.0, 1800.0, None))
    for key, size in (("lectures/a/source.mp4", 3500), ("courses/c/thumb.jpg", 17)):
        path = Path(default_storage.path(f"{tenant_prefix(tenant.schema_name)}/{key}"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    connection.set_schema_to_public()
    yield tenant
    storage_delete_prefix(tenant_prefix(tenant.schema_name))
    tenant_host_cache_clear()


@pytest.fixture
def staff(db):
    """Platform staff: a superuser of the public schema."""
    with schema_context("public"):
        return get_user_model().objects.create_superuser(
            email=f"staff-{secrets.token_hex(3)}@lectern.test", password=PASSWORD
        )


@pytest.fixture
def staff_client(staff):
    client = HostClient(PLATFORM)
    assert sign_in(client, staff.email)["Location"] == "/admin/"
    return client


def row_of(html: str, subdomain: str) -> str:
    """The changelist table row that mentions ``subdomain``."""
    rows = [row for row in re.findall(r"<tr>.*?</tr>", html, re.S) if subdomain in row]
    assert len(rows) == 1, rows
    return rows[0]


def cell(row: str, field: str) -> str:
    match = re.search(rf'class="field-{field}[^"]*">(.*?)</t[dh]>', row, re.S)
    assert match, (field, row)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


# ----------------------------------------------------------------------------- platform admin


def test_staff_sees_every_school_with_status_and_usage(staff_client, school, tenant):
    response = staff_client.get("/admin/tenants/tenant/")

    assert response.status_code == 200
    html = response.content.decode()
    row = row_of(html, school.subdomain)
    assert cell(row, "name") == school.name
    assert cell(row, "status") == "Active"
    assert cell(row, "kind") == "School"
    assert cell(row, "students") == "3"
    assert cell(row, "lecture_hours") == "1.50"
    assert cell(row, "storage_used") == "3.4 KiB"
    assert tenant.subdomain in html
    for header in ("Status", "Students", "Lecture hours", "Storage used"):
        assert header in html


def test_staff_sees_the_domains_of_a_school(staff_client, school):
    response = staff_client.get(f"/admin/tenants/tenant/{school.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="{school.subdomain}.localhost"' in html
    assert "3.4 KiB" in html


def test_suspend_and_reactivate_actions(staff_client, school):
    host = host_of(school)
    selected = {"_selected_action": [school.pk], "index": 0}

    response = staff_client.post("/admin/tenants/tenant/", {"action": "suspend", **selected})

    assert (response.status_code, response["Location"]) == (302, "/admin/tenants/tenant/")
    school.refresh_from_db()
    assert school.status == "suspended"
    answer = HostClient(host).get("/api/v1/auth/me")
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "TENANT_SUSPENDED")
    page = staff_client.get("/admin/tenants/tenant/").content.decode()
    assert f"Suspended: {school.schema_name}." in page

    staff_client.post("/admin/tenants/tenant/", {"action": "suspend", **selected})
    page = staff_client.get("/admin/tenants/tenant/").content.decode()
    assert f"Already suspended: {school.schema_name}." in page

    response = staff_client.post("/admin/tenants/tenant/", {"action": "reactivate", **selected})

    assert response.status_code == 302
    school.refresh_from_db()
    assert school.status == "active"
    assert HostClient(host).get("/api/v1/auth/me").status_code == 401
    page = staff_client.get("/admin/tenants/tenant/").content.decode()
    assert f"Reactivated: {school.schema_name}." in page


def test_actions_refuse_the_public_and_template_tenants(staff_client):
    protected = Tenant.objects.filter(kind__in=["platform", "template"])
    selected = {"_selected_action": [t.pk for t in protected], "index": 0}

    response = staff_client.post("/admin/tenants/tenant/", {"action": "suspend", **selected})

    assert response.status_code == 302
    assert set(protected.values_list("status", flat=True)) == {"active"}
    page = staff_client.get("/admin/tenants/tenant/").content.decode()
    assert "Refusing to suspend &#x27;public&#x27;: it is the platform tenant, not a school." in (
        page
    )
    assert (
        "Refusing to suspend &#x27;tenant_template&#x27;: it is the template tenant, not a school."
        in page
    )


def test_platform_admin_has_no_school_models(staff_client):
    response = staff_client.get("/admin/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/admin/tenants/tenant/" in html
    for school_model in ("courses/course", "courses/lecture", "enrollment/accesscode"):
        assert f"/admin/{school_model}/" not in html
    # School models are not registered on the platform's admin site at all.
    assert staff_client.get("/admin/courses/course/").status_code == 404
    # Schools are created by provisioning and deleted by delete_tenant, not in the admin.
    assert staff_client.get("/admin/tenants/tenant/add/").status_code == 403


def test_non_staff_cannot_use_the_platform_admin(db, school):
    with schema_context("public"):
        get_user_model().objects.create_user(email="plain@lectern.test", password=PASSWORD)
    client = HostClient(PLATFORM)

    response = sign_in(client, "plain@lectern.test")

    assert response.status_code == 200  # the form again, with an error
    assert "Please enter the correct email and password for a staff account" in (
        response.content.decode()
    )
    response = client.get("/admin/tenants/tenant/")
    assert (response.status_code, response["Location"]) == (
        302,
        "/admin/login/?next=/admin/tenants/tenant/",
    )
    # A school's owner has no account on the platform host.
    assert sign_in(client, f"owner@{school.subdomain}.test").status_code == 200


# ----------------------------------------------------------------------------- a school's admin


def test_the_owner_sees_only_the_school_s_own_data(school, other_tenant):
    add_course(other_tenant, "Course of the other school")
    client = HostClient(host_of(school))

    assert sign_in(client, f"owner@{school.subdomain}.test")["Location"] == "/admin/"

    index = client.get("/admin/").content.decode()
    assert "/admin/courses/course/" in index
    assert "/admin/tenants/tenant/" not in index
    courses = client.get("/admin/courses/course/")
    assert courses.status_code == 200
    html = courses.content.decode()
    assert "Alpha course of the school" in html
    assert "Course of the other school" not in html
    users = client.get("/admin/accounts/user/").content.decode()
    assert f"student0@{school.subdomain}.test" in users
    assert "owner@beta.test" not in users
    # Platform models are not registered on the school's admin site at all.
    assert client.get("/admin/tenants/tenant/").status_code == 404
    assert client.get("/admin/tenants/domain/").status_code == 404


def test_an_instructor_or_student_is_not_staff_of_the_school(school):
    client = HostClient(host_of(school))
    for email in (f"teacher@{school.subdomain}.test", f"student0@{school.subdomain}.test"):
        assert sign_in(client, email).status_code == 200
        assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"


def test_platform_staff_are_not_staff_on_a_school_host(staff, staff_client, school):
    host = host_of(school)

    # The platform sign-in cookie names nothing in the school's schema.
    response = staff_client.get("/admin/", HTTP_HOST=host)
    assert (response.status_code, response["Location"]) == (302, "/admin/login/?next=/admin/")

    # Nor do the platform credentials.
    client = HostClient(host)
    assert sign_in(client, staff.email).status_code == 200
    assert client.get("/admin/courses/course/").status_code == 302
