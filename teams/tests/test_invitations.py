"""The owner's invitations (API.md "Team"): the API, the e-mail, the link's single use,
expiry and revocation, acceptance by a new address, a student and an instructor, the other
school's tokens, and the Team page."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from teams.models import Invitation
from teams.services import invitation_token
from tenants.testing import (
    PASSWORD,
    TenantClient,
    browser,
    in_tenant,
    make_user,
    tasks_run_on_commit,
)
from tests.xss import XSS_CORPUS, assert_inert


def _table(response, table_id: str) -> str:
    """The ``<table id=table_id>`` of a page (where the names are shown)."""
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', response.content.decode(), re.S)
    assert match, table_id
    return match.group(0)


LINK = re.compile(r"http://[^/\s]+(/invitations/([0-9a-f]{64})/)")


@pytest.fixture
def owner(tenant):
    return make_user(tenant, "head@alpha.test", role="owner")


def _invite(tenant, owner, email="new-teacher@alpha.test"):
    """Invite ``email`` through the API, with the e-mail sent; returns (response, path, token)."""
    with tasks_run_on_commit():
        response = TenantClient(tenant, user=owner).post(
            "/api/v1/school/invitations", {"email": email, "role": "instructor"}, format="json"
        )
    assert response.status_code == 201, response.content
    body = mail.outbox[-1].body
    path, token = LINK.search(body).groups()
    return response, path, token


def test_owner_invites_and_the_mail_carries_a_single_use_link(tenant, owner):
    response, path, token = _invite(tenant, owner)

    body = response.json()
    assert {k: body[k] for k in ("email", "role", "status", "accepted_at", "revoked_at")} == {
        "email": "new-teacher@alpha.test",
        "role": "instructor",
        "status": "pending",
        "accepted_at": None,
        "revoked_at": None,
    }
    message = mail.outbox[-1]
    assert message.to == ["new-teacher@alpha.test"]
    assert message.subject == "Join the team of Alpha Academy"
    assert LINK.search(message.body).group(0).startswith("http://alpha.localhost")
    with in_tenant(tenant):
        row = Invitation.objects.get(pk=body["id"])
        # Only the hash of the token is stored.
        assert token not in (row.token_hash, row.nonce)
        assert invitation_token(row) == token
        lifetime = row.expires_at - row.created_at
        assert abs(lifetime - timedelta(days=7)) < timedelta(seconds=5)
        assert row.sent_at is not None

    page = browser(tenant).get(path)
    assert page.status_code == 200
    assert b'name="password1"' in page.content
    accepted = browser(tenant).post(
        path, {"name": "New Teacher", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert (accepted.status_code, accepted["Location"]) == (302, "/dashboard/")
    with in_tenant(tenant):
        user = get_user_model().objects.get(email="new-teacher@alpha.test")
        assert (user.role, user.name, user.check_password(PASSWORD)) == (
            "instructor",
            "New Teacher",
            True,
        )
        assert Invitation.objects.get(pk=body["id"]).accepted_by_id == user.pk
    again = browser(tenant).post(
        path, {"name": "Someone", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert again.status_code == 410
    assert b"already been used" in again.content


def test_only_the_owner_invites(tenant, owner):
    teacher = make_user(tenant, "teacher@alpha.test", role="instructor")
    student = make_user(tenant, "student@alpha.test")
    url = "/api/v1/school/invitations"
    payload = {"email": "x@alpha.test", "role": "instructor"}

    statuses = [
        TenantClient(tenant).post(url, payload, format="json").status_code,
        TenantClient(tenant, user=teacher).post(url, payload, format="json").status_code,
        TenantClient(tenant, user=student).post(url, payload, format="json").status_code,
        TenantClient(tenant, user=teacher).get(url).status_code,
    ]

    assert statuses == [401, 403, 403, 403]
    with in_tenant(tenant):
        assert not Invitation.objects.exists()
    assert browser(tenant, teacher).get("/dashboard/team/").status_code == 403


def test_invalid_invitations_are_refused(tenant, owner):
    make_user(tenant, "teacher@alpha.test", role="instructor")
    client = TenantClient(tenant, user=owner)
    url = "/api/v1/school/invitations"

    bad_email = client.post(url, {"email": "nope", "role": "instructor"}, format="json")
    bad_role = client.post(url, {"email": "a@alpha.test", "role": "student"}, format="json")
    taken = client.post(url, {"email": "Teacher@alpha.test", "role": "instructor"}, format="json")

    assert (bad_email.status_code, bad_email.json()["error"]["details"].keys()) == (
        400,
        {"email"},
    )
    assert (bad_role.status_code, bad_role.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "ALREADY_INSTRUCTOR")
    with in_tenant(tenant):
        assert not Invitation.objects.exists()


def test_list_statuses_revoke_and_expiry(tenant, owner):
    client = TenantClient(tenant, user=owner)
    ids = {}
    for name in ("pending", "revoked", "expired"):
        ids[name] = _invite(tenant, owner, f"{name}@alpha.test")[0].json()["id"]
    _, accepted_path, _ = _invite(tenant, owner, "accepted@alpha.test")
    browser(tenant).post(accepted_path, {"name": "A", "password1": PASSWORD, "password2": PASSWORD})
    with in_tenant(tenant):
        Invitation.objects.filter(pk=ids["expired"]).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        expired_token = invitation_token(Invitation.objects.get(pk=ids["expired"]))
        revoked_token = invitation_token(Invitation.objects.get(pk=ids["revoked"]))

    revoke = client.post(f"/api/v1/school/invitations/{ids['revoked']}/revoke")
    again = client.post(f"/api/v1/school/invitations/{ids['revoked']}/revoke")
    unknown = client.post("/api/v1/school/invitations/999999/revoke")
    listing = client.get("/api/v1/school/invitations").json()

    assert (revoke.status_code, revoke.json()["status"]) == (200, "revoked")
    assert again.json()["revoked_at"] == revoke.json()["revoked_at"]
    assert unknown.status_code == 404
    assert listing["count"] == 4
    assert [(r["email"], r["status"]) for r in listing["results"]] == [
        ("accepted@alpha.test", "accepted"),
        ("expired@alpha.test", "expired"),
        ("revoked@alpha.test", "revoked"),
        ("pending@alpha.test", "pending"),
    ]
    for token, words in ((expired_token, b"expired"), (revoked_token, b"withdrawn")):
        page = browser(tenant).get(f"/invitations/{token}/")
        assert (page.status_code, words in page.content) == (410, True)
    assert browser(tenant).get(f"/invitations/{'0' * 64}/").status_code == 404


def test_a_student_is_upgraded_when_signed_in_as_that_account(tenant, owner):
    student = make_user(tenant, "learner@alpha.test")
    _, path, _ = _invite(tenant, owner, "learner@alpha.test")

    anonymous = browser(tenant).get(path)
    someone_else = browser(tenant, make_user(tenant, "other@alpha.test")).post(path)
    confirm = browser(tenant, student).get(path)
    accepted = browser(tenant, student).post(path)

    assert anonymous.status_code == 200
    assert f"/login/?next={path}".encode() in anonymous.content
    assert b'name="password1"' not in anonymous.content
    assert someone_else.status_code == 200  # the log-in prompt; nothing accepted
    assert b"Accept the invitation" in confirm.content
    assert (accepted.status_code, accepted["Location"]) == (302, "/dashboard/")
    with in_tenant(tenant):
        assert get_user_model().objects.get(pk=student.pk).role == "instructor"


def test_an_instructor_is_told_they_already_are_one(tenant, owner):
    _, path, _ = _invite(tenant, owner, "late@alpha.test")
    teacher = make_user(tenant, "late@alpha.test", role="instructor")

    page = browser(tenant, teacher).get(path)
    post = browser(tenant, teacher).post(path)

    assert b"already an instructor" in page.content
    assert b"already an instructor" in post.content
    with in_tenant(tenant):
        assert Invitation.objects.get(email="late@alpha.test").accepted_at is None


def test_tokens_of_one_school_are_unknown_on_the_other(tenant, other_tenant, owner):
    _, path, _ = _invite(tenant, owner, "cross@alpha.test")
    b_owner = make_user(other_tenant, "head@beta.test", role="owner")
    _, b_path, _ = _invite(other_tenant, b_owner, "cross@beta.test")

    on_b = browser(other_tenant).post(
        path, {"name": "X", "password1": PASSWORD, "password2": PASSWORD}
    )
    on_a = browser(tenant).post(b_path, {"name": "X", "password1": PASSWORD, "password2": PASSWORD})
    b_revokes_a = TenantClient(other_tenant, user=b_owner).post(
        f"/api/v1/school/invitations/{_invitation_id(tenant)}/revoke"
    )

    assert (on_b.status_code, on_a.status_code, b_revokes_a.status_code) == (404, 404, 404)
    with in_tenant(other_tenant):
        assert not get_user_model().objects.filter(email="cross@alpha.test").exists()
    with in_tenant(tenant):
        assert not get_user_model().objects.filter(email="cross@beta.test").exists()
        assert Invitation.objects.get(email="cross@alpha.test").revoked_at is None


def _invitation_id(tenant) -> int:
    with in_tenant(tenant):
        return Invitation.objects.get(email="cross@alpha.test").pk


def test_weak_password_changes_nothing(tenant, owner):
    _, path, _ = _invite(tenant, owner)

    response = browser(tenant).post(path, {"name": "N", "password1": "a", "password2": "a"})

    assert response.status_code == 400
    with in_tenant(tenant):
        assert not get_user_model().objects.filter(email="new-teacher@alpha.test").exists()
        assert Invitation.objects.get().accepted_at is None


def test_team_page_lists_members_and_invitations_inertly(tenant, owner):
    for n, text in enumerate(XSS_CORPUS):
        user = make_user(tenant, f"x{n}@alpha.test", role="instructor")
        with in_tenant(tenant):
            get_user_model().objects.filter(pk=user.pk).update(name=text[:150])
    _invite(tenant, owner, "pending-one@alpha.test")
    client = browser(tenant, owner)

    page = client.get("/dashboard/team/")
    invited = client.post("/dashboard/team/", {"email": "second@alpha.test"})

    assert page.status_code == 200
    assert_inert(_table(page, "team-members"))
    assert b"pending-one@alpha.test" in page.content
    assert invited.status_code == 302
    with in_tenant(tenant):
        pk = Invitation.objects.get(email="second@alpha.test").pk
    revoked = client.post(f"/dashboard/team/invitations/{pk}/revoke/")
    assert revoked.status_code == 302
    with in_tenant(tenant):
        assert Invitation.objects.get(pk=pk).revoked_at is not None
