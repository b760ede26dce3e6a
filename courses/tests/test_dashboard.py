"""The instructor dashboard (courses/dashboard/): roles, every page and action, the one-time
CSV of new codes, image re-encoding with Pillow, publish vs. the student home, the 409 of a
course with students, and a session of another school."""

import csv
import io
import json

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings
from PIL import Image

from courses.models import Course, Lecture, Section
from courses.services import course_create, lecture_create, section_create
from enrollment.models import AccessCode, Enrollment
from enrollment.services import access_code_redeem, access_codes_create
from tenants.models import Tenant
from tenants.testing import host_of, in_tenant, make_user, tasks_run_on_commit

pytestmark = pytest.mark.django_db


def browser(tenant, user=None) -> Client:
    """A browser on ``tenant``'s host, signed in as ``user`` (a session in its schema)."""
    client = Client(HTTP_HOST=host_of(tenant), HTTP_ACCEPT="text/html")
    if user is not None:
        with in_tenant(tenant):
            client.force_login(user)
        connection.set_schema_to_public()
    return client


def picture(fmt: str = "PNG", size=(3000, 2000), mode="RGB", name="pic.png") -> SimpleUploadedFile:
    """A real image file made by Pillow."""
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 60) if mode == "RGB" else (200, 30, 60, 128)).save(out, fmt)
    return SimpleUploadedFile(name, out.getvalue(), content_type=f"image/{fmt.lower()}")


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
        lecture = lecture_create(section=section, title="Welcome")
    connection.set_schema_to_public()
    return {
        "tenant": tenant,
        "owner": owner,
        "instructor": instructor,
        "student": student,
        "course": course,
        "section": section,
        "lecture": lecture,
    }


def _pages(s) -> list[str]:
    c = s["course"].id
    return [
        "/dashboard/",
        "/dashboard/courses/new/",
        f"/dashboard/courses/{c}/",
        f"/dashboard/courses/{c}/delete/",
        f"/dashboard/courses/{c}/codes/",
        f"/dashboard/courses/{c}/students/",
        f"/dashboard/courses/{c}/students/export.csv",
    ]


def test_roles(school):
    for url in [*_pages(school), "/dashboard/branding/"]:
        response = browser(school["tenant"]).get(url)
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={url}")
        assert browser(school["tenant"], school["student"]).get(url).status_code == 403
        assert browser(school["tenant"], school["owner"]).get(url).status_code == 200
    for url in _pages(school):
        assert browser(school["tenant"], school["instructor"]).get(url).status_code == 200
    # Branding is the owner's only.
    client = browser(school["tenant"], school["instructor"])
    assert client.get("/dashboard/branding/").status_code == 403
    assert (
        client.post("/dashboard/branding/", {"name": "X", "primary_color": "#000000"}).status_code
        == 403
    )


def test_student_cannot_write(school):
    client = browser(school["tenant"], school["student"])
    c = school["course"].id
    assert (
        client.post("/dashboard/courses/new/", {"title": "Nope", "price": "0"}).status_code == 403
    )
    assert client.post(f"/dashboard/courses/{c}/publish/", {"published": "1"}).status_code == 403
    with in_tenant(school["tenant"]):
        assert not Course.objects.filter(title="Nope").exists()
        assert Course.objects.get(pk=c).published is False


def test_course_create_edit_and_validation(school):
    client = browser(school["tenant"], school["instructor"])
    response = client.post("/dashboard/courses/new/", {"title": "", "price": "-1"})
    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert b"Ensure this value is greater than or equal to 0." in response.content
    response = client.post(
        "/dashboard/courses/new/",
        {
            "title": "Python",
            "subtitle": "Basics",
            "description": "Learn",
            "category": "code",
            "price": "19.90",
        },
    )
    with in_tenant(school["tenant"]):
        course = Course.objects.get(title="Python")
    assert response["Location"] == f"/dashboard/courses/{course.id}/"
    assert (course.subtitle, course.category, str(course.price), course.published) == (
        "Basics",
        "code",
        "19.90",
        False,
    )
    assert course.created_by_id == school["instructor"].pk
    response = client.post(
        f"/dashboard/courses/{course.id}/",
        {"title": "Python 3", "subtitle": "", "description": "", "category": "", "price": "0"},
    )
    assert response.status_code == 302
    with in_tenant(school["tenant"]):
        assert Course.objects.get(pk=course.id).title == "Python 3"
    page = client.get(f"/dashboard/courses/{course.id}/")
    assert b"Python 3" in page.content and b'id="dashboard-config"' in page.content


