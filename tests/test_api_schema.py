"""Schemathesis against the OpenAPI document of the school API, in process (WSGI), on both test
schools, as a student and as an instructor (Bearer JWT).

Every example Schemathesis generates for an operation (positive and negative data) is sent by
one of six actors (school A and B x student, instructor and owner), taken in turn, so each
operation's examples are spread over all six; and once more with its path ids replaced by the
acting school's real ones (a course with a section, a lecture, an enrolled student and an access
code, the student's note and saved list with one item, the course's instructor), so that 2xx
bodies are checked too, not only the 404s of random ids. Sending every example as every actor
checked six times the answers for six times the time and found nothing the rotation does not;
what one school's credentials may reach in another is the cross-tenant sweep's job
(tests/test_tenant_isolation.py). Each answer must not be a 5xx and must have a documented
status code, a documented content type and a body that matches the documented schema.

Not checked: ``negative_data_rejection`` (DRF coerces on purpose: a CharField takes ``0`` as
``"0"``, a BooleanField takes ``0``/``1``), and ``positive_data_acceptance`` (generated ids are
random, so valid requests mostly answer a documented 404).

Excluded: the tus endpoints under ``/api/v1/uploads/`` (tus 1.0.0 headers and a binary
``application/offset+octet-stream`` body that OpenAPI cannot describe; tested by
``media_pipeline/tests`` and ``tests/test_upload_resume.py``).

The document tested is the one ``/api/schema/`` serves
(``test_served_document_is_the_tested_one``).
"""

import json
from collections import Counter

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from community.models import Answer, Question
from config.wsgi import application
from courses.services import attachment_create, course_create, lecture_create, section_create
from engagement.services import note_create, saved_item_add, saved_list_create
from enrollment.models import AccessCode, Enrollment
from enrollment.services import access_codes_create
from notifications.models import Notification
from notifications.services import notify
from sso.services import provider_create
from teams.services import invitation_create
from tenants.domains import domain_create
from tenants.testing import TenantClient, host_of, in_tenant, make_user
from webhooks.models import WebhookEndpoint, WebhookMessage

# Generated examples per operation (Schemathesis adds its explicit and coverage examples).
MAX_EXAMPLES = 10
EXCLUDED_PATHS = r"^/api/v1/uploads/"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def openapi_document() -> dict:
    """The school API's OpenAPI document as ``/api/schema/`` serves it (JSON types)."""
    schema = SchemaGenerator(urlconf="config.urls_tenants").get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


DOCUMENT = openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path_regex=EXCLUDED_PATHS)
schema.app = application

# What the run exercised, printed at the end of the module: (operation, "examples"|"answers")
# and (None, status code) -> count.
TALLY: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if not TALLY:  # reported already (the operations' items may tear this down twice)
        return
    operations = len({key for key, _ in TALLY if key})
    examples = sum(n for (key, kind), n in TALLY.items() if kind == "examples")
    answers = sum(n for (key, kind), n in TALLY.items() if kind == "answers")
    statuses = dict(sorted((kind, n) for (key, kind), n in TALLY.items() if key is None))
    print(
        f"\nschemathesis: {operations} operations, {examples} examples, "
        f"{answers} answers checked; answers by status: {statuses}"
    )
    TALLY.clear()


