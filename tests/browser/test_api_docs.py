"""The Swagger UI page ``/api/docs/`` in a real browser: Debian's headless Chromium against the
uvicorn server of ``tests/plugins/stack.py``, on a school's host.

The page is served with the same Content-Security-Policy as every other page
(``tenants.security``; ``tenants/tests/test_openapi_docs.py`` checks the header itself). Here
Swagger UI must start under that policy: every file it loads comes from the school's host,
the operations of the OpenAPI document are rendered, and Chromium reports no policy violation
(neither as a console message nor as a ``securitypolicyviolation`` event). A screenshot of the
rendered page is saved.
"""

from urllib.parse import urlsplit

import pytest

from tests.plugins.browser import save_screenshot

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db]

RENDER_TIMEOUT_MS = 30_000
# Chromium's console text for a blocked load or inline script/style.
CSP_MESSAGE = "Content Security Policy"
# Records the page's policy violations (Playwright's init scripts are not subject to the CSP).
VIOLATION_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def test_swagger_ui_renders_the_operations_under_the_policy(
    web_server, e2e_school, chromium, artifacts_dir
):
    host = web_server.host(e2e_school.subdomain)
    context = chromium.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    page.add_init_script(VIOLATION_RECORDER)
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    try:
        response = page.goto(f"http://{host}/api/docs/", wait_until="load")
        assert response is not None and response.status == 200
        assert response.headers["content-security-policy"].startswith(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
        )

        # The student catalogue's operation, rendered from /api/schema/ by Swagger UI.
        operation = page.wait_for_selector(
            ".opblock-summary-path[data-path='/api/v1/students/courses']",
            timeout=RENDER_TIMEOUT_MS,
        )
        assert operation.is_visible()
        assert page.locator(".opblock").count() == page.evaluate(
            """async () => {
                const schema = await (await fetch("/api/schema/?format=json")).json();
                const methods = ["get", "put", "post", "delete", "options", "head", "patch"];
                return Object.values(schema.paths).reduce(
                    (total, item) =>
                        total + Object.keys(item).filter((key) => methods.includes(key)).length,
                    0,
                );
            }"""
        )
        assert page.title() == "Lectern API"
        save_screenshot(page, artifacts_dir, "api-docs.png", full_page=False)
        violations = page.evaluate("window.__cspViolations")
    finally:
        context.close()

    assert violations == []
    assert [line for line in console if CSP_MESSAGE in line] == []
    assert [line for line in console if line.startswith("error")] == []
    assert failed == []
    # Everything the page loaded came from the school's host: the page, Swagger UI's files,
    # its start-up script and the schema.
    assert {urlsplit(url).netloc for url in requested} == {host}
    paths = {urlsplit(url).path for url in requested}
    assert {
        "/api/docs/",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "/api/schema/",
    } <= paths
