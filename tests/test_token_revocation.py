"""A password reset or change ends every JWT of the account, through the real API.

Access tokens carry a fingerprint of the password hash (``tenants.accounts.tokens``) that
every authentication and refresh compares with the account's current one, and every refresh
token of the account is blacklisted when the password changes. Paths covered: the student
site's reset flow, ``set_password`` + ``save`` (what Django's password forms and the admin
do), and ``manage.py tenant_command changepassword`` typed at a real terminal.
"""

import os
import pty
import re
import secrets
import select
import signal
import sys
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import tenant_context
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tenants.models import Tenant
from tenants.testing import PASSWORD, TEST_TENANTS, TenantClient, host_of, in_tenant, make_user

NEW_PASSWORD = "a-brand-new-passphrase-7"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log_in(tenant, email: str, password: str = PASSWORD) -> dict:
    response = TenantClient(tenant).post(
        "/api/v1/auth/token", {"email": email, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def me(tenant, access: str) -> int:
    client = TenantClient(tenant)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/v1/auth/me").status_code


def refresh(tenant, token: str):
    return TenantClient(tenant).post(
        "/api/v1/auth/token/refresh", {"refresh": token}, format="json"
    )


def sessions_of(tenant, user) -> tuple[int, int]:
    """(outstanding, blacklisted) refresh tokens of ``user`` in ``tenant``'s schema."""
    with in_tenant(tenant):
        outstanding = OutstandingToken.objects.filter(user=user).count()
        blacklisted = BlacklistedToken.objects.filter(token__user=user).count()
    return outstanding, blacklisted


def assert_all_tokens_dead(tenant, user, pairs: list[dict]) -> None:
    for pair in pairs:
        assert me(tenant, pair["access"]) == 401
        answer = refresh(tenant, pair["refresh"])
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, "INVALID_TOKEN")
    outstanding, blacklisted = sessions_of(tenant, user)
    assert outstanding == blacklisted >= len(pairs)


def assert_new_password_works(tenant, user) -> None:
    fresh = log_in(tenant, user.email, NEW_PASSWORD)
    assert me(tenant, fresh["access"]) == 200
    rotated = refresh(tenant, fresh["refresh"])
    assert rotated.status_code == 200
    assert me(tenant, rotated.json()["access"]) == 200


@pytest.mark.django_db
def test_tokens_survive_while_the_password_stays(tenant):
    user = make_user(tenant, "steady@alpha.test")
    pair = log_in(tenant, user.email)

    rotated = refresh(tenant, pair["refresh"])

    assert me(tenant, pair["access"]) == 200
    assert rotated.status_code == 200
    assert me(tenant, rotated.json()["access"]) == 200


@pytest.mark.django_db
def test_the_web_reset_flow_ends_every_token(tenant, other_tenant):
    user = make_user(tenant, "reset-tokens@alpha.test")
    bystander = make_user(tenant, "bystander@alpha.test")
    same_email_elsewhere = make_user(other_tenant, "reset-tokens@alpha.test")
    pairs = [log_in(tenant, user.email) for _ in range(2)]
    # A refresh token rotated once: the rotated one must die too.
    pairs.append(refresh(tenant, pairs[0]["refresh"]).json() | {"access": pairs[0]["access"]})
    kept = log_in(tenant, bystander.email)
    kept_elsewhere = log_in(other_tenant, same_email_elsewhere.email)
    with in_tenant(tenant):
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
    browser = Client(HTTP_HOST=host_of(tenant))

    form = browser.get(f"/password-reset/{uid}/{token}/", follow=True)
    set_path = form.redirect_chain[-1][0]
    done = browser.post(set_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    connection.set_schema_to_public()

    assert (done.status_code, done["Location"]) == (302, "/password-reset/done/")
    assert_all_tokens_dead(tenant, user, pairs)
    assert_new_password_works(tenant, user)
    assert me(tenant, kept["access"]) == 200
    assert refresh(tenant, kept["refresh"]).status_code == 200
    assert me(other_tenant, kept_elsewhere["access"]) == 200
    assert refresh(other_tenant, kept_elsewhere["refresh"]).status_code == 200


@pytest.mark.django_db
def test_set_password_and_save_ends_every_token(tenant):
    """What Django's password forms do (the admin's, PasswordChangeForm, SetPasswordForm)."""
    user = make_user(tenant, "forms-tokens@alpha.test")
    pairs = [log_in(tenant, user.email) for _ in range(2)]

    with in_tenant(tenant):
        account = get_user_model().objects.get(pk=user.pk)
        account.set_password(NEW_PASSWORD)
        account.save()

    assert_all_tokens_dead(tenant, user, pairs)
    assert_new_password_works(tenant, user)


@pytest.mark.django_db
def test_the_school_admin_password_change_form_ends_every_token(tenant):
    """The admin's own "change password" page (Django's PasswordChangeForm) as the owner."""
    owner_email = f"owner@{tenant.subdomain}.test"
    with in_tenant(tenant):
        owner = get_user_model().objects.get(email=owner_email)
    pairs = [log_in(tenant, owner_email) for _ in range(2)]
    browser = Client(HTTP_HOST=host_of(tenant))
    signed_in = browser.post(
        "/admin/login/?next=/admin/", {"username": owner_email, "password": PASSWORD}
    )
    assert signed_in["Location"] == "/admin/"

    changed = browser.post(
        "/admin/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    connection.set_schema_to_public()

    assert (changed.status_code, changed["Location"]) == (302, "/admin/password_change/done/")
    assert_all_tokens_dead(tenant, owner, pairs)
    assert_new_password_works(tenant, owner)


@pytest.mark.django_db
def test_a_token_without_the_password_claim_is_refused(tenant):
    """A token signed with the right key whose password fingerprint is missing or wrong."""
    from rest_framework_simplejwt.tokens import RefreshToken

    from tenants.accounts.tokens import PASSWORD_CLAIM, TENANT_CLAIM

    user = make_user(tenant, "claimless@alpha.test")
    with in_tenant(tenant):
        bare = RefreshToken.for_user(user)
        bare[TENANT_CLAIM] = tenant.schema_name
        forged = RefreshToken.for_user(user)
        forged[TENANT_CLAIM] = tenant.schema_name
        forged[PASSWORD_CLAIM] = "0" * 32

    for token in (bare, forged):
        assert me(tenant, str(token.access_token)) == 401
        assert refresh(tenant, str(token)).status_code == 401


def _type_at_terminal(command: list[str], env: dict, answers: list[str], timeout: float = 60):
    """Run ``command`` on a new pseudo-terminal (so getpass reads from it), answering each
    new prompt ending in ':' with the next of ``answers``; returns (exit status, output).

    An answer is typed only once its prompt has appeared: getpass flushes the terminal's
    pending input (TCSAFLUSH) before it prompts. A child still running at ``timeout`` is
    killed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec the command with the terminal as its controlling tty
        os.chdir(REPO_ROOT)
        os.execve(command[0], command, env)  # noqa: S606 (a fixed argv, no shell)
    output = b""
    answered_upto = 0  # output already seen when the last answer was typed
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if pending and output[answered_upto:].rstrip().endswith(b":"):
                os.write(fd, pending.pop(0).encode() + b"\n")
                answered_upto = len(output)
        else:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_manage_py_changepassword_ends_every_token(e2e_env, django_db_blocker):
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(subdomain=TEST_TENANTS["tenant"][0])
        email = f"cli-{secrets.token_hex(4)}@alpha.test"
        user = make_user(tenant, email)
        connection.set_schema_to_public()
        try:
            pairs = [log_in(tenant, email) for _ in range(2)]

            status, output = _type_at_terminal(
                [
                    sys.executable,
                    "manage.py",
                    "tenant_command",
                    "changepassword",
                    f"--schema={tenant.schema_name}",
                    email,
                ],
                e2e_env,
                [NEW_PASSWORD, NEW_PASSWORD],
            )

            assert status == 0, output
            assert re.search(
                rf"Password changed successfully for user '{re.escape(email)}'", output
            )
            assert_all_tokens_dead(tenant, user, pairs)
            assert_new_password_works(tenant, user)
        finally:
            with tenant_context(tenant):
                OutstandingToken.objects.filter(user_id=user.pk).delete()
                get_user_model().objects.filter(pk=user.pk).delete()
            connection.set_schema_to_public()