def test_thumbnail_reencoded_as_jpeg(school):
    client = browser(school["tenant"], school["instructor"])
    c = school["course"].id
    data = {
        "title": "Draft course",
        "price": "0",
        "thumbnail": picture("PNG", (3000, 2000), "RGBA"),
    }
    assert client.post(f"/dashboard/courses/{c}/", data).status_code == 302
    with in_tenant(school["tenant"]):
        key = Course.objects.get(pk=c).thumbnail
    assert key.startswith(f"tenants/{school['tenant'].schema_name}/thumbnails/") and key.endswith(
        ".jpg"
    )
    with default_storage.open(key) as stored, Image.open(stored) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (1080, 720), "RGB")
    served = client.get(f"/dashboard/courses/{c}/thumbnail")
    assert (served.status_code, served["Content-Type"]) == (200, "image/jpeg")
    # A draft's cover is hidden from everyone else.
    assert browser(school["tenant"]).get(f"/dashboard/courses/{c}/thumbnail").status_code == 404
    # A replacement removes the old file.
    data["thumbnail"] = picture("GIF", (640, 480), name="small.gif")
    client.post(f"/dashboard/courses/{c}/", data)
    with in_tenant(school["tenant"]):
        new_key = Course.objects.get(pk=c).thumbnail
    assert new_key != key and not default_storage.exists(key)
    with default_storage.open(new_key) as stored, Image.open(stored) as image:
        assert (image.format, image.size) == ("JPEG", (640, 480))


def test_non_image_rejected_and_nothing_written(school):
    client = browser(school["tenant"], school["instructor"])
    fake = SimpleUploadedFile("evil.png", b"<?php echo 1; ?>" * 10, content_type="image/png")
    response = client.post(
        "/dashboard/courses/new/", {"title": "Half", "price": "0", "thumbnail": fake}
    )
    assert response.status_code == 400
    assert b"The file is not a JPEG, PNG, GIF or WebP image." in response.content
    with in_tenant(school["tenant"]):
        assert not Course.objects.filter(title="Half").exists()


