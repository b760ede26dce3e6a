"""Every route of the school and platform urlconfs, called with school A's credentials on
school B's host (and on the platform host).

Two layers:

* precise cases (``CASES``): one function per school route asserting exact status codes, also
  with B's own accounts, to show that A's ids behave as unknown ids;
* the sweep (``TENANT_SWEEP``, ``PUBLIC_SWEEP``): every URL pattern x every HTTP method x every
  kind of A's credentials (session cookie, JWT access and refresh, media token, access code),
  asserting that nothing answers 2xx unless the route is public by design (declared with a
  reason) and that no response carries A's data.

A route added to either urlconf without an entry fails ``test_every_route_has_a_sweep_entry``.
Adding an entry is one line: the route string as Django prints it, and ``Entry()`` (or an
``Entry`` naming the methods that may answer 2xx and why). Path parameters are filled from
``PARAMS`` (A's real objects by parameter name); a parameter missing there fails the sweep.
"""

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from itertools import product
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client, TestCase
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from courses.attachments import attachment_url_path
from courses.models import Course, Lecture
from courses.services import attachment_create, course_create, lecture_create, section_create
from engagement.models import Note, SavedItem
from engagement.services import note_create, saved_item_add, saved_list_create
from enrollment.models import AccessCode, Enrollment
from enrollment.services import access_codes_create, email_change_token, playback_grant
from learning.downloads import certificate_download_url
from learning.models import Certificate
from media_pipeline import uploads
from media_pipeline.models import CaptionCue
from notifications.models import Announcement, Notification
from notifications.selectors import wants as notification_wants
from notifications.services import notify
from recommendations import services as recommendation_services
from sso import services as sso_services
from sso.models import IdentityProvider
from teams.models import Invitation
from teams.services import invitation_create, invitation_token
from tenants.domains import domain_create
from tenants.mail import unsubscribe_token
from tenants.models import Domain
from tenants.testing import (
    PASSWORD,
    TenantClient,
    host_of,
    in_tenant,
    make_user,
    tasks_run_on_commit,
)
from webhooks.models import WebhookEndpoint, WebhookMessage

pytestmark = pytest.mark.django_db


def routes(urlconf: str) -> set[str]:
    """Route strings of a urlconf, with the whole admin site counted as ``admin/``."""
    found: set[str] = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith("admin/"):
                found.add("admin/")
            elif isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                found.add(route)

    walk(get_resolver(urlconf).url_patterns)
    return found


@pytest.fixture
def world(tenant, other_tenant):
    """School A with content, codes, an enrolled student and a playback token; school B with
    its own instructor and student. Returns everything the cases need."""
    owner_a = make_user(tenant, "owner-x@alpha.test", role="instructor")
    student_a = make_user(tenant, "student-x@alpha.test")
    with in_tenant(tenant):
        course = course_create(title="Alpha secret course", published=True, created_by=owner_a)
        section = section_create(course=course, title="Alpha section")
        lecture = lecture_create(section=section, title="Alpha lecture")
        lecture.video.version = 1
        lecture.video.duration = 10.0
        lecture.video.save()
        lecture.save()
        code = access_codes_create(course=course, quantity=1).codes[0]
        Enrollment.objects.create(student=student_a, course=course)
        grant = playback_grant(student=student_a, course_id=course.id, lecture_id=lecture.id)
        attachment = attachment_create(
            lecture=lecture, file=SimpleUploadedFile("alpha.txt", b"Alpha secret file")
        )
        attachment_url = attachment_url_path(attachment_id=attachment.pk, viewer_id=student_a.pk)
        invitation = invitation_create(
            email="invitee-x@alpha.test", role="instructor", invited_by=owner_a
        )
        invitation_link = invitation_token(invitation)
        note = note_create(student=student_a, lecture_id=lecture.id, body="Alpha note", timestamp=1)
        saved = saved_list_create(student=student_a, name="Alpha list")
        item = saved_item_add(student=student_a, saved_list=saved, lecture_id=lecture.id)
        certificate = Certificate.objects.create(
            student=student_a,
            course_id=course.id,
            student_name="Alpha student",
            course_title="Alpha secret course",
        )
        notify(
            users=[student_a.pk],
            kind="announcement",
            title="Alpha notification",
            body="Alpha notification body",
            url="/my/courses/",
            data={},
        )
        notification = Notification.objects.get(user=student_a)
        unsubscribe_link = unsubscribe_token(user_id=student_a.pk, kind="announcement")
        webhook = WebhookEndpoint.objects.create(
            url="https://hooks.alpha.test/in",
            description="Alpha hooks",
            event_types=["enrollment.created"],
            secret="whsec_QWxwaGEgd2ViaG9vayBzZWNyZXQgb2YgdGhlIHRlc3Q=",
        )
        webhook_message = WebhookMessage.objects.create(
            endpoint=webhook,
            event_id="msg_alpha",
            event_type="enrollment.created",
            body='{"type":"enrollment.created","data":{"course":"Alpha"}}',
        )
    with in_tenant(tenant):
        provider = sso_services.provider_create(
            kind="oidc",
            name="Alpha sign-in",
            client_id="alpha-client-id",
            client_secret="alpha-client-secret",
            server_url="https://id.alpha.test",
        )
    # A's custom domain (public schema), pending: its token must never reach B.
    domain = domain_create(tenant=tenant, domain="alpha-x.example.com")
    a_instructor = TenantClient(tenant, user=owner_a)
    a_student = TenantClient(tenant, user=student_a)
    # Clients on B's host carrying A's JWTs.
    b_with_a_instructor = TenantClient(other_tenant)
    b_with_a_instructor.credentials(HTTP_AUTHORIZATION=f"Bearer {a_instructor.tokens['access']}")
    b_with_a_student = TenantClient(other_tenant)
    b_with_a_student.credentials(HTTP_AUTHORIZATION=f"Bearer {a_student.tokens['access']}")
    # B's own accounts, to show that A's ids behave as unknown ids.
    b_instructor = TenantClient(
        other_tenant, user=make_user(other_tenant, "owner-x@beta.test", role="instructor")
    )
    b_student = TenantClient(other_tenant, user=make_user(other_tenant, "student-x@beta.test"))
    return {
        "course": course,
        "section": section,
        "lecture": lecture,
        "code": code,
        "grant": grant,
        "attachment": attachment,
        "attachment_url": attachment_url,
        "invitation": invitation,
        "invitation_token": invitation_link,
        "note": note,
        "saved_list": saved,
        "item": item,
        "certificate": certificate,
        "notification": notification,
        "unsubscribe_token": unsubscribe_link,
        "provider": provider,
        "webhook": webhook,
        "webhook_message": webhook_message,
        "domain": domain,
        "a_tokens": a_instructor.tokens,
        "s_tokens": a_student.tokens,
        "owner": owner_a,
        "student": student_a,
        "tenant": tenant,
        "jwt_i": b_with_a_instructor,
        "jwt_s": b_with_a_student,
        "b_i": b_instructor,
        "b_s": b_student,
        "other_tenant": other_tenant,
    }


def _not_leaking(response, w):
    assert not 200 <= response.status_code < 300 or b"Alpha" not in response.content


def case_register(w):
    # Registering on B creates a B account; it never touches A (same e-mail is free on B).
    response = w["jwt_s"].post(
        "/api/v1/auth/register",
        {"email": "student-x@alpha.test", "password": PASSWORD, "name": "X"},
        format="json",
    )
    assert response.status_code == 201


