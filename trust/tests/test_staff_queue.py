"""The platform staff's queue (platform admin) and what "hide the lecture" does for students:
the lecture leaves the outline, the catalogue counts, playback and free previews, with a
clear message, while its instructors see it with a notice."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from PIL import Image

from catalog.services import preview_grant
from courses.models import Lecture
from courses.services import lecture_update
from enrollment.models import Enrollment
from tenants.errors import NotFound
from tenants.models import Tenant
from tenants.testing import PASSWORD, TenantClient, browser, in_tenant
from tests.xss import XSS_CORPUS, assert_inert
from trust.models import Flag
from trust.services import flag_decide


class PlatformClient(Client):
    def __init__(self):
        super().__init__(HTTP_HOST="localhost")

    def request(self, **request):
        response = super().request(**request)
        connection.set_schema_to_public()
        return response


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser(
        email="queue-staff@lectern.test", password=PASSWORD
    )


@pytest.fixture
def staff_client(staff):
    client = PlatformClient()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": staff.email, "password": PASSWORD}
    )
    assert response["Location"] == "/admin/"
    return client


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def poster_flag(tenant: Tenant, lecture, title: str = "Physics / Velocity", version=1) -> Flag:
    return Flag.objects.create(
        school=tenant,
        kind=Flag.Kind.IMAGE,
        subject=Flag.Subject.LECTURE_POSTER,
        object_id=str(lecture.pk),
        media_version=version,
        title=title,
        detections=[{"label": "FEMALE_BREAST_EXPOSED", "score": 0.81, "at": None}],
        evidence=jpeg(),
    )


def test_the_queue_filters_shows_the_picture_to_staff_only_and_hides_the_lecture_on_confirmation(
    staff_client, tenant, other_tenant, ready_lecture, student, course
):
    flag = poster_flag(tenant, ready_lecture)
    Flag.objects.create(
        school=other_tenant, kind=Flag.Kind.AUDIO, subject=Flag.Subject.AUDIO_MATCH,
        object_id="x", other_school=tenant, other_object_id=str(ready_lecture.pk),
        title="Beta: Copy", other_title="Alpha: Physics / Velocity", similarity=0.93,
    )  # fmt: skip
    listing = staff_client.get(
        f"/admin/trust/flag/?status__exact=open&school__id__exact={tenant.pk}"
    )
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "Physics / Velocity" in text and "FEMALE_BREAST_EXPOSED 0.81" in text
    assert "Beta: Copy" not in text
    audio = staff_client.get("/admin/trust/flag/?subject__exact=audio_match").content.decode()
    assert "93% same audio as Alpha: Physics / Velocity" in audio

    detail = staff_client.get(f"/admin/trust/flag/{flag.pk}/change/")
    assert detail.status_code == 200
    evidence_url = f"/admin/trust/flag/{flag.pk}/evidence.jpg"
    assert f'src="{evidence_url}"' in detail.content.decode()
    picture = staff_client.get(evidence_url)
    assert (picture.status_code, picture["Content-Type"], picture.content) == (
        200, "image/jpeg", jpeg(),
    )  # fmt: skip
    assert PlatformClient().get(evidence_url).status_code == 302  # to the log-in page
    # The school's own admin has no queue: its log-in first, then nothing (404).
    assert browser(tenant).get(evidence_url).status_code == 302

    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=course)
    form = {"action": "hide_lecture", "_selected_action": [flag.pk]}
    confirm = staff_client.post("/admin/trust/flag/", form)
    assert confirm.status_code == 200
    assert "Hide the lecture from students and visitors?" in confirm.content.decode()
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN
    done = staff_client.post("/admin/trust/flag/", {**form, "confirmed": "yes"})
    assert done.status_code == 302
    flag.refresh_from_db()
    assert (flag.status, flag.action, flag.resolved_by.email) == (
        Flag.Status.ACTIONED, "hide_lecture", "queue-staff@lectern.test",
    )  # fmt: skip

    # Students: out of the outline, playback refused with the reason, the page says so.
    client = TenantClient(tenant, user=student)
    outline = client.get(f"/api/v1/students/courses/{course.id}").json()
    titles = [lec["title"] for s in outline["sections"] for lec in s["lectures"]]
    assert titles == ["Acceleration"]
    play = client.get(f"/api/v1/students/courses/{course.id}/lectures/{ready_lecture.id}")
    assert (play.status_code, play.json()["error"]["code"], play.json()["error"]["message"]) == (
        404, "NOT_FOUND", Lecture.HIDDEN_MESSAGE,
    )  # fmt: skip
    page = browser(tenant, student).get(f"/courses/{course.id}/lectures/{ready_lecture.id}/")
    assert page.status_code == 404
    assert "taken down by the platform" in page.content.decode()
    # Instructors still see it, with a notice.
    with in_tenant(tenant):
        lecture_update(
            lecture=Lecture.objects.get(pk=ready_lecture.pk), data={"free_preview": True}
        )
        with pytest.raises(NotFound):
            preview_grant(slug=course.slug, lecture_id=ready_lecture.pk)
    # A closed flag is not decided twice.
    again = staff_client.post("/admin/trust/flag/", {**form, "confirmed": "yes"}, follow=True)
    assert "This flag was already decided." in again.content.decode()


def test_dismissing_changes_nothing_and_a_wrong_action_is_refused(staff, tenant, ready_lecture):
    flag = poster_flag(tenant, ready_lecture)
    from tenants.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        flag_decide(flag=flag, action="hide_image", user=staff)
    assert refused.value.code == "VALIDATION_ERROR"
    assert flag_decide(flag=flag, action="dismiss", user=staff) is False
    assert (flag.status, flag.action) == (Flag.Status.DISMISSED, "dismiss")
    with in_tenant(tenant):
        assert Lecture.objects.get(pk=ready_lecture.pk).hidden_by_platform is False


def test_suspending_the_school_of_a_flag(staff, other_tenant):
    flag = Flag.objects.create(
        school=other_tenant, kind=Flag.Kind.AUDIO, subject=Flag.Subject.AUDIO_MATCH, object_id="x"
    )
    assert flag_decide(flag=flag, action="suspend_school", user=staff) is True
    other_tenant.refresh_from_db()
    assert other_tenant.status == Tenant.Status.SUSPENDED


def test_flag_titles_are_escaped_in_the_queue(staff_client, tenant, ready_lecture):
    for version, payload in enumerate(XSS_CORPUS):
        poster_flag(tenant, ready_lecture, title=payload[:300], version=version)
    page = staff_client.get("/admin/trust/flag/")
    assert page.status_code == 200
    html = page.content.decode()
    start = html.index('<table id="result_list">')
    table = html[start : html.index("</table>", start) + 8]
    assert table.count("field-finding") == len(XSS_CORPUS)
    assert_inert(table)


def test_the_edit_page_tells_instructors_the_platform_hid_the_lecture(
    tenant, instructor, course, ready_lecture
):
    with in_tenant(tenant):
        from courses.services import lecture_platform_hide

        assert lecture_platform_hide(lecture_id=ready_lecture.pk) is True
        assert lecture_platform_hide(lecture_id=ready_lecture.pk) is False
    page = browser(tenant, instructor).get(
        f"/dashboard/courses/{course.pk}/lectures/{ready_lecture.pk}/edit/"
    )
    assert page.status_code == 200
    assert "The platform&#x27;s moderators have hidden this lecture" in page.content.decode()
