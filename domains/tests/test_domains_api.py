"""The owner's custom domains: API (``/api/v1/school/domains``), the dashboard's Domains page,
the beat task and the owners' notices, against the test's DNS server (tests/plugins/dns.py)."""

import html
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from domains.tasks import domains_check
from tenants.models import Domain
from tenants.testing import TenantClient, browser, make_user, tasks_eager, tasks_run_on_commit
from tests.xss import XSS_CORPUS

pytestmark = pytest.mark.django_db

URL = "/api/v1/school/domains"


@pytest.fixture
def owner(tenant):
    return make_user(tenant, "owner-dom@alpha.test", role="owner")


@pytest.fixture
def api(tenant, owner):
    return TenantClient(tenant, user=owner)


def _prove(dns, body: dict) -> None:
    records = body["records"]
    dns.records[records["txt"]["name"]] = [("TXT", records["txt"]["value"])]
    dns.records[records["cname"]["name"]] = [("CNAME", records["cname"]["target"])]


def test_the_owner_adds_a_domain_and_gets_the_records_to_create(api, tenant, dns):
    created = api.post(URL, {"domain": "Courses.Example.com"}, format="json")

    assert created.status_code == 201
    body = created.json()
    row = Domain.objects.get(pk=body["id"])
    assert body == {
        "id": row.pk,
        "domain": "courses.example.com",
        "status": "pending",
        "served": False,
        "reason": "Not checked yet: create the DNS records below.",
        "records": {
            "txt": {"name": "_lectern.courses.example.com", "value": row.token},
            "cname": {"name": "courses.example.com", "target": "alpha.localhost"},
            "addresses": ["127.0.0.1", "::1"],
        },
        "created_at": body["created_at"],
        "checked_at": None,
        "verified_at": None,
        "drifted_at": None,
        "next_check_at": body["next_check_at"],
    }
    assert row.tenant_id == tenant.pk
    listed = api.get(URL).json()
    assert (listed["count"], [d["domain"] for d in listed["results"]]) == (
        1,
        ["courses.example.com"],
    )
    assert api.get(f"{URL}/{row.pk}").json()["records"]["txt"]["value"] == row.token


def test_check_now_verifies_and_tells_the_owners(api, owner, dns):
    body = api.post(URL, {"domain": "learn.example.com"}, format="json").json()
    check = f"{URL}/{body['id']}/check"

    with tasks_run_on_commit():
        missing = api.post(check)
    mails_before = len(mail.outbox)
    _prove(dns, body)
    with tasks_run_on_commit():
        verified = api.post(check)

    assert (missing.status_code, missing.json()["status"], missing.json()["reason"]) == (
        200,
        "pending",
        "No such domain: learn.example.com does not exist in DNS yet.",
    )
    assert mails_before == 0
    assert (verified.json()["status"], verified.json()["served"], verified.json()["reason"]) == (
        "verified",
        True,
        "",
    )
    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == ["owner-dom@alpha.test", "owner@alpha.test"]
    assert {message.subject for message in mail.outbox} == {"learn.example.com is verified"}
    assert "http://alpha.localhost:8000/dashboard/domains/" in mail.outbox[0].body


def test_bad_names_and_taken_domains_get_clear_errors(api, other_tenant):
    other = TenantClient(other_tenant, user=make_user(other_tenant, "o@beta.test", role="owner"))
    other.post(URL, {"domain": "taken.example.com"}, format="json")

    bad = api.post(URL, {"domain": "https://taken.example.com/path"}, format="json")
    empty = api.post(URL, {}, format="json")
    platform = api.post(URL, {"domain": "beta.localhost"}, format="json")
    taken = api.post(URL, {"domain": "taken.example.com"}, format="json")

    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert bad.json()["error"]["details"] == {
        "domain": ["Enter only the domain name, without https://, a port or a path."]
    }
    assert (empty.status_code, empty.json()["error"]["details"]) == (
        400,
        {"domain": ["This field is required."]},
    )
    assert platform.json()["error"]["details"]["domain"] == [
        "Names under localhost belong to the platform: your school already has its own."
    ]
    assert (taken.status_code, taken.json()["error"]) == (
        409,
        {
            "code": "DOMAIN_TAKEN",
            "message": "taken.example.com is already used by another school.",
            "details": {},
            "request_id": taken.json()["error"]["request_id"],
        },
    )
    assert api.get(URL).json()["count"] == 0


def test_only_the_owner_manages_domains(tenant, api):
    domain_id = api.post(URL, {"domain": "own.example.com"}, format="json").json()["id"]
    instructor = TenantClient(tenant, user=make_user(tenant, "i-dom@alpha.test", "instructor"))
    student = TenantClient(tenant, user=make_user(tenant, "s-dom@alpha.test"))
    anonymous = TenantClient(tenant)

    answers = [
        (
            client.get(URL).status_code,
            client.post(URL, {"domain": "x.example.com"}, format="json").status_code,
            client.delete(f"{URL}/{domain_id}").status_code,
            client.post(f"{URL}/{domain_id}/check").status_code,
        )
        for client in (instructor, student, anonymous)
    ]

    assert answers == [(403, 403, 403, 403), (403, 403, 403, 403), (401, 401, 401, 401)]
    assert list(Domain.objects.filter(tenant=tenant, kind="custom").values_list("domain")) == [
        ("own.example.com",)
    ]


