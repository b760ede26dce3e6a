"""Custom domains in the kernel (tenants.domains, tenants.tls): name validation, the DNS proof
against a DNS server of the test (tests/dns.py), the statuses and schedule, every host lookup
serving only verified domains, and the TLS proxy's allowlist."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client, TestCase
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants import tls
from tenants.asgi import _school_for_hostname
from tenants.domains import (
    DomainInvalid,
    DomainTaken,
    dns_check,
    domain_check,
    domain_create,
    domain_delete,
    domains_due,
)
from tenants.errors import Conflict, NotFound
from tenants.middleware import tenant_lookup
from tenants.models import Domain

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _dns(dns):
    """Every test here asks the test's DNS server (tests/plugins/dns.py)."""


def _proved(dns, domain: Domain, *, target: str = "alpha.localhost") -> None:
    dns.records[f"_lectern.{domain.domain}"] = [("TXT", domain.token)]
    dns.records[domain.domain] = [("CNAME", target)]


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("courses.example.com", "courses.example.com"),
        ("  Courses.Example.COM.  ", "courses.example.com"),
        ("example.org", "example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("a-b.c-d.example.co.uk", "a-b.c-d.example.co.uk"),
    ],
)
def test_names_are_normalised(tenant, text, name):
    assert domain_create(tenant=tenant, domain=text).domain == name


ONLY_NAME = "Enter only the domain name, without https://, a port or a path."
CHARS = "This is not a valid domain name: use letters, digits, hyphens and dots only."
PLATFORM = "Names under localhost belong to the platform: your school already has its own."
FULL = "Enter a full domain name, such as courses.example.com."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Enter a domain name, such as courses.example.com."),
        ("https://courses.example.com/", ONLY_NAME),
        ("courses.example.com:8443", ONLY_NAME),
        ("192.0.2.10", "Enter a domain name, not an IP address."),
        ("localhost2", FULL),
        ("courses.example.123", FULL),
        ("-bad.example.com", CHARS),
        ("a..example.com", "This is not a valid domain name."),
        ("under_score.example.com", CHARS),
        ("x" * 64 + ".example.com", "This is not a valid domain name."),
        ("<script>.example.com", CHARS),
        ("localhost", PLATFORM),
        ("beta.localhost", PLATFORM),
    ],
)
def test_names_that_are_not_a_schools_domain_are_refused(tenant, text, reason):
    with pytest.raises(DomainInvalid) as caught:
        domain_create(tenant=tenant, domain=text)

    assert (caught.value.status, caught.value.message) == (400, reason)
    assert caught.value.details == {"domain": [reason]}
    assert not Domain.objects.filter(tenant=tenant, kind="custom").exists()


def test_a_domain_belongs_to_one_school(tenant, other_tenant, settings):
    domain_create(tenant=tenant, domain="taken.example.com")

    with pytest.raises(DomainTaken) as other:
        domain_create(tenant=other_tenant, domain="Taken.example.com")
    with pytest.raises(DomainTaken) as again:
        domain_create(tenant=tenant, domain="taken.example.com")
    settings.DOMAIN_MAX_PER_SCHOOL = 2
    domain_create(tenant=tenant, domain="second.example.com")
    with pytest.raises(Conflict) as limit:
        domain_create(tenant=tenant, domain="third.example.com")

    assert (other.value.status, other.value.code, other.value.message) == (
        409,
        "DOMAIN_TAKEN",
        "taken.example.com is already used by another school.",
    )
    assert again.value.message == "Your school already has taken.example.com."
    assert (limit.value.code, limit.value.message) == (
        "DOMAIN_LIMIT",
        "A school can have at most 2 custom domains.",
    )
    assert not Domain.objects.filter(domain="third.example.com").exists()
    assert Domain.objects.filter(tenant=other_tenant, kind="custom").count() == 0


def test_a_new_domain_is_pending_with_its_token_and_due_now(tenant):
    before = timezone.now()
    domain = domain_create(tenant=tenant, domain="new.example.com")

    assert (domain.kind, domain.status, domain.is_primary, domain.served) == (
        "custom",
        "pending",
        False,
        False,
    )
    assert len(domain.token) == 32 and int(domain.token, 16) >= 0
    assert before <= domain.next_check_at <= timezone.now()
    assert list(domains_due()) == [domain]


