"""A branding change (name, colour, logo) reaches every web process: the process that saved it
at once (the ``Tenant`` save clears its host -> school cache), every other one within
TENANT_HOST_CACHE_SECONDS (its cached school expires). Here with the host cache on, unlike the
rest of the suite."""

import io
import re
import time

import pytest
import requests
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from PIL import Image

from tenants.middleware import tenant_host_cache_clear
from tenants.models import Tenant
from tenants.testing import browser, make_user
from tests.plugins.stack import _stop_process_group, web_start

# The host-cache window of the two-process test (seconds): short, so the test is quick.
WINDOW = 2.0


def logo_upload() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (2000, 1000), (10, 120, 60)).save(out, "JPEG")
    return SimpleUploadedFile("logo.jpg", out.getvalue(), content_type="image/jpeg")


@pytest.fixture
def restore_branding(tenant):
    """Puts school A's branding back and empties the host cache, whatever the test did."""
    original = {f: getattr(tenant, f) for f in ("name", "primary_color", "logo")}
    tenant_host_cache_clear()
    yield
    Tenant.objects.filter(pk=tenant.pk).update(**original)
    tenant_host_cache_clear()


@pytest.mark.django_db
@override_settings(TENANT_HOST_CACHE_SECONDS=60)
def test_branding_change_shows_on_the_next_request_with_the_host_cache_on(
    tenant, restore_branding, django_capture_on_commit_callbacks
):
    owner = make_user(tenant, "own@alpha.test", role="owner")
    visitor = browser(tenant)
    before = visitor.get("/").content.decode()  # the school is now in this process's cache
    assert "Alpha Academy" in before and "/dashboard/logo?v=" not in before

    response = browser(tenant, owner).post(
        "/dashboard/branding/",
        {"name": "Alpha Renamed", "primary_color": "#AA3300", "logo": logo_upload()},
    )

    assert response.status_code == 302
    saved = Tenant.objects.get(pk=tenant.pk)
    assert (saved.name, saved.primary_color) == ("Alpha Renamed", "#aa3300")
    page = visitor.get("/").content.decode()
    assert "Alpha Renamed" in page and "Alpha Academy" not in page
    assert "--brand: #aa3300" in page
    assert f"/dashboard/logo?v={saved.logo[-12:]}" in page
    logo = visitor.get("/dashboard/logo")
    assert (logo.status_code, logo["Content-Type"]) == (200, "image/png")
    with default_storage.open(saved.logo) as stored, Image.open(stored) as image:
        assert (image.format, image.size) == ("PNG", (512, 256))
    # The owner's own next page (another request of the same process) too.
    settings_page = browser(tenant, owner).get("/dashboard/branding/").content.decode()
    assert 'value="Alpha Renamed"' in settings_page

    with django_capture_on_commit_callbacks(execute=True):
        browser(tenant, owner).post(
            "/dashboard/branding/",
            {"name": "Alpha Renamed", "primary_color": "#aa3300", "remove_logo": "on"},
        )

    page = visitor.get("/").content.decode()
    assert "/dashboard/logo?v=" not in page
    assert visitor.get("/dashboard/logo").status_code == 404
    assert not default_storage.exists(saved.logo)


def _csrf(session: requests.Session, url: str, host: str) -> str:
    html = session.get(url, headers={"Host": host}, timeout=10).text
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _home_name(url: str, host: str) -> str:
    html = requests.get(url, headers={"Host": host}, timeout=10).text
    return re.search(r"<title>([^<]*)</title>", html).group(1)


@pytest.mark.timeout(180)
def test_branding_reaches_another_web_process_within_the_host_cache_window(
    e2e_env,
    e2e_school,
    e2e_logs,
    django_db_blocker,
):
    with django_db_blocker.unblock():
        school = Tenant.objects.get(schema_name=e2e_school.schema_name)
        original = (school.name, school.primary_color)
    env = {**e2e_env, "TEST_TENANT_HOST_CACHE_SECONDS": str(WINDOW)}
    first, server_a = web_start(env, e2e_logs / "branding-a.log")
    try:
        second, server_b = web_start(env, e2e_logs / "branding-b.log")
    except BaseException:
        _stop_process_group(first)
        raise
    host_a, host_b = server_a.host(e2e_school.subdomain), server_b.host(e2e_school.subdomain)
    owner = requests.Session()
    login = f"{server_a.base_url}/login/"
    branding = f"{server_a.base_url}/dashboard/branding/"

    def save(name: str, color: str) -> requests.Response:
        token = _csrf(owner, branding, host_a)
        return owner.post(
            branding,
            data={"csrfmiddlewaretoken": token, "name": name, "primary_color": color},
            headers={"Host": host_a},
            allow_redirects=False,
            timeout=10,
        )

    try:
        response = owner.post(
            login,
            data={
                "csrfmiddlewaretoken": _csrf(owner, login, host_a),
                "username": e2e_school.owner_email,
                "password": e2e_school.owner_password,
            },
            headers={"Host": host_a},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302
        # Server B now holds the school in its host cache.
        assert original[0] in _home_name(f"{server_b.base_url}/", host_b)

        saved = save("E2E Rebranded", "#123456")
        saved_at = time.monotonic()

        assert saved.status_code == 302
        assert "E2E Rebranded" in _home_name(f"{server_a.base_url}/", host_a)
        seen = None
        while time.monotonic() - saved_at < WINDOW + 3.0:
            if "E2E Rebranded" in _home_name(f"{server_b.base_url}/", host_b):
                seen = time.monotonic() - saved_at
                break
            time.sleep(0.1)
        assert seen is not None and seen <= WINDOW + 1.0, seen
        page = requests.get(f"{server_b.base_url}/", headers={"Host": host_b}, timeout=10).text
        assert "--brand: #123456" in page
    finally:
        try:
            save(*original)
        finally:
            _stop_process_group(second)
            _stop_process_group(first)