def test_another_schools_owner_sees_no_domain_of_ours(api, other_tenant, dns):
    body = api.post(URL, {"domain": "alpha-only.example.com"}, format="json").json()
    other = TenantClient(other_tenant, user=make_user(other_tenant, "o2@beta.test", role="owner"))
    _prove(dns, body)
    platform_id = Domain.objects.get(domain="alpha.localhost").pk

    answers = [
        other.get(f"{URL}/{body['id']}").status_code,
        other.post(f"{URL}/{body['id']}/check").status_code,
        other.delete(f"{URL}/{body['id']}").status_code,
        other.get(URL).json()["count"],
        api.delete(f"{URL}/{platform_id}").status_code,
    ]

    assert answers == [404, 404, 404, 0, 404]
    row = Domain.objects.get(pk=body["id"])
    assert (row.status, row.checked_at) == ("pending", None)
    assert Domain.objects.filter(pk=platform_id).exists()


def test_the_owner_removes_a_domain(api, dns):
    body = api.post(URL, {"domain": "gone.example.com"}, format="json").json()

    removed = api.delete(f"{URL}/{body['id']}")
    again = api.delete(f"{URL}/{body['id']}")

    assert (removed.status_code, again.status_code) == (204, 404)
    assert not Domain.objects.filter(domain="gone.example.com").exists()


def test_the_beat_checks_due_domains_once(api, dns):
    due = api.post(URL, {"domain": "due.example.com"}, format="json").json()
    later = api.post(URL, {"domain": "later.example.com"}, format="json").json()
    Domain.objects.filter(pk=later["id"]).update(next_check_at=timezone.now() + timedelta(hours=1))
    _prove(dns, due)

    with tasks_eager():
        queued = domains_check.delay().get()
    with tasks_eager():
        again = domains_check.delay().get()

    assert (queued, again) == (1, 0)
    assert Domain.objects.get(pk=due["id"]).status == "verified"
    assert Domain.objects.get(pk=later["id"]).checked_at is None


# ----------------------------------------------------------------------------- the page


def test_the_domains_page_shows_records_status_and_reason(tenant, owner, dns):
    page = browser(tenant, owner)

    added = page.post("/dashboard/domains/", {"domain": "page.example.com"})
    row = Domain.objects.get(domain="page.example.com")
    checked = page.post(f"/dashboard/domains/{row.pk}/check/", follow=True)
    body = checked.content.decode()

    assert (added.status_code, added["Location"]) == (302, "/dashboard/domains/")
    assert checked.status_code == 200
    assert "_lectern.page.example.com" in body and row.token in body
    assert "alpha.localhost" in body and "127.0.0.1" in body
    assert 'data-status="pending"' in body
    assert "No such domain: page.example.com does not exist in DNS yet." in body
    assert "Content-Security-Policy" in checked.headers

    removed = page.post(f"/dashboard/domains/{row.pk}/remove/")
    assert removed.status_code == 302
    assert not Domain.objects.filter(pk=row.pk).exists()


def test_the_domains_page_is_the_owners_and_ours_only(tenant, other_tenant, owner):
    row = Domain.objects.create(
        domain="ours.example.com", tenant=tenant, token="t" * 32, is_primary=False
    )
    instructor = browser(tenant, make_user(tenant, "ip-dom@alpha.test", "instructor"))
    other_owner = browser(other_tenant, make_user(other_tenant, "op@beta.test", role="owner"))

    answers = [
        instructor.get("/dashboard/domains/").status_code,
        instructor.post("/dashboard/domains/", {"domain": "i.example.com"}).status_code,
        browser(tenant).get("/dashboard/domains/").status_code,
        other_owner.post(f"/dashboard/domains/{row.pk}/check/").status_code,
        other_owner.post(f"/dashboard/domains/{row.pk}/remove/").status_code,
    ]
    other_page = other_owner.get("/dashboard/domains/").content.decode()

    assert answers == [403, 403, 302, 404, 404]
    assert "ours.example.com" not in other_page
    assert Domain.objects.filter(pk=row.pk, checked_at=None).exists()
    assert not Domain.objects.filter(domain="i.example.com").exists()


def test_xss_in_the_domain_field_is_refused_and_shown_inert(tenant, owner, api):
    page = browser(tenant, owner)

    for payload in XSS_CORPUS:
        answer = page.post("/dashboard/domains/", {"domain": payload})
        assert answer.status_code == 400, payload
        body = answer.content.decode()
        if any(c in payload for c in "<>\"'"):
            assert payload not in body, payload
        assert html.escape(payload.strip(), quote=True)[:40] in body, payload
        assert api.post(URL, {"domain": payload}, format="json").status_code == 400, payload

    assert not Domain.objects.filter(tenant=tenant, kind="custom").exists()


def test_the_demo_school_shows_a_verified_and_a_pending_domain(tenant):
    from analytics.management.commands.seed_demo import (
        PENDING_DOMAIN,
        VERIFIED_DOMAIN,
        _demo_domains,
    )

    _demo_domains(tenant=tenant)
    _demo_domains(tenant=tenant)  # idempotent

    rows = {d.domain: d for d in Domain.objects.filter(tenant=tenant, kind="custom")}
    assert sorted(rows) == [PENDING_DOMAIN, VERIFIED_DOMAIN]
    assert (rows[VERIFIED_DOMAIN].status, rows[VERIFIED_DOMAIN].reason) == ("verified", "")
    assert (rows[PENDING_DOMAIN].status, rows[PENDING_DOMAIN].reason) == (
        "pending",
        f"The TXT record _lectern.{PENDING_DOMAIN} is missing.",
    )
