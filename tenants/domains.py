"""Custom domains of a school: validation of the name, the DNS proof that the school's owner
controls it (dnspython), the check schedule with its backoff and drift grace, and the writes
(add, remove, check, activate).

A custom domain is served only once verified (``Domain.served``; the host lookups of
``tenants.middleware`` filter on it). Verification needs both records of the instructions
(``domain_instructions``):

- TXT ``_lectern.<domain>`` holding the domain's ``token`` (proves control of the zone);
- the name itself pointing at the platform: a CNAME to the school's platform host (or
  DOMAIN_CNAME_TARGET), or, for a domain at the root of its zone, which cannot have a CNAME,
  A/AAAA records that are all among DOMAIN_PLATFORM_ADDRESSES.

Schedule (``next_check_at``, run by the beat task of the ``domains`` app): a pending domain
every DOMAIN_CHECK_INTERVAL_SECONDS, doubled per failed check up to DOMAIN_CHECK_MAX_SECONDS,
and ``failed`` after DOMAIN_PENDING_DAYS; a verified or active domain every
DOMAIN_RECHECK_HOURS. When a re-check fails, the domain has drifted: it stays served,
is checked every DOMAIN_CHECK_MAX_SECONDS, and becomes ``failed`` (no longer served) when the
drift lasts DOMAIN_DRIFT_GRACE_HOURS; a passing check before then ends the drift.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import dns.exception
import dns.nameserver
import dns.resolver
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.errors import ApplicationError, Conflict, NotFound
from tenants.models import Domain, Tenant
from tenants.tls import tls_allowlist_changed

# The TXT record's name is this label followed by the domain.
TXT_LABEL = "_lectern"
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


class DomainInvalid(ApplicationError):
    """The text is not a domain name a school may add (400, details under ``domain``)."""

    code = "VALIDATION_ERROR"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message, details={"domain": [message]})


class DomainTaken(Conflict):
    """The domain already belongs to a school, this one or another (409)."""

    code = "DOMAIN_TAKEN"


@dataclass(frozen=True)
class DnsVerdict:
    """What a DNS check found: ``ok`` when both records match, else ``reason`` in plain
    words (one sentence naming the record and what to do)."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class DomainCheck:
    """The result of ``domain_check``: the updated row and what changed, ``event`` one of
    ``verified`` (pending or failed -> verified), ``drifted`` (a served domain's first failed
    re-check), ``recovered`` (its drift ended), ``failed`` (it stopped being served, or a
    pending one gave up) or ``""`` (nothing the owner needs to hear)."""

    domain: Domain
    event: str


def domain_normalize(value: str) -> str:
    """``value`` as the lower-case ASCII host name a school may add (internationalised names
    as punycode, no trailing dot). Raises ``DomainInvalid`` with the reason: not a host name
    (RFC 1123 labels of 1-63 letters, digits and inner hyphens, 253 characters at most, at
    least two labels, an alphabetic top-level label), an IP address, or a name of the
    platform's own domain (PLATFORM_DOMAIN and its subdomains are the schools' platform
    hosts)."""
    name = (value or "").strip().lower().rstrip(".")
    if not name:
        raise DomainInvalid("Enter a domain name, such as courses.example.com.")
    if "/" in name or ":" in name or "@" in name:
        raise DomainInvalid("Enter only the domain name, without https://, a port or a path.")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise DomainInvalid("Enter a domain name, not an IP address.")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise DomainInvalid("This is not a valid domain name.") from None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise DomainInvalid(
            "This is not a valid domain name: use letters, digits, hyphens and dots only."
        )
    platform = settings.PLATFORM_DOMAIN.lower()
    if name == platform or name.endswith("." + platform):
        raise DomainInvalid(
            f"Names under {platform} belong to the platform: your school already has its own."
        )
    if len(labels) < 2 or not _TLD.match(labels[-1]):
        raise DomainInvalid("Enter a full domain name, such as courses.example.com.")
    return name