def case_token(w):
    response = TenantClient(w["other_tenant"]).post(
        "/api/v1/auth/token", {"email": "owner-x@alpha.test", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401


def case_refresh(w):
    response = TenantClient(w["other_tenant"]).post(
        "/api/v1/auth/token/refresh", {"refresh": w["a_tokens"]["refresh"]}, format="json"
    )
    assert response.status_code == 401


def case_me(w):
    assert w["jwt_s"].get("/api/v1/auth/me").status_code == 401
    assert w["jwt_s"].patch("/api/v1/auth/me", {"name": "x"}, format="json").status_code == 401
    payload = {"password": PASSWORD}
    assert w["jwt_s"].delete("/api/v1/auth/me", payload, format="json").status_code == 401
    with in_tenant(w["tenant"]):
        student = get_user_model().objects.get(pk=w["student"].pk)
        assert (student.name, student.is_active) == ("student-x", True)


def case_password_change(w):
    body = {"current_password": PASSWORD, "new_password": "Changed-pass-9"}
    assert w["jwt_s"].post("/api/v1/auth/password", body, format="json").status_code == 401
    with in_tenant(w["tenant"]):
        assert get_user_model().objects.get(pk=w["student"].pk).check_password(PASSWORD)


def case_email_change(w):
    body = {"new_email": "moved@alpha.test", "password": PASSWORD}
    with tasks_run_on_commit():
        assert w["jwt_s"].post("/api/v1/auth/email", body, format="json").status_code == 401
    assert mail.outbox == []


def case_logout(w):
    # A's refresh token on B: refused, and it still refreshes on A.
    refresh = w["s_tokens"]["refresh"]
    response = TenantClient(w["other_tenant"]).post(
        "/api/v1/auth/logout", {"refresh": refresh}, format="json"
    )
    assert (response.status_code, response.json()["error"]["code"]) == (401, "INVALID_TOKEN")
    response = w["b_s"].post("/api/v1/auth/logout", {"refresh": refresh}, format="json")
    assert response.status_code == 401
    on_a = TenantClient(w["tenant"]).post(
        "/api/v1/auth/token/refresh", {"refresh": refresh}, format="json"
    )
    assert on_a.status_code == 200


def case_password_reset_api(w):
    with tasks_run_on_commit():
        response = TenantClient(w["other_tenant"]).post(
            "/api/v1/auth/password-reset", {"email": "student-x@alpha.test"}, format="json"
        )
    assert response.status_code == 202
    assert mail.outbox == []  # B has no such account; A's is never mailed from B


def case_password_reset_confirm_api(w):
    with in_tenant(w["tenant"]):
        uid = urlsafe_base64_encode(force_bytes(w["student"].pk))
        token = default_token_generator.make_token(w["student"])
    response = TenantClient(w["other_tenant"]).post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": "Changed-pass-9"},
        format="json",
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "INVALID_TOKEN")
    with in_tenant(w["tenant"]):
        assert get_user_model().objects.get(pk=w["student"].pk).check_password(PASSWORD)


def case_web_account(w):
    assert _to_login(_b_page(w, w["student"]).get("/account/"), "/account/")
    response = _b_page(w, w["student"]).post("/account/", {"action": "profile"})
    assert _to_login(response, "/account/")


def case_web_email_confirm(w):
    with in_tenant(w["tenant"]):
        token = email_change_token(user=w["student"], new_email="moved@alpha.test")
    assert _b_page(w).get(f"/account/email/{token}/").status_code == 400
    with in_tenant(w["tenant"]):
        assert get_user_model().objects.get(pk=w["student"].pk).email == "student-x@alpha.test"


def case_avatar(w):
    with in_tenant(w["tenant"]):
        get_user_model().objects.filter(pk=w["student"].pk).update(
            avatar=f"tenants/{w['tenant'].schema_name}/avatars/{'a' * 32}.png"
        )
    # B has no account with A's student's id and an avatar: 404, nothing of A's.
    response = _b_page(w).get(f"/accounts/{w['student'].pk}/avatar")
    assert response.status_code == 404


def case_course_list(w):
    assert w["jwt_i"].get("/api/v1/courses").status_code == 401
    assert w["jwt_i"].post("/api/v1/courses", {"title": "x"}, format="json").status_code == 401
    assert w["b_i"].get("/api/v1/courses").json()["count"] == 0


def case_course_detail(w):
    url = f"/api/v1/courses/{w['course'].id}"
    assert w["jwt_i"].get(url).status_code == 401
    assert [w["b_i"].get(url).status_code, w["b_i"].delete(url).status_code] == [404, 404]
    assert w["b_i"].patch(url, {"title": "x"}, format="json").status_code == 404


def case_section_create(w):
    url = f"/api/v1/courses/{w['course'].id}/sections"
    assert w["jwt_i"].post(url, {"title": "x"}, format="json").status_code == 401
    assert w["b_i"].post(url, {"title": "x"}, format="json").status_code == 404


def case_lecture_create(w):
    url = f"/api/v1/sections/{w['section'].id}/lectures"
    assert w["jwt_i"].post(url, {"title": "x"}, format="json").status_code == 401
    assert w["b_i"].post(url, {"title": "x"}, format="json").status_code == 404


def case_lecture_detail(w):
    url = f"/api/v1/lectures/{w['lecture'].id}"
    assert [w["jwt_i"].get(url).status_code, w["b_i"].get(url).status_code] == [401, 404]
    assert w["jwt_i"].patch(url, {"title": "x"}, format="json").status_code == 401
    assert w["b_i"].patch(url, {"title": "x"}, format="json").status_code == 404
    assert [w["jwt_i"].delete(url).status_code, w["b_i"].delete(url).status_code] == [401, 404]
    with in_tenant(w["tenant"]):
        assert Lecture.objects.get(pk=w["lecture"].pk).title == "Alpha lecture"


def case_section_detail(w):
    url = f"/api/v1/sections/{w['section'].id}"
    assert w["jwt_i"].patch(url, {"title": "x"}, format="json").status_code == 401
    assert w["b_i"].patch(url, {"title": "x"}, format="json").status_code == 404
    assert [w["jwt_i"].delete(url).status_code, w["b_i"].delete(url).status_code] == [401, 404]
    # A lecture of B's cannot be moved into A's section either: an unknown section to B.
    with in_tenant(w["other_tenant"]):
        b_teacher = get_user_model().objects.get(email="owner-x@beta.test")
        b_course = course_create(title="Beta course", created_by=b_teacher)
        b_lecture = lecture_create(section=section_create(course=b_course, title="B"), title="B")
    response = w["b_i"].patch(
        f"/api/v1/lectures/{b_lecture.id}", {"section_id": str(w["section"].id)}, format="json"
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
    with in_tenant(w["tenant"]):
        assert Lecture.objects.filter(section_id=w["section"].pk).count() == 1
        assert Course.objects.get(pk=w["course"].pk).sections.get().title == "Alpha section"


def case_attachments(w):
    url = f"/api/v1/lectures/{w['lecture'].id}/attachments"
    assert [w["jwt_i"].get(url).status_code, w["b_i"].get(url).status_code] == [401, 404]
    upload = {"file": SimpleUploadedFile("x.txt", b"x")}
    assert w["b_i"].post(url, upload, format="multipart").status_code == 404


def case_attachment_delete(w):
    url = f"/api/v1/lectures/{w['lecture'].id}/attachments/{w['attachment'].id}"
    assert [w["jwt_i"].delete(url).status_code, w["b_i"].delete(url).status_code] == [401, 404]


def _a_captions(w) -> list:
    """A's lecture with an uploaded track (made once): A's cue text must never leave A."""
    from media_pipeline.captions import captions_upload
    from media_pipeline.models import CaptionCue

    with in_tenant(w["tenant"]):
        if not CaptionCue.objects.filter(owner_id=w["lecture"].id).exists():
            captions_upload(
                lecture_id=w["lecture"].id,
                data=b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nAlpha caption\n",
            )
        cues = list(CaptionCue.objects.filter(owner_id=w["lecture"].id).values_list("text"))
    connection.set_schema_to_public()
    return cues


def _captions_case(method: str, suffix: str, body=None, multipart: bool = False):
    """A's JWT on B: 401; B's instructor: 404 for A's lecture id; A's cues unchanged."""

    def case(w):
        before = _a_captions(w)
        url = f"/api/v1/lectures/{w['lecture'].id}/captions{suffix}"
        data = body() if body else None
        kind = {"format": "multipart"} if multipart else {"format": "json"}
        for client, refused in ((w["jwt_i"], 401), (w["b_i"], 404)):
            response = getattr(client, method.lower())(url, data, **kind)
            assert response.status_code == refused
            _not_leaking(response, w)
        assert _a_captions(w) == before == [("Alpha caption",)]

    return case


def case_document_file(w):
    # A's media token (for A's lecture and version) on B's host.
    token = w["grant"].access.token
    lecture, version = w["lecture"].id, w["grant"].access.version
    client = TenantClient(w["other_tenant"])
    urls = [
        f"/media/doc/{lecture}/v{version}/{name}?token={token}"
        for name in ("document.pdf", "pages/001.jpg")
    ]
    assert [client.get(url).status_code for url in urls] == [403, 403]


def case_attachment_download(w):
    response = TenantClient(w["other_tenant"]).get(w["attachment_url"])
    assert (response.status_code, b"Alpha" in response.content) == (403, False)


def case_access_codes(w):
    url = f"/api/v1/courses/{w['course'].id}/access-codes"
    assert w["jwt_i"].get(url).status_code == 401
    assert w["b_i"].get(url).status_code == 404
    assert w["b_i"].post(url, {"quantity": 1}, format="json").status_code == 404


def case_enroll(w):
    payload = {"code": w["code"]}
    assert w["jwt_s"].post("/api/v1/students/enroll", payload, format="json").status_code == 401
    response = w["b_s"].post("/api/v1/students/enroll", payload, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "INVALID_CODE")


def case_student_courses(w):
    assert w["jwt_s"].get("/api/v1/students/courses").status_code == 401
    assert w["b_s"].get("/api/v1/students/courses").json() == []


def case_student_course_detail(w):
    url = f"/api/v1/students/courses/{w['course'].id}"
    assert [w["jwt_s"].get(url).status_code, w["b_s"].get(url).status_code] == [401, 404]


def case_student_playback(w):
    url = f"/api/v1/students/courses/{w['course'].id}/lectures/{w['lecture'].id}"
    assert [w["jwt_s"].get(url).status_code, w["b_s"].get(url).status_code] == [401, 404]


def case_progress(w):
    payload = {"lecture_id": str(w["lecture"].id), "position": 1, "watched": [[0, 1]]}
    assert w["jwt_s"].post("/api/v1/students/progress", payload, format="json").status_code == 401
    assert w["b_s"].post("/api/v1/students/progress", payload, format="json").status_code == 404


def case_uploads(w):
    headers = {"HTTP_TUS_RESUMABLE": "1.0.0", "HTTP_UPLOAD_LENGTH": "10"}
    assert w["jwt_i"].post("/api/v1/uploads/", **headers).status_code == 401
    lecture_id = base64.b64encode(str(w["lecture"].id).encode()).decode()
    metadata = f"lecture_id {lecture_id},filename {base64.b64encode(b'x.mp4').decode()}"
    response = w["b_i"].post("/api/v1/uploads/", HTTP_UPLOAD_METADATA=metadata, **headers)
    assert response.status_code == 404


def case_upload_detail(w):
    url = "/api/v1/uploads/00000000-0000-0000-0000-000000000000"
    assert w["jwt_i"].head(url, HTTP_TUS_RESUMABLE="1.0.0").status_code == 401


def case_hls(w):
    grant = w["grant"]
    url = grant.access.master_path
    others = [
        url.replace("master.m3u8", name)
        for name in (
            "360p/seg_00000.ts",
            "poster.jpg",
            "storyboard.vtt",
            "storyboard.jpg",
            "preview.mp4",
            "captions/en.m3u8",
            "captions/en.vtt",
        )
    ]
    client = TenantClient(w["other_tenant"])
    assert [client.get(u).status_code for u in [url, *others]] == [403] * 8


def case_home(w):
    response = TenantClient(w["other_tenant"]).get("/")
    assert response.status_code == 200
    assert b"Alpha secret course" not in response.content


def case_schema(w):
    # The OpenAPI document describes the API, identical on every host; it holds no tenant data.
    response = TenantClient(w["other_tenant"]).get("/api/schema/")
    assert response.status_code == 200
    _not_leaking(response, w)
    # GET and HEAD only (tenants.openapi.SchemaView).
    assert w["jwt_i"].options("/api/schema/").status_code == 401
    assert TenantClient(w["other_tenant"]).options("/api/schema/").status_code == 405


def case_docs(w):
    response = TenantClient(w["other_tenant"]).get("/api/docs/")
    assert response.status_code == 200
    _not_leaking(response, w)
    # The start-up script of the split Swagger UI view, same path: the same on every host.
    script = TenantClient(w["other_tenant"]).get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"] == "application/javascript"
    _not_leaking(script, w)
    # DRF's OPTIONS metadata has no HTML template: refused (405), never a 500.
    assert TenantClient(w["other_tenant"]).options("/api/docs/").status_code == 405


def case_operations(w):
    # /healthz, /readyz and /metrics answer on every host (tenants.health) with no school data:
    # A's credentials on B's host change nothing and A's names and ids never appear.
    for path in ("/healthz", "/readyz", "/metrics"):
        response = w["jwt_i"].get(path)
        assert response.status_code == 200
        _not_leaking(response, w)
        assert str(w["course"].id).encode() not in response.content
        assert w["jwt_i"].options(path).status_code == 405
    assert w["jwt_i"].get("/healthz").json() == {"status": "ok"}
    assert w["jwt_i"].get("/readyz").json()["status"] == "ok"


def case_welcome(w):
    # A's one-time log-in link (schools) on B's host: 400, nobody signed in there; the same
    # link then still signs A's account in on A's host, once.
    from schools.services import login_link_create

    path = urlsplit(login_link_create(tenant=w["tenant"], user_id=w["owner"].pk)).path
    on_b = Client(HTTP_HOST=host_of(w["other_tenant"])).get(path)
    connection.set_schema_to_public()
    assert on_b.status_code == 400
    assert settings.SESSION_COOKIE_NAME not in on_b.cookies
    on_a = Client(HTTP_HOST=host_of(w["tenant"]))
    assert (on_a.get(path).status_code, on_a.get(path).status_code) == (302, 400)
    connection.set_schema_to_public()


def case_admin(w):
    response = w["jwt_i"].get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def case_code_revoke(w):
    url = f"/api/v1/courses/{w['course'].id}/access-codes/{_a_code_row(w).pk}/revoke"
    assert [w["jwt_i"].post(url).status_code, w["b_i"].post(url).status_code] == [401, 404]
    assert _a_code_row(w).revoked_at is None


def case_batch_revoke(w):
    url = f"/api/v1/courses/{w['course'].id}/access-codes/batches/{_a_code_row(w).batch_id}/revoke"
    assert [w["jwt_i"].post(url).status_code, w["b_i"].post(url).status_code] == [401, 404]
    assert _a_code_row(w).revoked_at is None


def case_course_enrollments(w):
    url = f"/api/v1/courses/{w['course'].id}/enrollments"
    assert [w["jwt_i"].get(url).status_code, w["b_i"].get(url).status_code] == [401, 404]


def case_announcements(w):
    url = f"/api/v1/courses/{w['course'].id}/announcements"
    data = {"subject": "Hijack", "body": "Hijack"}
    assert [w["jwt_i"].get(url).status_code, w["b_i"].get(url).status_code] == [401, 404]
    assert w["jwt_i"].post(url, data, format="json").status_code == 401
    assert w["b_i"].post(url, data, format="json").status_code == 404
    with in_tenant(w["tenant"]):
        assert not Announcement.objects.exists()
        assert not Notification.objects.filter(kind="announcement", title__contains="Hijack")


def case_analytics_overview(w):
    url = "/api/v1/analytics/overview"
    assert w["jwt_i"].get(url).status_code == 401
    response = w["b_i"].get(url)  # B's own analytics: nothing of A's
    assert (response.status_code, b"Alpha" in response.content) == (200, False)


def case_course_analytics(w):
    url = f"/api/v1/courses/{w['course'].id}/analytics"
    assert [w["jwt_i"].get(url).status_code, w["b_i"].get(url).status_code] == [401, 404]


def case_lecture_analytics(w):
    url = f"/api/v1/lectures/{w['lecture'].id}/analytics"
    assert [w["jwt_i"].get(url).status_code, w["b_i"].get(url).status_code] == [401, 404]


def _enrollment_action(w, action):
    with in_tenant(w["tenant"]):
        enrollment = Enrollment.objects.get(student=w["student"])
    url = f"/api/v1/courses/{w['course'].id}/enrollments/{enrollment.pk}/{action}"
    assert [w["jwt_i"].post(url).status_code, w["b_i"].post(url).status_code] == [401, 404]
    with in_tenant(w["tenant"]):
        assert Enrollment.objects.get(pk=enrollment.pk).revoked_at is None


def case_enrollment_revoke(w):
    _enrollment_action(w, "revoke")


def case_enrollment_reinstate(w):
    _enrollment_action(w, "reinstate")


def case_roster_import(w):
    url = f"/api/v1/courses/{w['course'].id}/enrollments/import"
    assert w["jwt_i"].post(url, {}, format="multipart").status_code == 401
    assert w["b_i"].post(url, {}, format="multipart").status_code == 404


def _b_owner(w) -> TenantClient:
    return TenantClient(
        w["other_tenant"], user=make_user(w["other_tenant"], "owner-api@beta.test", role="owner")
    )


def case_invitations(w):
    url = "/api/v1/school/invitations"
    assert w["jwt_i"].get(url).status_code == 401
    assert w["b_i"].get(url).status_code == 403  # B's instructor: the owner's page
    assert _b_owner(w).get(url).json()["count"] == 0


def case_school_usage(w):
    url = "/api/v1/school/usage"
    assert w["jwt_i"].get(url).status_code == 401
    assert w["b_i"].get(url).status_code == 403  # B's instructor: the owner's figures
    with in_tenant(w["other_tenant"]):
        # B's own figures (other tests may have committed rows in B): never A's.
        b_courses = Course.objects.count()
        b_stored = uploads.storage_measure()["storage_bytes"]
    theirs = _b_owner(w).get(url).json()
    assert (theirs["courses"]["used"], theirs["storage_bytes"]["stored"]) == (b_courses, b_stored)


def case_invitation_revoke(w):
    url = f"/api/v1/school/invitations/{w['invitation'].pk}/revoke"
    assert [w["jwt_i"].post(url).status_code, _b_owner(w).post(url).status_code] == [401, 404]
    with in_tenant(w["tenant"]):
        assert Invitation.objects.get(pk=w["invitation"].pk).revoked_at is None


def case_invitation_accept(w):
    url = f"/invitations/{w['invitation_token']}/"
    assert _b_page(w).get(url).status_code == 404
    form = {"name": "X", "password1": PASSWORD, "password2": PASSWORD}
    assert _b_page(w).post(url, form).status_code == 404
    with in_tenant(w["other_tenant"]):
        assert not get_user_model().objects.filter(email="invitee-x@alpha.test").exists()


def case_domains(w):
    url = "/api/v1/school/domains"
    assert w["jwt_i"].get(url).status_code == 401
    assert w["b_i"].get(url).status_code == 403  # B's instructor: the owner's API
    owner = _b_owner(w)
    listed = owner.get(url)
    assert (listed.json()["count"], b"alpha-x" in listed.content) == (0, False)
    taken = owner.post(url, {"domain": "alpha-x.example.com"}, format="json")
    assert (taken.status_code, w["domain"].token.encode() in taken.content) == (409, False)


def _domain_unchanged(w):
    row = Domain.objects.get(pk=w["domain"].pk)
    assert (row.tenant_id, row.status, row.checked_at) == (w["tenant"].pk, "pending", None)


def case_domain_detail(w):
    url = f"/api/v1/school/domains/{w['domain'].pk}"
    assert [w["jwt_i"].get(url).status_code, w["jwt_i"].delete(url).status_code] == [401, 401]
    owner = _b_owner(w)
    assert [owner.get(url).status_code, owner.delete(url).status_code] == [404, 404]
    _domain_unchanged(w)


def case_domain_check(w):
    url = f"/api/v1/school/domains/{w['domain'].pk}/check"
    assert [w["jwt_i"].post(url).status_code, _b_owner(w).post(url).status_code] == [401, 404]
    _domain_unchanged(w)


def case_dashboard_domains(w):
    url = "/dashboard/domains/"
    assert _to_login(_b_page(w, w["owner"]).get(url), url)
    b_owner = _b_instructor_page(w)
    response = b_owner.get(url)  # B's own owner: none of A's domains
    assert (response.status_code, b"alpha-x" in response.content) == (200, False)
    for action in ("check", "remove"):
        url = f"/dashboard/domains/{w['domain'].pk}/{action}/"
        assert _to_login(_b_page(w, w["owner"]).post(url), url)
        assert b_owner.post(url).status_code == 404
    _domain_unchanged(w)


def case_tls_allowed(w):
    # Answered on any host before a school is resolved; A's credentials change nothing.
    url = "/internal/tls-allowed?domain=alpha-x.example.com"
    response = w["jwt_i"].get(url, REMOTE_ADDR="127.0.0.1")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "UNKNOWN_HOST")
    assert w["jwt_i"].get(url, REMOTE_ADDR="192.0.2.1").status_code == 403


def _a_code_row(w):
    with in_tenant(w["tenant"]):
        return AccessCode.objects.get(course=w["course"])


def _b_page(w, user=None) -> Client:
    """A browser on B's host: with ``user``'s session of school A (a cookie that B's schema
    has never seen), or anonymous."""
    client = Client(HTTP_HOST=host_of(w["other_tenant"]))
    if user is not None:
        client.defaults["HTTP_COOKIE"] = _session_cookie(w["tenant"], user)
    return client


def _b_student_page(w) -> Client:
    """A browser signed in as a student of B (a session in B's schema)."""
    client = Client(HTTP_HOST=host_of(w["other_tenant"]))
    student = make_user(w["other_tenant"], "student-page@beta.test")
    with in_tenant(w["other_tenant"]):
        client.force_login(student)
    connection.set_schema_to_public()
    return client


def _to_login(response, path):
    return (response.status_code, response["Location"]) == (302, f"/login/?next={path}")


def case_web_login(w):
    response = _b_page(w).post(
        "/login/", {"username": "student-x@alpha.test", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    # A's session on B is anonymous: the form, not the redirect of a signed-in visitor.
    assert _b_page(w, w["student"]).get("/login/").status_code == 200


def case_web_logout(w):
    cookie = _session_cookie(w["tenant"], w["student"])
    client = Client(HTTP_HOST=host_of(w["other_tenant"]), HTTP_COOKIE=cookie)
    assert client.post("/logout/")["Location"] == "/"
    # Logging out on B ends nothing on A: the session still works there.
    on_a = Client(HTTP_HOST=host_of(w["tenant"]), HTTP_COOKIE=cookie)
    assert on_a.get("/my/courses/").status_code == 200


def case_web_signup(w):
    response = _b_page(w).post(
        "/signup/",
        {"email": "student-x@alpha.test", "password1": PASSWORD, "password2": PASSWORD},
    )
    # A's e-mail is free on B: a new B account, A's account untouched.
    assert (response.status_code, response["Location"]) == (302, "/my/courses/")
    with in_tenant(w["other_tenant"]):
        assert get_user_model().objects.filter(email="student-x@alpha.test").count() == 1
    with in_tenant(w["tenant"]):
        assert get_user_model().objects.get(email="student-x@alpha.test").check_password(PASSWORD)


def case_password_reset(w):
    with tasks_run_on_commit():
        response = _b_page(w).post("/password-reset/", {"email": "student-x@alpha.test"})
    assert (response.status_code, response["Location"]) == (302, "/password-reset/sent/")
    assert mail.outbox == []  # B has no such account; A's is never mailed from B


def case_password_reset_sent(w):
    response = _b_page(w).get("/password-reset/sent/")
    assert (response.status_code, b"Alpha" in response.content) == (200, False)


def case_password_reset_done(w):
    response = _b_page(w).get("/password-reset/done/")
    assert (response.status_code, b"Alpha" in response.content) == (200, False)


def case_password_reset_confirm(w):
    with in_tenant(w["tenant"]):
        uid = urlsafe_base64_encode(force_bytes(w["student"].pk))
        token = default_token_generator.make_token(w["student"])
    response = _b_page(w).get(f"/password-reset/{uid}/{token}/")
    # Invalid on B: the "link is not valid" page, no redirect to the set-password form.
    assert response.status_code == 200
    assert b'name="new_password1"' not in response.content
    response = _b_page(w).post(
        f"/password-reset/{uid}/set-password/",
        {"new_password1": "Changed-pass-9", "new_password2": "Changed-pass-9"},
    )
    assert response.status_code == 200
    assert b'name="new_password1"' not in response.content
    with in_tenant(w["tenant"]):
        assert get_user_model().objects.get(pk=w["student"].pk).check_password(PASSWORD)


def case_web_redeem(w):
    assert _to_login(_b_page(w, w["student"]).get("/redeem/"), "/redeem/")
    response = _b_student_page(w).post("/redeem/", {"code": w["code"]})
    assert response.status_code == 404
    assert _a_code_row(w).redeemed_at is None


def case_web_my_courses(w):
    assert _to_login(_b_page(w, w["student"]).get("/my/courses/"), "/my/courses/")


def case_web_my(w):
    assert _to_login(_b_page(w, w["student"]).get("/my/"), "/my/")
    response = _b_student_page(w).get("/my/")
    assert (response.status_code, b"Alpha" in response.content) == (200, False)


def case_student_summary(w):
    assert w["jwt_s"].get("/api/v1/students/me/summary").status_code == 401
    response = w["b_s"].get("/api/v1/students/me/summary")
    assert (response.status_code, response.json()["watch_seconds"]) == (200, 0.0)
    assert response.json()["continue_watching"] == []


def case_certificates(w):
    assert w["jwt_s"].get("/api/v1/certificates").status_code == 401
    response = w["b_s"].get("/api/v1/certificates")
    assert (response.status_code, response.json()["count"]) == (200, 0)


def case_certificate_pages(w):
    certificate = w["certificate"]
    path = f"/certificates/{certificate.id.hex}/"
    with in_tenant(w["tenant"]):
        download = certificate_download_url(
            certificate_id=certificate.id, student_id=w["student"].pk
        )
    connection.set_schema_to_public()
    clients = (_b_page(w), _b_page(w, w["student"]), _b_student_page(w))
    for url in (path, download, f"/certificates/{certificate.display_id}/"):
        for client in clients:
            response = client.get(url)
            assert (response.status_code, b"Alpha" in response.content) == (404, False)
    # On A's own host the page is public.
    assert Client(HTTP_HOST=host_of(w["tenant"])).get(path).status_code == 200


def case_web_course(w):
    url = f"/courses/{w['course'].id}/"
    assert _to_login(_b_page(w, w["student"]).get(url), url)
    assert _b_student_page(w).get(url).status_code == 404


def case_web_lecture(w):
    url = f"/courses/{w['course'].id}/lectures/{w['lecture'].id}/"
    assert _to_login(_b_page(w, w["student"]).get(url), url)
    response = _b_student_page(w).get(url)
    assert (response.status_code, b"Alpha" in response.content) == (404, False)


def case_notes(w):
    assert w["jwt_s"].get("/api/v1/notes").status_code == 401
    assert w["b_s"].get("/api/v1/notes").json()["count"] == 0
    payload = {"lecture_id": str(w["lecture"].id), "body": "x"}
    assert w["b_s"].post("/api/v1/notes", payload, format="json").status_code == 404


def case_note_detail(w):
    url = f"/api/v1/notes/{w['note'].pk}"
    assert [w["jwt_s"].get(url).status_code, w["b_s"].get(url).status_code] == [401, 404]
    assert w["b_s"].delete(url).status_code == 404
    with in_tenant(w["tenant"]):
        assert Note.objects.filter(pk=w["note"].pk).exists()


def case_notes_export(w):
    url = f"/api/v1/notes/export?course={w['course'].id}"
    assert [w["jwt_s"].get(url).status_code, w["b_s"].get(url).status_code] == [401, 404]


def case_lecture_like(w):
    url = f"/api/v1/lectures/{w['lecture'].id}/like"
    assert [w["jwt_s"].post(url).status_code, w["b_s"].post(url).status_code] == [401, 404]


def case_instructor_follow(w):
    url = f"/api/v1/instructors/{w['owner'].pk}/follow"
    assert [w["jwt_s"].post(url).status_code, w["b_s"].post(url).status_code] == [401, 404]
    assert w["b_s"].get(url).status_code == 404


def case_lists(w):
    assert w["jwt_s"].get("/api/v1/lists").status_code == 401
    names = [x["name"] for x in w["b_s"].get("/api/v1/lists").json()["results"]]
    assert names == ["Watch later"]


def case_list_detail(w):
    base = f"/api/v1/lists/{w['saved_list'].pk}"
    for suffix, method in (("", "get"), ("/items", "post"), ("/items/order", "put")):
        assert getattr(w["jwt_s"], method)(base + suffix).status_code == 401
        assert getattr(w["b_s"], method)(base + suffix, {}, format="json").status_code == 404
    item = f"{base}/items/{w['item'].pk}"
    assert [w["jwt_s"].delete(item).status_code, w["b_s"].delete(item).status_code] == [401, 404]
    with in_tenant(w["tenant"]):
        assert SavedItem.objects.filter(pk=w["item"].pk).exists()


def case_notifications(w):
    for path in ("/api/v1/notifications", "/api/v1/notifications/unread-count"):
        assert w["jwt_s"].get(path).status_code == 401
    assert w["b_s"].get("/api/v1/notifications").json()["count"] == 0
    assert w["b_s"].get("/api/v1/notifications/unread-count").json() == {"unread_count": 0}
    assert w["jwt_s"].post("/api/v1/notifications/read-all").status_code == 401
    assert w["b_s"].post("/api/v1/notifications/read-all").json()["updated"] == 0
    url = "/api/v1/notifications/preferences"
    patch = {"qa_answer": {"in_app": False}}
    assert w["jwt_s"].patch(url, patch, format="json").status_code == 401
    assert w["b_s"].get(url).json()["qa_answer"] == {"in_app": True, "email": True}
    with in_tenant(w["tenant"]):
        assert Notification.objects.get(pk=w["notification"].pk).read_at is None
        assert notification_wants(w["student"], "qa_answer", "in_app") is True


def case_notification_read(w):
    url = f"/api/v1/notifications/{w['notification'].pk}/read"
    assert [w["jwt_s"].post(url).status_code, w["b_s"].post(url).status_code] == [401, 404]
    page = f"/notifications/{w['notification'].pk}/read/"
    assert _b_student_page(w).post(page).status_code == 404
    with in_tenant(w["tenant"]):
        assert Notification.objects.get(pk=w["notification"].pk).read_at is None


def case_unsubscribe(w):
    url = f"/unsubscribe/{w['unsubscribe_token']}/"
    for client in (_b_page(w), _b_student_page(w)):
        assert [client.get(url).status_code, client.post(url).status_code] == [400, 400]
    with in_tenant(w["tenant"]):
        assert notification_wants(w["student"], "announcement", "email") is True


def case_web_notifications(w):
    b_student = _b_student_page(w)
    for path in ("/notifications/", "/notifications/preferences/"):
        assert _to_login(_b_page(w, w["student"]).get(path), path)
        response = b_student.get(path)
        assert (response.status_code, b"Alpha" in response.content) == (200, False)
    assert b_student.post("/notifications/read-all/").status_code == 302
    with in_tenant(w["tenant"]):
        assert Notification.objects.get(pk=w["notification"].pk).read_at is None


def case_web_notes(w):
    b_student = _b_student_page(w)
    for path in ("/notes/", "/lists/"):
        assert _to_login(_b_page(w, w["student"]).get(path), path)
        response = b_student.get(path)
        assert (response.status_code, b"Alpha" in response.content) == (200, False)


def case_search(w):
    # A's JWTs on B: 401. B's accounts and B's visitors search B's school: nothing of A's
    # (A's own visitor, the control, finds A's published course).
    for path in ("/api/v1/search", "/api/v1/search/autocomplete"):
        for client in (w["jwt_s"], w["jwt_i"]):
            assert client.get(path, {"q": "alpha secret"}).status_code == 401
        for client in (w["b_s"], w["b_i"], TenantClient(w["other_tenant"])):
            response = client.get(path, {"q": "alpha secret"})
            assert response.status_code == 200
            _not_leaking(response, w)
    assert w["b_s"].get("/api/v1/search", {"q": "alpha secret"}).json()["count"] == 0
    autocomplete = w["b_i"].get("/api/v1/search/autocomplete", {"q": "alpha"}).json()
    assert autocomplete == {"suggestions": []}
    own = TenantClient(w["tenant"]).get("/api/v1/search", {"q": "alpha secret"}).json()
    assert [r["title"] for r in own["results"]] == ["Alpha secret course"]


def case_web_search(w):
    for client in (_b_page(w, w["student"]), _b_student_page(w)):
        response = client.get("/search/", {"q": "secret course"})
        assert response.status_code == 200
        _not_leaking(response, w)
        assert b"Nothing found" in response.content


def case_recommendations(w):
    # A's course trends in A (its student enrolled this week) and is similar to nothing on B.
    with in_tenant(w["tenant"]), TestCase.captureOnCommitCallbacks(execute=True):
        recommendation_services.scores_refresh()
    own = TenantClient(w["tenant"]).get("/api/v1/recommendations/trending").json()
    assert [item["title"] for item in own["results"]] == ["Alpha secret course"]
    similar = f"/api/v1/recommendations/similar/{w['course'].id}"
    assert TenantClient(w["tenant"]).get(similar).json() == {"results": []}
    for client in (w["jwt_s"], w["b_s"], TenantClient(w["other_tenant"])):
        for path in ("/api/v1/recommendations/trending", similar):
            response = client.get(path)
            _not_leaking(response, w)
        assert client.get(similar).status_code == 404
        assert client.get("/api/v1/recommendations/trending").json() == {"results": []}
    assert w["jwt_s"].get("/api/v1/recommendations/for-you").status_code == 401
    response = w["b_s"].get("/api/v1/recommendations/for-you")
    assert (response.status_code, response.json()) == (200, {"results": []})


# The instructor dashboard (courses/dashboard/urls.py): (route, method, URL from A's objects).
DASHBOARD_ROUTES = {
    "dashboard/": ("GET", lambda w: "/dashboard/"),
    "dashboard/courses/new/": ("POST", lambda w: "/dashboard/courses/new/"),
    "dashboard/courses/<uuid:course_id>/": (
        "GET",
        lambda w: f"/dashboard/courses/{w['course'].id}/",
    ),
    "dashboard/courses/<uuid:course_id>/publish/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/publish/",
    ),
    "dashboard/courses/<uuid:course_id>/delete/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/delete/",
    ),
    "dashboard/courses/<uuid:course_id>/instructors/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/instructors/",
    ),
    "dashboard/courses/<uuid:course_id>/sections/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/sections/",
    ),
    "dashboard/courses/<uuid:course_id>/sections/<uuid:section_id>/rename/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/sections/{w['section'].id}/rename/",
    ),
    "dashboard/courses/<uuid:course_id>/sections/<uuid:section_id>/lectures/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/sections/{w['section'].id}/lectures/",
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/rename/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/lectures/{w['lecture'].id}/rename/",
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/body/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/lectures/{w['lecture'].id}/body/",
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/attachments/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/lectures/{w['lecture'].id}/attachments/",
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/attachments/"
    "<uuid:attachment_id>/delete/": (
        "POST",
        lambda w: (
            f"/dashboard/courses/{w['course'].id}/lectures/{w['lecture'].id}"
            f"/attachments/{w['attachment'].id}/delete/"
        ),
    ),
    "dashboard/courses/<uuid:course_id>/sections/<uuid:section_id>/edit/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/sections/{w['section'].id}/edit/",
    ),
    "dashboard/courses/<uuid:course_id>/sections/<uuid:section_id>/delete/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/sections/{w['section'].id}/delete/",
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/edit/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/lectures/{w['lecture'].id}/edit/",
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/captions/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/lectures/{w['lecture'].id}/captions/",
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/delete/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/lectures/{w['lecture'].id}/delete/",
    ),
    "dashboard/courses/<uuid:course_id>/reorder/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/reorder/",
    ),
    "dashboard/courses/<uuid:course_id>/move/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/move/",
    ),
    "dashboard/courses/<uuid:course_id>/codes/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/codes/",
    ),
    "dashboard/courses/<uuid:course_id>/codes/new/<str:token>/": (
        "GET",
        lambda w: f"/dashboard/courses/{w['course'].id}/codes/new/x/",
    ),
    "dashboard/courses/<uuid:course_id>/codes/new/<str:token>/download": (
        "GET",
        lambda w: f"/dashboard/courses/{w['course'].id}/codes/new/x/download",
    ),
    "dashboard/courses/<uuid:course_id>/codes/<int:code_id>/revoke/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/codes/{_a_code_row(w).pk}/revoke/",
    ),
    "dashboard/courses/<uuid:course_id>/students/": (
        "GET",
        lambda w: f"/dashboard/courses/{w['course'].id}/students/",
    ),
    "dashboard/courses/<uuid:course_id>/announcements/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/announcements/",
    ),
    "dashboard/courses/<uuid:course_id>/students/export.csv": (
        "GET",
        lambda w: f"/dashboard/courses/{w['course'].id}/students/export.csv",
    ),
    "dashboard/courses/<uuid:course_id>/students/<int:enrollment_id>/<str:action>/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/students/1/revoke/",
    ),
    "dashboard/branding/": ("POST", lambda w: "/dashboard/branding/"),
    "dashboard/team/": ("POST", lambda w: "/dashboard/team/"),
    "dashboard/usage/": ("GET", lambda w: "/dashboard/usage/"),
    "dashboard/team/invitations/<int:invitation_id>/revoke/": (
        "POST",
        lambda w: f"/dashboard/team/invitations/{w['invitation'].pk}/revoke/",
    ),
    "dashboard/courses/<uuid:course_id>/students/import/": (
        "POST",
        lambda w: f"/dashboard/courses/{w['course'].id}/students/import/",
    ),
    "dashboard/questions/": ("GET", lambda w: "/dashboard/questions/"),
    "dashboard/questions/<int:question_id>/": (
        "GET",
        lambda w: f"/dashboard/questions/{_a_question(w).pk}/",
    ),
    "dashboard/moderation/": ("GET", lambda w: "/dashboard/moderation/"),
}


