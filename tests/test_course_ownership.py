"""Course ownership, route by route: instructor B on instructor A's course gets exactly what an
unknown id gets (404) on every instructor route (API, dashboard pages, uploads, exports,
analytics), and the school's owner gets the route's success answer.

``OWNERSHIP`` has one entry per route of config/urls_tenants.py: a ``Case`` (how to call the
route on A's course) or an ``Exempt`` naming why the route has no course of A's to protect.
A route added later without an entry fails ``test_every_route_has_an_ownership_entry``. The
dashboard socket is analytics/tests/test_dashboard_socket.py
``test_an_instructor_gets_only_the_events_of_their_courses``.
"""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from courses.models import Attachment, Course, Lecture
from courses.services import attachment_create, course_create, lecture_create, section_create
from enrollment.models import AccessCode, Enrollment
from enrollment.services import access_codes_create
from media_pipeline.models import CaptionCue
from tenants.testing import TenantClient, browser, in_tenant, make_user
from tests.test_tenant_isolation import routes


@dataclass(frozen=True)
class Case:
    """``method`` on the URL ``url(w)`` (JSON ``data`` under /api/, a form elsewhere, tus
    ``headers`` for uploads). Instructor B must get 404; the owner ``owner_status``."""

    method: str
    url: Callable[[dict], str]
    owner_status: int
    data: Callable[[dict], dict] | None = None
    headers: Callable[[dict], dict] | None = None


@dataclass(frozen=True)
class Exempt:
    """A route with no course of A's in it; ``reason`` says why (and which test covers it)."""

    reason: str


def _course(w) -> str:
    return str(w["course"].id)


def _dash(suffix: str) -> Callable[[dict], str]:
    return lambda w: f"/dashboard/courses/{_course(w)}/{suffix}"


def _api(suffix: str) -> Callable[[dict], str]:
    return lambda w: f"/api/v1/courses/{_course(w)}{suffix}"


def _tus(w) -> dict:
    lecture = base64.b64encode(str(w["lecture"].id).encode()).decode()
    name = base64.b64encode(b"a.mp4").decode()
    return {
        "HTTP_TUS_RESUMABLE": "1.0.0",
        "HTTP_UPLOAD_LENGTH": "10",
        "HTTP_UPLOAD_METADATA": f"lecture_id {lecture},filename {name}",
    }


STUDENT_SITE = Exempt("the student site: enrolment, not course management")
PUBLIC = Exempt("public page or document, the same for every account")
ACCOUNT = Exempt("the signed-in account's own settings: no course in it")

