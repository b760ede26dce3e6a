"""Fixtures of the ``schools`` tests: platform API clients and the cleanup of the schools the
tests make (committed: a school's schema is copied by its own statements)."""

import secrets

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from tenants.models import Tenant


@pytest.fixture
def made_schools(committed):
    """``subdomain()`` gives a fresh subdomain (``t<hex>``); every school made under one of them
    is deleted (schema, rows, files) when the test ends."""
    from tenants.services import tenant_delete

    names: list[str] = []

    def subdomain() -> str:
        names.append(f"t{secrets.token_hex(5)}")
        return names[-1]

    yield subdomain
    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(subdomain__in=names):
        tenant_delete(tenant)
    connection.set_schema_to_public()


@pytest.fixture
def api_key():
    """A live platform API key: ``(row, key)``; committed when the test is (``made_schools``,
    which the test then asks for first), and deleted afterwards."""
    from schools.services import platform_api_key_create

    row, raw = platform_api_key_create(name=f"tests {secrets.token_hex(3)}")
    yield row, raw
    row.delete()


class PlatformClient(APIClient):
    """A DRF test client on the platform host (PLATFORM_DOMAIN)."""

    def __init__(self, key: str | None = None, **defaults):
        super().__init__(HTTP_HOST=settings.PLATFORM_DOMAIN, **defaults)
        if key:
            self.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    def request(self, **kwargs):
        response = super().request(**kwargs)
        connection.set_schema_to_public()
        return response


@pytest.fixture
def platform(api_key) -> PlatformClient:
    """The platform API as a holder of ``api_key``."""
    return PlatformClient(api_key[1])