def _b_instructor_page(w) -> Client:
    """A browser signed in as the owner of B (a session in B's schema)."""
    client = Client(HTTP_HOST=host_of(w["other_tenant"]))
    owner = make_user(w["other_tenant"], "owner-page@beta.test", role="owner")
    with in_tenant(w["other_tenant"]):
        client.force_login(owner)
    connection.set_schema_to_public()
    return client


def _dashboard_case(route):
    method, url_of = DASHBOARD_ROUTES[route]

    def case(w):
        url = url_of(w)
        data = {"title": "Hijack"} if method == "POST" else None
        # A's instructor session is anonymous on B: the sign-in page, for reads and writes.
        response = getattr(_b_page(w, w["owner"]), method.lower())(url, data)
        assert _to_login(response, url)
        if "<uuid:course_id>" in route or "<int:question_id>" in route:
            # B's own owner: A's course id is an unknown id.
            response = getattr(_b_instructor_page(w), method.lower())(url, data)
            assert (response.status_code, b"Alpha" in response.content) == (404, False)
        with in_tenant(w["tenant"]):
            assert Course.objects.get(pk=w["course"].pk).title == "Alpha secret course"
            assert not Course.objects.filter(title="Hijack").exists()
            # A's section and lecture are neither edited nor deleted.
            assert Lecture.objects.filter(
                pk=w["lecture"].pk, title="Alpha lecture", section__title="Alpha section"
            ).exists()

    return case


