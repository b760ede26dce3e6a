"""Tenancy benchmark: what a new school costs to provision, and whether 1,000 schools slow a
request down.

Run it from the repository root (PostgreSQL and Redis up, ``make install`` done)::

    BENCH_DATABASE=lectern_bench .venv/bin/python -m bench.tenants [--rounds 5]
        [--tenants 1000] [--requests 400] [--keep]

Two measurements, each with a goal (PASS/FAIL; exit status 0 when both hold, 1 otherwise):

Provisioning
    ``--rounds`` schools are created the way ``tenant_provision`` creates them, by saving a
    ``Tenant`` row (``Tenant.create_schema`` makes the schema): once on the fast path (the
    schema is a copy of the migrated template ``TENANT_BASE_SCHEMA``, replayed from its DDL
    by ``tenants.schema_template``; TENANT_CREATION_FAKES_MIGRATIONS=True, the project's
    settings) and once on the plain path (``CREATE SCHEMA`` and every tenant migration run by
    django-tenants' ``migrate_schemas``, TENANT_CREATION_FAKES_MIGRATIONS=False). The two
    paths alternate; the median seconds of each are compared. Goal: clone <= 0.2 x migrate.
    For scale, django-tenants' own ``clone_schema`` SQL function is timed on the same
    template (without the ``migrate_schemas --fake`` run django-tenants adds after it). Every
    school made here is dropped again.

Request latency
    ``GET /`` (the school's home page: tenant from the Host header, a catalogue query in the
    school's schema, a rendered template) of the bench school through one real ``uvicorn
    config.asgi:application`` process, ``--requests`` sequential keep-alive requests after 200
    warm-up requests, p50 and p95 in milliseconds; first with the bench school as the only
    school, then with ``--tenants`` schools. Goal: p50 and p95 with 1,000 schools <= 1.1 x
    those with one.

    The other 999 schools are real schools without an owner: their ``Tenant`` rows and primary
    domains (``bt-0001.localhost`` ...) are inserted with ``bulk_create`` and each schema is a
    copy of ``TENANT_BASE_SCHEMA`` made the way ``Tenant.create_schema`` makes it (the
    template's ``django_migrations`` rows are copied with it, so the schemas are fully
    migrated); the time taken is printed. They are dropped at the end unless
    ``--keep`` is given (and reused by a later run if kept). For scale, a third latency figure
    is printed: the same request spread over the home pages of all the schools (a different
    Host on every request: host cache misses, a different schema each time).
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import bench_django, bench_env, bench_tenant, web_server

PROVISION_GOAL = 0.2
LATENCY_GOAL = 1.1
WARM_UP = 200  # requests before the timed ones (imports, connections, caches)
PREFIX = "bt-"
# Schools per transaction when creating them in bulk: each holds locks on every relation it
# creates, and PostgreSQL's default max_locks_per_transaction (64) runs out near 100.
BATCH = 10  # subdomains of the schools this benchmark creates


def _time_save(subdomain: str, *, clone: bool) -> float:
    """Seconds to save a new ``Tenant`` (its schema created by django-tenants)."""
    from django.test import override_settings

    from tenants.models import Tenant

    tenant = Tenant(schema_name=subdomain.replace("-", "_"), subdomain=subdomain, name=subdomain)
    with override_settings(TENANT_CREATION_FAKES_MIGRATIONS=clone):
        started = time.perf_counter()
        tenant.save(verbosity=0)
        elapsed = time.perf_counter() - started
    tenant.delete(force_drop=True)
    return elapsed


def _time_clone_function(subdomain: str) -> float:
    """Seconds of django-tenants' ``clone_schema`` SQL function alone (no tenant row, no
    ``migrate_schemas --fake``): the part of the fast path spent in PostgreSQL."""
    from django.conf import settings
    from django.db import connection
    from django_tenants.clone import CloneSchema

    schema = subdomain.replace("-", "_")
    started = time.perf_counter()
    CloneSchema().clone_schema(settings.TENANT_BASE_SCHEMA, schema, "DATA")
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA {connection.ops.quote_name(schema)} CASCADE")
    return elapsed


def measure_provisioning(rounds: int) -> tuple[float, float, float]:
    """Median seconds of (clone, migrate, clone function alone) over ``rounds`` schools each."""
    clone, migrate, function = [], [], []
    for index in range(rounds):
        clone.append(_time_save(f"{PREFIX}clone-{index}", clone=True))
        migrate.append(_time_save(f"{PREFIX}migrate-{index}", clone=False))
        function.append(_time_clone_function(f"{PREFIX}function-{index}"))
        print(
            f"  round {index + 1}: clone {clone[-1]:.3f} s, migrate {migrate[-1]:.3f} s "
            f"(django-tenants clone_schema SQL alone {function[-1]:.3f} s)"
        )
    return statistics.median(clone), statistics.median(migrate), statistics.median(function)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure_latency(base_url: str, hosts: list[str], requests: int) -> tuple[float, float]:
    """(p50, p95) milliseconds of ``requests`` sequential ``GET /`` on one keep-alive
    connection, cycling through ``hosts``, after WARM_UP requests. Every answer must
    be 200."""
    port = int(base_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    timings = []
    try:
        for index in range(WARM_UP + requests):
            host = hosts[index % len(hosts)]
            started = time.perf_counter()
            connection.request("GET", "/", headers={"Host": host})
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise SystemExit(f"GET / on {host} answered {response.status}")
            if index >= WARM_UP:
                timings.append(elapsed * 1000)
    finally:
        connection.close()
    return _percentile(timings, 0.5), _percentile(timings, 0.95)


def bench_schools() -> list:
    from tenants.models import Tenant

    return list(Tenant.objects.filter(subdomain__startswith=PREFIX).order_by("subdomain"))


def create_schools(count: int) -> float:
    """Create schools ``bt-0001`` ... until ``count`` exist; returns the seconds taken.

    Rows and primary domains are inserted in bulk, BATCH schools per transaction; each schema
    is made by ``tenants.schema_template.schema_create_from_template``, the copy
    ``Tenant.create_schema`` uses, without the per-school owner account.
    """
    from django.conf import settings
    from django.db import connection, transaction

    from tenants.models import Domain, Tenant
    from tenants.schema_template import schema_create_from_template

    existing = {tenant.subdomain for tenant in bench_schools()}
    wanted = [f"{PREFIX}{index:04d}" for index in range(1, count + 1)]
    missing = [subdomain for subdomain in wanted if subdomain not in existing]
    started = time.perf_counter()
    for offset in range(0, len(missing), BATCH):
        batch = missing[offset : offset + BATCH]
        with transaction.atomic():
            tenants = Tenant.objects.bulk_create(
                [Tenant(schema_name=s.replace("-", "_"), subdomain=s, name=s) for s in batch]
            )
            Domain.objects.bulk_create(
                [
                    Domain(
                        domain=f"{t.subdomain}.{settings.PLATFORM_DOMAIN}",
                        tenant=t,
                        kind=Domain.Kind.PLATFORM,
                        status=Domain.Status.ACTIVE,
                    )
                    for t in tenants
                ]
            )
            for tenant in tenants:
                schema_create_from_template(tenant.schema_name, settings.TENANT_BASE_SCHEMA)
            connection.set_schema_to_public()
        if (offset + len(batch)) % 100 == 0 or offset + len(batch) == len(missing):
            print(f"  {offset + len(batch)}/{len(missing)} schools created")
    return time.perf_counter() - started


def drop_schools() -> None:
    """Drop every school this benchmark created (schemas, domains, rows)."""
    from django.db import connection

    for tenant in bench_schools():
        connection.set_schema_to_public()
        tenant.delete(force_drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="schools per provisioning path")
    parser.add_argument("--tenants", type=int, default=1000, help="schools for the 2nd latency")
    parser.add_argument("--requests", type=int, default=400, help="requests per latency figure")
    parser.add_argument("--keep", action="store_true", help="keep the extra schools")
    args = parser.parse_args(argv)

    bench_django()
    from django.db import connection

    from tenants.models import Tenant

    school = bench_tenant()
    host = school.domains.get(is_primary=True).domain
    drop_schools()  # a previous run's schools (kept or interrupted)

    print(f"Provisioning, {args.rounds} schools per path:")
    clone, migrate, function = measure_provisioning(args.rounds)
    provision_ratio = clone / migrate
    print(
        f"provisioning: clone {clone:.3f} s, migrate {migrate:.3f} s, "
        f"ratio {provision_ratio:.3f} (goal <= {PROVISION_GOAL}); django-tenants' clone_schema "
        f"SQL alone {function:.3f} s ({function / migrate:.3f} x migrate)"
    )

    log_dir = Path(tempfile.mkdtemp(prefix="lectern-bench-tenants-"))
    schools_now = Tenant.objects.filter(kind="school").count()
    with web_server(env=bench_env(), log=log_dir / "uvicorn-1.log") as (_process, base_url):
        one = measure_latency(base_url, [host], args.requests)
    print(
        f"latency with {schools_now} school(s): p50 {one[0]:.2f} ms, p95 {one[1]:.2f} ms "
        f"({args.requests} requests)"
    )

    to_create = max(0, args.tenants - schools_now)
    print(f"Creating {to_create} schools (bulk rows + domains, schema clones):")
    seconds = create_schools(to_create)
    connection.set_schema_to_public()
    schools_now = Tenant.objects.filter(kind="school").count()
    created = max(1, to_create)
    print(
        f"created in {seconds:.1f} s ({seconds / created:.3f} s per school, "
        f"{seconds / created / migrate:.3f} x the migrate path); {schools_now} schools now"
    )
    hosts = [f"{t.subdomain}.localhost" for t in bench_schools()] + [host]
    try:
        with web_server(env=bench_env(), log=log_dir / "uvicorn-n.log") as (_process, base_url):
            many = measure_latency(base_url, [host], args.requests)
            spread = measure_latency(base_url, hosts, args.requests)
    finally:
        if not args.keep:
            drop_schools()
    print(
        f"latency with {schools_now} schools: p50 {many[0]:.2f} ms, p95 {many[1]:.2f} ms; "
        f"spread over {len(hosts)} hosts: p50 {spread[0]:.2f} ms, p95 {spread[1]:.2f} ms"
    )
    p50_ratio, p95_ratio = many[0] / one[0], many[1] / one[1]
    print(
        f"latency ratio {schools_now} vs 1: p50 {p50_ratio:.3f}, p95 {p95_ratio:.3f} "
        f"(goal <= {LATENCY_GOAL})"
    )
    ok = provision_ratio <= PROVISION_GOAL and max(p50_ratio, p95_ratio) <= LATENCY_GOAL
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