def test_sections_lectures_rename_and_reorder(school):
    client = browser(school["tenant"], school["instructor"])
    c = school["course"].id
    base = f"/dashboard/courses/{c}"
    assert client.post(f"{base}/sections/", {"title": "Advanced"}).status_code == 302
    with in_tenant(school["tenant"]):
        advanced = Section.objects.get(course_id=c, title="Advanced")
    assert advanced.order == 2
    client.post(f"{base}/sections/{advanced.id}/lectures/", {"title": "Deep dive"})
    client.post(f"{base}/sections/{school['section'].id}/lectures/", {"title": "Second"})
    client.post(f"{base}/sections/{school['section'].id}/rename/", {"title": "Introduction"})
    client.post(f"{base}/lectures/{school['lecture'].id}/rename/", {"title": "Hello"})
    # An empty title is refused with a message and changes nothing.
    response = client.post(f"{base}/sections/", {"title": ""}, follow=True)
    assert b"A title is required" in response.content
    with in_tenant(school["tenant"]):
        assert Section.objects.get(pk=school["section"].id).title == "Introduction"
        lectures = list(Lecture.objects.filter(section=school["section"]).order_by("order"))
        assert [x.title for x in lectures] == ["Hello", "Second"]
        assert Section.objects.filter(course_id=c).count() == 2
    # Drag and drop: the new order of the sections, then of one section's lectures.
    ids = [str(advanced.id), str(school["section"].id)]
    response = client.post(
        f"{base}/reorder/",
        json.dumps({"section_id": None, "ids": ids}),
        content_type="application/json",
    )
    assert (response.status_code, response.json()) == (200, {"ids": ids})
    lecture_ids = [str(lectures[1].id), str(lectures[0].id)]
    body = {"section_id": str(school["section"].id), "ids": lecture_ids}
    assert (
        client.post(
            f"{base}/reorder/", json.dumps(body), content_type="application/json"
        ).status_code
        == 200
    )
    with in_tenant(school["tenant"]):
        assert [str(s.id) for s in Section.objects.filter(course_id=c).order_by("order")] == ids
        assert [
            str(x.id) for x in Lecture.objects.filter(section=school["section"]).order_by("order")
        ] == lecture_ids
    # Incomplete, duplicated or malformed lists are refused.
    for bad in ({"ids": ids[:1]}, {"ids": [ids[0], ids[0]]}, {"ids": "x"}, {}):
        response = client.post(f"{base}/reorder/", json.dumps(bad), content_type="application/json")
        assert (response.status_code, response.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
    # Keyboard path: move the first section down.
    client.post(f"{base}/move/", {"kind": "section", "id": ids[0], "direction": "down"})
    with in_tenant(school["tenant"]):
        assert [str(s.id) for s in Section.objects.filter(course_id=c).order_by("order")] == ids[
            ::-1
        ]
    assert (
        client.post(
            f"{base}/move/", {"kind": "section", "id": "nope", "direction": "up"}
        ).status_code
        == 404
    )


def test_publish_hides_and_shows_on_student_home(school):
    client = browser(school["tenant"], school["instructor"])
    c = school["course"].id
    home = browser(school["tenant"])
    assert b"Draft course" not in home.get("/").content
    client.post(f"/dashboard/courses/{c}/publish/", {"published": "1"})
    assert b"Draft course" in home.get("/").content
    client.post(f"/dashboard/courses/{c}/publish/", {"published": "0"})
    assert b"Draft course" not in home.get("/").content


def test_delete_confirm_and_409(school):
    client = browser(school["tenant"], school["instructor"])
    c = school["course"].id
    page = client.get(f"/dashboard/courses/{c}/delete/")
    assert b"Delete the course" in page.content
    with in_tenant(school["tenant"]):
        Course.objects.filter(pk=c).update(published=True)
        code = access_codes_create(course=school["course"], quantity=1).codes[0]
        access_code_redeem(student=school["student"], code=code)
    connection.set_schema_to_public()
    response = client.post(f"/dashboard/courses/{c}/delete/")
    assert response.status_code == 409
    assert b"cannot be deleted: students are enrolled in it" in response.content
    with in_tenant(school["tenant"]):
        assert Course.objects.filter(pk=c).exists()
        empty = course_create(title="Empty")
    connection.set_schema_to_public()
    response = client.post(f"/dashboard/courses/{empty.id}/delete/")
    assert response["Location"] == "/dashboard/"
    with in_tenant(school["tenant"]):
        assert not Course.objects.filter(pk=empty.id).exists()


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
        Course.objects.filter(pk=c).update(published=True)
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


def test_branding_logo_colour_and_name(school):
    tenant = school["tenant"]
    original = (tenant.name, tenant.primary_color, tenant.logo)
    client = browser(tenant, school["owner"])
    response = client.post("/dashboard/branding/", {"name": "A", "primary_color": "red"})
    assert response.status_code == 400
    assert b"Enter a colour as #rrggbb" in response.content
    fake = SimpleUploadedFile("logo.png", b"not an image", content_type="image/png")
    response = client.post(
        "/dashboard/branding/", {"name": "A", "primary_color": "#112233", "logo": fake}
    )
    assert b"The file is not a JPEG, PNG, GIF or WebP image." in response.content
    assert Tenant.objects.get(pk=tenant.pk).primary_color == original[1]
    try:
        response = client.post(
            "/dashboard/branding/",
            {
                "name": "Alpha Renamed",
                "primary_color": "#AA3300",
                "logo": picture("JPEG", (2000, 1000), name="l.jpg"),
            },
        )
        assert response["Location"] == "/dashboard/branding/"
        saved = Tenant.objects.get(pk=tenant.pk)
        assert (saved.name, saved.primary_color) == ("Alpha Renamed", "#aa3300")
        assert saved.logo.startswith(f"tenants/{tenant.schema_name}/branding/")
        with default_storage.open(saved.logo) as stored, Image.open(stored) as image:
            assert (image.format, image.size) == ("PNG", (512, 256))
        # The student pages use the name, colour and logo.
        home = browser(tenant).get("/").content
        assert (
            b"Alpha Renamed" in home
            and b"--brand: #aa3300" in home
            and b"/dashboard/logo?v=" in home
        )
        logo = browser(tenant).get("/dashboard/logo")
        assert (logo.status_code, logo["Content-Type"]) == (200, "image/png")
        # So does the password-reset e-mail (its HTML part).
        mail.outbox.clear()
        with (
            override_settings(PUBLIC_URL_SCHEME="http", PUBLIC_URL_PORT=8000),
            tasks_run_on_commit(),
        ):
            browser(tenant).post("/password-reset/", {"email": "learn@alpha.test"})
        (message,) = mail.outbox
        assert "Alpha Renamed" in message.body
        html = message.alternatives[0][0]
        assert "background:#aa3300" in html and "Alpha Renamed" in html
        assert f"http://{host_of(tenant)}:8000/dashboard/logo" in html
        client.post(
            "/dashboard/branding/",
            {"name": "Alpha Renamed", "primary_color": "#aa3300", "remove_logo": "on"},
        )
        assert Tenant.objects.get(pk=tenant.pk).logo == ""
        assert not default_storage.exists(saved.logo)
    finally:
        Tenant.objects.filter(pk=tenant.pk).update(
            name=original[0], primary_color=original[1], logo=original[2]
        )


def test_session_of_another_school_is_anonymous(school, other_tenant):
    cookie_client = browser(school["tenant"], school["instructor"])
    on_b = Client(HTTP_HOST=host_of(other_tenant), HTTP_ACCEPT="text/html")
    on_b.cookies = cookie_client.cookies
    response = on_b.get("/dashboard/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/dashboard/")
    url = f"/dashboard/courses/{school['course'].id}/"
    b_owner = make_user(other_tenant, "own@beta.test", role="owner")
    response = browser(other_tenant, b_owner).get(url)
    assert (response.status_code, b"Draft course" in response.content) == (404, False)