def _a_provider_unchanged(w) -> bool:
    with in_tenant(w["tenant"]):
        return IdentityProvider.objects.filter(
            pk=w["provider"].pk, name="Alpha sign-in", client_id="alpha-client-id", enabled=True
        ).exists()


def case_sso_dashboard(w):
    # A's owner session on B is anonymous there; B's owner sees B's (empty) page, never A's.
    for url in ("/dashboard/sso/", "/dashboard/sso/settings/"):
        assert _to_login(_b_page(w, w["owner"]).post(url, {"name": "Hijack"}), url)
    page = _b_instructor_page(w).get("/dashboard/sso/")
    assert (page.status_code, b"Alpha" in page.content, b"alpha-client" in page.content) == (
        200,
        False,
        False,
    )
    assert _a_provider_unchanged(w)


def case_sso_provider(w):
    b_owner = _b_instructor_page(w)
    for url in (
        f"/dashboard/sso/{w['provider'].pk}/",
        f"/dashboard/sso/{w['provider'].pk}/delete/",
    ):
        data = {"name": "Hijack", "client_id": "x"}
        assert _to_login(_b_page(w, w["owner"]).post(url, data), url)
        # B's owner: A's provider id is an unknown id on B.
        assert b_owner.post(url, data).status_code == 404
    assert _a_provider_unchanged(w)


def case_sso_api(w):
    # A's JWTs are 401 on B; B's owner gets B's (empty) list and settings, 404 for A's id.
    pk = w["provider"].pk
    b_owner = _b_owner(w)
    for url in ("/api/v1/school/sso/providers", "/api/v1/school/sso/settings"):
        assert w["jwt_i"].get(url).status_code == 401
        assert w["b_i"].get(url).status_code == 403  # B's instructor: the owner's API
    assert b_owner.get("/api/v1/school/sso/providers").json() == []
    detail = f"/api/v1/school/sso/providers/{pk}"
    assert [
        w["jwt_i"].patch(detail, {"name": "Hijack"}, format="json").status_code,
        b_owner.get(detail).status_code,
        b_owner.patch(detail, {"name": "Hijack"}, format="json").status_code,
        b_owner.delete(detail).status_code,
    ] == [401, 404, 404, 404]
    assert _a_provider_unchanged(w)


def case_sso_sign_in(w):
    # A's provider does not exist on B's host: its sign-in and callback URLs are 404 there.
    pid = w["provider"].provider_id
    for url in (f"/sso/oidc/{pid}/login/", f"/sso/oidc/{pid}/login/callback/?code=x&state=y"):
        assert _b_page(w, w["student"]).get(url).status_code == 404
        assert _b_page(w).post(url).status_code == 404
    for url in ("/sso/github/login/", "/sso/github/login/callback/?code=x&state=y"):
        assert _b_page(w).post(url).status_code == 404


def case_dashboard_thumbnail(w):
    url = f"/dashboard/courses/{w['course'].id}/thumbnail"
    assert _b_page(w, w["owner"]).get(url).status_code == 404
    assert _b_instructor_page(w).get(url).status_code == 404


def case_dashboard_logo(w):
    # B's own logo (none here); A's is never served on B's host.
    response = _b_page(w, w["owner"]).get("/dashboard/logo")
    assert response.status_code == 404


def case_dashboard_analytics(w):
    url = "/dashboard/analytics/"
    assert _to_login(_b_page(w, w["owner"]).get(url), url)
    response = _b_instructor_page(w).get(url)  # B's own analytics: nothing of A's
    assert (response.status_code, b"Alpha" in response.content) == (200, False)


def case_dashboard_course_analytics(w):
    url = f"/dashboard/courses/{w['course'].id}/analytics/"
    assert _to_login(_b_page(w, w["owner"]).get(url), url)
    response = _b_instructor_page(w).get(url)
    assert (response.status_code, b"Alpha" in response.content) == (404, False)


# --- Public pages and the catalogue API (catalog) ---------------------------------------------


def _preview_of_a(w):
    """A's lecture made a free preview (it has media version 1): its preview answers on A."""
    with in_tenant(w["tenant"]):
        lecture = Lecture.objects.get(pk=w["lecture"].pk)
        lecture.free_preview = True
        lecture.save()
    connection.set_schema_to_public()
    return f"/api/v1/catalog/courses/{w['course'].slug}/lectures/{lecture.id}/preview"


def case_catalog_course_page(w):
    path = f"/courses/{w['course'].slug}/"
    assert Client(HTTP_HOST=host_of(w["tenant"])).get(path).status_code == 200
    for client in (_b_page(w), _b_page(w, w["owner"]), _b_student_page(w)):
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 404
        _not_leaking(response, w)


def case_catalog_instructor_page(w):
    for suffix in ("", "avatar"):
        path = f"/instructors/{w['owner'].pk}/{suffix}"
        response = _b_page(w, w["owner"]).get(path)
        assert response.status_code == 404
        _not_leaking(response, w)
    assert (
        Client(HTTP_HOST=host_of(w["tenant"])).get(f"/instructors/{w['owner'].pk}/").status_code
        == 200
    )


def case_catalog_sitemap(w):
    for path in ("/sitemap.xml", "/robots.txt"):
        response = _b_page(w, w["owner"]).get(path)
        assert response.status_code == 200
        _not_leaking(response, w)
        assert w["course"].slug.encode() not in response.content


def case_catalog_list(w):
    response = w["jwt_i"].get("/api/v1/catalog/courses")
    assert response.status_code == 200
    assert response.json()["count"] == 0
    own = TenantClient(w["tenant"]).get("/api/v1/catalog/courses").json()
    assert [c["slug"] for c in own["results"]] == [w["course"].slug]


def case_catalog_detail(w):
    path = f"/api/v1/catalog/courses/{w['course'].slug}"
    assert TenantClient(w["tenant"]).get(path).status_code == 200
    for client in (w["jwt_i"], w["b_i"], TenantClient(w["other_tenant"])):
        assert client.get(path).status_code == 404


def case_catalog_preview(w):
    path = _preview_of_a(w)
    assert TenantClient(w["tenant"]).get(path).status_code == 200
    for client in (w["jwt_s"], w["b_s"], TenantClient(w["other_tenant"])):
        response = client.get(path)
        assert response.status_code == 404
        _not_leaking(response, w)


# --- Lecture Q&A (community) -----------------------------------------------------------------