@pytest.fixture
def in_process_wsgi():
    """Calls into the WSGI application share the test's connection and transaction, as with
    Django's test client: the handler must not close the connection between requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        connection.set_schema_to_public()


@pytest.fixture(scope="module")
def actor_rows(django_db_setup, django_db_blocker) -> list[tuple[object, dict, dict]]:
    """``(school, users by role, ids)`` for school A and school B, made once for the module
    inside a transaction that stays open while the module's tests run and is rolled back
    afterwards. Each test's own transaction (pytest-django's ``db``) is a savepoint inside it,
    rolled back when the test ends, so every operation starts from exactly these rows, as when
    they were made again for each test.

    Each school has a published course with a section, a lecture, the student enrolled and one
    access code, and the student has a note on the lecture and a list holding it; ``ids`` maps
    path parameter names to those rows' ids (and the course's ``slug``)."""
    from tenants.models import Tenant
    from tenants.testing import TEST_TENANTS

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            schools = [
                Tenant.objects.get(subdomain=TEST_TENANTS[key][0])
                for key in ("tenant", "other_tenant")
            ]
            rows = [_actor_rows(school) for school in schools]
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
        connection.set_schema_to_public()
    try:
        yield rows
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            connection.set_schema_to_public()


def _actor_rows(school) -> tuple[object, dict, dict]:
    """One school's rows for ``actor_rows``."""
    instructor = make_user(school, f"schema-instructor@{school.subdomain}.test", "instructor")
    student = make_user(school, f"schema-student@{school.subdomain}.test")
    owner = make_user(school, f"schema-owner@{school.subdomain}.test", "owner")
    with in_tenant(school):
        invitation = invitation_create(
            email=f"schema-invitee@{school.subdomain}.test",
            role="instructor",
            invited_by=owner,
        )
        course = course_create(title="Schema course", published=True, created_by=instructor)
        section = section_create(course=course, title="Schema section")
        lecture = lecture_create(section=section, title="Schema lecture")
        attachment = attachment_create(
            lecture=lecture, file=SimpleUploadedFile("schema.txt", b"schema")
        )
        # A free preview awaiting media: the public preview answers its documented 409.
        lecture.free_preview = True
        lecture.save()
        enrollment = Enrollment.objects.create(student=student, course=course)
        batch = access_codes_create(course=course, quantity=1)
        code = AccessCode.objects.get(batch_id=batch.batch_id)
        # The student's own note and list with one item: answered 200/204 for the student,
        # 404 for the instructor and the owner (no one else's rows are reachable).
        note = note_create(student=student, lecture_id=lecture.id, body="Schema **note**")
        saved = saved_list_create(student=student, name="Schema list")
        item = saved_item_add(student=student, saved_list=saved, lecture_id=lecture.id)
        question = Question.objects.create(
            course=course,
            lecture=lecture,
            author=student,
            title="Schema question",
            status="published",
        )
        answer = Answer.objects.create(
            question=question,
            author=instructor,
            body="Schema answer",
            status="published",
            is_instructor_answer=True,
        )
        notify(
            users=[student.pk],
            kind="qa_answer",
            title="Schema notification",
            body="",
            url="/",
            data={},
        )
        notification = Notification.objects.get(user=student)
        provider = provider_create(
            kind="oidc",
            name="Schema sign-in",
            client_id="schema-client",
            client_secret="schema-secret",
            server_url="https://id.example.test",
        )
        endpoint = WebhookEndpoint.objects.create(
            url="https://hooks.schema.test/in",
            event_types=["video.ready"],
            secret="whsec_c2NoZW1hIHRlc3Qgc2VjcmV0IG9mIHdlYmhvb2tz",
        )
        message = WebhookMessage.objects.create(
            endpoint=endpoint, event_id="msg_schema", event_type="video.ready", body="{}"
        )
    # The school's custom domain: its check asks the suite's DNS settings (answered at once).
    domain = domain_create(tenant=school, domain=f"schema.{school.subdomain}.example")
    ids = {
        "course_id": str(course.id),
        "slug": course.slug,
        "section_id": str(section.id),
        "lecture_id": str(lecture.id),
        "attachment_id": str(attachment.id),
        "enrollment_id": enrollment.pk,
        "code_id": code.pk,
        "batch_id": str(batch.batch_id),
        "invitation_id": invitation.pk,
        "note_id": note.pk,
        "list_id": saved.pk,
        "item_id": item.pk,
        "instructor_id": instructor.pk,
        "question_id": question.pk,
        "answer_id": answer.pk,
        "notification_id": notification.pk,
        "provider_id": provider.pk,
        "endpoint_id": endpoint.pk,
        "message_id": message.pk,
        "domain_id": domain.pk,
    }
    users = {"student": student, "instructor": instructor, "owner": owner}
    return school, users, ids


@pytest.fixture
def actors(db, actor_rows) -> list[tuple[str, dict, dict]]:
    """``(role, headers, ids)`` for a student, an instructor and an owner of each school
    (``actor_rows``), each with an access token minted for this test."""
    result = []
    for school, users, ids in actor_rows:
        for role, user in users.items():
            token = TenantClient(school, user=user).tokens["access"]
            headers = {"Host": host_of(school), "Authorization": f"Bearer {token}"}
            result.append((role, headers, ids))
    connection.set_schema_to_public()
    return result


def test_served_document_is_the_tested_one(tenant, other_tenant):
    for school in (tenant, other_tenant):
        response = TenantClient(school).get("/api/schema/", HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        assert json.loads(response.content) == DOCUMENT


def test_document_declares_both_security_schemes_and_the_error_body():
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "sessionid"}
    me = DOCUMENT["paths"]["/api/v1/auth/me"]["get"]
    assert me["security"] == [{"jwtAuth": []}, {"cookieAuth": []}]
    assert set(me["responses"]) == {"200", "401", "403", "404", "405"}
    error = me["responses"]["401"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    body = DOCUMENT["components"]["schemas"]["Error"]["properties"]["error"]
    assert body["required"] == ["code", "message", "details", "request_id"]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, actors, in_process_wsgi):
    TALLY[(case.operation.label, "examples")] += 1
    generated = dict(case.path_parameters or {})
    turn = TALLY[(case.operation.label, "examples")] % len(actors)
    for _role, headers, ids in actors[turn : turn + 1]:
        variants = [generated]
        real = {name: ids[name] for name in generated if name in ids}
        if real:
            variants.append({**generated, **real})
        for path_parameters in variants:
            case.path_parameters = path_parameters
            response = case.call(headers=headers)
            connection.set_schema_to_public()
            TALLY[(case.operation.label, "answers")] += 1
            TALLY[(None, response.status_code)] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
    case.path_parameters = generated