# ----------------------------------------------------------------------------- DNS


def test_dns_check_says_what_is_wrong_in_plain_words(dns, settings):
    def check(domain, target="alpha.localhost"):
        return dns_check(domain=domain, token="t0ken", cname_target=target)

    dns.records.update(
        {
            "cname.example": [("CNAME", "alpha.localhost")],
            "_lectern.cname.example": [("TXT", "t0ken")],
            "apex.example": [("A", "127.0.0.1"), ("AAAA", "::1")],
            "_lectern.apex.example": [("TXT", "t0ken")],
            "notxt.example": [("CNAME", "alpha.localhost")],
            "wrongtxt.example": [("CNAME", "alpha.localhost")],
            "_lectern.wrongtxt.example": [("TXT", "other")],
            "elsewhere.example": [("CNAME", "shop.hosting.test")],
            "_lectern.elsewhere.example": [("TXT", "t0ken")],
            "foreign.example": [("A", "198.51.100.7")],
            "_lectern.foreign.example": [("TXT", "t0ken")],
            "txtonly.example": [("TXT", "x")],
            "_lectern.txtonly.example": [("TXT", "t0ken")],
        }
    )
    dns.silent.add("slow.example")

    assert check("cname.example").ok
    assert check("apex.example").ok
    assert [
        check(name).reason
        for name in (
            "missing.example",
            "notxt.example",
            "wrongtxt.example",
            "elsewhere.example",
            "foreign.example",
            "txtonly.example",
            "slow.example",
        )
    ] == [
        "No such domain: missing.example does not exist in DNS yet.",
        "The TXT record _lectern.notxt.example is missing.",
        "The TXT record _lectern.wrongtxt.example has the wrong value: it must be exactly t0ken.",
        "elsewhere.example points elsewhere: its CNAME is shop.hosting.test, not alpha.localhost.",
        "foreign.example points elsewhere: its addresses are 198.51.100.7; it needs a CNAME to "
        "alpha.localhost or the addresses 127.0.0.1, ::1.",
        "txtonly.example has no CNAME record: point it to alpha.localhost.",
        "The DNS servers did not answer in time; the check will be tried again.",
    ]
    # Without DOMAIN_PLATFORM_ADDRESSES only a CNAME proves the name.
    settings.DOMAIN_PLATFORM_ADDRESSES = []
    assert check("apex.example").reason == (
        "apex.example points elsewhere: its addresses are 127.0.0.1, ::1; it needs a CNAME to "
        "alpha.localhost."
    )


def test_the_cname_target_setting_replaces_the_schools_host(tenant, dns, settings):
    settings.DOMAIN_CNAME_TARGET = "Edge.Lectern.test."
    domain = domain_create(tenant=tenant, domain="edge.example.com")
    _proved(dns, domain)

    first = domain_check(domain_id=domain.pk)
    dns.records[domain.domain] = [("CNAME", "edge.lectern.test")]
    second = domain_check(domain_id=domain.pk)

    assert first.domain.reason == (
        "edge.example.com points elsewhere: its CNAME is alpha.localhost, not edge.lectern.test."
    )
    assert (second.event, second.domain.status) == ("verified", "verified")


# ----------------------------------------------------------------------------- statuses


def test_a_verified_domain_is_served_by_every_host_lookup(tenant, dns):
    domain = domain_create(tenant=tenant, domain="served.example.com")
    http = Client(HTTP_HOST="served.example.com")

    before = http.get("/api/v1/catalog/courses")
    lookups_before = (
        tenant_lookup("served.example.com"),
        _school_for_hostname.func("served.example.com"),
    )
    failed = domain_check(domain_id=domain.pk)
    _proved(dns, domain)
    verified = domain_check(domain_id=domain.pk)
    after = http.get("/api/v1/catalog/courses")

    assert (before.status_code, before.json()["error"]["code"]) == (404, "UNKNOWN_HOST")
    assert lookups_before == (None, None)
    assert (failed.event, failed.domain.status, failed.domain.failures) == ("", "pending", 1)
    assert failed.domain.reason == "No such domain: served.example.com does not exist in DNS yet."
    assert (verified.event, verified.domain.status, verified.domain.reason) == (
        "verified",
        "verified",
        "",
    )
    assert verified.domain.failures == 0 and verified.domain.verified_at is not None
    assert after.status_code == 200
    assert tenant_lookup("served.example.com").pk == tenant.pk
    assert _school_for_hostname.func("served.example.com").pk == tenant.pk


