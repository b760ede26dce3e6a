"""The welcome mail: queued after the commit of a sign-up (API and site), never for a refused
one, and sent only to an active student."""

import pytest
from django.core import mail
from django.test import Client

from enrollment.services import welcome_email_send
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


def _register(tenant, email: str, password: str = PASSWORD):
    return TenantClient(tenant, REMOTE_ADDR="198.51.100.77").post(
        "/api/v1/auth/register",
        {"email": email, "password": password, "name": "Ada"},
        format="json",
    )


def test_an_api_sign_up_is_welcomed_once_and_a_refused_one_is_not(tenant):
    with tasks_run_on_commit():
        created = _register(tenant, "ada@alpha.test")
        taken = _register(tenant, "ADA@alpha.test")
        weak = _register(tenant, "weak@alpha.test", password="123")

    assert [created.status_code, taken.status_code, weak.status_code] == [201, 409, 400]
    (message,) = mail.outbox
    assert message.to == ["ada@alpha.test"]
    assert message.subject == "Welcome to Alpha Academy"
    assert message.from_email == "Alpha Academy <lectern@localhost>"
    assert "http://alpha.localhost:8000/my/courses/" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_site_sign_up_is_welcomed(tenant):
    client = Client(HTTP_HOST=host_of(tenant), REMOTE_ADDR="198.51.100.78")
    fields = {"name": "Bo", "password1": PASSWORD, "password2": PASSWORD}

    with tasks_run_on_commit():
        response = client.post("/signup/", {"email": "bo@alpha.test", **fields})

    assert (response.status_code, response["Location"]) == (302, "/my/courses/")
    assert [message.to for message in mail.outbox] == [["bo@alpha.test"]]


def test_only_an_active_student_is_welcomed(tenant):
    teacher = make_user(tenant, "teacher@alpha.test", role="instructor")
    gone = make_user(tenant, "gone@alpha.test")
    with in_tenant(tenant):
        User.objects.filter(pk=gone.pk).update(is_active=False)
        sent = [
            welcome_email_send(user_id=teacher.pk),
            welcome_email_send(user_id=gone.pk),
            welcome_email_send(user_id=10**9),
        ]
    assert sent == [False, False, False]
    assert mail.outbox == []
