"""The student site (``enrollment.web``) through Django's test client on the schools' hosts:
who may see which page, drafts hidden, redemption errors, CSRF on every form, the log-in and
redemption rate limits shared with the API, the password-reset e-mail flow, and sessions that
mean nothing on another school's host."""

import hashlib
import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client, TestCase, override_settings
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from courses.services import course_create, lecture_create, section_create
from enrollment.models import AccessCode, Enrollment, LectureProgress
from enrollment.services import access_codes_create
from media_pipeline.models import MediaAsset
from tenants.accounts.models import User
from tenants.testing import (
    PASSWORD,
    TenantClient,
    host_of,
    in_tenant,
    make_user,
    tasks_run_on_commit,
)

pytestmark = pytest.mark.django_db


class WebClient(Client):
    """Django's test client on one school's host; ``log_in`` makes a session in its schema."""

    def __init__(self, tenant, **defaults):
        super().__init__(HTTP_HOST=host_of(tenant), **defaults)
        self.tenant = tenant

    def log_in(self, user) -> "WebClient":
        with in_tenant(self.tenant):
            self.force_login(user)
        return self

    def request(self, **request):
        response = super().request(**request)
        # The middleware leaves the connection on the request's schema; tests continue public.
        connection.set_schema_to_public()
        return response


@pytest.fixture
def rates(monkeypatch):
    """Set small rates for the named throttle scopes for one test."""

    def set_rates(**scoped: str) -> None:
        for scope, rate in scoped.items():
            monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)

    return set_rates


@pytest.fixture
def enrolled(tenant, student, course):
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=course)
    return student


@pytest.fixture
def draft_course(tenant, instructor):
    with in_tenant(tenant):
        course = course_create(title="Secret draft", published=False, created_by=instructor)
        section = section_create(course=course, title="Hidden section")
        lecture_create(section=section, title="Hidden lecture")
    return course


def new_code(tenant, course, **kwargs) -> str:
    with in_tenant(tenant):
        return access_codes_create(course=course, quantity=1, **kwargs).codes[0]