def domain_cname_target(tenant: Tenant) -> str:
    """The host a custom domain of ``tenant`` must CNAME to: DOMAIN_CNAME_TARGET when set,
    else the school's platform host ``<subdomain>.<PLATFORM_DOMAIN>``."""
    configured = settings.DOMAIN_CNAME_TARGET.strip().lower().rstrip(".")
    return configured or f"{tenant.subdomain}.{settings.PLATFORM_DOMAIN}".lower()


def domain_instructions(domain: Domain) -> dict:
    """The DNS records the owner creates for ``domain``: ``{"txt": {"name", "value"},
    "cname": {"name", "target"}, "addresses": [ip, ...]}`` (the A/AAAA alternative for a
    domain at the root of its zone; empty when DOMAIN_PLATFORM_ADDRESSES is not set)."""
    return {
        "txt": {"name": f"{TXT_LABEL}.{domain.domain}", "value": domain.token},
        "cname": {"name": domain.domain, "target": domain_cname_target(domain.tenant)},
        "addresses": list(settings.DOMAIN_PLATFORM_ADDRESSES),
    }


def dns_resolver() -> dns.resolver.Resolver:
    """A resolver without cache asking DOMAIN_DNS_NAMESERVERS (``ip`` or ``ip:port``; the
    system's resolv.conf when empty), giving up after DOMAIN_DNS_TIMEOUT seconds a query."""
    servers = settings.DOMAIN_DNS_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        nameservers = []
        for server in servers:
            host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
            nameservers.append(dns.nameserver.Do53Nameserver(host or server, int(port or 53)))
        resolver.nameservers = nameservers
    resolver.timeout = resolver.lifetime = settings.DOMAIN_DNS_TIMEOUT
    resolver.cache = None
    return resolver


