"""Webhooks end to end: endpoints through the API and the dashboard, the events of the real
services delivered to a real HTTP receiver on loopback and verified with the
``standardwebhooks`` library, retries, disabling, replays and the SSRF refusals (API.md
"Webhooks")."""

import json

import pytest
from django.core import mail
from django.db import connection
from standardwebhooks.webhooks import Webhook

from community.selectors import lecture_access
from community.services import question_create
from courses.services import course_create, lecture_create, section_create
from enrollment.services import access_code_redeem, access_codes_create, progress_record
from media_pipeline.transcoding import asset_changed
from tenants.testing import TenantClient, browser, in_tenant, make_user, tasks_run_on_commit
from tests.xss import XSS_CORPUS, assert_inert
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage

pytestmark = pytest.mark.django_db

ALL_EVENTS = [
    "enrollment.created",
    "lecture.completed",
    "course.completed",
    "video.ready",
    "question.created",
]


@pytest.fixture
def owner(tenant):
    return make_user(tenant, "hooks-owner@alpha.test", role="owner")


@pytest.fixture
def api(tenant, owner):
    return TenantClient(tenant, user=owner)


def _register(api, url, events=None, description="CRM") -> dict:
    response = api.post(
        "/api/v1/school/webhooks",
        {"url": url, "event_types": events or ALL_EVENTS, "description": description},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def _verified(receiver, secret: str) -> list[dict]:
    """The payloads the receiver got, each verified with the endpoint's secret."""
    return [Webhook(secret).verify(body, headers) for _, headers, body in receiver.requests]


def _rows(tenant, endpoint_id):
    with in_tenant(tenant):
        rows = [
            (
                message.event_type,
                message.status,
                [
                    (a.number, a.trigger, a.status_code, a.succeeded, a.error)
                    for a in message.attempts.all()
                ],
            )
            for message in WebhookMessage.objects.filter(endpoint_id=endpoint_id).order_by("id")
        ]
    connection.set_schema_to_public()
    return rows


@pytest.fixture
def school(tenant, owner):
    """A published course of two lectures (20 s videos) and a student to enrol."""
    teacher = make_user(tenant, "hooks-teacher@alpha.test", role="instructor")
    student = make_user(tenant, "hooks-student@alpha.test")
    with in_tenant(tenant):
        course = course_create(title="Signals", published=True, created_by=teacher)
        section = section_create(course=course, title="Basics")
        lectures = [lecture_create(section=section, title=t) for t in ("Sampling", "Aliasing")]
        for lecture in lectures:
            lecture.video.version, lecture.video.duration = 1, 20.0
            lecture.video.save()
        code = access_codes_create(course=course, quantity=1).codes[0]
    connection.set_schema_to_public()
    return {"course": course, "lectures": lectures, "student": student, "code": code}


def test_the_real_services_events_are_delivered_signed(
    tenant, api, school, receiver, loopback_allowed
):
    created = _register(api, receiver.url)
    assert created["secret"].startswith("whsec_") and len(created["secret"]) == 50
    assert set(created) == {
        "id", "url", "description", "event_types", "enabled", "failing_since", "disabled_at",
        "disabled_reason", "created_at", "updated_at", "secret",
    }  # fmt: skip
    student, course, (first, second) = school["student"], school["course"], school["lectures"]
    with in_tenant(tenant):
        with tasks_run_on_commit():
            enrollment = access_code_redeem(student=student, code=school["code"])
        for lecture in (first, second):
            for _ in range(2):  # the second heartbeat of a completed lecture sends nothing
                with tasks_run_on_commit():
                    progress_record(
                        student=student, lecture_id=lecture.pk, position=20, watched=[[0, 20]]
                    )
        with tasks_run_on_commit():
            asset_changed(first.video, version=1, event="ready")
            asset_changed(first.video, version=1, event="ready")  # reported twice: one event
            asset_changed(first.video, version=1, event="progress")
        with tasks_run_on_commit():
            access = lecture_access(user=student, lecture_id=first.pk)
            question = question_create(access=access, author=student, title="Nyquist?")
    connection.set_schema_to_public()
    payloads = _verified(receiver, created["secret"])
    assert [p["type"] for p in payloads] == [
        "enrollment.created",
        "lecture.completed",
        "lecture.completed",
        "course.completed",
        "video.ready",
        "question.created",
    ]
    student_ref = {"id": student.pk, "email": "hooks-student@alpha.test", "name": "hooks-student"}
    course_ref = {"id": str(course.pk), "title": "Signals"}
    assert payloads[0]["data"] == {
        "enrollment_id": enrollment.pk,
        "source": "access_code",
        "enrolled_at": payloads[0]["timestamp"].replace("Z", "+00:00"),
        "course": course_ref,
        "student": student_ref,
    }
    assert payloads[1]["data"] == {
        "course": course_ref,
        "lecture": {"id": str(first.pk), "title": "Sampling"},
        "student": student_ref,
    }
    certificate_id = payloads[3]["data"].pop("certificate_id")
    assert len(certificate_id) == 36
    assert payloads[3]["data"] == {"course": course_ref, "student": student_ref}
    assert payloads[4]["data"] == {
        "asset_id": str(first.video.pk),
        "version": 1,
        "lecture": {"id": str(first.pk), "title": "Sampling"},
        "course": course_ref,
    }
    assert payloads[5]["data"] == {
        "question": {"id": question.pk, "title": "Nyquist?"},
        "course": course_ref,
        "lecture": {"id": str(first.pk), "title": "Sampling"},
        "author": student_ref,
    }
    path, headers, _ = receiver.requests[0]
    assert (path, headers["Content-Type"], headers["User-Agent"]) == (
        "/hooks",
        "application/json",
        "Lectern-Webhooks/1.0",
    )
    assert headers["webhook-id"] == services.event_id_for(
        event_type="enrollment.created", key=str(enrollment.pk), schema_name=tenant.schema_name
    )
    # Every message is listed with its one successful attempt.
    listing = api.get(f"/api/v1/school/webhooks/{created['id']}/messages").json()
    assert listing["count"] == 6
    newest = listing["results"][0]
    assert (newest["event_type"], newest["status"], newest["attempts_count"]) == (
        "question.created",
        "delivered",
        1,
    )
    assert newest["payload"] == payloads[5]
    attempt = newest["attempts"][0]
    assert (attempt["number"], attempt["trigger"], attempt["status_code"]) == (1, "scheduled", 204)
    assert (attempt["address"], attempt["succeeded"], attempt["error"]) == ("127.0.0.1", True, "")


def test_only_subscribed_enabled_endpoints_get_an_event(
    tenant, api, school, receiver, loopback_allowed
):
    wanted = _register(api, receiver.url + "?a=1", events=["question.created"])
    paused = _register(api, receiver.url + "?b=1", events=["enrollment.created"])
    assert (
        api.patch(
            f"/api/v1/school/webhooks/{paused['id']}", {"enabled": False}, format="json"
        ).json()["enabled"]
        is False
    )
    with in_tenant(tenant), tasks_run_on_commit():
        services.event_publish(
            event_type="enrollment.created",
            key="x",
            data={},
            occurred_at=school["course"].created_at,
        )
    connection.set_schema_to_public()
    assert receiver.requests == []
    assert _rows(tenant, wanted["id"]) == [] and _rows(tenant, paused["id"]) == []


def test_failed_attempts_are_retried_on_the_schedule_then_delivered(
    tenant, api, receiver, loopback_allowed
):
    created = _register(api, receiver.url, events=["enrollment.created"])
    receiver.answers.extend([(500, b"boom", {}), (503, b"x" * 5000, {}), (200, b"ok", {})])
    with in_tenant(tenant), tasks_run_on_commit():
        services.event_publish(
            event_type="enrollment.created",
            key="retry-1",
            data={"enrollment_id": 7},
            occurred_at=WebhookEndpoint.objects.get(pk=created["id"]).created_at,
        )
    connection.set_schema_to_public()
    assert _rows(tenant, created["id"]) == [
        (
            "enrollment.created",
            "delivered",
            [
                (1, "scheduled", 500, False, "HTTP 500"),
                (2, "scheduled", 503, False, "HTTP 503"),
                (3, "scheduled", 200, True, ""),
            ],
        )
    ]
    # One webhook-id for all three, each attempt signed with its own timestamp.
    assert len({headers["webhook-id"] for _, headers, _ in receiver.requests}) == 1
    assert len(_verified(receiver, created["secret"])) == 3
    with in_tenant(tenant):
        excerpts = list(
            WebhookAttempt.objects.order_by("number").values_list("response_excerpt", flat=True)
        )
        endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert excerpts == ["boom", "x" * 1000, "ok"]
    assert (endpoint.enabled, endpoint.failing_since) == (True, None)


def test_an_endpoint_failing_for_the_whole_window_is_disabled_and_the_owner_told(
    tenant, api, owner, receiver, loopback_allowed
):
    created = _register(api, receiver.url, events=["video.ready"])
    receiver.answers.extend([(500, b"", {})] * 4 + [(302, b"", {"Location": "/elsewhere"})])
    mail.outbox.clear()
    with in_tenant(tenant), tasks_run_on_commit():
        services.event_publish(
            event_type="video.ready",
            key="a:1",
            data={},
            occurred_at=WebhookEndpoint.objects.get(pk=created["id"]).created_at,
        )
    connection.set_schema_to_public()
    ((_, status, attempts),) = _rows(tenant, created["id"])
    assert (status, [a[2] for a in attempts]) == ("failed", [500, 500, 500, 500])
    detail = api.get(f"/api/v1/school/webhooks/{created['id']}").json()
    assert detail["enabled"] is False
    assert detail["disabled_reason"].startswith("Every delivery failed for 0.0 hours (since ")
    owners = sorted(message.to[0] for message in mail.outbox)
    assert "hooks-owner@alpha.test" in owners
    assert mail.outbox[0].subject == "Webhook endpoint disabled at Alpha Academy"
    assert receiver.url in mail.outbox[0].body
    # Disabled: a new event makes no message; a replay still tries (and a redirect is not
    # followed: the receiver saw one request to /hooks, none to /elsewhere).
    with in_tenant(tenant), tasks_run_on_commit():
        services.event_publish(
            event_type="video.ready", key="a:2", data={}, occurred_at=endpoint_time(tenant, created)
        )
    message_id = api.get(f"/api/v1/school/webhooks/{created['id']}/messages").json()["results"][0][
        "id"
    ]
    receiver.requests.clear()
    with tasks_run_on_commit():
        replay = api.post(f"/api/v1/school/webhooks/{created['id']}/messages/{message_id}/replay")
    assert replay.status_code == 202
    assert [path for path, _, _ in receiver.requests] == ["/hooks"]
    attempts = api.get(
        f"/api/v1/school/webhooks/{created['id']}/messages/{message_id}/attempts"
    ).json()["results"]
    assert [(a["number"], a["trigger"], a["status_code"], a["error"]) for a in attempts][-1] == (
        5,
        "replay",
        302,
        "HTTP 302",
    )
    assert len(_rows(tenant, created["id"])) == 1


def endpoint_time(tenant, created):
    with in_tenant(tenant):
        return WebhookEndpoint.objects.get(pk=created["id"]).created_at


def test_replay_resends_the_same_message_id_with_both_secrets_after_rotation(
    tenant, api, receiver, loopback_allowed
):
    created = _register(api, receiver.url, events=["question.created"])
    with tasks_run_on_commit():
        ping = api.post(f"/api/v1/school/webhooks/{created['id']}/test")
    assert (ping.status_code, ping.json()["event_type"]) == (202, "webhook.test")
    rotated = api.post(f"/api/v1/school/webhooks/{created['id']}/secret").json()
    assert rotated["secret"] != created["secret"]
    assert "secret" not in api.get(f"/api/v1/school/webhooks/{created['id']}").json()
    with tasks_run_on_commit():
        replay = api.post(
            f"/api/v1/school/webhooks/{created['id']}/messages/{ping.json()['id']}/replay"
        )
    assert replay.status_code == 202
    (_, first, _), (_, second, body) = receiver.requests
    assert first["webhook-id"] == second["webhook-id"] == ping.json()["event_id"]
    assert len(second["webhook-signature"].split(" ")) == 2
    for secret in (created["secret"], rotated["secret"]):
        assert Webhook(secret).verify(body, second)["type"] == "webhook.test"
    assert json.loads(body)["data"] == {"endpoint_id": created["id"]}
    assert _rows(tenant, created["id"]) == [
        (
            "webhook.test",
            "delivered",
            [(1, "scheduled", 204, True, ""), (2, "replay", 204, True, "")],
        )
    ]


def test_a_ping_that_fails_is_not_retried(tenant, api, loopback_allowed):
    # Nothing listens on the discard port: the connection is refused.
    created = _register(api, "http://127.0.0.1:9/hooks", events=["video.ready"])
    with tasks_run_on_commit():
        api.post(f"/api/v1/school/webhooks/{created['id']}/test")
    ((_, status, ((number, _, code, ok, error),)),) = _rows(tenant, created["id"])
    assert (status, number, code, ok) == ("failed", 1, None, False)
    assert error.startswith("Could not connect: ") and "refused" in error.lower()


def test_crud_validation_and_roles(tenant, api, owner, loopback_allowed, receiver):
    created = _register(api, receiver.url)
    url = f"/api/v1/school/webhooks/{created['id']}"
    changed = api.patch(
        url,
        {"event_types": ["video.ready", "enrollment.created"], "description": "New"},
        format="json",
    )
    assert (changed.status_code, changed.json()["event_types"], changed.json()["description"]) == (
        200,
        ["enrollment.created", "video.ready"],
        "New",
    )
    bad = api.patch(url, {"event_types": ["user.deleted"]}, format="json")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
    empty = api.post(
        "/api/v1/school/webhooks", {"url": receiver.url, "event_types": []}, format="json"
    )
    assert (empty.status_code, list(empty.json()["error"]["details"])) == (400, ["event_types"])
    listing = api.get("/api/v1/school/webhooks").json()
    assert [row["id"] for row in listing["results"]] == [created["id"]]
    teacher = TenantClient(tenant, user=make_user(tenant, "hooks-i@alpha.test", role="instructor"))
    student = TenantClient(tenant, user=make_user(tenant, "hooks-s@alpha.test"))
    for client, status in ((teacher, 403), (student, 403), (TenantClient(tenant), 401)):
        assert client.get("/api/v1/school/webhooks").status_code == status
        assert client.delete(url).status_code == status
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    with in_tenant(tenant):
        assert not WebhookEndpoint.objects.filter(pk=created["id"]).exists()


REFUSED_URLS = [
    "https://127.0.0.1/hooks",
    "https://127.8.9.10/hooks",
    "https://10.0.0.1/hooks",
    "https://172.16.5.4/hooks",
    "https://192.168.1.1/hooks",
    "https://100.64.0.1/hooks",
    "https://169.254.169.254/latest/meta-data",
    "https://0.0.0.0/hooks",
    "https://224.0.0.1/hooks",
    "https://240.0.0.1/hooks",
    "https://[::1]/hooks",
    "https://[::]/hooks",
    "https://[fe80::1]/hooks",
    "https://[fc00::1]/hooks",
    "https://[ff02::1]/hooks",
    "https://[::ffff:127.0.0.1]/hooks",
    "https://[::ffff:10.0.0.1]/hooks",
    "https://[::ffff:169.254.169.254]/hooks",
    "https://loopback.test/hooks",
    "https://private.test/hooks",
    "https://metadata.test/hooks",
    "https://v6-loopback.test/hooks",
    "https://mapped.test/hooks",
    "https://mixed.test/hooks",
    "https://missing.test/hooks",
    "http://public.test/hooks",
    "https://user:secret@public.test/hooks",
    "ftp://public.test/hooks",
]


def test_ssrf_urls_are_refused_at_registration(tenant, api, settings, dns_zone):
    settings.WEBHOOK_DNS_SERVERS = [dns_zone.server]
    answers = {
        url: api.post(
            "/api/v1/school/webhooks", {"url": url, "event_types": ALL_EVENTS}, format="json"
        )
        for url in REFUSED_URLS
    }
    assert {
        url: (r.status_code, r.json()["error"]["code"], list(r.json()["error"]["details"]))
        for url, r in answers.items()
    } == dict.fromkeys(REFUSED_URLS, (400, "WEBHOOK_URL_REFUSED", ["url"]))
    messages = {
        url: api.post(
            "/api/v1/school/webhooks", {"url": url, "event_types": ALL_EVENTS}, format="json"
        ).json()["error"]["message"]
        for url in (
            "https://mapped.test/hooks",
            "https://metadata.test/hooks",
            "https://missing.test/hooks",
        )
    }
    assert messages == {
        "https://mapped.test/hooks": (
            "The URL's host mapped.test is ::ffff:127.0.0.1, a loopback address."
        ),
        "https://metadata.test/hooks": (
            "The URL's host metadata.test is 169.254.169.254, a link-local address."
        ),
        "https://missing.test/hooks": "The host missing.test does not resolve to an address.",
    }
    with in_tenant(tenant):
        assert WebhookEndpoint.objects.count() == 0
    # A public name is accepted (nothing is sent at registration).
    assert (
        api.post(
            "/api/v1/school/webhooks",
            {"url": "https://public.test/hooks", "event_types": ALL_EVENTS},
            format="json",
        ).status_code
        == 201
    )
    # The system resolver: localhost is 127.0.0.1 (and ::1).
    settings.WEBHOOK_DNS_SERVERS = []
    local = api.post(
        "/api/v1/school/webhooks",
        {"url": "https://localhost/hooks", "event_types": ALL_EVENTS},
        format="json",
    )
    assert (local.status_code, local.json()["error"]["code"]) == (400, "WEBHOOK_URL_REFUSED")


def test_delivery_checks_again_and_connects_to_the_checked_address(
    tenant, api, receiver, loopback_allowed, dns_zone
):
    loopback_allowed.WEBHOOK_DNS_SERVERS = [dns_zone.server]
    dns_zone.records["hook.test."] = [("A", "127.0.0.1")]
    created = _register(api, f"http://hook.test:{receiver.port}/in", events=["video.ready"])
    with tasks_run_on_commit():
        api.post(f"/api/v1/school/webhooks/{created['id']}/test")
    ((path, headers, _),) = receiver.requests
    assert (path, headers["Host"]) == ("/in", f"hook.test:{receiver.port}")
    # The name now points at a private address (DNS rebinding): refused before connecting.
    dns_zone.records["hook.test."] = [("A", "10.9.8.7")]
    with tasks_run_on_commit():
        api.post(f"/api/v1/school/webhooks/{created['id']}/test")
    assert len(receiver.requests) == 1
    rows = _rows(tenant, created["id"])
    assert rows[1] == (
        "webhook.test",
        "failed",
        [
            (
                1,
                "scheduled",
                None,
                False,
                "Refused: The URL's host hook.test is 10.9.8.7, a private address.",
            )
        ],
    )
    with in_tenant(tenant):
        assert (
            WebhookAttempt.objects.filter(message__endpoint_id=created["id"], address=None).count()
            == 1
        )
    del dns_zone.records["hook.test."]


def _between(html: str, start: str, end: str) -> str:
    return html.split(start, 1)[1].split(end, 1)[0]


def test_dashboard_pages_escape_descriptions(tenant, owner, receiver, loopback_allowed):
    page = browser(tenant, owner)
    form = {"url": receiver.url, "event_types": ["video.ready"], "enabled": "on"}
    created = page.post("/dashboard/webhooks/", {**form, "description": XSS_CORPUS[0]})
    html = created.content.decode()
    assert created.status_code == 200
    assert 'id="webhook-secret"' in html and "whsec_" in html
    with in_tenant(tenant):
        endpoint = WebhookEndpoint.objects.get()
    connection.set_schema_to_public()
    for text in XSS_CORPUS:
        edited = page.post(f"/dashboard/webhooks/{endpoint.pk}/", {**form, "description": text})
        assert edited.status_code == 302
        html = page.get(f"/dashboard/webhooks/{endpoint.pk}/").content.decode()
        assert_inert(_between(html, '<h2 id="edit-heading">', "<form"))
        assert_inert(_between(html, 'name="description"', ">"))
        listing = page.get("/dashboard/webhooks/")
        assert_inert(_between(listing.content.decode(), 'id="webhook-endpoints">', "</table>"))
    with in_tenant(tenant):
        assert WebhookEndpoint.objects.get().description == XSS_CORPUS[-1]
    connection.set_schema_to_public()
    with tasks_run_on_commit():
        assert page.post(f"/dashboard/webhooks/{endpoint.pk}/test/").status_code == 302
    detail = page.get(f"/dashboard/webhooks/{endpoint.pk}/")
    html = detail.content.decode()
    assert "webhook.test" in html and "HTTP 204" in html and "whsec_" not in html
    refused = page.post(
        f"/dashboard/webhooks/{endpoint.pk}/", {**form, "url": "https://10.0.0.1/x"}
    )
    assert refused.status_code == 400 and "a private address" in refused.content.decode()
    rotated = page.post(f"/dashboard/webhooks/{endpoint.pk}/secret/")
    assert rotated.status_code == 200 and "whsec_" in rotated.content.decode()
    teacher = browser(tenant, make_user(tenant, "hooks-page@alpha.test", role="instructor"))
    assert teacher.get("/dashboard/webhooks/").status_code == 403
    assert teacher.post(f"/dashboard/webhooks/{endpoint.pk}/delete/").status_code == 403
    assert page.post(f"/dashboard/webhooks/{endpoint.pk}/delete/").status_code == 302
    with in_tenant(tenant):
        assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_api_descriptions_are_stored_as_written(api, receiver, loopback_allowed):
    for text in XSS_CORPUS[:5]:
        created = _register(api, receiver.url, description=text)
        assert api.get(f"/api/v1/school/webhooks/{created['id']}").json()["description"] == text
