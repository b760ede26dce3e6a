""" "Create your school" (README, "Create your school"): the form on the platform host, the
e-mailed verification link, the school made by the schema copy, and its owner signed in on the
school's host by a one-time link; rate-limited per IP; the name rendered inertly everywhere."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from rest_framework.throttling import SimpleRateThrottle

from schools.models import LoginLink
from schools.services import SignupClaim, login_link_create, signup_token
from tenants.models import Tenant
from tenants.testing import host_of, in_tenant, make_user, tasks_eager
from tests.xss import XSS_CORPUS, assert_inert

# Several payloads of the corpus in one school name (at most 200 characters).
XSS_NAME = " ".join(XSS_CORPUS[:3]) + " " + XSS_CORPUS[20]


def _platform() -> Client:
    return Client(HTTP_HOST=settings.PLATFORM_DOMAIN)


def _heading(page) -> str:
    match = re.search(r"<h1 class=\"page-title\">.*?</h1>", page.content.decode(), re.S)
    assert match, page.content
    return match.group(0)


def test_a_visitor_makes_a_school_and_lands_in_its_dashboard(made_schools):
    subdomain = made_schools()
    form = {"name": XSS_NAME, "subdomain": subdomain, "email": "Founder@Example.test"}

    with tasks_eager():
        sent = _platform().post("/signup/", form)

    assert sent.status_code == 200
    assert b"founder@example.test" in sent.content
    assert not Tenant.objects.filter(subdomain=subdomain).exists()  # nothing made yet
    (message,) = mail.outbox
    assert message.to == ["founder@example.test"]
    link = re.search(r"http://localhost:\d+(/signup/verify/[^/\s]+/)", message.body).group(1)
    html = message.alternatives[0][0]
    assert escape(XSS_NAME) in html or "&lt;script&gt;" in html
    assert "<script>alert(1)</script>" not in html

    page = _platform().get(link)
    assert page.status_code == 200
    assert_inert(_heading(page))
    assert escape(XSS_NAME) in page.content.decode()

    with tasks_eager():
        made = _platform().post(link)

    assert made.status_code == 302
    school = Tenant.objects.get(subdomain=subdomain)
    assert school.name == " ".join(XSS_NAME.split())
    welcome = urlsplit(made["Location"])
    assert (welcome.hostname, welcome.path[:9]) == (host_of(school), "/welcome/")
    owner_mail = mail.outbox[-1]
    assert owner_mail.to == ["founder@example.test"]
    assert "<script>alert(1)</script>" not in owner_mail.alternatives[0][0]

    browser = Client(HTTP_HOST=host_of(school))
    landed = browser.get(welcome.path)
    assert (landed.status_code, landed["Location"]) == (302, "/dashboard/")
    dashboard = browser.get("/dashboard/")
    assert dashboard.status_code == 200
    body = dashboard.content.decode()
    banner = re.search(r'<ul class="messages">.*?</ul>', body, re.S).group(0)
    assert_inert(banner)
    assert re.search(r'href="/password-reset/[^"]+/[^"]+/"', banner)
    header = re.search(r'<header class="site-header">.*?</a>', body, re.S).group(0)
    assert_inert(header)
    # The link works once; the verified link cannot make the school twice.
    assert Client(HTTP_HOST=host_of(school)).get(welcome.path).status_code == 400
    again = _platform().post(link)
    assert again.status_code == 409
    assert Tenant.objects.filter(subdomain=subdomain).count() == 1


@pytest.mark.django_db
def test_bad_sign_up_links_and_forms(tenant, other_tenant, settings):
    claim = SignupClaim(name="Late school", subdomain="late-school", email="late@example.test")
    token = signup_token(claim)
    assert _platform().get(f"/signup/verify/{token[:-2]}xx/").status_code == 400
    settings.SCHOOL_SIGNUP_LINK_MAX_AGE = -1
    expired = _platform().post(f"/signup/verify/{token}/")
    assert expired.status_code == 400
    assert not Tenant.objects.filter(subdomain="late-school").exists()

    taken = _platform().post(
        "/signup/", {"name": "Dup", "subdomain": tenant.subdomain, "email": "d@example.test"}
    )
    reserved = _platform().post(
        "/signup/", {"name": "Dup", "subdomain": "admin", "email": "d@example.test"}
    )
    invalid = _platform().post("/signup/", {"name": "", "subdomain": "ok-name", "email": "nope"})
    assert [taken.status_code, reserved.status_code, invalid.status_code] == [409, 400, 400]
    assert b"already taken" in taken.content and b"reserved" in reserved.content
    assert mail.outbox == []
    # The pages exist on the platform host only.
    assert Client(HTTP_HOST=host_of(tenant)).get("/signup/").status_code == 200  # the student's
    assert Client(HTTP_HOST=host_of(tenant)).get(f"/signup/verify/{token}/").status_code == 404


@pytest.mark.django_db
def test_log_in_links_are_single_use_short_lived_and_bound_to_their_school(tenant, other_tenant):
    owner = make_user(tenant, "link-owner@alpha.test", role="owner")
    url = login_link_create(tenant=tenant, user_id=owner.pk)
    path = urlsplit(url).path
    # This link's row only: other tests' committed links may be in the public schema too.
    link = LoginLink.objects.filter(schema_name=tenant.schema_name, user_id=owner.pk)

    on_other = Client(HTTP_HOST=host_of(other_tenant)).get(path)
    assert on_other.status_code == 400
    assert settings.SESSION_COOKIE_NAME not in on_other.cookies

    link.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client(HTTP_HOST=host_of(tenant)).get(path).status_code == 400
    link.update(expires_at=timezone.now() + timedelta(seconds=60))
    browser = Client(HTTP_HOST=host_of(tenant))
    assert browser.get(path).status_code == 302
    with in_tenant(tenant):
        assert browser.get("/api/v1/auth/me").json()["email"] == "link-owner@alpha.test"
    assert Client(HTTP_HOST=host_of(tenant)).get(path).status_code == 400
    assert link.get().used_at is not None
    stored = link.get().token_hash
    assert path.split("/")[2] not in stored


@pytest.mark.django_db
def test_the_forms_are_rate_limited_per_ip(monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "school_signup_ip", "2/h")
    form = {"name": "Flood", "subdomain": "Bad_Name", "email": "f@example.test"}
    answers = [_platform().post("/signup/", form, REMOTE_ADDR="198.51.100.7") for _ in range(3)]
    other_ip = _platform().post("/signup/", form, REMOTE_ADDR="198.51.100.8")

    assert [a.status_code for a in answers] == [400, 400, 429]
    assert int(answers[2]["Retry-After"]) > 0
    assert other_ip.status_code == 400
    link = f"/signup/verify/{signup_token(SignupClaim('F', 'flood-x', 'f@example.test'))}/"
    limited = _platform().post(link, REMOTE_ADDR="198.51.100.7")
    assert limited.status_code == 429
    assert not Tenant.objects.filter(subdomain="flood-x").exists()
