"""The account API (API.md: Accounts): profile, avatar, password change, e-mail change, log-out,
password reset by API and account deletion, each with its status, body and side effects."""

import io
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from PIL import Image
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from analytics.models import CourseView, WatchEvent
from analytics.rollups import rollup_run
from analytics.selectors import analytics_overview
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment, LectureProgress
from enrollment.services import email_change_token
from tenants.testing import (
    PASSWORD,
    TenantClient,
    browser,
    in_tenant,
    make_user,
    tasks_run_on_commit,
)

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "another-horse-battery-9"


def png(size=(1200, 800), *, exif: bool = False, trailer: bytes = b"") -> io.BytesIO:
    """A PNG (or a JPEG with an EXIF block when ``exif``) of ``size``, plus ``trailer``."""
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if exif:
        data = image.getexif()
        data[0x010F] = "SecretCameraMaker"  # Make
        data[0x0132] = "2020:01:01 10:00:00"  # DateTime
        image.save(out, "JPEG", exif=data.tobytes())
        out.name = "me.jpg"
    else:
        image.save(out, "PNG")
        out.name = "me.png"
    out.write(trailer)
    out.seek(0)
    return out


def row(tenant, user):
    with in_tenant(tenant):
        return User.objects.get(pk=user.pk)


def error_code(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# --- GET / PATCH /api/v1/auth/me --------------------------------------------------------------


def test_me_returns_the_profile(tenant, student):
    response = TenantClient(tenant, user=student).get("/api/v1/auth/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": student.pk,
        "email": "student@alpha.test",
        "name": "student",
        "role": "student",
        "bio": "",
        "time_zone": "UTC",
        "avatar_url": None,
    }


def test_patch_me_changes_name_bio_and_time_zone(tenant, student):
    client = TenantClient(tenant, user=student)
    response = client.patch(
        "/api/v1/auth/me",
        {"name": "Ada Lovelace", "bio": "*Analyst*", "time_zone": "Europe/Lisbon"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["bio"], body["time_zone"]) == (
        "Ada Lovelace",
        "*Analyst*",
        "Europe/Lisbon",
    )
    saved = row(tenant, student)
    assert (saved.name, saved.bio, saved.time_zone) == (
        "Ada Lovelace",
        "*Analyst*",
        "Europe/Lisbon",
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "utc "}, "time_zone"),
        ({"bio": "x" * 2001}, "bio"),
        ({"name": "n" * 151}, "name"),
    ],
)
def test_patch_me_refuses_bad_fields_and_changes_nothing(tenant, student, payload, field):
    response = TenantClient(tenant, user=student).patch("/api/v1/auth/me", payload, format="json")
    assert error_code(response) == (400, "VALIDATION_ERROR")
    assert list(response.json()["error"]["details"]) == [field]
    saved = row(tenant, student)
    assert (saved.name, saved.bio, saved.time_zone) == ("student", "", "UTC")


def test_bio_of_2000_characters_is_accepted(tenant, student):
    response = TenantClient(tenant, user=student).patch(
        "/api/v1/auth/me", {"bio": "b" * 2000}, format="json"
    )
    assert (response.status_code, len(row(tenant, student).bio)) == (200, 2000)


def test_avatar_is_reencoded_shrunk_and_served(tenant, student):
    client = TenantClient(tenant, user=student)
    response = client.patch("/api/v1/auth/me", {"avatar": png(exif=True)}, format="multipart")
    assert response.status_code == 200
    key = row(tenant, student).avatar
    assert re.fullmatch(rf"tenants/{tenant.schema_name}/avatars/[0-9a-f]{{32}}\.png", key)
    url = response.json()["avatar_url"]
    assert (
        url == f"http://{client.defaults['HTTP_HOST']}/accounts/{student.pk}/avatar?v={key[-16:-4]}"
    )
    served = browser(tenant).get(url.split(client.defaults["HTTP_HOST"], 1)[1])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["Cache-Control"] == "public, max-age=86400"
    data = b"".join(served.streaming_content)
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("PNG", (512, 341))
    assert not image.getexif()
    assert b"SecretCameraMaker" not in data


