"""Test helpers shared by every app: tenants, accounts and API clients bound to a host."""

from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context
from rest_framework.test import APIClient

from tenants.accounts.tokens import tokens_for_user
from tenants.models import Tenant
from tenants.services import platform_setup, tenant_provision

TEST_TENANTS = {"tenant": ("alpha", "Alpha Academy"), "other_tenant": ("beta", "Beta School")}
PASSWORD = "correct-horse-battery"  # noqa: S105 (test accounts only)


def ensure_test_tenant(subdomain: str, name: str) -> Tenant:
    """The committed test school ``subdomain`` (provisioned once, reused with --reuse-db)."""
    platform_setup()
    tenant = Tenant.objects.filter(subdomain=subdomain).first()
    if tenant is None:
        tenant = tenant_provision(
            subdomain=subdomain,
            name=name,
            owner_email=f"owner@{subdomain}.test",
            owner_password=PASSWORD,
        ).tenant
    return tenant


def host_of(tenant: Tenant) -> str:
    """The primary host name of a tenant (``alpha.localhost``)."""
    return tenant.domains.get(is_primary=True).domain


@contextmanager
def in_tenant(tenant: Tenant):
    """Run ORM code inside ``tenant``'s schema, restoring the previous schema afterwards."""
    with tenant_context(tenant):
        yield


def make_user(tenant: Tenant, email: str, role: str = "student", password: str = PASSWORD):
    """Create an account inside ``tenant``'s schema."""
    with tenant_context(tenant):
        return get_user_model().objects.create_user(
            email=email, password=password, role=role, name=email.split("@")[0]
        )


class TenantClient(APIClient):
    """A DRF test client that talks to one tenant's host, optionally as ``user`` (Bearer JWT).

    The JWT is minted inside the tenant's schema, so it carries that tenant's claim.
    """

    def __init__(self, tenant: Tenant, user=None, **defaults):
        super().__init__(HTTP_HOST=host_of(tenant), **defaults)
        self.tenant = tenant
        if user is not None:
            with tenant_context(tenant):
                self.tokens = tokens_for_user(user)
            self.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens['access']}")

    def request(self, **kwargs):
        response = super().request(**kwargs)
        # The middleware leaves the connection on the request's schema; tests continue public.
        connection.set_schema_to_public()
        return response


@contextmanager
def tasks_eager():
    """Celery tasks sent inside the block run right here, in this process
    (``task_always_eager``), instead of on a worker later. Task errors propagate."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@contextmanager
def tasks_run_on_commit():
    """Inside a test's transaction (which never commits): run the on-commit callbacks of the
    block when it ends, and the Celery tasks they send right here (``task_always_eager``), as a
    worker would after a real commit. Task errors propagate."""
    from django.test import TestCase

    with tasks_eager(), TestCase.captureOnCommitCallbacks(execute=True):
        yield


def browser(tenant: Tenant, user=None) -> Client:
    """Django's test client as a browser on ``tenant``'s host (``Accept: text/html``), signed
    in as ``user`` when given (a session made in the school's schema)."""
    client = Client(HTTP_HOST=host_of(tenant), HTTP_ACCEPT="text/html")
    if user is not None:
        with in_tenant(tenant):
            client.force_login(user)
        connection.set_schema_to_public()
    return client