def _a_question(w):
    """A published question (with one answer) of A's student on A's lecture, made once."""
    if "question" not in w:
        from community.models import Answer, Question

        with in_tenant(w["tenant"]):
            w["question"] = Question.objects.create(
                course=w["course"],
                lecture=w["lecture"],
                author=w["student"],
                title="Alpha question",
                body="Alpha question body",
                status="published",
            )
            w["answer"] = Answer.objects.create(
                question=w["question"], author=w["owner"], body="Alpha answer", status="published"
            )
        connection.set_schema_to_public()
    return w["question"]


def _qa_case(method: str, url_of, data=None, *, listing: bool = False, staff: bool = False):
    """A's JWTs on B: 401; B's own student and instructor: 404 for A's ids (a list answers
    B's own, empty, list; B's student gets 403 on the instructors' routes, ``staff``); A's
    question and answer unchanged."""

    def case(w):
        _a_question(w)
        url = url_of(w)
        body = data(w) if data else None
        for client in (w["jwt_s"], w["jwt_i"]):
            response = getattr(client, method.lower())(url, body, format="json")
            assert response.status_code == 401
        for client, refused in ((w["b_s"], 403 if staff else 404), (w["b_i"], 404)):
            response = getattr(client, method.lower())(url, body, format="json")
            _not_leaking(response, w)
            if not (listing and client is w["b_i"]):
                assert response.status_code == refused
        if listing:
            response = w["b_i"].get(url)
            assert (response.status_code, response.json()["count"]) == (200, 0)
        from community.models import Answer, Question

        with in_tenant(w["tenant"]):
            question = Question.objects.get(pk=_a_question(w).pk)
            assert (question.title, question.status, question.vote_count) == (
                "Alpha question",
                "published",
                0,
            )
            assert Answer.objects.filter(pk=w["answer"].pk, body="Alpha answer").exists()
        connection.set_schema_to_public()

    return case


def _q_url(suffix: str = ""):
    return lambda w: f"/api/v1/questions/{_a_question(w).pk}{suffix}"


def _a_url(suffix: str = ""):
    def url(w):
        _a_question(w)
        return f"/api/v1/answers/{w['answer'].pk}{suffix}"

    return url


QA_CASES = {
    "api/v1/lectures/<uuid:lecture_id>/questions": _qa_case(
        "POST",
        lambda w: f"/api/v1/lectures/{w['lecture'].id}/questions",
        lambda w: {"title": "Hijack"},
    ),
    "api/v1/questions/<int:question_id>": _qa_case(
        "PATCH", _q_url(), lambda w: {"title": "Hijack", "resolved": True}
    ),
    "api/v1/questions/<int:question_id>/answers": _qa_case(
        "POST", _q_url("/answers"), lambda w: {"body": "Hijack"}
    ),
    "api/v1/questions/<int:question_id>/vote": _qa_case("POST", _q_url("/vote")),
    "api/v1/questions/<int:question_id>/report": _qa_case(
        "POST", _q_url("/report"), lambda w: {"reason": "Hijack"}
    ),
    "api/v1/answers/<int:answer_id>": _qa_case("DELETE", _a_url()),
    "api/v1/answers/<int:answer_id>/report": _qa_case(
        "POST", _a_url("/report"), lambda w: {"reason": "Hijack"}
    ),
    "api/v1/instructor/questions": _qa_case(
        "GET", lambda w: "/api/v1/instructor/questions?status=all", listing=True, staff=True
    ),
    "api/v1/moderation/queue": _qa_case(
        "GET", lambda w: "/api/v1/moderation/queue", listing=True, staff=True
    ),
    "api/v1/moderation/actions": _qa_case(
        "POST",
        lambda w: "/api/v1/moderation/actions",
        lambda w: {"action": "hide", "question_id": _a_question(w).pk},
        staff=True,
    ),
}


CAPTIONS_CASES = {
    "api/v1/lectures/<uuid:lecture_id>/captions": _captions_case(
        "PUT", "", lambda: {"cues": [{"start": 0, "end": 1, "text": "Hijack"}]}
    ),
    "api/v1/lectures/<uuid:lecture_id>/captions/upload": _captions_case(
        "POST",
        "/upload",
        lambda: {"file": SimpleUploadedFile("x.vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\nX\n")},
        multipart=True,
    ),
    "api/v1/lectures/<uuid:lecture_id>/captions/transcribe": _captions_case(
        "POST", "/transcribe", lambda: {"discard_edits": True}
    ),
    "api/v1/lectures/<uuid:lecture_id>/captions/vtt": _captions_case("GET", "/vtt"),
}


def _webhooks_unchanged(w):
    with in_tenant(w["tenant"]):
        endpoint = WebhookEndpoint.objects.get(pk=w["webhook"].pk)
        assert (endpoint.description, endpoint.secret, endpoint.enabled) == (
            "Alpha hooks",
            w["webhook"].secret,
            True,
        )
        assert WebhookEndpoint.objects.count() == 1
        assert WebhookMessage.objects.get(pk=w["webhook_message"].pk).attempts_count == 0
        assert WebhookMessage.objects.count() == 1
    connection.set_schema_to_public()


def _webhook_api_case(methods: str, url_of, *, listing: bool = False):
    def case(w):
        url = url_of(w)
        data = {"description": "Hijack", "url": "https://hooks.beta.test/", "event_types": []}
        b_owner = _b_owner(w)
        for method in methods.split():

            def send(client, method=method):
                return getattr(client, method)(url, data, format="json")

            # A's JWT on B: not authenticated; B's instructor: the owner's route.
            assert [send(w["jwt_i"]).status_code, send(w["b_i"]).status_code] == [401, 403]
            response = send(b_owner)
            if listing and method == "get":
                assert (response.status_code, response.json()["count"]) == (200, 0)
            elif listing:
                assert response.status_code == 400  # B's own (invalid) endpoint
            else:
                assert (response.status_code, b"Alpha" in response.content) == (404, False)
        _webhooks_unchanged(w)

    return case


def _webhook_page_case(methods: str, url_of, *, listing: bool = False):
    def case(w):
        url = url_of(w)
        b_owner = _b_instructor_page(w)
        for method in methods.split():
            data = {"description": "Hijack"} if method == "post" else None
            # A's owner session on B is anonymous: the sign-in page.
            assert _to_login(getattr(_b_page(w, w["owner"]), method)(url, data), url)
            response = getattr(b_owner, method)(url, data)
            expected = (200 if method == "get" else 400) if listing else 404
            assert (response.status_code, b"Alpha" in response.content) == (expected, False)
        _webhooks_unchanged(w)

    return case


def _hook(suffix: str = ""):
    return lambda w: f"/api/v1/school/webhooks/{w['webhook'].pk}{suffix}"


def _hook_message(suffix: str):
    return lambda w: (
        f"/api/v1/school/webhooks/{w['webhook'].pk}/messages/{w['webhook_message'].pk}{suffix}"
    )


def _hook_page(suffix: str = ""):
    return lambda w: (
        f"/dashboard/webhooks/{w['webhook'].pk}/" + suffix.format(message=w["webhook_message"].pk)
    )


WEBHOOK_CASES = {
    "api/v1/school/webhooks": _webhook_api_case(
        "get post", lambda w: "/api/v1/school/webhooks", listing=True
    ),
    "api/v1/school/webhooks/<int:endpoint_id>": _webhook_api_case("get patch delete", _hook()),
    "api/v1/school/webhooks/<int:endpoint_id>/secret": _webhook_api_case("post", _hook("/secret")),
    "api/v1/school/webhooks/<int:endpoint_id>/test": _webhook_api_case("post", _hook("/test")),
    "api/v1/school/webhooks/<int:endpoint_id>/messages": _webhook_api_case(
        "get", _hook("/messages")
    ),
    "api/v1/school/webhooks/<int:endpoint_id>/messages/<int:message_id>/attempts": (
        _webhook_api_case("get", _hook_message("/attempts"))
    ),
    "api/v1/school/webhooks/<int:endpoint_id>/messages/<int:message_id>/replay": (
        _webhook_api_case("post", _hook_message("/replay"))
    ),
    "dashboard/webhooks/": _webhook_page_case(
        "get post", lambda w: "/dashboard/webhooks/", listing=True
    ),
    "dashboard/webhooks/<int:endpoint_id>/": _webhook_page_case("get post", _hook_page()),
    "dashboard/webhooks/<int:endpoint_id>/secret/": _webhook_page_case(
        "post", _hook_page("secret/")
    ),
    "dashboard/webhooks/<int:endpoint_id>/test/": _webhook_page_case("post", _hook_page("test/")),
    "dashboard/webhooks/<int:endpoint_id>/delete/": _webhook_page_case(
        "post", _hook_page("delete/")
    ),
    "dashboard/webhooks/<int:endpoint_id>/messages/<int:message_id>/replay/": _webhook_page_case(
        "post", _hook_page("messages/{message}/replay/")
    ),
}


CASES = {
    **QA_CASES,
    **CAPTIONS_CASES,
    **WEBHOOK_CASES,
    "": case_home,
    "login/": case_web_login,
    "logout/": case_web_logout,
    "signup/": case_web_signup,
    "password-reset/": case_password_reset,
    "password-reset/sent/": case_password_reset_sent,
    "password-reset/done/": case_password_reset_done,
    "password-reset/<uidb64>/<token>/": case_password_reset_confirm,
    "redeem/": case_web_redeem,
    "my/courses/": case_web_my_courses,
    "my/": case_web_my,
    "api/v1/students/me/summary": case_student_summary,
    "api/v1/certificates": case_certificates,
    "certificates/<str:certificate_id>/": case_certificate_pages,
    "certificates/<str:certificate_id>/pdf": case_certificate_pages,
    "courses/<uuid:course_id>/": case_web_course,
    "courses/<uuid:course_id>/lectures/<uuid:lecture_id>/": case_web_lecture,
    "api/v1/courses/<uuid:course_id>/access-codes/<int:code_id>/revoke": case_code_revoke,
    "api/v1/courses/<uuid:course_id>/access-codes/batches/<uuid:batch_id>/revoke": (
        case_batch_revoke
    ),
    "api/v1/courses/<uuid:course_id>/enrollments": case_course_enrollments,
    "api/v1/courses/<uuid:course_id>/enrollments/import": case_roster_import,
    "api/v1/school/invitations": case_invitations,
    "api/v1/school/usage": case_school_usage,
    "api/v1/school/domains": case_domains,
    "api/v1/school/domains/<int:domain_id>": case_domain_detail,
    "api/v1/school/domains/<int:domain_id>/check": case_domain_check,
    "dashboard/domains/": case_dashboard_domains,
    "dashboard/domains/<int:domain_id>/check/": case_dashboard_domains,
    "dashboard/domains/<int:domain_id>/remove/": case_dashboard_domains,
    "internal/tls-allowed": case_tls_allowed,
    "api/v1/notes": case_notes,
    "api/v1/notes/export": case_notes_export,
    "api/v1/notes/<int:note_id>": case_note_detail,
    "api/v1/lectures/<uuid:lecture_id>/like": case_lecture_like,
    "api/v1/instructors/<int:instructor_id>/follow": case_instructor_follow,
    "api/v1/lists": case_lists,
    "api/v1/lists/<int:list_id>": case_list_detail,
    "api/v1/lists/<int:list_id>/items": case_list_detail,
    "api/v1/lists/<int:list_id>/items/order": case_list_detail,
    "api/v1/lists/<int:list_id>/items/<int:item_id>": case_list_detail,
    "notes/": case_web_notes,
    "lists/": case_web_notes,
    "api/v1/notifications": case_notifications,
    "api/v1/notifications/read-all": case_notifications,
    "api/v1/notifications/unread-count": case_notifications,
    "api/v1/notifications/preferences": case_notifications,
    "api/v1/notifications/<int:notification_id>/read": case_notification_read,
    "notifications/": case_web_notifications,
    "notifications/read-all/": case_web_notifications,
    "notifications/preferences/": case_web_notifications,
    "notifications/<int:notification_id>/read/": case_notification_read,
    "unsubscribe/<str:token>/": case_unsubscribe,
    "api/v1/courses/<uuid:course_id>/announcements": case_announcements,
    "api/v1/school/invitations/<int:invitation_id>/revoke": case_invitation_revoke,
    "invitations/<str:token>/": case_invitation_accept,
    "api/v1/analytics/overview": case_analytics_overview,
    "api/v1/courses/<uuid:course_id>/analytics": case_course_analytics,
    "api/v1/lectures/<uuid:lecture_id>/analytics": case_lecture_analytics,
    "api/v1/courses/<uuid:course_id>/enrollments/<int:enrollment_id>/revoke": (
        case_enrollment_revoke
    ),
    "api/v1/courses/<uuid:course_id>/enrollments/<int:enrollment_id>/reinstate": (
        case_enrollment_reinstate
    ),
    "api/v1/auth/register": case_register,
    "api/v1/auth/token": case_token,
    "api/v1/auth/token/refresh": case_refresh,
    "api/v1/auth/me": case_me,
    "api/v1/auth/password": case_password_change,
    "api/v1/auth/email": case_email_change,
    "api/v1/auth/logout": case_logout,
    "api/v1/auth/password-reset": case_password_reset_api,
    "api/v1/auth/password-reset/confirm": case_password_reset_confirm_api,
    "account/": case_web_account,
    "account/email/<str:confirmation>/": case_web_email_confirm,
    "accounts/<int:user_id>/avatar": case_avatar,
    "api/v1/courses": case_course_list,
    "api/v1/courses/<uuid:course_id>": case_course_detail,
    "api/v1/courses/<uuid:course_id>/sections": case_section_create,
    "api/v1/sections/<uuid:section_id>/lectures": case_lecture_create,
    "api/v1/sections/<uuid:section_id>": case_section_detail,
    "api/v1/lectures/<uuid:lecture_id>": case_lecture_detail,
    "api/v1/lectures/<uuid:lecture_id>/attachments": case_attachments,
    "api/v1/lectures/<uuid:lecture_id>/attachments/<uuid:attachment_id>": case_attachment_delete,
    "media/doc/<uuid:lecture_id>/v<int:version>/<path:path>": case_document_file,
    "media/attachments/<uuid:attachment_id>": case_attachment_download,
    "api/v1/courses/<uuid:course_id>/access-codes": case_access_codes,
    "api/v1/students/enroll": case_enroll,
    "api/v1/students/courses": case_student_courses,
    "api/v1/students/courses/<uuid:course_id>": case_student_course_detail,
    "api/v1/students/courses/<uuid:course_id>/lectures/<uuid:lecture_id>": case_student_playback,
    "api/v1/students/progress": case_progress,
    "api/v1/uploads/": case_uploads,
    "api/v1/uploads/<uuid:upload_id>": case_upload_detail,
    "media/hls/<uuid:lecture_id>/v<int:version>/<path:path>": case_hls,
    "api/schema/": case_schema,
    "api/docs/": case_docs,
    "healthz": case_operations,
    "readyz": case_operations,
    "metrics": case_operations,
    "admin/": case_admin,
    "welcome/<str:token>/": case_welcome,
    **{route: _dashboard_case(route) for route in DASHBOARD_ROUTES},
    "dashboard/courses/<uuid:course_id>/thumbnail": case_dashboard_thumbnail,
    "dashboard/logo": case_dashboard_logo,
    "dashboard/analytics/": case_dashboard_analytics,
    "dashboard/courses/<uuid:course_id>/analytics/": case_dashboard_course_analytics,
    "courses/<slug:slug>/": case_catalog_course_page,
    "instructors/<int:instructor_id>/": case_catalog_instructor_page,
    "instructors/<int:instructor_id>/avatar": case_catalog_instructor_page,
    "sitemap.xml": case_catalog_sitemap,
    "robots.txt": case_catalog_sitemap,
    "api/v1/catalog/courses": case_catalog_list,
    "api/v1/catalog/courses/<slug:slug>": case_catalog_detail,
    "api/v1/catalog/courses/<slug:slug>/lectures/<uuid:lecture_id>/preview": case_catalog_preview,
    "api/v1/search": case_search,
    "api/v1/search/autocomplete": case_search,
    "search/": case_web_search,
    "api/v1/recommendations/for-you": case_recommendations,
    "api/v1/recommendations/similar/<uuid:course_id>": case_recommendations,
    "api/v1/recommendations/trending": case_recommendations,
    "dashboard/sso/": case_sso_dashboard,
    "dashboard/sso/settings/": case_sso_dashboard,
    "dashboard/sso/<int:provider_id>/": case_sso_provider,
    "dashboard/sso/<int:provider_id>/delete/": case_sso_provider,
    "sso/oidc/<str:provider_id>/login/": case_sso_sign_in,
    "sso/oidc/<str:provider_id>/login/callback/": case_sso_sign_in,
    "sso/github/login/": case_sso_sign_in,
    "sso/github/login/callback/": case_sso_sign_in,
    "api/v1/school/sso/providers": case_sso_api,
    "api/v1/school/sso/providers/<int:provider_id>": case_sso_api,
    "api/v1/school/sso/settings": case_sso_api,
}