def test_new_avatar_replaces_the_old_file_on_commit(tenant, student):
    client = TenantClient(tenant, user=student)
    with tasks_run_on_commit():
        client.patch("/api/v1/auth/me", {"avatar": png()}, format="multipart")
    first = row(tenant, student).avatar
    with tasks_run_on_commit():
        client.patch("/api/v1/auth/me", {"avatar": png((64, 64))}, format="multipart")
    second = row(tenant, student).avatar
    assert first != second
    assert (default_storage.exists(first), default_storage.exists(second)) == (False, True)
    with tasks_run_on_commit():
        response = client.patch("/api/v1/auth/me", {"remove_avatar": True}, format="json")
    assert response.json()["avatar_url"] is None
    assert (row(tenant, student).avatar, default_storage.exists(second)) == ("", False)


@pytest.mark.parametrize(
    "upload",
    [
        b"<html><script>alert(1)</script></html>",
        b"GIF89a<script>alert(1)</script>",
        b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script>",
    ],
    ids=["html", "gif-header-html", "png-signature-html"],
)
def test_non_images_are_refused_and_nothing_is_stored(tenant, student, upload):
    before = _avatar_files(tenant)
    file = io.BytesIO(upload)
    file.name = "me.png"
    response = TenantClient(tenant, user=student).patch(
        "/api/v1/auth/me", {"avatar": file}, format="multipart"
    )
    assert error_code(response) == (400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"] == {
        "avatar": ["The file is not a JPEG, PNG, GIF or WebP image."]
    }
    assert (row(tenant, student).avatar, _avatar_files(tenant)) == ("", before)


def test_png_polyglot_keeps_only_the_pixels(tenant, student):
    payload = b"<html><script>alert(1)</script></html>"
    response = TenantClient(tenant, user=student).patch(
        "/api/v1/auth/me", {"avatar": png((40, 40), trailer=payload)}, format="multipart"
    )
    assert response.status_code == 200
    with default_storage.open(row(tenant, student).avatar, "rb") as stored:
        assert b"<script>" not in stored.read()


def test_decompression_bomb_is_refused(tenant, student):
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")  # 100 Mpx, a few kB
    bomb.name = "bomb.png"
    bomb.seek(0)
    response = TenantClient(tenant, user=student).patch(
        "/api/v1/auth/me", {"avatar": bomb}, format="multipart"
    )
    assert error_code(response) == (400, "VALIDATION_ERROR")
    assert row(tenant, student).avatar == ""


def _avatar_files(tenant) -> list[str]:
    folder = f"tenants/{tenant.schema_name}/avatars"
    return sorted(default_storage.listdir(folder)[1]) if default_storage.exists(folder) else []


def test_avatar_of_an_unknown_or_inactive_account_is_404(tenant, student):
    assert browser(tenant).get("/accounts/999999/avatar").status_code == 404
    assert browser(tenant).get(f"/accounts/{student.pk}/avatar").status_code == 404


# --- POST /api/v1/auth/password ---------------------------------------------------------------


def test_password_change_ends_every_other_token(tenant, student):
    client = TenantClient(tenant, user=student)
    old = client.tokens
    response = client.post(
        "/api/v1/auth/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh", "expires_in"}
    assert row(tenant, student).check_password(NEW_PASSWORD)
    assert error_code(client.get("/api/v1/auth/me")) == (401, "AUTHENTICATION_FAILED")
    refresh = TenantClient(tenant).post(
        "/api/v1/auth/token/refresh", {"refresh": old["refresh"]}, format="json"
    )
    assert error_code(refresh) == (401, "INVALID_TOKEN")
    fresh = TenantClient(tenant)
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert fresh.get("/api/v1/auth/me").status_code == 200