def _answers(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> list:
    """The records of type ``rdtype`` at ``name``; [] when the name has none of that type.
    Raises NXDOMAIN, timeouts and server failures to the caller."""
    try:
        return list(resolver.resolve(name, rdtype, raise_on_no_answer=False) or [])
    except dns.resolver.NoAnswer:
        return []


def dns_check(*, domain: str, token: str, cname_target: str) -> DnsVerdict:
    """Check the records of ``domain_instructions`` in DNS: the TXT record
    ``_lectern.<domain>`` must hold ``token`` and ``domain`` must be a CNAME to
    ``cname_target`` or have only A/AAAA addresses of DOMAIN_PLATFORM_ADDRESSES. Never
    raises: every failure is a ``DnsVerdict`` with its reason (no such domain, TXT missing,
    TXT with another value, CNAME pointing elsewhere, other addresses, no answer in time,
    DNS servers failing)."""
    resolver = dns_resolver()
    txt_name = f"{TXT_LABEL}.{domain}"
    try:
        cnames = _answers(resolver, domain, "CNAME")
        try:
            texts = [
                b"".join(record.strings).decode("utf-8", "replace")
                for record in _answers(resolver, txt_name, "TXT")
            ]
        except dns.resolver.NXDOMAIN:
            texts = []
        addresses: list[str] = []
        if not cnames:
            for rdtype in ("A", "AAAA"):
                addresses += [record.address for record in _answers(resolver, domain, rdtype)]
    except dns.resolver.NXDOMAIN:
        return DnsVerdict(False, f"No such domain: {domain} does not exist in DNS yet.")
    except dns.exception.Timeout:
        return DnsVerdict(
            False, "The DNS servers did not answer in time; the check will be tried again."
        )
    except (dns.resolver.NoNameservers, dns.exception.DNSException):
        return DnsVerdict(
            False, f"The DNS servers of {domain} failed to answer; the check will be tried again."
        )
    if not texts:
        return DnsVerdict(False, f"The TXT record {txt_name} is missing.")
    if token not in (text.strip() for text in texts):
        return DnsVerdict(
            False, f"The TXT record {txt_name} has the wrong value: it must be exactly {token}."
        )
    if cnames:
        target = str(cnames[0].target).rstrip(".").lower()
        if target != cname_target:
            return DnsVerdict(
                False, f"{domain} points elsewhere: its CNAME is {target}, not {cname_target}."
            )
        return DnsVerdict(True)
    platform = set(settings.DOMAIN_PLATFORM_ADDRESSES)
    if not addresses:
        return DnsVerdict(False, f"{domain} has no CNAME record: point it to {cname_target}.")
    if not platform or not set(addresses) <= platform:
        expected = f" or the addresses {', '.join(sorted(platform))}" if platform else ""
        return DnsVerdict(
            False,
            f"{domain} points elsewhere: its addresses are {', '.join(sorted(addresses))}; "
            f"it needs a CNAME to {cname_target}{expected}.",
        )
    return DnsVerdict(True)


def domain_next_check(domain: Domain, now: datetime) -> datetime:
    """When the beat task should check ``domain`` next (module docstring, "Schedule")."""
    longest = settings.DOMAIN_CHECK_MAX_SECONDS
    if domain.status in Domain.SERVED_STATUSES and domain.drifted_at is None:
        return now + timedelta(hours=settings.DOMAIN_RECHECK_HOURS)
    if domain.drifted_at is not None:
        return now + timedelta(seconds=longest)
    delay = settings.DOMAIN_CHECK_INTERVAL_SECONDS * 2 ** min(max(domain.failures - 1, 0), 20)
    return now + timedelta(seconds=min(delay, longest))


def domains_of(tenant: Tenant):
    """The custom domains of ``tenant``, oldest first."""
    return Domain.objects.filter(tenant=tenant, kind=Domain.Kind.CUSTOM).order_by(
        "created_at", "pk"
    )


def domain_get(*, tenant: Tenant, domain_id: int) -> Domain:
    """The custom domain ``domain_id`` of ``tenant``; raises ``NotFound`` for an unknown id,
    another school's domain or a platform subdomain."""
    try:
        return domains_of(tenant).select_related("tenant").get(pk=domain_id)
    except Domain.DoesNotExist:
        raise NotFound("No such domain.") from None


def domains_due(*, now: datetime | None = None, limit: int = 500):
    """Custom domains whose ``next_check_at`` has come (``failed`` ones are checked only by
    hand), of active schools, earliest first, at most ``limit``."""
    now = now or timezone.now()
    return (
        Domain.objects.filter(
            kind=Domain.Kind.CUSTOM,
            next_check_at__lte=now,
            tenant__kind=Tenant.Kind.SCHOOL,
            tenant__status=Tenant.Status.ACTIVE,
        )
        .exclude(status=Domain.Status.FAILED)
        .select_related("tenant")
        .order_by("next_check_at")[:limit]
    )


def domain_create(*, tenant: Tenant, domain: str) -> Domain:
    """Add the custom domain ``domain`` (``domain_normalize``d) to ``tenant`` as ``pending``,
    with a new token and its first check due now. Raises ``DomainInvalid`` (400),
    ``DomainTaken`` (409) when any school has it, ``Conflict`` (409 ``DOMAIN_LIMIT``) past
    DOMAIN_MAX_PER_SCHOOL custom domains."""
    name = domain_normalize(domain)
    existing = Domain.objects.filter(domain=name).values_list("tenant_id", flat=True).first()
    if existing is not None:
        if existing == tenant.pk:
            raise DomainTaken(f"Your school already has {name}.")
        raise DomainTaken(f"{name} is already used by another school.")
    with transaction.atomic():
        # The school's row orders concurrent adds, so the limit holds.
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        if domains_of(tenant).count() >= settings.DOMAIN_MAX_PER_SCHOOL:
            raise Conflict(
                f"A school can have at most {settings.DOMAIN_MAX_PER_SCHOOL} custom domains.",
                code="DOMAIN_LIMIT",
            )
        try:
            with transaction.atomic():
                row = Domain.objects.create(
                    domain=name,
                    tenant=tenant,
                    is_primary=False,
                    kind=Domain.Kind.CUSTOM,
                    status=Domain.Status.PENDING,
                    token=secrets.token_hex(16),
                    reason="Not checked yet: create the DNS records below.",
                    next_check_at=timezone.now(),
                )
        except IntegrityError:
            raise DomainTaken(f"{name} is already used by another school.") from None
    return row


def domain_delete(*, tenant: Tenant, domain_id: int) -> None:
    """Remove the custom domain ``domain_id`` of ``tenant``: it is no longer served (every
    process's host cache and the proxy's allowlist forget it on commit). Raises ``NotFound``."""
    with transaction.atomic():
        domain = domain_get(tenant=tenant, domain_id=domain_id)
        served = domain.served
        domain.delete()
        if served:
            transaction.on_commit(tls_allowlist_changed)


def domain_check(*, domain_id: int, now: datetime | None = None) -> DomainCheck:
    """Check custom domain ``domain_id`` in DNS now (``dns_check``, outside any transaction)
    and record the result with the status rules of the module docstring. Raises
    ``NotFound`` when the domain is gone or is a platform subdomain."""
    row = (
        Domain.objects.select_related("tenant")
        .filter(pk=domain_id, kind=Domain.Kind.CUSTOM)
        .first()
    )
    if row is None:
        raise NotFound("No such domain.")
    verdict = dns_check(
        domain=row.domain, token=row.token, cname_target=domain_cname_target(row.tenant)
    )
    return domain_check_record(domain_id=domain_id, verdict=verdict, now=now)


def domain_check_record(
    *, domain_id: int, verdict: DnsVerdict, now: datetime | None = None
) -> DomainCheck:
    """Record ``verdict`` for domain ``domain_id`` (the second half of ``domain_check``), under
    the row's lock. Raises ``NotFound`` when the domain is gone."""
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            Domain.objects.select_for_update(of=("self",))
            .select_related("tenant")
            .filter(pk=domain_id, kind=Domain.Kind.CUSTOM)
            .first()
        )
        if row is None:
            raise NotFound("No such domain.")
        was_served = row.served
        event = ""
        row.checked_at = now
        if verdict.ok:
            if row.status in (Domain.Status.PENDING, Domain.Status.FAILED):
                row.status, row.verified_at, event = Domain.Status.VERIFIED, now, "verified"
            elif row.drifted_at is not None:
                event = "recovered"
            row.reason, row.failures, row.drifted_at = "", 0, None
        else:
            row.reason = verdict.reason[:500]
            row.failures += 1
            if row.status in Domain.SERVED_STATUSES:
                if row.drifted_at is None:
                    row.drifted_at, event = now, "drifted"
                elif now - row.drifted_at >= timedelta(hours=settings.DOMAIN_DRIFT_GRACE_HOURS):
                    row.status, event = Domain.Status.FAILED, "failed"
            elif row.status == Domain.Status.PENDING and now - row.created_at >= timedelta(
                days=settings.DOMAIN_PENDING_DAYS
            ):
                row.status, event = Domain.Status.FAILED, "failed"
        failed = row.status == Domain.Status.FAILED
        row.next_check_at = None if failed else domain_next_check(row, now)
        row.save()
        if row.served != was_served:
            transaction.on_commit(tls_allowlist_changed)
    return DomainCheck(domain=row, event=event)


def domain_activate(*, domain: str) -> bool:
    """Mark the verified custom domain ``domain`` ``active`` (the TLS proxy asked for its
    certificate, ``tenants.tls``). Returns whether a row changed; one UPDATE, no lock."""
    return bool(
        Domain.objects.filter(
            domain=domain, kind=Domain.Kind.CUSTOM, status=Domain.Status.VERIFIED
        ).update(status=Domain.Status.ACTIVE)
    )