OWNERSHIP: dict[str, Case | Exempt] = {
    "": PUBLIC,
    "login/": STUDENT_SITE,
    "logout/": STUDENT_SITE,
    "signup/": STUDENT_SITE,
    "welcome/<str:token>/": Exempt("a new school's one-time log-in link: no course in it"),
    "password-reset/": STUDENT_SITE,
    "password-reset/sent/": STUDENT_SITE,
    "password-reset/done/": STUDENT_SITE,
    "password-reset/<uidb64>/<token>/": STUDENT_SITE,
    "redeem/": STUDENT_SITE,
    "my/courses/": STUDENT_SITE,
    "courses/<uuid:course_id>/": STUDENT_SITE,
    "courses/<uuid:course_id>/lectures/<uuid:lecture_id>/": STUDENT_SITE,
    "invitations/<str:token>/": Exempt("invitation acceptance (teams/tests)"),
    "unsubscribe/<str:token>/": Exempt(
        "one-click unsubscribe of an account's mails (notifications/tests): no course in it"
    ),
    "api/v1/auth/register": STUDENT_SITE,
    "api/v1/auth/token": STUDENT_SITE,
    "api/v1/auth/token/refresh": STUDENT_SITE,
    "api/v1/auth/me": STUDENT_SITE,
    "api/v1/auth/email": ACCOUNT,
    "api/v1/auth/logout": ACCOUNT,
    "api/v1/auth/password": ACCOUNT,
    "api/v1/auth/password-reset": ACCOUNT,
    "api/v1/auth/password-reset/confirm": ACCOUNT,
    "account/": ACCOUNT,
    "account/email/<str:confirmation>/": ACCOUNT,
    "accounts/<int:user_id>/avatar": Exempt("an account's picture: no course in it"),
    "api/v1/students/enroll": STUDENT_SITE,
    "api/v1/students/courses": STUDENT_SITE,
    "api/v1/students/courses/<uuid:course_id>": STUDENT_SITE,
    "api/v1/students/courses/<uuid:course_id>/lectures/<uuid:lecture_id>": STUDENT_SITE,
    "api/v1/students/progress": STUDENT_SITE,
    "media/hls/<uuid:lecture_id>/v<int:version>/<path:path>": Exempt(
        "media tokens are per viewer and lecture (media_pipeline/tests/test_tokens.py)"
    ),
    "api/schema/": PUBLIC,
    "api/docs/": PUBLIC,
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    "metrics": PUBLIC,
    "admin/": Exempt("the school admin is for staff accounts"),
    "dashboard/logo": PUBLIC,
    "dashboard/branding/": Exempt("school-wide, owner only (courses/tests/test_dashboard.py)"),
    **{
        route: Exempt("the school's sign-in providers, owner only (sso/tests)")
        for route in (
            "dashboard/sso/",
            "dashboard/sso/settings/",
            "dashboard/sso/<int:provider_id>/",
            "dashboard/sso/<int:provider_id>/delete/",
            "api/v1/school/sso/providers",
            "api/v1/school/sso/providers/<int:provider_id>",
            "api/v1/school/sso/settings",
        )
    },
    **{
        route: Exempt("single sign-on of the student site (sso/tests): no course in it")
        for route in (
            "sso/oidc/<str:provider_id>/login/",
            "sso/oidc/<str:provider_id>/login/callback/",
            "sso/github/login/",
            "sso/github/login/callback/",
        )
    },
    "dashboard/courses/new/": Exempt("creates a course of the caller's own"),
    "api/v1/uploads/<uuid:upload_id>": Exempt(
        "an upload is its creator's alone (media_pipeline/tests/test_tus_api.py); creating one "
        "is the guarded step"
    ),
    "api/v1/school/invitations": Exempt("school-wide, owner only (teams/tests)"),
    "api/v1/school/usage": Exempt("school-wide, owner only (plans/tests)"),
    "internal/tls-allowed": Exempt("the TLS proxy's question about a host, no account"),
    **{
        route: Exempt("school-wide, owner only (domains/tests)")
        for route in (
            "api/v1/school/domains",
            "api/v1/school/domains/<int:domain_id>",
            "api/v1/school/domains/<int:domain_id>/check",
            "dashboard/domains/",
            "dashboard/domains/<int:domain_id>/check/",
            "dashboard/domains/<int:domain_id>/remove/",
        )
    },
    "api/v1/recommendations/for-you": Exempt(
        "the account's own recommendations (recommendations/tests): no course in it to manage"
    ),
    "api/v1/recommendations/similar/<uuid:course_id>": PUBLIC,
    "api/v1/recommendations/trending": PUBLIC,
    **{
        route: Exempt("the account's own notes, likes, lists and follows (engagement/tests)")
        for route in (
            "api/v1/notes",
            "api/v1/notes/export",
            "api/v1/notes/<int:note_id>",
            "api/v1/lectures/<uuid:lecture_id>/like",
            "api/v1/instructors/<int:instructor_id>/follow",
            "api/v1/lists",
            "api/v1/lists/<int:list_id>",
            "api/v1/lists/<int:list_id>/items",
            "api/v1/lists/<int:list_id>/items/order",
            "api/v1/lists/<int:list_id>/items/<int:item_id>",
            "notes/",
            "lists/",
        )
    },
    **{
        route: Exempt("the account's own summary and certificates (learning/tests)")
        for route in ("my/", "api/v1/students/me/summary", "api/v1/certificates")
    },
    "certificates/<str:certificate_id>/": Exempt(
        "public verification page of a certificate (learning/tests)"
    ),
    "certificates/<str:certificate_id>/pdf": Exempt(
        "a certificate's PDF, for a link signed for its owner (learning/tests)"
    ),
    **{
        route: Exempt("the account's own notifications and preferences (notifications/tests)")
        for route in (
            "api/v1/notifications",
            "api/v1/notifications/read-all",
            "api/v1/notifications/unread-count",
            "api/v1/notifications/preferences",
            "api/v1/notifications/<int:notification_id>/read",
            "notifications/",
            "notifications/read-all/",
            "notifications/preferences/",
            "notifications/<int:notification_id>/read/",
        )
    },
    "api/v1/school/invitations/<int:invitation_id>/revoke": Exempt(
        "school-wide, owner only (teams/tests)"
    ),
    "dashboard/team/": Exempt("school-wide, owner only (teams/tests)"),
    "dashboard/usage/": Exempt("school-wide, owner only (plans/tests)"),
    "api/v1/school/webhooks": Exempt("school-wide, owner only (webhooks/tests)"),
    "api/v1/school/webhooks/<int:endpoint_id>": Exempt("school-wide, owner only (webhooks/tests)"),
    "api/v1/school/webhooks/<int:endpoint_id>/secret": Exempt(
        "school-wide, owner only (webhooks/tests)"
    ),
    "api/v1/school/webhooks/<int:endpoint_id>/test": Exempt(
        "school-wide, owner only (webhooks/tests)"
    ),
    "api/v1/school/webhooks/<int:endpoint_id>/messages": Exempt(
        "school-wide, owner only (webhooks/tests)"
    ),
    "api/v1/school/webhooks/<int:endpoint_id>/messages/<int:message_id>/attempts": Exempt(
        "school-wide, owner only (webhooks/tests)"
    ),
    "api/v1/school/webhooks/<int:endpoint_id>/messages/<int:message_id>/replay": Exempt(
        "school-wide, owner only (webhooks/tests)"
    ),
    "dashboard/webhooks/": Exempt("school-wide, owner only (webhooks/tests)"),
    "dashboard/webhooks/<int:endpoint_id>/": Exempt("school-wide, owner only (webhooks/tests)"),
    "dashboard/webhooks/<int:endpoint_id>/secret/": Exempt(
        "school-wide, owner only (webhooks/tests)"
    ),
    "dashboard/webhooks/<int:endpoint_id>/test/": Exempt(
        "school-wide, owner only (webhooks/tests)"
    ),
    "dashboard/webhooks/<int:endpoint_id>/delete/": Exempt(
        "school-wide, owner only (webhooks/tests)"
    ),
    "dashboard/webhooks/<int:endpoint_id>/messages/<int:message_id>/replay/": Exempt(
        "school-wide, owner only (webhooks/tests)"
    ),
    "dashboard/team/invitations/<int:invitation_id>/revoke/": Exempt(
        "school-wide, owner only (teams/tests)"
    ),
    # Lists: B gets 200 without A's course (test_lists_hold_only_managed_courses).
    **{
        route: Exempt(
            "a search: results hold what the account may see, another instructor's draft "
            "course never (search/tests/test_visibility.py); a course filter of one finds "
            "nothing, as an unknown id"
        )
        for route in ("api/v1/search", "api/v1/search/autocomplete", "search/")
    },
    "api/v1/courses": Exempt("a list: test_lists_hold_only_managed_courses"),
    "dashboard/": Exempt("a list: test_lists_hold_only_managed_courses"),
    "api/v1/analytics/overview": Exempt("a list: test_lists_hold_only_managed_courses"),
    "dashboard/analytics/": Exempt("a list: test_lists_hold_only_managed_courses"),
    # The instructor API.
    "api/v1/courses/<uuid:course_id>": Case(
        "PATCH", _api(""), 200, data=lambda w: {"title": "Hijack"}
    ),
    "api/v1/courses/<uuid:course_id>/sections": Case(
        "POST", _api("/sections"), 201, data=lambda w: {"title": "Hijack"}
    ),
    "api/v1/sections/<uuid:section_id>/lectures": Case(
        "POST",
        lambda w: f"/api/v1/sections/{w['section'].id}/lectures",
        201,
        data=lambda w: {"title": "Hijack"},
    ),
    "api/v1/lectures/<uuid:lecture_id>": Case(
        "GET", lambda w: f"/api/v1/lectures/{w['lecture'].id}", 200
    ),
    "api/v1/courses/<uuid:course_id>/access-codes": Case(
        "POST", _api("/access-codes"), 201, data=lambda w: {"quantity": 1}
    ),
    "api/v1/courses/<uuid:course_id>/access-codes/<int:code_id>/revoke": Case(
        "POST", lambda w: _api(f"/access-codes/{w['code'].pk}/revoke")(w), 200
    ),
    "api/v1/courses/<uuid:course_id>/access-codes/batches/<uuid:batch_id>/revoke": Case(
        "POST", lambda w: _api(f"/access-codes/batches/{w['code'].batch_id}/revoke")(w), 200
    ),
    "api/v1/courses/<uuid:course_id>/enrollments": Case("GET", _api("/enrollments"), 200),
    "api/v1/courses/<uuid:course_id>/enrollments/import": Case(
        "POST",
        _api("/enrollments/import"),
        200,
        data=lambda w: {"file": _csv("email\nnew-roster@alpha.test\n")},
    ),
    "api/v1/courses/<uuid:course_id>/enrollments/<int:enrollment_id>/revoke": Case(
        "POST", lambda w: _api(f"/enrollments/{w['enrollment'].pk}/revoke")(w), 200
    ),
    "api/v1/courses/<uuid:course_id>/enrollments/<int:enrollment_id>/reinstate": Case(
        "POST", lambda w: _api(f"/enrollments/{w['enrollment'].pk}/reinstate")(w), 200
    ),
    "api/v1/courses/<uuid:course_id>/analytics": Case("GET", _api("/analytics"), 200),
    "api/v1/courses/<uuid:course_id>/announcements": Case(
        "POST", _api("/announcements"), 201, data=lambda w: {"subject": "S", "body": "B"}
    ),
    "api/v1/lectures/<uuid:lecture_id>/analytics": Case(
        "GET", lambda w: f"/api/v1/lectures/{w['lecture'].id}/analytics", 200
    ),
    "api/v1/uploads/": Case("POST", lambda w: "/api/v1/uploads/", 201, headers=_tus),
    # The dashboard.
    "dashboard/courses/<uuid:course_id>/": Case("GET", _dash(""), 200),
    "dashboard/courses/<uuid:course_id>/publish/": Case(
        "POST", _dash("publish/"), 302, data=lambda w: {"published": "0"}
    ),
    "dashboard/courses/<uuid:course_id>/delete/": Case("GET", _dash("delete/"), 200),
    "dashboard/courses/<uuid:course_id>/thumbnail": Case("GET", _dash("thumbnail"), 200),
    "dashboard/courses/<uuid:course_id>/instructors/": Case(
        "POST", _dash("instructors/"), 302, data=lambda w: {"instructor_ids": [w["owner"].pk]}
    ),
    "dashboard/courses/<uuid:course_id>/sections/": Case(
        "POST", _dash("sections/"), 302, data=lambda w: {"title": "Hijack"}
    ),
    "dashboard/courses/<uuid:course_id>/sections/<uuid:section_id>/rename/": Case(
        "POST",
        lambda w: _dash(f"sections/{w['section'].id}/rename/")(w),
        302,
        data=lambda w: {"title": "Hijack"},
    ),
    "dashboard/courses/<uuid:course_id>/sections/<uuid:section_id>/lectures/": Case(
        "POST",
        lambda w: _dash(f"sections/{w['section'].id}/lectures/")(w),
        302,
        data=lambda w: {"title": "Hijack"},
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/rename/": Case(
        "POST",
        lambda w: _dash(f"lectures/{w['lecture'].id}/rename/")(w),
        302,
        data=lambda w: {"title": "Hijack"},
    ),
    "dashboard/courses/<uuid:course_id>/reorder/": Case(
        "POST",
        _dash("reorder/"),
        200,
        data=lambda w: {"section_id": None, "ids": [str(w["section"].id)]},
    ),
    "dashboard/courses/<uuid:course_id>/move/": Case(
        "POST",
        _dash("move/"),
        302,
        data=lambda w: {"kind": "section", "id": str(w["section"].id), "direction": "up"},
    ),
    "dashboard/courses/<uuid:course_id>/codes/": Case("GET", _dash("codes/"), 200),
    "dashboard/courses/<uuid:course_id>/codes/new/<str:token>/": Case(
        "GET", _dash("codes/new/x/"), 200
    ),
    "dashboard/courses/<uuid:course_id>/codes/new/<str:token>/download": Case(
        "GET", _dash("codes/new/x/download"), 410
    ),
    "dashboard/courses/<uuid:course_id>/codes/<int:code_id>/revoke/": Case(
        "POST", lambda w: _dash(f"codes/{w['code'].pk}/revoke/")(w), 302
    ),
    "dashboard/courses/<uuid:course_id>/students/": Case("GET", _dash("students/"), 200),
    "dashboard/courses/<uuid:course_id>/announcements/": Case("GET", _dash("announcements/"), 200),
    "dashboard/courses/<uuid:course_id>/students/import/": Case(
        "POST",
        _dash("students/import/"),
        200,
        data=lambda w: {"file": _csv("email\nnew-roster@alpha.test\n")},
    ),
    "dashboard/courses/<uuid:course_id>/students/export.csv": Case(
        "GET", _dash("students/export.csv"), 200
    ),
    "dashboard/courses/<uuid:course_id>/students/<int:enrollment_id>/<str:action>/": Case(
        "POST", lambda w: _dash(f"students/{w['enrollment'].pk}/revoke/")(w), 302
    ),
    "dashboard/courses/<uuid:course_id>/analytics/": Case("GET", _dash("analytics/"), 200),
    # Authoring: sections and lectures edited, moved and deleted.
    "api/v1/sections/<uuid:section_id>": Case(
        "PATCH",
        lambda w: f"/api/v1/sections/{w['section'].id}",
        200,
        data=lambda w: {"title": "Hijack"},
    ),
    "dashboard/courses/<uuid:course_id>/sections/<uuid:section_id>/edit/": Case(
        "GET", lambda w: _dash(f"sections/{w['section'].id}/edit/")(w), 200
    ),
    "dashboard/courses/<uuid:course_id>/sections/<uuid:section_id>/delete/": Case(
        "GET", lambda w: _dash(f"sections/{w['section'].id}/delete/")(w), 200
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/edit/": Case(
        "GET", lambda w: _dash(f"lectures/{w['lecture'].id}/edit/")(w), 200
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/delete/": Case(
        "GET", lambda w: _dash(f"lectures/{w['lecture'].id}/delete/")(w), 200
    ),
    # Lecture kinds and attachments.
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/body/": Case(
        "POST",
        lambda w: _dash(f"lectures/{w['article'].id}/body/")(w),
        302,
        data=lambda w: {"body": "Hijack"},
    ),
    "api/v1/lectures/<uuid:lecture_id>/attachments": Case(
        "GET", lambda w: f"/api/v1/lectures/{w['lecture'].id}/attachments", 200
    ),
    "api/v1/lectures/<uuid:lecture_id>/attachments/<uuid:attachment_id>": Case(
        "DELETE",
        lambda w: f"/api/v1/lectures/{w['lecture'].id}/attachments/{w['attachment'].id}",
        204,
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/attachments/": Case(
        "POST",
        lambda w: _dash(f"lectures/{w['lecture'].id}/attachments/")(w),
        302,
        data=lambda w: {"file": _csv("notes")},
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/attachments/"
    "<uuid:attachment_id>/delete/": Case(
        "POST",
        lambda w: _dash(f"lectures/{w['lecture'].id}/attachments/{w['attachment'].id}/delete/")(w),
        302,
    ),
    # Captions of a video lecture.
    "api/v1/lectures/<uuid:lecture_id>/captions": Case(
        "PUT",
        lambda w: f"/api/v1/lectures/{w['lecture'].id}/captions",
        200,
        data=lambda w: {"cues": [{"start": 0, "end": 1, "text": "Hijack"}]},
    ),
    "api/v1/lectures/<uuid:lecture_id>/captions/upload": Case(
        "POST",
        lambda w: f"/api/v1/lectures/{w['lecture'].id}/captions/upload",
        200,
        data=lambda w: {"file": _vtt()},
    ),
    "api/v1/lectures/<uuid:lecture_id>/captions/transcribe": Case(
        "POST",
        lambda w: f"/api/v1/lectures/{w['lecture'].id}/captions/transcribe",
        409,  # NOT_READY: the lecture has no video yet; another instructor gets 404 first
    ),
    "api/v1/lectures/<uuid:lecture_id>/captions/vtt": Case(
        "GET", lambda w: f"/api/v1/lectures/{w['lecture'].id}/captions/vtt", 404
    ),
    "dashboard/courses/<uuid:course_id>/lectures/<uuid:lecture_id>/captions/": Case(
        "GET", lambda w: _dash(f"lectures/{w['lecture'].id}/captions/")(w), 200
    ),
    "media/attachments/<uuid:attachment_id>": Exempt(
        "signed per viewer and attachment (courses/tests/test_attachments.py)"
    ),
    "media/doc/<uuid:lecture_id>/v<int:version>/<path:path>": Exempt(
        "media tokens are per viewer and lecture (media_pipeline/tests/test_documents.py)"
    ),
    # What visitors see: published courses only, the same for every account.
    "courses/<slug:slug>/": PUBLIC,
    "instructors/<int:instructor_id>/": PUBLIC,
    "instructors/<int:instructor_id>/avatar": PUBLIC,
    "sitemap.xml": PUBLIC,
    "robots.txt": PUBLIC,
    "api/v1/catalog/courses": PUBLIC,
    "api/v1/catalog/courses/<slug:slug>": PUBLIC,
    "api/v1/catalog/courses/<slug:slug>/lectures/<uuid:lecture_id>/preview": PUBLIC,
    # Lecture Q&A: the course's instructors and the owner moderate; another instructor gets 404.
    "api/v1/lectures/<uuid:lecture_id>/questions": Case(
        "GET", lambda w: f"/api/v1/lectures/{w['lecture'].id}/questions", 200
    ),
    "api/v1/questions/<int:question_id>": Case(
        "GET", lambda w: f"/api/v1/questions/{_question(w).pk}", 200
    ),
    "api/v1/questions/<int:question_id>/answers": Case(
        "POST",
        lambda w: f"/api/v1/questions/{_question(w).pk}/answers",
        201,
        data=lambda w: {"body": "Hijack"},
    ),
    "api/v1/questions/<int:question_id>/vote": Case(
        "POST", lambda w: f"/api/v1/questions/{_question(w).pk}/vote", 200
    ),
    "api/v1/questions/<int:question_id>/report": Case(
        "POST",
        lambda w: f"/api/v1/questions/{_question(w).pk}/report",
        201,
        data=lambda w: {"reason": "Hijack"},
    ),
    "api/v1/answers/<int:answer_id>": Case(
        "DELETE", lambda w: f"/api/v1/answers/{_answer(w).pk}", 204
    ),
    "api/v1/answers/<int:answer_id>/report": Case(
        "POST",
        lambda w: f"/api/v1/answers/{_answer(w).pk}/report",
        201,
        data=lambda w: {"reason": "Hijack"},
    ),
    "api/v1/moderation/actions": Case(
        "POST",
        lambda w: "/api/v1/moderation/actions",
        201,
        data=lambda w: {"action": "lock", "question_id": _question(w).pk},
    ),
    "dashboard/questions/<int:question_id>/": Case(
        "GET", lambda w: f"/dashboard/questions/{_question(w).pk}/", 200
    ),
    "dashboard/moderation/": Case(
        "POST",
        lambda w: "/dashboard/moderation/",
        302,
        data=lambda w: {"action": "lock", "id": _question(w).pk},
    ),
    "api/v1/instructor/questions": Exempt(
        "a list: community/tests/test_qa_api.py "
        "test_the_instructor_inbox_lists_unanswered_questions_of_their_courses"
    ),
    "dashboard/questions/": Exempt(
        "a list: community/tests/test_qa_api.py "
        "test_the_instructor_inbox_lists_unanswered_questions_of_their_courses"
    ),
    "api/v1/moderation/queue": Exempt(
        "a list: community/tests/test_qa_api.py "
        "test_a_toxic_post_is_held_and_seen_by_its_author_and_the_queue_only"
    ),
}