def test_password_change_refuses_a_wrong_current_or_weak_new_one(tenant, student):
    client = TenantClient(tenant, user=student)
    wrong = client.post(
        "/api/v1/auth/password",
        {"current_password": "nope-nope-nope", "new_password": NEW_PASSWORD},
        format="json",
    )
    weak = client.post(
        "/api/v1/auth/password",
        {"current_password": PASSWORD, "new_password": "123"},
        format="json",
    )
    assert error_code(wrong) == (400, "INVALID_PASSWORD")
    assert error_code(weak) == (400, "VALIDATION_ERROR")
    assert list(weak.json()["error"]["details"]) == ["new_password"]
    assert row(tenant, student).check_password(PASSWORD)
    assert client.get("/api/v1/auth/me").status_code == 200


# --- E-mail change ----------------------------------------------------------------------------


def _link(message) -> str:
    return re.search(r"http://\S+/account/email/(\S+)/", message.body).group(0)


def test_email_change_mails_the_new_address_and_changes_on_the_link(tenant, student):
    client = TenantClient(tenant, user=student)
    with tasks_run_on_commit():
        response = client.post(
            "/api/v1/auth/email",
            {"new_email": "New.Address@Alpha.test", "password": PASSWORD},
            format="json",
        )
    assert (response.status_code, response.json()) == (202, {"new_email": "new.address@alpha.test"})
    assert row(tenant, student).email == "student@alpha.test"
    [message] = mail.outbox
    assert message.to == ["new.address@alpha.test"]
    assert message.subject == "Confirm your new e-mail address for Alpha Academy"
    assert "from student@alpha.test to this one (new.address@alpha.test)" in message.body
    link = _link(message)
    assert link.startswith("http://alpha.localhost")
    html = message.alternatives[0][0]
    assert link in html
    path = "/" + link.split("/", 3)[3]
    with tasks_run_on_commit():
        page = browser(tenant).get(path)
    assert page.status_code == 200
    assert b"new.address@alpha.test" in page.content
    assert row(tenant, student).email == "new.address@alpha.test"
    notice = mail.outbox[1]
    assert notice.to == ["student@alpha.test"]
    assert notice.subject == "The e-mail address of your Alpha Academy account changed"
    assert "is now new.address@alpha.test instead of this one (student@alpha.test)" in notice.body
    # Single use: the link is bound to the old address.
    again = browser(tenant).get(path)
    assert again.status_code == 400
    assert row(tenant, student).email == "new.address@alpha.test"


def test_email_change_refusals(tenant, student):
    make_user(tenant, "taken@alpha.test")
    client = TenantClient(tenant, user=student)
    cases = [
        ({"new_email": "taken@ALPHA.test", "password": PASSWORD}, (409, "EMAIL_TAKEN")),
        ({"new_email": "x@alpha.test", "password": "wrong-pass-x"}, (400, "INVALID_PASSWORD")),
        ({"new_email": "not an address", "password": PASSWORD}, (400, "VALIDATION_ERROR")),
        ({"new_email": "student@alpha.test", "password": PASSWORD}, (400, "VALIDATION_ERROR")),
    ]
    with tasks_run_on_commit():
        answers = [
            error_code(client.post("/api/v1/auth/email", body, format="json")) for body, _ in cases
        ]
    assert answers == [expected for _, expected in cases]
    assert mail.outbox == []


def test_email_link_expires_after_24_hours_and_is_refused_when_taken(tenant, student, monkeypatch):
    with in_tenant(tenant):
        token = email_change_token(user=student, new_email="late@alpha.test")
    later = timezone.now() + timedelta(hours=24, seconds=5)
    monkeypatch.setattr("django.core.signing.time.time", lambda: later.timestamp())
    assert browser(tenant).get(f"/account/email/{token}/").status_code == 400
    monkeypatch.undo()
    make_user(tenant, "late@alpha.test")
    assert browser(tenant).get(f"/account/email/{token}/").status_code == 409
    assert row(tenant, student).email == "student@alpha.test"