def config_of(response) -> dict:
    match = re.search(
        r'<script id="player-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "the lecture page has no player configuration"
    return json.loads(match.group(1))


# --- Home -----------------------------------------------------------------------------------


def test_home_shows_the_school_and_published_courses_only(tenant, course, draft_course):
    tenant.primary_color = "#12ab34"
    tenant.save(update_fields=["primary_color"])

    response = WebClient(tenant).get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Alpha Academy</title>" in html
    assert "--brand: #12ab34;" in html
    assert "Physics" in html
    assert "Secret draft" not in html
    assert "Hidden lecture" not in html
    for path in ("/my/courses/", "/redeem/", "/login/", "/signup/"):
        assert f'href="{path}"' in html


def test_home_never_writes_an_invalid_colour_into_the_stylesheet(tenant):
    tenant.primary_color = "red}</s"
    tenant.save(update_fields=["primary_color"])

    html = WebClient(tenant).get("/").content.decode()

    assert "--brand: #2f5bea;" in html
    assert "red}" not in html


def test_home_derives_readable_text_colours_from_the_school_colour(tenant):
    tenant.primary_color = "#ffd60a"
    tenant.save(update_fields=["primary_color"])

    html = WebClient(tenant).get("/").content.decode()

    # Black on the light yellow header; links on the light page in a darker shade of it
    # (tenants.branding; the browser test measures the contrast on the rendered page).
    assert ":root { --brand: #ffd60a; --brand-text: #000000; --brand-ink: #867005; }" in html
    assert '<a class="site-nav__signup" href="/signup/">Sign up</a>' in html


def test_home_marks_enrolled_courses_for_a_logged_in_student(tenant, enrolled, course):
    html = WebClient(tenant).log_in(enrolled).get("/").content.decode()

    assert f'href="/courses/{course.id}/"' in html
    assert "Log out" in html
    assert 'href="/login/"' not in html


# --- Sign-up, log-in, log-out -------------------------------------------------------------


def test_signup_creates_a_logged_in_student_and_follows_a_safe_next(tenant):
    client = WebClient(tenant)

    response = client.post(
        "/signup/",
        {
            "name": "Ada",
            "email": "Ada@Alpha.test",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
            "next": "/redeem/",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/redeem/"
    with in_tenant(tenant):
        from tenants.accounts.models import User

        user = User.objects.get(email="ada@alpha.test")
    assert (user.role, user.name) == ("student", "Ada")
    assert client.get("/redeem/").status_code == 200


def test_signup_ignores_an_unsafe_next(tenant):
    response = WebClient(tenant).post(
        "/signup/",
        {
            "email": "bob@alpha.test",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
            "next": "https://evil.example/steal",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/my/courses/"


def test_signup_refuses_a_taken_email_a_weak_or_mismatched_password(tenant, student):
    client = WebClient(tenant)
    taken = client.post(
        "/signup/",
        {
            "email": student.email,
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    weak = client.post(
        "/signup/", {"email": "weak@alpha.test", "password1": "123", "password2": "123"}
    )
    differ = client.post(
        "/signup/",
        {"email": "d@alpha.test", "password1": "a-long-pass-phrase", "password2": "other-phrase"},
    )

    assert taken.status_code == 400
    assert "An account with this e-mail already exists." in taken.content.decode()
    assert weak.status_code == 400
    assert "This password is too short." in weak.content.decode()
    assert differ.status_code == 400
    assert "The two passwords differ." in differ.content.decode()
    with in_tenant(tenant):
        from tenants.accounts.models import User

        assert not User.objects.filter(email__in=["weak@alpha.test", "d@alpha.test"]).exists()


def test_login_with_email_any_case_redirects_to_next_or_my_courses(tenant, student):
    plain = WebClient(tenant).post(
        "/login/", {"username": "STUDENT@alpha.test", "password": PASSWORD}
    )
    onward = WebClient(tenant).post(
        "/login/?next=/redeem/", {"username": student.email, "password": PASSWORD}
    )
    unsafe = WebClient(tenant).post(
        "/login/",
        {"username": student.email, "password": PASSWORD, "next": "//evil.example/"},
    )

    assert (plain.status_code, plain["Location"]) == (302, "/my/courses/")
    assert (onward.status_code, onward["Location"]) == (302, "/redeem/")
    assert (unsafe.status_code, unsafe["Location"]) == (302, "/my/courses/")


def test_login_with_a_wrong_password_shows_the_form_again(tenant, student):
    client = WebClient(tenant)

    response = client.post("/login/", {"username": student.email, "password": "wrong"})

    assert response.status_code == 200
    assert "The e-mail or password is not correct." in response.content.decode()
    assert client.get("/my/courses/").status_code == 302


def test_login_form_shares_the_api_rate_limit_per_email(tenant, student, rates):
    rates(login_account="3/min")
    with in_tenant(tenant):
        cache.delete_many(
            ["throttle_login_account_" + hashlib.sha256(student.email.encode()).hexdigest()]
        )
    api = TenantClient(tenant, REMOTE_ADDR="198.51.100.20")
    web = WebClient(tenant, REMOTE_ADDR="198.51.100.21")

    first = api.post(
        "/api/v1/auth/token", {"email": student.email, "password": "wrong"}, format="json"
    )
    second = web.post("/login/", {"username": student.email, "password": "wrong"})
    third = web.post("/login/", {"username": student.email, "password": "wrong"})
    fourth = web.post("/login/", {"username": student.email, "password": PASSWORD})

    assert [first.status_code, second.status_code, third.status_code] == [401, 200, 200]
    assert fourth.status_code == 429
    assert 1 <= int(fourth["Retry-After"]) <= 61
    assert "Too many attempts. Please wait" in fourth.content.decode()
    # The correct password was not even checked: still anonymous.
    assert web.get("/my/courses/").status_code == 302


def test_login_form_is_limited_per_client_ip(tenant, student, rates):
    rates(login_ip="2/min")
    with in_tenant(tenant):
        cache.delete("throttle_login_ip_198.51.100.30")
    web = WebClient(tenant, REMOTE_ADDR="198.51.100.30")

    codes = [
        web.post("/login/", {"username": f"x{i}@alpha.test", "password": "wrong"}).status_code
        for i in range(3)
    ]

    assert codes == [200, 200, 429]


def test_logout_needs_post_and_ends_the_session(tenant, student):
    client = WebClient(tenant).log_in(student)

    refused = client.get("/logout/")
    response = client.post("/logout/")

    assert refused.status_code == 405
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/my/courses/")["Location"] == "/login/?next=/my/courses/"


# --- Password reset -----------------------------------------------------------------------


@override_settings(PUBLIC_URL_SCHEME="http", PUBLIC_URL_PORT=8000)
def test_password_reset_mails_a_one_time_link_on_the_school_host(tenant, student):
    client = WebClient(tenant)

    with tasks_run_on_commit():
        sent = client.post("/password-reset/", {"email": "Student@alpha.test"})

    assert (sent.status_code, sent["Location"]) == (302, "/password-reset/sent/")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [student.email]
    assert message.subject == "Reset your Alpha Academy password"
    assert "Alpha Academy" in message.body
    link = re.search(r"http://alpha\.localhost:8000/password-reset/[^/\s]+/[^/\s]+/", message.body)
    assert link, message.body
    html = message.alternatives[0][0]
    assert f'href="{link.group(0)}"' in html
    path = link.group(0).removeprefix("http://alpha.localhost:8000")

    form = client.get(path, follow=True)
    set_path = form.redirect_chain[-1][0]
    assert set_path.endswith("/set-password/")
    assert 'name="new_password1"' in form.content.decode()
    done = client.post(
        set_path, {"new_password1": "brand-new-phrase-42", "new_password2": "brand-new-phrase-42"}
    )
    assert (done.status_code, done["Location"]) == (302, "/password-reset/done/")

    again = WebClient(tenant).get(path, follow=True)
    assert "This link is not valid any more" in again.content.decode()
    old = WebClient(tenant).post("/login/", {"username": student.email, "password": PASSWORD})
    new = WebClient(tenant).post(
        "/login/", {"username": student.email, "password": "brand-new-phrase-42"}
    )
    assert old.status_code == 200
    assert (new.status_code, new["Location"]) == (302, "/my/courses/")


def test_password_reset_mail_writes_black_on_a_light_school_colour(tenant, student):
    tenant.primary_color = "#ffd60a"
    tenant.save(update_fields=["primary_color"])

    with tasks_run_on_commit():
        WebClient(tenant).post("/password-reset/", {"email": student.email})

    (message,) = mail.outbox
    html = message.alternatives[0][0]
    assert html.count('bgcolor="#ffd60a"') == 2  # the header and the button
    # Text colours (not background colours): the school's name, its link and the button label.
    assert len(re.findall(r"(?<!-)color:#000000;", html)) == 3
    # No white text but MJML's hidden preview line.
    hidden_preview = "display:none;font-size:1px;color:#ffffff"
    assert html.count(hidden_preview) == 1
    assert re.findall(r"(?<!-)color:#ffffff", html.replace(hidden_preview, "")) == []


def test_password_reset_of_an_unknown_or_other_school_email_sends_nothing(tenant, other_tenant):
    make_user(other_tenant, "only-beta@beta.test")

    with tasks_run_on_commit():
        response = WebClient(tenant).post("/password-reset/", {"email": "only-beta@beta.test"})

    assert (response.status_code, response["Location"]) == (302, "/password-reset/sent/")
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("scheme", "port", "origin"),
    [
        ("https", 8443, "https://alpha.localhost:8443"),
        ("https", 443, "https://alpha.localhost"),
        ("http", 8000, "http://alpha.localhost:8000"),
    ],
)
def test_the_reset_link_is_on_the_primary_domain_whatever_the_host_header(
    tenant, student, scheme, port, origin
):
    client = Client(HTTP_HOST="ALPHA.localhost.:8000")

    with override_settings(PUBLIC_URL_SCHEME=scheme, PUBLIC_URL_PORT=port), tasks_run_on_commit():
        sent = client.post("/password-reset/", {"email": student.email})
    connection.set_schema_to_public()

    assert (sent.status_code, sent["Location"]) == (302, "/password-reset/sent/")
    assert len(mail.outbox) == 1
    links = re.findall(r"https?://\S+/password-reset/\S+/", mail.outbox[0].body)
    assert len(links) == 1
    assert links[0].startswith(f"{origin}/password-reset/"), links


def test_the_reset_page_answers_alike_for_known_and_unknown_addresses(tenant, student):
    """The request only queues the task: no mail is sent while it runs, and the answer for an
    address without an account is the same response; the task then sends the one mail."""
    answers = {}
    for email in (student.email, "nobody-here@alpha.test"):
        client = WebClient(tenant, REMOTE_ADDR="198.51.100.60")
        form = client.get("/password-reset/")
        with TestCase.captureOnCommitCallbacks(execute=False) as queued:
            answer = client.post("/password-reset/", {"email": email})
        answers[email] = (answer.status_code, answer["Location"], answer.content, len(queued))
        assert form.status_code == 200
        assert mail.outbox == []  # nothing sent inside the request

    assert answers[student.email][:3] == answers["nobody-here@alpha.test"][:3]
    assert (answers[student.email][3], answers["nobody-here@alpha.test"][3]) == (1, 0)

    with tasks_run_on_commit():
        WebClient(tenant).post("/password-reset/", {"email": student.email})
    assert [message.to for message in mail.outbox] == [[student.email]]


# --- Redeem -----------------------------------------------------------------------------------


def test_redeem_needs_a_login(tenant):
    response = WebClient(tenant).get("/redeem/")

    assert (response.status_code, response["Location"]) == (302, "/login/?next=/redeem/")


def test_redeem_enrolls_and_goes_to_the_course(tenant, student, course):
    code = new_code(tenant, course)
    client = WebClient(tenant).log_in(student)

    response = client.post("/redeem/", {"code": code.lower()})

    assert (response.status_code, response["Location"]) == (302, f"/courses/{course.id}/")
    with in_tenant(tenant):
        assert Enrollment.objects.filter(student=student, course=course).count() == 1
    page = client.get(response["Location"])
    assert "You are enrolled in Physics." in page.content.decode()


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("unknown", 404, "This code is not valid. Check it and try again."),
        ("malformed", 404, "This code is not valid. Check it and try again."),
        ("used", 410, "This code has already been used."),
        ("expired", 410, "This code has expired. Ask your school for a new one."),
        ("enrolled", 409, "You are already enrolled in this course; the code was not used."),
    ],
)
def test_redeem_errors_are_explained(tenant, student, course, case, status, message):
    other = make_user(tenant, "other@alpha.test")
    code = new_code(tenant, course, expires_at=timezone.now() + timedelta(days=1))
    with in_tenant(tenant):
        if case == "used":
            from enrollment.services import access_code_redeem

            access_code_redeem(student=other, code=code)
        elif case == "expired":
            AccessCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        elif case == "enrolled":
            Enrollment.objects.create(student=student, course=course)
    typed = {"unknown": "0000-0000-0000-0000", "malformed": "nope"}.get(case, code)

    response = WebClient(tenant).log_in(student).post("/redeem/", {"code": typed})

    assert response.status_code == status
    assert message in response.content.decode()
    with in_tenant(tenant):
        enrolled = Enrollment.objects.filter(student=student, course=course).exists()
        assert enrolled is (case == "enrolled")
        if case == "enrolled":
            assert AccessCode.objects.get().redeemed_at is None


def test_redeem_shares_the_api_rate_limit_per_account(tenant, student, course, rates):
    rates(redeem_account="2/min")
    api = TenantClient(tenant, user=student, REMOTE_ADDR="203.0.113.40")
    web = WebClient(tenant, REMOTE_ADDR="203.0.113.41").log_in(student)
    code = new_code(tenant, course)

    first = api.post("/api/v1/students/enroll", {"code": "0000-0000-0000-0000"}, format="json")
    second = web.post("/redeem/", {"code": "0000-0000-0000-0000"})
    third = web.post("/redeem/", {"code": code})

    assert [first.status_code, second.status_code] == [404, 404]
    assert third.status_code == 429
    assert 1 <= int(third["Retry-After"]) <= 61
    assert "Too many attempts. Please wait" in third.content.decode()
    with in_tenant(tenant):
        assert not Enrollment.objects.filter(student=student).exists()


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/login/", {"username": "student@alpha.test", "password": PASSWORD}),
        ("/signup/", {"email": "csrf@alpha.test", "password1": "x", "password2": "x"}),
        ("/password-reset/", {"email": "student@alpha.test"}),
        ("/redeem/", {"code": "0000-0000-0000-0000"}),
        ("/logout/", {}),
    ],
)
def test_every_form_needs_the_csrf_token(tenant, student, path, data):
    client = WebClient(tenant, enforce_csrf_checks=True)
    if path in ("/redeem/", "/logout/"):
        client.log_in(student)

    refused = client.post(path, data)
    client.get(path if path != "/logout/" else "/")
    token = client.cookies["csrftoken"].value
    accepted = client.post(path, {**data, "csrfmiddlewaretoken": token})

    assert refused.status_code == 403
    assert accepted.status_code != 403


# --- My courses, course page -------------------------------------------------------------


def test_my_courses_lists_published_enrollments_with_progress(
    tenant, enrolled, course, draft_course
):
    with in_tenant(tenant):
        Enrollment.objects.create(student=enrolled, course=draft_course)
        first = course.sections.get().lectures.order_by("order").first()
        LectureProgress.objects.create(
            student=enrolled, lecture_id=first.id, completion=95.0, completed=True
        )

    response = WebClient(tenant).log_in(enrolled).get("/my/courses/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Physics" in html
    assert 'style="width: 50.00%"' in html
    assert "50% complete" in html
    assert "Secret draft" not in html


def test_my_courses_without_enrollments_points_to_redeem(tenant, student):
    html = WebClient(tenant).log_in(student).get("/my/courses/").content.decode()

    assert "You are not enrolled in any course yet." in html


def test_course_page_shows_outline_marks_and_continue(tenant, enrolled, course, ready_lecture):
    with in_tenant(tenant):
        LectureProgress.objects.create(
            student=enrolled, lecture_id=ready_lecture.id, position=1.0, completion=40.0
        )
        second = course.sections.get().lectures.order_by("order")[1]

    response = WebClient(tenant).log_in(enrolled).get(f"/courses/{course.id}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Motion" in html
    assert f'href="/courses/{course.id}/lectures/{ready_lecture.id}/"' in html
    assert 'Acceleration <span class="small muted">(coming soon)</span>' in html
    assert f'/lectures/{second.id}/"' not in html
    assert "40%" in html
    assert "0% complete" in html
    assert (
        f'class="button continue-link" href="/courses/{course.id}/lectures/{ready_lecture.id}/"'
        in html
    )


def test_course_page_marks_completed_lectures(tenant, enrolled, course, ready_lecture):
    with in_tenant(tenant):
        LectureProgress.objects.create(
            student=enrolled, lecture_id=ready_lecture.id, completion=100.0, completed=True
        )

    html = WebClient(tenant).log_in(enrolled).get(f"/courses/{course.id}/").content.decode()

    assert 'outline__mark outline__mark--done" title="Completed">&#10003;' in html
    assert "50% complete" in html


def test_course_page_is_for_enrolled_students_only(tenant, student, course):
    anonymous = WebClient(tenant).get(f"/courses/{course.id}/")
    stranger = WebClient(tenant).log_in(student).get(f"/courses/{course.id}/")

    assert (anonymous.status_code, anonymous["Location"]) == (
        302,
        f"/login/?next=/courses/{course.id}/",
    )
    assert stranger.status_code == 403
    assert 'href="/redeem/"' in stranger.content.decode()
    assert "Velocity" not in stranger.content.decode()


def test_draft_and_foreign_courses_answer_404_even_when_enrolled(
    tenant, other_tenant, enrolled, draft_course
):
    with in_tenant(tenant):
        Enrollment.objects.create(student=enrolled, course=draft_course)
    with in_tenant(other_tenant):
        foreign = course_create(title="Beta course", published=True)
    client = WebClient(tenant).log_in(enrolled)

    draft = client.get(f"/courses/{draft_course.id}/")
    elsewhere = client.get(f"/courses/{foreign.id}/")

    assert draft.status_code == 404
    assert "Hidden lecture" not in draft.content.decode()
    assert elsewhere.status_code == 404


# --- Lecture page ---------------------------------------------------------------------------


def test_lecture_page_carries_the_playback_object(tenant, enrolled, course, ready_lecture):
    with in_tenant(tenant):
        LectureProgress.objects.create(student=enrolled, lecture_id=ready_lecture.id, position=1.25)
    client = WebClient(tenant).log_in(enrolled)

    response = client.get(f"/courses/{course.id}/lectures/{ready_lecture.id}/")

    assert response.status_code == 200
    config = config_of(response)
    prefix = f"http://alpha.localhost/media/hls/{ready_lecture.id}/v1/"
    assert config["playback_url"].startswith(prefix + "master.m3u8?token=")
    assert config["storyboard_url"].startswith(prefix + "storyboard.vtt?token=")
    assert config["position"] == 1.25
    assert config["duration"] == pytest.approx(ready_lecture.video.duration)
    assert config["progress_url"] == "/api/v1/students/progress"
    assert config["next_url"] is None
    assert config["csrf_token"]
    assert '<script src="/static/build/player.js" defer></script>' in response.content.decode()
    master = client.get(config["playback_url"].removeprefix("http://alpha.localhost"))
    assert master.status_code == 200


def test_lecture_page_links_the_next_ready_lecture(tenant, enrolled, course, ready_lecture):
    with in_tenant(tenant):
        second = course.sections.get().lectures.order_by("order")[1]
        MediaAsset.objects.filter(owner_id=second.pk).update(version=1, duration=2.0)

    response = (
        WebClient(tenant).log_in(enrolled).get(f"/courses/{course.id}/lectures/{ready_lecture.id}/")
    )

    config = config_of(response)
    assert config["next_url"] == f"/courses/{course.id}/lectures/{second.id}/"
    assert config["next_title"] == "Acceleration"


def test_lecture_page_of_a_lecture_without_media_answers_409(tenant, enrolled, course):
    with in_tenant(tenant):
        lecture = course.sections.get().lectures.order_by("order")[1]

    response = (
        WebClient(tenant).log_in(enrolled).get(f"/courses/{course.id}/lectures/{lecture.id}/")
    )

    assert response.status_code == 409
    assert "not ready to play yet" in response.content.decode()
    assert "player-config" not in response.content.decode()


def test_lecture_page_is_for_enrolled_students_and_its_own_course(
    tenant, student, enrolled, course, ready_lecture, draft_course
):
    other = make_user(tenant, "outsider@alpha.test")
    with in_tenant(tenant):
        Enrollment.objects.create(student=enrolled, course=draft_course)
        hidden = draft_course.sections.get().lectures.get()

    outsider = (
        WebClient(tenant).log_in(other).get(f"/courses/{course.id}/lectures/{ready_lecture.id}/")
    )
    wrong_course = (
        WebClient(tenant).log_in(enrolled).get(f"/courses/{course.id}/lectures/{hidden.id}/")
    )
    draft = (
        WebClient(tenant).log_in(enrolled).get(f"/courses/{draft_course.id}/lectures/{hidden.id}/")
    )

    assert outsider.status_code == 403
    assert "player-config" not in outsider.content.decode()
    assert wrong_course.status_code == 404
    assert draft.status_code == 404


def test_player_heartbeats_work_with_the_session_and_its_csrf_token(
    tenant, enrolled, course, ready_lecture
):
    client = WebClient(tenant, enforce_csrf_checks=True).log_in(enrolled)
    config = config_of(client.get(f"/courses/{course.id}/lectures/{ready_lecture.id}/"))
    body = json.dumps(
        {"lecture_id": str(ready_lecture.id), "position": 1.5, "watched": [[0.0, 1.5]]}
    )

    refused = client.post(config["progress_url"], body, content_type="application/json")
    accepted = client.post(
        config["progress_url"],
        body,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200
    with in_tenant(tenant):
        row = LectureProgress.objects.get(student=enrolled, lecture_id=ready_lecture.id)
    assert row.position == 1.5
    assert row.watched == [[0.0, 1.5]]


# --- Cross-tenant -------------------------------------------------------------------------


def test_a_session_of_one_school_is_anonymous_on_another(tenant, other_tenant, enrolled, course):
    alpha = WebClient(tenant).log_in(enrolled)
    assert alpha.get("/my/courses/").status_code == 200
    beta = WebClient(other_tenant)
    beta.cookies = alpha.cookies

    my_courses = beta.get("/my/courses/")
    home = beta.get("/")
    redeem = beta.post("/redeem/", {"code": "0000-0000-0000-0000"})

    assert (my_courses.status_code, my_courses["Location"]) == (302, "/login/?next=/my/courses/")
    assert 'href="/login/"' in home.content.decode()
    assert redeem.status_code == 302


def test_signup_page_shares_the_api_sign_up_limit_per_ip(tenant, rates):
    rates(register_ip="2/min")
    ip = "198.51.100.60"
    with in_tenant(tenant):
        cache.delete(f"throttle_register_ip_{ip}")
    api = TenantClient(tenant, REMOTE_ADDR=ip)
    web = WebClient(tenant, REMOTE_ADDR=ip)
    fields = {"name": "N", "password1": PASSWORD, "password2": PASSWORD}

    first = api.post(
        "/api/v1/auth/register",
        {"email": "rl-1@alpha.test", "password": PASSWORD, "name": "N"},
        format="json",
    )
    second = web.post("/signup/", {"email": "rl-2@alpha.test", **fields})
    third = WebClient(tenant, REMOTE_ADDR=ip).post(
        "/signup/", {"email": "rl-3@alpha.test", **fields}
    )
    elsewhere = WebClient(tenant, REMOTE_ADDR="198.51.100.61").post(
        "/signup/", {"email": "rl-4@alpha.test", **fields}
    )

    assert [first.status_code, second.status_code] == [201, 302]
    assert third.status_code == 429
    assert 1 <= int(third["Retry-After"]) <= 61
    assert "Too many attempts. Please wait" in third.content.decode()
    assert elsewhere.status_code == 302
    with in_tenant(tenant):
        created = sorted(
            User.objects.filter(email__startswith="rl-").values_list("email", flat=True)
        )
    assert created == ["rl-1@alpha.test", "rl-2@alpha.test", "rl-4@alpha.test"]


def test_password_reset_mail_is_limited_per_email_across_ips(tenant, student, rates):
    rates(password_reset_account="2/min")
    with in_tenant(tenant):
        digest = hashlib.sha256(student.email.encode()).hexdigest()
        cache.delete(f"throttle_password_reset_account_{digest}")
    mail.outbox.clear()

    with tasks_run_on_commit():
        codes = [
            WebClient(tenant, REMOTE_ADDR=f"198.51.100.{70 + i}")
            .post("/password-reset/", {"email": student.email})
            .status_code
            for i in range(3)
        ]

    assert codes == [302, 302, 429]
    assert len(mail.outbox) == 2


def test_unknown_pages_are_html_for_browsers_and_json_for_the_api(tenant):
    browser = WebClient(tenant, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    script = WebClient(tenant)

    page = browser.get("/courses/not-a-course/")
    api = browser.get("/api/v1/no-such-endpoint")
    plain = script.get("/courses/not-a-course/")

    assert (page.status_code, page["Content-Type"]) == (404, "text/html; charset=utf-8")
    assert "Page not found" in page.content.decode()
    assert "Alpha Academy" in page.content.decode()
    assert (api.status_code, api.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert (plain.status_code, plain.json()["error"]["code"]) == (404, "NOT_FOUND")


def test_course_and_lecture_pages_record_views_for_analytics(
    tenant, enrolled, course, ready_lecture
):
    from analytics.models import CourseView

    client = WebClient(tenant).log_in(enrolled)

    course_page = client.get(f"/courses/{course.id}/")
    lecture_page = client.get(f"/courses/{course.id}/lectures/{ready_lecture.id}/")
    missing = client.get(f"/courses/{course.id}/lectures/{course.id}/")

    assert [course_page.status_code, lecture_page.status_code, missing.status_code] == [
        200,
        200,
        404,
    ]
    with in_tenant(tenant):
        views = list(CourseView.objects.order_by("id").values_list("course_id", "lecture_id"))
    assert views == [(course.id, None), (course.id, ready_lecture.id)]
