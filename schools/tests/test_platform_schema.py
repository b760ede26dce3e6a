"""Schemathesis against the platform API's OpenAPI document (``/api/schema/`` on the platform
host), in process (WSGI), as a platform API key: every answer is no 5xx and has a documented
status, content type and body. Each operation's examples are sent once with the generated ids
and once with a real school's id (school A), so 2xx bodies are checked too; schools a positive
example makes are made inside the test's transaction and rolled back with it.

The school API's document is ``tests/test_api_schema.py``'s; the two never share a path."""

import json

import pytest
import schemathesis
from django.conf import settings
from django.db import connection
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from config.wsgi import application
from schools.tests.conftest import PlatformClient
from tests.test_api_schema import CHECKS, in_process_wsgi  # noqa: F401 (fixture)

MAX_EXAMPLES = 5


def platform_document() -> dict:
    """The platform API's OpenAPI document as the platform host's ``/api/schema/`` serves it."""
    generator = SchemaGenerator(urlconf="config.urls_public", title="Lectern platform API")
    schema = generator.get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


DOCUMENT = platform_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.app = application


@pytest.mark.django_db
def test_served_document_is_the_platform_api(api_key):
    response = PlatformClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    served = json.loads(response.content)

    assert response.status_code == 200
    assert served["info"]["title"] == "Lectern platform API"
    assert (
        set(served["paths"])
        == set(DOCUMENT["paths"])
        == {
            "/api/v1/platform/tenants",
            "/api/v1/platform/tenants/{tenant_id}",
        }
    )
    assert served["components"]["securitySchemes"]["platformApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "lpk_...",
    }
    post = served["paths"]["/api/v1/platform/tenants"]["post"]
    assert {"201", "400", "401", "403", "409"} <= set(post["responses"])


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db
def test_platform_api_conforms_to_its_schema(case, tenant, api_key, in_process_wsgi):  # noqa: F811
    headers = {"Host": settings.PLATFORM_DOMAIN, "Authorization": f"Bearer {api_key[1]}"}
    generated = dict(case.path_parameters or {})
    variants = [generated]
    if "tenant_id" in generated:
        variants.append({**generated, "tenant_id": tenant.pk})
    for path_parameters in variants:
        case.path_parameters = path_parameters
        response = case.call(headers=headers)
        connection.set_schema_to_public()
        case.validate_response(response, checks=CHECKS, headers=headers)
    case.path_parameters = generated