def test_email_link_of_another_school_is_refused(tenant, other_tenant, student):
    twin = make_user(other_tenant, "student@alpha.test")
    with in_tenant(tenant):
        token = email_change_token(user=student, new_email="moved@alpha.test")
    assert browser(other_tenant).get(f"/account/email/{token}/").status_code == 400
    assert row(other_tenant, twin).email == "student@alpha.test"


# --- POST /api/v1/auth/logout -----------------------------------------------------------------


def test_logout_blacklists_the_refresh_token_at_once(tenant, student):
    client = TenantClient(tenant, user=student)
    refresh = client.tokens["refresh"]
    response = client.post("/api/v1/auth/logout", {"refresh": refresh}, format="json")
    assert (response.status_code, response.content) == (204, b"")
    with in_tenant(tenant):
        assert BlacklistedToken.objects.filter(token__user=student).count() == 1
    again = TenantClient(tenant).post(
        "/api/v1/auth/token/refresh", {"refresh": refresh}, format="json"
    )
    assert error_code(again) == (401, "INVALID_TOKEN")
    twice = TenantClient(tenant).post("/api/v1/auth/logout", {"refresh": refresh}, format="json")
    assert error_code(twice) == (401, "INVALID_TOKEN")


def test_logout_refuses_another_accounts_token(tenant, student):
    other = TenantClient(tenant, user=make_user(tenant, "other@alpha.test"))
    response = TenantClient(tenant, user=student).post(
        "/api/v1/auth/logout", {"refresh": other.tokens["refresh"]}, format="json"
    )
    assert error_code(response) == (401, "INVALID_TOKEN")
    assert (
        other.post(
            "/api/v1/auth/token/refresh", {"refresh": other.tokens["refresh"]}, format="json"
        ).status_code
        == 200
    )


def test_logout_ends_a_browser_session(tenant, student):
    page = browser(tenant, student)
    page.get("/account/")
    csrf = page.cookies["csrftoken"].value
    response = page.post(
        "/api/v1/auth/logout",
        {},
        content_type="application/json",
        HTTP_ACCEPT="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 204
    assert page.get("/account/")["Location"] == "/login/?next=/account/"


def test_logout_without_token_or_session_is_400(tenant):
    response = TenantClient(tenant).post("/api/v1/auth/logout", {}, format="json")
    assert error_code(response) == (400, "VALIDATION_ERROR")


# --- Password reset by API --------------------------------------------------------------------


def test_password_reset_answers_202_whatever_the_address(tenant, student):
    with tasks_run_on_commit():
        known = TenantClient(tenant).post(
            "/api/v1/auth/password-reset", {"email": "STUDENT@alpha.test"}, format="json"
        )
        unknown = TenantClient(tenant).post(
            "/api/v1/auth/password-reset", {"email": "nobody@alpha.test"}, format="json"
        )
    assert (known.status_code, known.content) == (202, b"")
    assert (unknown.status_code, unknown.content) == (202, b"")
    [message] = mail.outbox
    assert message.to == ["student@alpha.test"]
    uid, token = re.search(r"/password-reset/([^/]+)/([^/]+)/", message.body).groups()
    response = TenantClient(tenant).post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert (response.status_code, response.content) == (204, b"")
    assert row(tenant, student).check_password(NEW_PASSWORD)
    used = TenantClient(tenant).post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": "yet-another-pass-7"},
        format="json",
    )
    assert error_code(used) == (400, "INVALID_TOKEN")
    assert row(tenant, student).check_password(NEW_PASSWORD)


@pytest.mark.parametrize("uid", ["", "!!", "OTk5OTk5OTk5OTk5OTk5", "MTIz"])
def test_password_reset_confirm_refuses_bad_links(tenant, student, uid):
    response = TenantClient(tenant).post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid or "x", "token": "abc-def", "new_password": NEW_PASSWORD},
        format="json",
    )
    assert error_code(response) == (400, "INVALID_TOKEN")