def _question(w):
    """A published question of A's enrolled student on A's lecture (made once per test)."""
    if "question" not in w:
        from community.models import Question

        with in_tenant(w["tenant"]):
            w["question"] = Question.objects.create(
                course=w["course"],
                lecture=w["lecture"],
                author=w["enrollment"].student,
                title="A's question",
                status="published",
            )
    return w["question"]


def _answer(w):
    """A published answer of A's student to ``_question(w)``."""
    if "answer" not in w:
        from community.models import Answer

        with in_tenant(w["tenant"]):
            w["answer"] = Answer.objects.create(
                question=_question(w),
                author=w["enrollment"].student,
                body="A's answer",
                status="published",
            )
    return w["answer"]


def _vtt():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("a.vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\nHijack\n")


def _csv(text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("roster.csv", text.encode(), content_type="text/csv")


@pytest.fixture
def w(tenant):
    """Instructor A's draft course (section, lecture, code, enrolled student, cover), an
    instructor B of the same school with a course of their own, and the school's owner."""
    from courses.images import image_store

    a = make_user(tenant, "teacher-a@alpha.test", role="instructor")
    b = make_user(tenant, "teacher-b@alpha.test", role="instructor")
    owner = make_user(tenant, "head@alpha.test", role="owner")
    student = make_user(tenant, "learner@alpha.test")
    with in_tenant(tenant):
        course = course_create(title="A's course", created_by=a)
        course.thumbnail = image_store(b"\xff\xd8cover", folder="thumbnails", extension="jpg")
        course.save(update_fields=["thumbnail"])
        section = section_create(course=course, title="A's section")
        lecture = lecture_create(section=section, title="A's lecture")
        article = lecture_create(section=section, title="A's article", kind="article", body="x")
        attachment = attachment_create(
            lecture=lecture, file=SimpleUploadedFile("a.txt", b"A's notes", "text/plain")
        )
        access_codes_create(course=course, quantity=1)
        code = AccessCode.objects.get(course=course)
        enrollment = Enrollment.objects.create(student=student, course=course)
        b_course = course_create(title="B's course", created_by=b)
    return {
        "tenant": tenant,
        "a": a,
        "b": b,
        "owner": owner,
        "course": course,
        "section": section,
        "lecture": lecture,
        "article": article,
        "attachment": attachment,
        "code": code,
        "enrollment": enrollment,
        "b_course": b_course,
    }


def _call(w, case: Case, user):
    url = case.url(w)
    data = case.data(w) if case.data else None
    headers = case.headers(w) if case.headers else {}
    if url.startswith("/api/"):
        client = TenantClient(w["tenant"], user=user)
        if data and "file" in data:
            return client.post(url, data, format="multipart")
        return getattr(client, case.method.lower())(url, data, format="json", **headers)
    client = browser(w["tenant"], user)
    if case.method == "POST" and url.endswith("/reorder/"):
        return client.post(url, json.dumps(data), content_type="application/json")
    return getattr(client, case.method.lower())(url, data or {})


def _a_state(w) -> tuple:
    with in_tenant(w["tenant"]):
        course = Course.objects.get(pk=w["course"].pk)
        return (
            course.title,
            course.status,
            list(course.instructors.values_list("pk", flat=True)),
            sorted(
                Lecture.objects.filter(section__course=course).values_list(
                    "title", "body", "description", "section__title"
                )
            ),
            sorted(course.sections.values_list("title", "description")),
            Attachment.objects.filter(lecture__section__course=course).count(),
            AccessCode.objects.filter(course=course, revoked_at__isnull=True).count(),
            Enrollment.objects.filter(course=course, revoked_at__isnull=True).count(),
            list(CaptionCue.objects.filter(owner_id=w["lecture"].pk).values_list("text")),
        )


def test_every_route_has_an_ownership_entry():
    assert routes("config.urls_tenants") == set(OWNERSHIP)
    assert all(entry.reason for entry in OWNERSHIP.values() if isinstance(entry, Exempt))


CASES = sorted(route for route, entry in OWNERSHIP.items() if isinstance(entry, Case))


@pytest.mark.parametrize("route", CASES)
def test_another_instructor_gets_404_and_changes_nothing(route, w):
    before = _a_state(w)

    response = _call(w, OWNERSHIP[route], w["b"])

    assert response.status_code == 404, response.content[:300]
    assert b"A's" not in response.content
    assert _a_state(w) == before


@pytest.mark.parametrize("route", CASES)
def test_the_owner_manages_every_course(route, w):
    case = OWNERSHIP[route]

    response = _call(w, case, w["owner"])

    assert response.status_code == case.owner_status, response.content[:300]


@pytest.mark.parametrize("route", CASES)
def test_the_course_instructor_manages_it(route, w):
    case = OWNERSHIP[route]

    response = _call(w, case, w["a"])

    assert response.status_code == case.owner_status, response.content[:300]


def test_lists_hold_only_managed_courses(w):
    b_api = TenantClient(w["tenant"], user=w["b"])
    owner_api = TenantClient(w["tenant"], user=w["owner"])

    b_list = b_api.get("/api/v1/courses").json()
    owner_list = owner_api.get("/api/v1/courses").json()
    b_overview = b_api.get("/api/v1/analytics/overview").json()
    owner_overview = owner_api.get("/api/v1/analytics/overview").json()

    assert [c["title"] for c in b_list["results"]] == ["B's course"]
    assert {c["title"] for c in owner_list["results"]} == {"A's course", "B's course"}
    assert [c["title"] for c in b_overview["courses"]] == ["B's course"]
    assert b_overview["totals"]["enrollments"] == 0
    assert {c["title"] for c in owner_overview["courses"]} == {"A's course", "B's course"}
    assert owner_overview["totals"]["enrollments"] == 1
    for url in ("/dashboard/", "/dashboard/analytics/"):
        b_page = browser(w["tenant"], w["b"]).get(url)
        owner_page = browser(w["tenant"], w["owner"]).get(url)
        assert (b_page.status_code, b"A&#x27;s course" in b_page.content) == (200, False)
        assert b"B&#x27;s course" in b_page.content
        assert b"A&#x27;s course" in owner_page.content