def test_pending_checks_back_off_and_give_up(tenant, settings):
    settings.DOMAIN_CHECK_INTERVAL_SECONDS = 300
    settings.DOMAIN_CHECK_MAX_SECONDS = 3600
    settings.DOMAIN_PENDING_DAYS = 7
    domain = domain_create(tenant=tenant, domain="never.example.com")
    start = domain.created_at

    delays = []
    for hours in (0, 1, 2, 3, 4, 5):
        now = start + timedelta(hours=hours)
        checked = domain_check(domain_id=domain.pk, now=now).domain
        delays.append((checked.next_check_at - now).total_seconds())
    late = domain_check(domain_id=domain.pk, now=start + timedelta(days=7))

    assert delays == [300, 600, 1200, 2400, 3600, 3600]
    assert (late.event, late.domain.status, late.domain.next_check_at) == ("failed", "failed", None)
    assert late.domain.reason == "No such domain: never.example.com does not exist in DNS yet."
    assert domain.pk not in [due.pk for due in domains_due(now=start + timedelta(days=30))]


def test_drift_keeps_the_domain_for_the_grace_then_stops_serving_it(tenant, dns, settings):
    settings.DOMAIN_DRIFT_GRACE_HOURS = 72
    settings.DOMAIN_RECHECK_HOURS = 24
    settings.DOMAIN_CHECK_MAX_SECONDS = 3600
    domain = domain_create(tenant=tenant, domain="drift.example.com")
    _proved(dns, domain)
    now = timezone.now()
    verified = domain_check(domain_id=domain.pk, now=now).domain
    dns.records[domain.domain] = [("CNAME", "parked.registrar.test")]

    drifted = domain_check(domain_id=domain.pk, now=now + timedelta(days=1))
    still = domain_check(domain_id=domain.pk, now=now + timedelta(days=2))
    _proved(dns, domain)
    recovered = domain_check(domain_id=domain.pk, now=now + timedelta(days=3))
    dns.records.pop(f"_lectern.{domain.domain}")
    again = domain_check(domain_id=domain.pk, now=now + timedelta(days=4))
    gone = domain_check(domain_id=domain.pk, now=now + timedelta(days=7))

    assert verified.next_check_at == now + timedelta(hours=24)
    assert (drifted.event, drifted.domain.status, drifted.domain.served) == (
        "drifted",
        "verified",
        True,
    )
    assert drifted.domain.reason == (
        "drift.example.com points elsewhere: its CNAME is parked.registrar.test, "
        "not alpha.localhost."
    )
    assert drifted.domain.next_check_at == now + timedelta(days=1, hours=1)
    assert (still.event, still.domain.status) == ("", "verified")
    assert (recovered.event, recovered.domain.status, recovered.domain.drifted_at) == (
        "recovered",
        "verified",
        None,
    )
    assert (again.event, again.domain.drifted_at) == ("drifted", now + timedelta(days=4))
    assert (gone.event, gone.domain.status, gone.domain.served) == ("failed", "failed", False)
    assert Client(HTTP_HOST="drift.example.com").get("/api/v1/catalog/courses").status_code == 404


def test_platform_subdomains_are_never_checked_and_other_schools_ids_are_unknown(
    tenant, other_tenant
):
    platform = Domain.objects.get(domain="alpha.localhost")
    domain = domain_create(tenant=tenant, domain="mine.example.com")

    with pytest.raises(NotFound):
        domain_check(domain_id=platform.pk)
    with pytest.raises(NotFound):
        domain_delete(tenant=other_tenant, domain_id=domain.pk)
    with pytest.raises(NotFound):
        domain_delete(tenant=tenant, domain_id=platform.pk)

    assert (platform.kind, platform.status, platform.served) == ("platform", "active", True)
    assert Domain.objects.filter(pk=domain.pk).exists()
    assert Domain.objects.filter(pk=platform.pk).exists()


# ----------------------------------------------------------------------------- TLS allowlist


