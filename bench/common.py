"""Shared set-up for the benchmarks: a database of their own with one provisioned school.

Every bench runs against the real PostgreSQL and Redis with the test settings (a throwaway
media folder per run) and the database ``BENCH_DATABASE`` (default ``lectern_bench``), which is
created, migrated and given the school ``bench`` on first use and reused afterwards.

    from bench.common import bench_django, bench_tenant
    bench_django()            # before importing any Django model
    tenant = bench_tenant()   # tenants.models.Tenant of the school "bench"
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_SUBDOMAIN = "bench"
BENCH_PASSWORD = "bench-owner-pass"  # noqa: S105 (a local benchmark account)


def bench_database_url() -> str:
    """``postgres://postgres@127.0.0.1:5432/<BENCH_DATABASE>``, or ``BENCH_DATABASE_URL``."""
    name = os.environ.get("BENCH_DATABASE", "lectern_bench")
    return os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{name}")


def bench_env() -> dict[str, str]:
    """Environment for the bench process and any server or worker it starts."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    env["DATABASE_URL"] = bench_database_url()
    env.setdefault("PLATFORM_DOMAIN", "localhost")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def bench_django() -> None:
    """Create and migrate the bench database if needed, then ``django.setup()`` this process.

    Raises:
        SystemExit: PostgreSQL is unreachable or a migration fails (its output is printed).
    """
    env = bench_env()
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")})
    os.environ.setdefault("PLATFORM_DOMAIN", env["PLATFORM_DOMAIN"])
    sys.path.insert(0, str(REPO_ROOT))
    for command in (
        [sys.executable, "scripts/ensure_database.py"],
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
    ):
        result = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    import django

    django.setup()


def bench_tenant():
    """The school ``bench`` (``bench.localhost``), provisioned on first use.

    Its owner is ``owner@bench.test`` with ``BENCH_PASSWORD``. Call ``bench_django()`` first.
    """
    from tenants.models import Tenant
    from tenants.services import platform_setup, tenant_provision

    platform_setup()
    tenant = Tenant.objects.filter(subdomain=BENCH_SUBDOMAIN).first()
    if tenant is None:
        tenant = tenant_provision(
            subdomain=BENCH_SUBDOMAIN,
            name="Bench Academy",
            owner_email=f"owner@{BENCH_SUBDOMAIN}.test",
            owner_password=BENCH_PASSWORD,
        ).tenant
    return tenant