def test_password_reset_confirm_refuses_a_weak_password(tenant, student):
    with in_tenant(tenant):
        uid = urlsafe_base64_encode(force_bytes(student.pk))
        token = default_token_generator.make_token(student)
    response = TenantClient(tenant).post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": "123"},
        format="json",
    )
    assert error_code(response) == (400, "VALIDATION_ERROR")
    assert row(tenant, student).check_password(PASSWORD)


# --- DELETE /api/v1/auth/me -------------------------------------------------------------------


def test_deletion_erases_personal_data_and_keeps_the_figures(tenant, student, instructor):
    with in_tenant(tenant):
        course = course_create(title="Kept", published=True, created_by=instructor)
        lecture = lecture_create(section=section_create(course=course, title="S"), title="L")
        Enrollment.objects.create(student=student, course=course)
        LectureProgress.objects.create(
            student=student, lecture_id=lecture.id, watched=[[0, 30]], completion=50.0
        )
        now = timezone.now()
        WatchEvent.objects.create(
            event_id=uuid.uuid4(), student_id=student.pk, course_id=course.id,
            lecture_id=lecture.id, start=0, end=30, seconds=30, at=now - timedelta(minutes=5),
        )  # fmt: skip
        CourseView.objects.create(
            student_id=student.pk, course_id=course.id, at=now - timedelta(minutes=5)
        )
        rollup_run()
        before = analytics_overview(user=instructor)
    client = TenantClient(tenant, user=student)
    with tasks_run_on_commit():
        client.patch("/api/v1/auth/me", {"avatar": png((32, 32))}, format="multipart")
    key = row(tenant, student).avatar
    page = browser(tenant, student)
    with tasks_run_on_commit():
        response = client.delete("/api/v1/auth/me", {"password": PASSWORD}, format="json")
    assert (response.status_code, response.content) == (204, b"")
    gone = row(tenant, student)
    assert (gone.email, gone.name, gone.bio, gone.avatar, gone.time_zone) == (
        f"deleted-{student.pk}@invalid", "", "", "", "UTC",
    )  # fmt: skip
    assert (gone.is_active, gone.has_usable_password()) == (False, False)
    assert default_storage.exists(key) is False
    with in_tenant(tenant):
        assert BlacklistedToken.objects.filter(token__user=student).count() == 1
        assert analytics_overview(user=instructor) == before
        assert Enrollment.objects.filter(student=student).count() == 1
        assert LectureProgress.objects.filter(student=student).count() == 1
    assert before["totals"]["enrollments"] == 1
    assert error_code(client.get("/api/v1/auth/me")) == (401, "AUTHENTICATION_FAILED")
    assert page.get("/account/")["Location"] == "/login/?next=/account/"
    login = TenantClient(tenant).post(
        "/api/v1/auth/token", {"email": "student@alpha.test", "password": PASSWORD}, format="json"
    )
    assert login.status_code == 401


def test_deletion_needs_the_password(tenant, student):
    client = TenantClient(tenant, user=student)
    response = client.delete("/api/v1/auth/me", {"password": "wrong-one-x"}, format="json")
    assert error_code(response) == (400, "INVALID_PASSWORD")
    assert row(tenant, student).is_active is True


@pytest.mark.parametrize("role", ["owner", "instructor"])
def test_owners_and_instructors_cannot_delete_themselves(tenant, role):
    user = make_user(tenant, f"{role}-self@alpha.test", role=role)
    response = TenantClient(tenant, user=user).delete(
        "/api/v1/auth/me", {"password": PASSWORD}, format="json"
    )
    assert error_code(response) == (409, "ACCOUNT_DELETION_REFUSED")
    assert response.json()["error"]["details"] == {"role": role}
    saved = row(tenant, user)
    assert (saved.email, saved.is_active) == (f"{role}-self@alpha.test", True)