def test_every_route_has_a_cross_tenant_case():
    assert routes("config.urls_tenants") == set(CASES)


@pytest.mark.parametrize("route", sorted(CASES))
def test_school_a_credentials_on_school_b(route, world):
    CASES[route](world)


# --- The sweep: every route x every method x every kind of A's credentials -------------------

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
READS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PAGE = frozenset({"GET", "HEAD"})
ANY = frozenset(METHODS)


@dataclass(frozen=True)
class Entry:
    """How the sweep treats one route (or one representative admin URL).

    Attributes:
        open: Methods that may answer 2xx on B's host because the route is public by design
            (``reason`` says why). For them only the no-A-data rule is asserted. Every other
            method must not answer 2xx; a 3xx is accepted only towards a sign-in page of the
            same host (pages send anonymous visitors there).
        reason: Why ``open`` or ``redirects`` is safe; required when either is set.
        redirects: Further same-host paths a 3xx may point at (e.g. "reset link sent").
        redeems_code: The route redeems an access code: A's code is also sent in the body by
            B's own student (session and JWT, write methods), where it must not enrol.
    """

    open: frozenset[str] = frozenset()
    reason: str = ""
    redirects: tuple[str, ...] = ()
    redeems_code: bool = False


# The school urlconf (config/urls_tenants.py). Admin URLs are representatives of the whole
# admin site (its routes count as the one route ``admin/``).
TENANT_SWEEP: dict[str, Entry] = {
    "": Entry(PAGE, "the catalogue of B's published courses is public (GET and HEAD)"),
    # The student site (enrollment/web/urls.py).
    "login/": Entry(
        READS | {"POST", "PUT"},
        "the sign-in form (Django's form views take PUT as POST); A's password re-renders it "
        "with an error (a sign-in would redirect to my courses and fail the 3xx rule)",
    ),
    "logout/": Entry(
        frozenset({"OPTIONS"}),
        "OPTIONS lists the allowed methods; logging out a visitor returns to the home page",
        redirects=("/",),
    ),
    "signup/": Entry(
        READS,
        "the sign-up form; a POST creates a B account (A's e-mail is free on B) and goes on "
        "to my courses",
        redirects=("/my/courses/",),
    ),
    "password-reset/": Entry(
        READS | {"PUT"},
        "the reset form (a PUT re-renders it: Django parses no form body for PUT); a POST "
        "answers 'sent' whether or not B has the account",
        redirects=("/password-reset/sent/",),
    ),
    "password-reset/sent/": Entry(READS, "a static confirmation page"),
    "password-reset/done/": Entry(READS, "a static confirmation page"),
    "password-reset/<uidb64>/<token>/": Entry(
        ANY,
        "A's reset link renders 'this link is not valid' for every method (a valid one would "
        "redirect to the set-password form and fail the 3xx rule)",
    ),
    "redeem/": Entry(redeems_code=True),
    "my/courses/": Entry(),
    "courses/<uuid:course_id>/": Entry(),
    "courses/<uuid:course_id>/lectures/<uuid:lecture_id>/": Entry(),
    # Public pages (catalog/web/urls.py): A's slug and instructor id are unknown on B.
    "courses/<slug:slug>/": Entry(),
    "instructors/<int:instructor_id>/": Entry(),
    "instructors/<int:instructor_id>/avatar": Entry(),
    "sitemap.xml": Entry(PAGE, "B's own sitemap: B's published courses and instructors"),
    "robots.txt": Entry(PAGE, "B's crawling rules, pointing at B's sitemap"),
    # The API.
    "api/v1/catalog/courses": Entry(READS, "B's public catalogue (empty of A's courses)"),
    "api/v1/catalog/courses/<slug:slug>": Entry(
        frozenset({"OPTIONS"}), "OPTIONS describes the public operation, no data"
    ),
    "api/v1/catalog/courses/<slug:slug>/lectures/<uuid:lecture_id>/preview": Entry(
        frozenset({"OPTIONS"}), "OPTIONS describes the public operation, no data"
    ),
    # Recommendations: for-you is the account's own (A's credentials are unknown on B); similar
    # and trending are public like the catalogue, B's courses only.
    "api/v1/recommendations/for-you": Entry(),
    "api/v1/recommendations/similar/<uuid:course_id>": Entry(
        frozenset({"OPTIONS"}), "OPTIONS describes the public operation, no data"
    ),
    "api/v1/recommendations/trending": Entry(READS, "B's public trending courses (never A's)"),
    "api/v1/auth/register": Entry(
        READS | {"POST"},
        "sign-up creates a B account (201; A's e-mail is free on B); OPTIONS describes the input",
    ),
    "api/v1/auth/token": Entry(frozenset({"OPTIONS"}), "OPTIONS describes the input"),
    "api/v1/auth/token/refresh": Entry(frozenset({"OPTIONS"}), "OPTIONS describes the input"),
    "api/v1/auth/me": Entry(),
    "api/v1/auth/password": Entry(),
    "api/v1/auth/email": Entry(),
    "api/v1/auth/logout": Entry(frozenset({"OPTIONS"}), "OPTIONS describes the input"),
    "api/v1/auth/password-reset": Entry(
        frozenset({"OPTIONS", "POST"}),
        "answers 202 whether or not B has the address (A's account is never mailed from B)",
    ),
    "api/v1/auth/password-reset/confirm": Entry(
        frozenset({"OPTIONS"}), "OPTIONS describes the input"
    ),
    "account/": Entry(),
    "account/email/<str:confirmation>/": Entry(),
    "accounts/<int:user_id>/avatar": Entry(
        PAGE, "avatars of B's own accounts are public (they show on public pages)"
    ),
    "api/v1/courses": Entry(),
    "api/v1/courses/<uuid:course_id>": Entry(),
    "api/v1/courses/<uuid:course_id>/sections": Entry(),
    "api/v1/sections/<uuid:section_id>/lectures": Entry(),
    "api/v1/sections/<uuid:section_id>": Entry(),
    "api/v1/lectures/<uuid:lecture_id>": Entry(),
    "api/v1/lectures/<uuid:lecture_id>/attachments": Entry(),
    "api/v1/lectures/<uuid:lecture_id>/attachments/<uuid:attachment_id>": Entry(),
    **{route: Entry() for route in CAPTIONS_CASES},
    "media/doc/<uuid:lecture_id>/v<int:version>/<path:path>": Entry(),
    "media/attachments/<uuid:attachment_id>": Entry(),
    "api/v1/courses/<uuid:course_id>/access-codes": Entry(),
    "api/v1/courses/<uuid:course_id>/access-codes/<int:code_id>/revoke": Entry(),
    "api/v1/courses/<uuid:course_id>/access-codes/batches/<uuid:batch_id>/revoke": Entry(),
    "api/v1/courses/<uuid:course_id>/enrollments": Entry(),
    "api/v1/courses/<uuid:course_id>/enrollments/import": Entry(),
    "api/v1/school/invitations": Entry(),
    "api/v1/school/usage": Entry(),
    "api/v1/school/webhooks": Entry(),
    "api/v1/school/webhooks/<int:endpoint_id>": Entry(),
    "api/v1/school/webhooks/<int:endpoint_id>/secret": Entry(),
    "api/v1/school/webhooks/<int:endpoint_id>/test": Entry(),
    "api/v1/school/webhooks/<int:endpoint_id>/messages": Entry(),
    "api/v1/school/webhooks/<int:endpoint_id>/messages/<int:message_id>/attempts": Entry(),
    "api/v1/school/webhooks/<int:endpoint_id>/messages/<int:message_id>/replay": Entry(),
    "dashboard/webhooks/": Entry(),
    "dashboard/webhooks/<int:endpoint_id>/": Entry(),
    "dashboard/webhooks/<int:endpoint_id>/secret/": Entry(),
    "dashboard/webhooks/<int:endpoint_id>/test/": Entry(),
    "dashboard/webhooks/<int:endpoint_id>/delete/": Entry(),
    "dashboard/webhooks/<int:endpoint_id>/messages/<int:message_id>/replay/": Entry(),
    # The student's own notes, likes, lists and follows (engagement): B's account's own rows.
    "api/v1/notes": Entry(
        frozenset({"OPTIONS"}), "OPTIONS describes the input (A's JWTs answer 401 otherwise)"
    ),
    "api/v1/notes/export": Entry(),
    "api/v1/notes/<int:note_id>": Entry(),
    "api/v1/lectures/<uuid:lecture_id>/like": Entry(),
    "api/v1/instructors/<int:instructor_id>/follow": Entry(),
    "api/v1/lists": Entry(),
    "api/v1/lists/<int:list_id>": Entry(),
    "api/v1/lists/<int:list_id>/items": Entry(),
    "api/v1/lists/<int:list_id>/items/order": Entry(),
    "api/v1/lists/<int:list_id>/items/<int:item_id>": Entry(),
    "notes/": Entry(),
    "lists/": Entry(),
    # The student's own summary and certificates (learning): B's account's own rows; A's
    # certificate id is unknown on B's host.
    "my/": Entry(),
    "api/v1/students/me/summary": Entry(),
    "api/v1/certificates": Entry(),
    "certificates/<str:certificate_id>/": Entry(),
    "certificates/<str:certificate_id>/pdf": Entry(),
    # The account's own notifications and preferences: B's account's own rows.
    "api/v1/notifications": Entry(),
    "api/v1/notifications/read-all": Entry(),
    "api/v1/notifications/unread-count": Entry(),
    "api/v1/notifications/preferences": Entry(),
    "api/v1/notifications/<int:notification_id>/read": Entry(),
    "notifications/": Entry(),
    "notifications/read-all/": Entry(),
    "notifications/preferences/": Entry(),
    "notifications/<int:notification_id>/read/": Entry(),
    # A's one-click unsubscribe token is not valid on B's host (400, nothing changed).
    "unsubscribe/<str:token>/": Entry(),
    "api/v1/courses/<uuid:course_id>/announcements": Entry(),
    "api/v1/school/invitations/<int:invitation_id>/revoke": Entry(),
    "invitations/<str:token>/": Entry(),
    "api/v1/analytics/overview": Entry(),
    "api/v1/courses/<uuid:course_id>/analytics": Entry(),
    "api/v1/lectures/<uuid:lecture_id>/analytics": Entry(),
    "api/v1/courses/<uuid:course_id>/enrollments/<int:enrollment_id>/revoke": Entry(),
    "api/v1/courses/<uuid:course_id>/enrollments/<int:enrollment_id>/reinstate": Entry(),
    "api/v1/students/enroll": Entry(redeems_code=True),
    "api/v1/students/courses": Entry(),
    "api/v1/students/courses/<uuid:course_id>": Entry(),
    "api/v1/students/courses/<uuid:course_id>/lectures/<uuid:lecture_id>": Entry(),
    "api/v1/students/progress": Entry(),
    "api/v1/uploads/": Entry(frozenset({"OPTIONS"}), "tus discovery (OPTIONS) is public"),
    "api/v1/uploads/<uuid:upload_id>": Entry(
        frozenset({"OPTIONS"}), "tus discovery (OPTIONS) is public"
    ),
    "media/hls/<uuid:lecture_id>/v<int:version>/<path:path>": Entry(),
    # Search (search/): anyone may search; A's session is anonymous on B and finds B's
    # published courses, A's JWTs answer 401; without a query the API answers 400.
    "api/v1/search": Entry(
        frozenset({"OPTIONS"}), "OPTIONS describes the public operation, no data"
    ),
    "api/v1/search/autocomplete": Entry(
        frozenset({"OPTIONS"}), "OPTIONS describes the public operation, no data"
    ),
    "search/": Entry(PAGE, "the search page of B's school: its form, B's results only"),
    # Single sign-on (sso/): A's provider ids are unknown on B (404), B has no GitHub
    # provider (404); the dashboard page is owner only (A's sessions are anonymous on B).
    "sso/oidc/<str:provider_id>/login/": Entry(),
    "sso/oidc/<str:provider_id>/login/callback/": Entry(),
    "sso/github/login/": Entry(),
    "sso/github/login/callback/": Entry(),
    "dashboard/sso/": Entry(),
    "dashboard/sso/settings/": Entry(),
    "dashboard/sso/<int:provider_id>/": Entry(),
    "dashboard/sso/<int:provider_id>/delete/": Entry(),
    "api/v1/school/sso/providers": Entry(),
    "api/v1/school/sso/providers/<int:provider_id>": Entry(),
    "api/v1/school/sso/settings": Entry(),
    "api/schema/": Entry(PAGE, "the OpenAPI document is the same on every host, no data"),
    "api/docs/": Entry(PAGE, "Swagger UI page, the same on every host, no data"),
    **{route: Entry() for route in DASHBOARD_ROUTES},
    **{route: Entry() for route in QA_CASES},
    "dashboard/courses/<uuid:course_id>/thumbnail": Entry(),
    "dashboard/logo": Entry(PAGE, "the school's own logo (B's, never A's) is public"),
    # A one-time log-in link (schools): none of A's tokens is one of B's links (400).
    "welcome/<str:token>/": Entry(),
    "dashboard/analytics/": Entry(),
    "dashboard/courses/<uuid:course_id>/analytics/": Entry(),
    "admin/": Entry(),
    "admin/login/": Entry(
        READS | {"POST", "PUT"},
        "the sign-in form (Django's form views take PUT as POST); A's staff password "
        "re-renders it with an error (a sign-in would "
        "redirect away from the login page and fail the 3xx rule)",
    ),
    "admin/jsi18n/": Entry(),
    "admin/courses/course/": Entry(),
    "admin/courses/course/<course_id>/change/": Entry(),
    "admin/courses/lecture/<lecture_id>/change/": Entry(),
    "admin/enrollment/accesscode/": Entry(),
    "admin/enrollment/enrollment/": Entry(),
    "admin/accounts/user/": Entry(),
    "admin/tenants/tenant/": Entry(),
    # Operations (tenants.health): answered on every host before any tenant is resolved.
    "healthz": Entry(PAGE, "liveness: a fixed status body, no data"),
    "readyz": Entry(PAGE, "readiness: check names and results, no data"),
    "metrics": Entry(PAGE, "counters by URL pattern and schema name, never ids or paths"),
    "internal/tls-allowed": Entry(),
    "api/v1/school/domains": Entry(),
    "api/v1/school/domains/<int:domain_id>": Entry(),
    "api/v1/school/domains/<int:domain_id>/check": Entry(),
    "dashboard/domains/": Entry(),
    "dashboard/domains/<int:domain_id>/check/": Entry(),
    "dashboard/domains/<int:domain_id>/remove/": Entry(),
}