def _ask(name: str, **extra):
    return Client(REMOTE_ADDR=extra.pop("REMOTE_ADDR", "127.0.0.1"), **extra).get(
        "/internal/tls-allowed", {"domain": name}, HTTP_HOST="127.0.0.1:8000"
    )


@pytest.fixture
def fresh_allowlist():
    tls.tls_allowlist_changed()
    yield
    tls.tls_allowlist_changed()


def test_the_proxy_may_ask_only_for_served_hosts_of_active_schools(
    tenant, dns, fresh_allowlist, django_assert_num_queries
):
    pending = domain_create(tenant=tenant, domain="pending.example.com")
    verified = domain_create(tenant=tenant, domain="shop.example.com")
    _proved(dns, verified)
    domain_check(domain_id=verified.pk)
    tls.tls_allowlist_changed()

    answers = {
        name: _ask(name).status_code
        for name in (
            "alpha.localhost",
            "BETA.localhost.",
            "shop.example.com",
            "pending.example.com",
            "localhost",
            "unknown.example.com",
            "",
        )
    }
    with django_assert_num_queries(0):
        repeated = [_ask("unknown.example.com").status_code, _ask("alpha.localhost").status_code]

    assert answers == {
        "alpha.localhost": 200,
        "BETA.localhost.": 200,
        "shop.example.com": 200,
        "pending.example.com": 404,
        "localhost": 404,  # the platform host gets no school's certificate
        "unknown.example.com": 404,
        "": 404,
    }
    assert _ask("shop.example.com").json() == {"domain": "shop.example.com"}
    assert repeated == [404, 200]
    # The first ask for a verified domain made it active; pending stays pending.
    assert Domain.objects.get(pk=verified.pk).status == "active"
    assert Domain.objects.get(pk=pending.pk).status == "pending"


def test_only_the_proxy_may_ask(tenant, fresh_allowlist, settings):
    settings.TLS_ASK_ALLOWED_NETWORKS = ["127.0.0.0/8", "10.1.0.0/16"]

    answers = [
        _ask("alpha.localhost", REMOTE_ADDR="192.0.2.1"),
        _ask("alpha.localhost", REMOTE_ADDR="10.2.0.1"),
        _ask("alpha.localhost", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9"),
        _ask("alpha.localhost", REMOTE_ADDR="10.1.3.4"),
    ]
    post = Client(REMOTE_ADDR="127.0.0.1").post("/internal/tls-allowed?domain=alpha.localhost")

    assert [a.status_code for a in answers] == [403, 403, 403, 200]
    assert answers[0].json()["error"]["code"] == "PERMISSION_DENIED"
    assert post.status_code == 405


def test_a_change_reaches_every_process_through_the_shared_version(
    tenant, dns, fresh_allowlist, settings
):
    settings.TLS_ALLOWED_CACHE_SECONDS = 3600
    settings.TLS_ALLOWED_VERSION_SECONDS = 0
    domain = domain_create(tenant=tenant, domain="late.example.com")
    _proved(dns, domain)
    assert _ask("late.example.com").status_code == 404
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        domain_check(domain_id=domain.pk)
    # Verified in the database, but this process's copy is fresh and the version unchanged.
    assert _ask("late.example.com").status_code == 404

    # Another process committed the change and wrote a new version.
    with schema_context("public"):
        cache.set(tls.VERSION_KEY, "written-by-another-process", timeout=None)
    after_version = _ask("late.example.com").status_code
    domain_delete(tenant=tenant, domain_id=domain.pk)
    tls.tls_allowlist_changed()  # the delete's on-commit callback

    assert [callback.__name__ for callback in callbacks] == ["tls_allowlist_changed"]
    assert after_version == 200
    assert _ask("late.example.com").status_code == 404


def test_a_suspended_school_gets_no_certificate(tenant, fresh_allowlist):
    from tenants.services import tenant_reactivate, tenant_suspend

    with TestCase.captureOnCommitCallbacks(execute=True):
        tenant_suspend(tenant)
    suspended = _ask("alpha.localhost").status_code
    with TestCase.captureOnCommitCallbacks(execute=True):
        tenant_reactivate(tenant)

    assert (suspended, _ask("alpha.localhost").status_code) == (404, 200)
