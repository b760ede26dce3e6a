"""The Swagger UI page ``/api/docs/`` (``tenants.openapi.SwaggerView``): drf-spectacular's split
view with Swagger UI's files from drf-spectacular-sidecar, under the same Content-Security-Policy
as every other page (``tenants.security``). ``tests/browser/test_api_docs.py`` renders it in
Chromium.
"""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tenants.testing import host_of

SIDECAR = "/static/drf_spectacular_sidecar/swagger-ui-dist/"


def _policy(host: str) -> str:
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; media-src 'self' data: blob:; "
        f"connect-src 'self' ws://{host}; worker-src 'self' blob:; "
        "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def _attributes(html: str, tag: str, attribute: str) -> list[str]:
    return re.findall(rf'<{tag}\b[^>]*\b{attribute}="([^"]*)"', html)


def test_the_page_carries_the_strict_policy(tenant):
    response = Client(HTTP_HOST=host_of(tenant)).get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Security-Policy"] == _policy(host_of(tenant))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_page_loads_local_files_and_no_inline_script(tenant):
    html = Client(HTTP_HOST=host_of(tenant)).get("/api/docs/").content.decode()

    assert _attributes(html, "script", "src") == [
        f"{SIDECAR}swagger-ui-bundle.js",
        f"{SIDECAR}swagger-ui-standalone-preset.js",
        "/api/docs/?script=",
    ]
    assert _attributes(html, "link", "href") == [
        f"{SIDECAR}favicon-32x32.png",
        f"{SIDECAR}swagger-ui.css",
    ]
    # Every <script> has a src and an empty body: nothing for 'unsafe-inline' to allow.
    assert re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.DOTALL) == ["", "", ""]
    assert "//" not in "".join(_attributes(html, "script", "src"))
    assert "cdn" not in html.lower()


@pytest.mark.parametrize(
    "name", ["swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"]
)
def test_the_sidecar_files_are_served_from_static(tenant, name):
    response = Client(HTTP_HOST=host_of(tenant)).get(f"{SIDECAR}{name}")

    assert response.status_code == 200
    served = b"".join(response.streaming_content)
    with open(finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{name}"), "rb") as handle:
        assert served == handle.read()
    assert len(served) > 1000


def test_the_start_up_script_is_a_script_answer(tenant):
    response = Client(HTTP_HOST=host_of(tenant)).get("/api/docs/?script=")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript"
    assert response["X-Content-Type-Options"] == "nosniff"
    # A policy governs documents; a script is held to the policy of the page that loads it.
    assert "Content-Security-Policy" not in response
    body = response.content.decode()
    assert body.startswith('"use strict";')
    assert 'url: "/api/schema/",' in body
    # The schema is public (SERVE_PUBLIC): no credentials are sent for it.
    assert "const schemaAuthNames = [];" in body
    assert "<" not in body.split("\n", 1)[0]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs/?script="])
def test_head_answers_and_other_methods_are_refused(tenant, path):
    client = Client(HTTP_HOST=host_of(tenant))

    assert client.head(path).status_code == 200
    for method in (client.options, client.post, client.put, client.delete):
        response = method(path)
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