# The platform urlconf (config/urls_public.py), served on the platform host.
PUBLIC_SWEEP: dict[str, Entry] = {
    "": Entry(ANY, "the platform landing page is public (any method renders it)"),
    "admin/": Entry(),
    "admin/login/": TENANT_SWEEP["admin/login/"],
    "admin/jsi18n/": Entry(),
    "admin/tenants/tenant/": Entry(),
    "admin/accounts/user/": Entry(),
    "admin/schools/platformapikey/": Entry(),
    # "Create your school" (schools.web): the form is public; A's tokens are no sign-up link.
    "signup/": Entry(PAGE, "the Create your school form is public, no data"),
    "signup/verify/<str:token>/": Entry(),
    # The platform API takes platform API keys and platform staff sessions only.
    "api/v1/platform/tenants": Entry(),
    "api/v1/platform/tenants/<int:tenant_id>": Entry(),
    "api/schema/": Entry(PAGE, "the platform API's OpenAPI document, no data"),
    "api/docs/": Entry(PAGE, "Swagger UI of the platform API, no data"),
    "healthz": TENANT_SWEEP["healthz"],
    "readyz": TENANT_SWEEP["readyz"],
    "metrics": TENANT_SWEEP["metrics"],
    "internal/tls-allowed": TENANT_SWEEP["internal/tls-allowed"],
}

# Path parameters by name -> A's real values (a list: the route is called with each).
PARAMS: dict[str, Callable[["ASide"], list[str]]] = {
    "course_id": lambda a: [str(a.course.id)],
    "section_id": lambda a: [str(a.section.id)],
    "lecture_id": lambda a: [str(a.lecture.id)],
    "upload_id": lambda a: [str(a.upload.id)],
    "version": lambda a: [str(a.lecture.video.version)],
    "path": lambda a: [
        "master.m3u8",
        "360p/index.m3u8",
        "360p/seg_00000.ts",
        "poster.jpg",
        "storyboard.vtt",
        "preview.mp4",
        "document.pdf",
        "pages/001.jpg",
        "captions/en.m3u8",
        "captions/en.vtt",
    ],
    "attachment_id": lambda a: [str(a.attachment.id)],
    "code_id": lambda a: [str(a.code_row.pk)],
    "access_code_id": lambda a: [str(a.code_row.pk)],
    "batch_id": lambda a: [str(a.code_row.batch_id)],
    "enrollment_id": lambda a: [str(a.enrollment.pk)],
    "student_id": lambda a: [str(a.student.pk)],
    "user_id": lambda a: [str(a.student.pk)],
    "uidb64": lambda a: [a.reset_link[0]],
    "token": lambda a: [a.reset_link[1], a.invitation_token, a.unsubscribe_token],
    "confirmation": lambda a: [a.email_confirmation],
    "invitation_id": lambda a: [str(a.invitation_id)],
    "action": lambda a: ["revoke", "reinstate"],
    "slug": lambda a: [a.course.slug],
    "instructor_id": lambda a: [str(a.owner.pk)],
    "note_id": lambda a: [str(a.note_id)],
    "list_id": lambda a: [str(a.list_id)],
    "item_id": lambda a: [str(a.item_id)],
    "question_id": lambda a: [str(a.question_id)],
    "answer_id": lambda a: [str(a.answer_id)],
    "certificate_id": lambda a: [a.certificate_id],
    "notification_id": lambda a: [str(a.notification_id)],
    "provider_id": lambda a: [str(a.provider_id), f"p{a.provider_id}"],
    "endpoint_id": lambda a: [str(a.endpoint_id)],
    "message_id": lambda a: [str(a.message_id)],
    "tenant_id": lambda a: [str(_school_a_id())],
    "domain_id": lambda a: [str(a.domain_id)],
}


def _school_a_id() -> int:
    """The id of school A's tenant row (the platform API's ``tenant_id``)."""
    from tenants.models import Tenant
    from tenants.testing import TEST_TENANTS

    return Tenant.objects.get(subdomain=TEST_TENANTS["tenant"][0]).pk


_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass
class ASide:
    """School A's objects and credentials, and the strings that must never leave A."""

    course: Course
    section: object
    lecture: Lecture
    upload: object
    attachment: object
    code: str
    code_row: AccessCode
    enrollment: Enrollment
    student: object
    reset_link: tuple[str, str] = ("", "")
    email_confirmation: str = ""
    owner: object = None
    invitation_id: int = 0
    invitation_token: str = ""
    note_id: int = 0
    list_id: int = 0
    item_id: int = 0
    question_id: int = 0
    answer_id: int = 0
    certificate_id: str = ""
    notification_id: int = 0
    unsubscribe_token: str = ""
    provider_id: int = 0
    endpoint_id: int = 0
    message_id: int = 0
    domain_id: int = 0
    baseline: dict = field(default_factory=dict)
    credentials: dict[str, dict] = field(default_factory=dict)
    markers: list[bytes] = field(default_factory=list)
    prefix: re.Pattern = re.compile(b"$^")
    body: dict = field(default_factory=dict)


def _session_cookie(tenant, user) -> str:
    """A ``Cookie`` header with a real session of ``user`` in ``tenant``'s schema."""
    client = Client(HTTP_HOST=host_of(tenant))
    with in_tenant(tenant):
        client.force_login(user)
    connection.set_schema_to_public()
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def a_side(world, tenant, other_tenant) -> ASide:
    """A's world plus a staff account, a tus upload and every kind of credential."""
    staff = make_user(tenant, "staff-x@alpha.test", role="owner")
    with in_tenant(tenant):
        get_user_model().objects.filter(pk=staff.pk).update(is_staff=True, is_superuser=True)
        encoded = base64.b64encode(str(world["lecture"].id).encode()).decode()
        upload = uploads.upload_create(
            user=world["owner"],
            length=10,
            metadata_header=f"lecture_id {encoded},filename {base64.b64encode(b'a.mp4').decode()}",
        )
        code_row = AccessCode.objects.get(course=world["course"])
        enrollment = Enrollment.objects.get(student=world["student"])
        reset_link = (
            urlsafe_base64_encode(force_bytes(world["student"].pk)),
            default_token_generator.make_token(world["student"]),
        )
    b_student = make_user(other_tenant, "student-sweep@beta.test")
    b_student_jwt = TenantClient(other_tenant, user=b_student).tokens["access"]
    media_token = world["grant"].access.token
    side = ASide(
        course=world["course"],
        section=world["section"],
        lecture=world["lecture"],
        upload=upload,
        attachment=world["attachment"],
        code=world["code"],
        code_row=code_row,
        enrollment=enrollment,
        student=world["student"],
        reset_link=reset_link,
        owner=world["owner"],
        invitation_id=world["invitation"].pk,
        invitation_token=world["invitation_token"],
        note_id=world["note"].pk,
        list_id=world["saved_list"].pk,
        item_id=world["item"].pk,
        question_id=_a_question(world).pk,
        answer_id=world["answer"].pk,
        certificate_id=world["certificate"].id.hex,
        notification_id=world["notification"].pk,
        unsubscribe_token=world["unsubscribe_token"],
        provider_id=world["provider"].pk,
        endpoint_id=world["webhook"].pk,
        message_id=world["webhook_message"].pk,
        domain_id=world["domain"].pk,
    )
    with in_tenant(tenant):
        side.email_confirmation = email_change_token(
            user=world["student"], new_email="swept@alpha.test"
        )
    side.credentials = {
        "session:staff": {"HTTP_COOKIE": _session_cookie(tenant, staff)},
        "session:instructor": {"HTTP_COOKIE": _session_cookie(tenant, world["owner"])},
        "session:student": {"HTTP_COOKIE": _session_cookie(tenant, world["student"])},
        "jwt:instructor": {"HTTP_AUTHORIZATION": f"Bearer {world['a_tokens']['access']}"},
        "jwt:student": {"HTTP_AUTHORIZATION": f"Bearer {world['s_tokens']['access']}"},
        "jwt:refresh": {"HTTP_AUTHORIZATION": f"Bearer {world['a_tokens']['refresh']}"},
        "media-token": {"QUERY": {"token": media_token}},
        "attachment-token": {"QUERY": {"token": world["attachment_url"].partition("token=")[2]}},
        # B's own student presenting A's access code (only on routes that redeem codes).
        "code": {
            "HTTP_COOKIE": _session_cookie(other_tenant, b_student),
            "HTTP_AUTHORIZATION": f"Bearer {b_student_jwt}",
        },
    }
    # Every write carries A's secrets in the body, in the field names the routes read.
    side.body = {
        "code": world["code"],
        "email": "staff-x@alpha.test",
        "username": "staff-x@alpha.test",
        "password": PASSWORD,
        "password1": PASSWORD,
        "password2": PASSWORD,
        "new_password1": "Sweep-new-password-1",
        "new_password2": "Sweep-new-password-1",
        "name": "Sweep",
        "refresh": world["a_tokens"]["refresh"],
        "title": "Sweep title",
        "quantity": 1,
        "lecture_id": str(world["lecture"].id),
        "course_id": str(world["course"].id),
        "position": 1.0,
        "watched": [[0.0, 1.0]],
        "published": True,
    }
    side.markers = [
        marker.encode()
        for marker in (
            "Alpha Academy",
            host_of(tenant),
            world["course"].title,
            world["section"].title,
            world["lecture"].title,
            str(world["course"].id),
            str(world["section"].id),
            str(world["lecture"].id),
            str(upload.id),
            "owner-x@alpha.test",
            "student-x@alpha.test",
            "staff-x@alpha.test",
            world["code"],
            world["code"].replace("-", ""),
            media_token,
            "Alpha secret file",
            world["a_tokens"]["access"],
            world["s_tokens"]["access"],
            reset_link[1],
            world["invitation_token"],
            world["unsubscribe_token"],
            "alpha-client-id",
            "invitee-x@alpha.test",
            world["domain"].token,
            "Alpha question",
            "Alpha answer",
            "Alpha caption",
            "Alpha hooks",
            world["webhook"].secret,
        )
    ]
    side.baseline = {
        "course": (world["course"].title, True),
        "lecture": world["lecture"].title,
        "code": (None, None),
        "enrollment": None,
        "qa": ("Alpha question", "published", False, 0, 0, 1),
        "captions": _a_captions(world),
        "webhooks": ("Alpha hooks", world["webhook"].secret, True, 1, 1, 0),
    }
    with in_tenant(tenant):
        side.baseline.update(
            courses=Course.objects.count(),
            codes=AccessCode.objects.count(),
            enrollments=Enrollment.objects.count(),
            users=get_user_model().objects.count(),
            password=True,
            email=world["student"].email,
        )
    connection.set_schema_to_public()
    # The 4-character display prefix, as a whole word (it would match inside random tokens).
    side.prefix = re.compile(rb"(?<![A-Za-z0-9])" + code_row.prefix.encode() + rb"(?![A-Za-z0-9])")
    return side


