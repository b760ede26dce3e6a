"""The instructor dashboard (courses/dashboard/): roles, every page and action, the one-time
CSV of new codes, image re-encoding with Pillow, publish vs. the student home, the 409 of a
course with students, and a session of another school."""

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
from enrollment.services import access_code_redeem, access_codes_create
from tenants.models import Tenant
from tenants.testing import browser, host_of, in_tenant, make_user, tasks_run_on_commit

pytestmark = pytest.mark.django_db


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


def test_thumbnail_reencoded_as_jpeg(school, django_capture_on_commit_callbacks):
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
    # A replacement removes the old file once the change has committed.
    data["thumbnail"] = picture("GIF", (640, 480), name="small.gif")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/dashboard/courses/{c}/", data)
        assert default_storage.exists(key)
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
        Course.objects.filter(pk=c).update(status=Course.Status.PUBLISHED)
        code = access_codes_create(course=school["course"], quantity=1).codes[0]
        access_code_redeem(student=school["student"], code=code)
    connection.set_schema_to_public()
    response = client.post(f"/dashboard/courses/{c}/delete/")
    assert response.status_code == 409
    assert b"cannot be deleted: students are enrolled in it" in response.content
    with in_tenant(school["tenant"]):
        assert Course.objects.filter(pk=c).exists()
        empty = course_create(title="Empty", created_by=school["instructor"])
    connection.set_schema_to_public()
    response = client.post(f"/dashboard/courses/{empty.id}/delete/")
    assert response["Location"] == "/dashboard/"
    with in_tenant(school["tenant"]):
        assert not Course.objects.filter(pk=empty.id).exists()


def test_branding_logo_colour_and_name(school, django_capture_on_commit_callbacks):
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
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                "/dashboard/branding/",
                {"name": "Alpha Renamed", "primary_color": "#aa3300", "remove_logo": "on"},
            )
            # The old logo is removed once the change has committed.
            assert default_storage.exists(saved.logo)
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


def test_reorder_and_move_refuse_ids_of_another_course_or_school_as_unknown(school, other_tenant):
    client = browser(school["tenant"], school["instructor"])
    c = school["course"].id
    base = f"/dashboard/courses/{c}"
    with in_tenant(school["tenant"]):
        other_course = course_create(title="Other course")
        foreign_section = section_create(course=other_course, title="Foreign")
        foreign_lecture = lecture_create(section=foreign_section, title="Foreign lecture")
    beta_teacher = make_user(other_tenant, "teach@beta.test", role="instructor")
    with in_tenant(other_tenant):
        beta_course = course_create(title="Beta", created_by=beta_teacher)
        beta_section = section_create(course=beta_course, title="Beta section")
        beta_lecture = lecture_create(section=beta_section, title="Beta lecture")
    connection.set_schema_to_public()
    own_section, own_lecture = str(school["section"].id), str(school["lecture"].id)

    def reorder(body):
        response = client.post(
            f"{base}/reorder/", json.dumps(body), content_type="application/json"
        )
        return response.status_code, response.json()["error"]["code"]

    unknown = "00000000-0000-4000-8000-000000000000"
    # The sections of the course, with a foreign section added or swapped in.
    for extra in (unknown, str(foreign_section.id), str(beta_section.id)):
        assert reorder({"section_id": None, "ids": [own_section, extra]}) == (
            400,
            "VALIDATION_ERROR",
        )
        assert reorder({"section_id": None, "ids": [extra]}) == (400, "VALIDATION_ERROR")
    # A foreign section's lectures, and a foreign lecture among the section's.
    for section_id, lecture_id in (
        (unknown, unknown),
        (str(foreign_section.id), str(foreign_lecture.id)),
        (str(beta_section.id), str(beta_lecture.id)),
    ):
        assert reorder({"section_id": section_id, "ids": [lecture_id]}) == (404, "NOT_FOUND")
        assert reorder({"section_id": own_section, "ids": [own_lecture, lecture_id]}) == (
            400,
            "VALIDATION_ERROR",
        )
    # The keyboard path answers 404 for all of them alike.
    for kind, item_id in (
        ("section", unknown),
        ("section", foreign_section.id),
        ("section", beta_section.id),
        ("lecture", unknown),
        ("lecture", foreign_lecture.id),
        ("lecture", beta_lecture.id),
    ):
        response = client.post(f"{base}/move/", {"kind": kind, "id": item_id, "direction": "up"})
        assert response.status_code == 404
    with in_tenant(school["tenant"]):
        assert Section.objects.get(pk=foreign_section.id).order == 1
        assert Lecture.objects.get(pk=foreign_lecture.id).order == 1
        assert Section.objects.get(pk=school["section"].id).order == 1
    with in_tenant(other_tenant):
        assert Section.objects.get(pk=beta_section.id).order == 1
        assert Lecture.objects.get(pk=beta_lecture.id).order == 1


def test_lecture_move_swaps_with_its_neighbour_in_its_section(school):
    client = browser(school["tenant"], school["instructor"])
    c = school["course"].id
    with in_tenant(school["tenant"]):
        second = lecture_create(section=school["section"], title="Second")
    connection.set_schema_to_public()

    response = client.post(
        f"/dashboard/courses/{c}/move/",
        {"kind": "lecture", "id": str(second.id), "direction": "up"},
    )
    top = client.post(
        f"/dashboard/courses/{c}/move/",
        {"kind": "lecture", "id": str(second.id), "direction": "up"},
    )

    assert response["Location"] == f"/dashboard/courses/{c}/#lecture-{second.id}"
    assert top.status_code == 302
    with in_tenant(school["tenant"]):
        titles = Lecture.objects.filter(section=school["section"]).order_by("order")
        assert [(x.title, x.order) for x in titles] == [("Second", 1), ("Welcome", 2)]