def _urls(template: str, side: ASide) -> list[str]:
    """``template`` with every ``<converter:name>`` filled from PARAMS (one URL per value
    combination). KeyError names a parameter that PARAMS lacks."""
    names = _PARAM.findall(template)
    values = [PARAMS[name](side) for name in names]
    urls = []
    for combination in product(*values):
        url = template
        for value in combination:
            url = _PARAM.sub(value, url, count=1)
        urls.append("/" + url)
    return urls


@dataclass
class SweepResult:
    """What one sweep exercised and every rule it saw broken."""

    routes: int = 0
    urls: int = 0
    requests: int = 0
    combinations: set = field(default_factory=set)
    failures: list[str] = field(default_factory=list)


_CLIENT = Client(raise_request_exception=False)


def _call(host: str, method: str, url: str, credential: dict, side: ASide):
    """``method url`` on ``host`` with ``credential`` (headers, or ``QUERY`` parameters) and,
    for writes, A's secrets in the body (JSON under /api/, a form elsewhere). The response
    gets ``sent``: the URL and body bytes, for the reflection rule of ``_leaks``."""
    headers = {k: v for k, v in credential.items() if k != "QUERY"}
    if "QUERY" in credential:
        url = f"{url}?{urlencode(credential['QUERY'])}"
    kwargs = {}
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        if url.startswith("/api/"):
            kwargs = {"data": json.dumps(side.body), "content_type": "application/json"}
        else:
            form = {k: v for k, v in side.body.items() if not isinstance(v, list)}
            kwargs = {
                "data": urlencode(form),
                "content_type": "application/x-www-form-urlencoded",
            }
    # One client (one loaded middleware stack) for every request; its cookie jar is emptied
    # first, so cookies a response set never mix into the next request.
    _CLIENT.cookies = SimpleCookie()
    response = _CLIENT.generic(method, url, **kwargs, HTTP_HOST=host, **headers)
    connection.set_schema_to_public()
    response.sent = (url + (json.dumps(side.body) if kwargs else "")).encode()
    return response


def _leaks(response, side: ASide, sent: bytes) -> list[bytes]:
    """A's markers in the body, except those the request itself carried (a form that shows
    the typed e-mail again reflects the request; it does not leak A)."""
    body = response.content
    found = [marker for marker in side.markers if marker in body and marker not in sent]
    if side.code.encode() not in sent and side.prefix.search(body):
        found.append(b"code prefix")
    return found


def _check(response, *, host: str, method: str, url: str, kind: str, entry: Entry, side: ASide):
    """Problems with one answer: a 2xx outside ``entry.open``, a 5xx, a redirect anywhere but
    a sign-in page (or ``entry.redirects``) on the same host, A's marker strings in the body."""
    status = response.status_code
    where = f"{method} {host}{url} [{kind}] -> {status}"
    problems = []
    if 200 <= status < 300 and method not in entry.open:
        problems.append(f"{where}: 2xx")
    if status >= 500:
        problems.append(f"{where}: server error")
    if 300 <= status < 400:
        # A page may send the visitor to sign in; anything else (the page itself, A's host)
        # would mean A's credentials were accepted.
        target = urlsplit(response.get("Location", ""))
        allowed = target.path.endswith("/login/") or target.path in entry.redirects
        if not allowed or target.netloc not in ("", host):
            problems.append(f"{where}: redirect to {response.get('Location')!r}")
    leaked = _leaks(response, side, response.sent)
    if leaked:
        problems.append(f"{where}: body carries {leaked}")
    return problems


def _sweep(table: dict[str, Entry], host: str, side: ASide, tenant) -> SweepResult:
    """Call every route of ``table`` on ``host`` with every method and credential kind."""
    result = SweepResult()
    for template, entry in table.items():
        result.routes += 1
        try:
            urls = _urls(template, side)
        except KeyError as exc:
            result.failures.append(f"{template}: no PARAMS entry for {exc}")
            continue
        result.urls += len(urls)
        # Each route starts from the same rows: what one route creates (a B account from
        # sign-up) must not change what the next one answers. A's rows are checked before the
        # rollback.
        with transaction.atomic():
            for url, method, kind in product(urls, METHODS, side.credentials):
                if kind == "code" and not (entry.redeems_code and method in WRITES):
                    continue
                response = _call(host, method, url, side.credentials[kind], side)
                result.requests += 1
                result.combinations.add((template, method, kind))
                result.failures += _check(
                    response, host=host, method=method, url=url, kind=kind, entry=entry, side=side
                )
            result.failures += [f"{template}: {problem}" for problem in _a_changes(side, tenant)]
            result.failures += [
                f"{template}: mail carries {leaked}"
                for message in mail.outbox
                if (leaked := [m for m in side.markers if m in message.message().as_bytes()])
            ]
            mail.outbox.clear()
            transaction.set_rollback(True)
    return result


def _a_changes(side: ASide, tenant) -> list[str]:
    """What differs in A's rows from the start of the sweep: deleted, renamed, redeemed,
    revoked or added rows, a changed password."""
    with in_tenant(tenant):
        course = Course.objects.filter(pk=side.course.pk).first()
        lecture = Lecture.objects.filter(pk=side.lecture.pk).first()
        code = AccessCode.objects.filter(pk=side.code_row.pk).first()
        enrollment = Enrollment.objects.filter(pk=side.enrollment.pk).first()
        student = get_user_model().objects.get(pk=side.student.pk)
        state = {
            "course": course and (course.title, course.published),
            "lecture": lecture and lecture.title,
            "code": code and (code.redeemed_at, getattr(code, "revoked_at", None)),
            "enrollment": enrollment and getattr(enrollment, "revoked_at", None),
            "courses": Course.objects.count(),
            "codes": AccessCode.objects.count(),
            "enrollments": Enrollment.objects.count(),
            "users": get_user_model().objects.count(),
            "password": student.check_password(PASSWORD),
            "email": student.email,
            "qa": _qa_state(side),
            "captions": list(
                CaptionCue.objects.filter(owner_id=side.lecture.pk).values_list("text")
            ),
            "webhooks": _a_webhooks(side),
        }
    connection.set_schema_to_public()
    return [
        f"A's {key} is now {state[key]!r}, was {value!r}"
        for key, value in side.baseline.items()
        if state[key] != value
    ]


def _a_webhooks(side: ASide) -> tuple | None:
    endpoint = WebhookEndpoint.objects.filter(pk=side.endpoint_id).first()
    if endpoint is None:
        return None
    return (
        endpoint.description,
        endpoint.secret,
        endpoint.enabled,
        WebhookEndpoint.objects.count(),
        WebhookMessage.objects.count(),
        sum(WebhookMessage.objects.values_list("attempts_count", flat=True)),
    )


def _qa_state(side: ASide) -> tuple | None:
    """A's question as the sweep found it: title, status, locked, votes, reports, answers."""
    from community.models import Answer, Question

    question = Question.objects.filter(pk=side.question_id).first()
    if question is None:
        return None
    answers = Answer.objects.filter(question=question, status="published").count()
    return (
        question.title,
        question.status,
        question.locked,
        question.vote_count,
        question.report_count,
        answers,
    )


def _sweep_routes(table: dict[str, Entry]) -> set[str]:
    return {"admin/" if key.startswith("admin/") else key for key in table}


def test_every_route_has_a_sweep_entry():
    assert routes("config.urls_tenants") == _sweep_routes(TENANT_SWEEP)
    assert routes("config.urls_public") == _sweep_routes(PUBLIC_SWEEP)
    for entry in [*TENANT_SWEEP.values(), *PUBLIC_SWEEP.values()]:
        assert bool(entry.open or entry.redirects) == bool(entry.reason)


def test_a_credentials_are_real_on_a(a_side, tenant):
    """The control for the sweep: each credential kind works on A's own host, so the sweep's
    refusals on B come from the host, not from broken credentials."""
    host = host_of(tenant)
    me = "/api/v1/auth/me"
    for kind in ("session:staff", "session:instructor", "session:student", "jwt:instructor"):
        response = _call(host, "GET", me, a_side.credentials[kind], a_side)
        assert response.status_code == 200, kind
    assert (
        _call(host, "GET", "/admin/", a_side.credentials["session:staff"], a_side).status_code
        == 200
    )
    response = TenantClient(tenant).post(
        "/api/v1/auth/token/refresh",
        {"refresh": a_side.body["refresh"]},
        format="json",
    )
    assert response.status_code == 200
    master = f"/media/hls/{a_side.lecture.id}/v{a_side.lecture.video.version}/master.m3u8"
    # Accepted token, file not there (no transcode ran): 404, where a refused token is 403.
    response = _call(host, "GET", master, a_side.credentials["media-token"], a_side)
    assert response.status_code == 404


# The long sweeps are cut into shards (every SHARDS-th route from a different start), separate
# test items that pytest-xdist spreads over its workers; together they cover every route.
SHARDS = 4


def _shard(table: dict, shard: int, shards: int = SHARDS) -> dict:
    return dict(list(table.items())[shard::shards])


@pytest.mark.parametrize("shard", range(SHARDS))
def test_sweep_school_b_with_a_credentials(a_side, other_tenant, tenant, shard):
    host = host_of(other_tenant)

    result = _sweep(_shard(TENANT_SWEEP, shard), host, a_side, tenant)

    summary = (
        f"school sweep on {host} (shard {shard + 1} of {SHARDS}): "
        f"{result.routes} routes ({result.urls} URLs) x "
        f"{len(METHODS)} methods x {len(a_side.credentials)} credential kinds = "
        f"{len(result.combinations)} combinations, {result.requests} requests"
    )
    print(summary)
    assert result.failures == [], summary + "\n" + "\n".join(result.failures)


def test_sweep_platform_host_with_a_credentials(a_side, tenant):
    host = "localhost"

    result = _sweep(PUBLIC_SWEEP, host, a_side, tenant)

    summary = (
        f"platform sweep on {host}: {result.routes} routes ({result.urls} URLs) x "
        f"{len(METHODS)} methods x {len(a_side.credentials)} credential kinds = "
        f"{len(result.combinations)} combinations, {result.requests} requests"
    )
    print(summary)
    assert result.failures == [], summary + "\n" + "\n".join(result.failures)


def test_a_jwt_on_the_platform_admin_is_not_signed_in(a_side):
    for kind in ("jwt:instructor", "jwt:refresh", "session:staff"):
        response = _call("localhost", "GET", "/admin/", a_side.credentials[kind], a_side)
        assert (response.status_code, response["Location"]) == (
            302,
            "/admin/login/?next=/admin/",
        ), kind


@pytest.mark.parametrize("shard", range(2))
def test_public_host_serves_no_school_route(a_side, shard):
    """Every school-only route, every method, every credential kind on the platform host: 404
    with the API.md error body (HEAD: 404 without a body). Two shards of the routes."""
    school_only = [
        t for t in TENANT_SWEEP if t and not t.startswith("admin/") and t not in PUBLIC_SWEEP
    ][shard::2]
    seen = 0
    wrong = []
    for template in school_only:
        for url, method, kind in product(_urls(template, a_side), METHODS, a_side.credentials):
            response = _call("localhost", method, url, a_side.credentials[kind], a_side)
            seen += 1
            body = None if method == "HEAD" else response.json()
            expected_body = (
                None if method == "HEAD" else {"code": "NOT_FOUND", "message": "Not found."}
            )
            got = (response.status_code, body and {k: body["error"][k] for k in expected_body})
            if got != (404, expected_body):
                wrong.append(f"{method} {url} [{kind}] -> {got}")
    summary = (
        f"school routes on the platform host: {len(school_only)} routes x {len(METHODS)} "
        f"methods x {len(a_side.credentials)} credential kinds, {seen} requests"
    )
    print(summary)
    assert wrong == [], summary + "\n" + "\n".join(wrong)
