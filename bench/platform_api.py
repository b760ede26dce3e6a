"""Platform API benchmark: how long ``POST /api/v1/platform/tenants`` takes to make a school.

Run it from the repository root (PostgreSQL and Redis up, ``make install`` done)::

    BENCH_DATABASE=lectern_bench .venv/bin/python -m bench.platform_api [--rounds 7]

One real ``uvicorn config.asgi:application`` process serves the platform host; ``--rounds``
schools are made one after the other through the API with a platform API key (the schema
copied from the template, the owner account, the welcome mail queued), each request timed from
the first byte sent to the last byte of the 201 answer; p50 and the slowest are printed in
seconds. Every school made here, and the key, are deleted again.
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import bench_django, bench_env, bench_tenant, web_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="schools made through the API")
    args = parser.parse_args(argv)

    bench_django()
    from django.conf import settings

    from schools.services import platform_api_key_create
    from tenants.models import Tenant
    from tenants.services import tenant_delete

    bench_tenant()  # the platform and its clone template
    key, raw = platform_api_key_create(name="bench platform_api")
    subdomains = [f"bench-api-{secrets.token_hex(4)}" for _ in range(args.rounds)]
    seconds = []
    log = Path(tempfile.mkdtemp(prefix="lectern-bench-platform-")) / "uvicorn.log"
    try:
        with web_server(env=bench_env(), log=log) as (_process, base_url):
            address = urlsplit(base_url)
            for subdomain in subdomains:
                body = json.dumps(
                    {"name": "Bench API", "subdomain": subdomain, "owner_email": "o@bench.test"}
                )
                connection = http.client.HTTPConnection(address.hostname, address.port)
                started = time.perf_counter()
                connection.request(
                    "POST",
                    "/api/v1/platform/tenants",
                    body=body,
                    headers={
                        "Host": settings.PLATFORM_DOMAIN,
                        "Authorization": f"Bearer {raw}",
                        "Content-Type": "application/json",
                    },
                )
                response = connection.getresponse()
                response.read()
                seconds.append(time.perf_counter() - started)
                connection.close()
                if response.status != 201:
                    raise SystemExit(f"{subdomain}: {response.status}")
    finally:
        for tenant in Tenant.objects.filter(subdomain__in=subdomains):
            tenant_delete(tenant)
        key.delete()
    print(
        f"provisioning through the API, {args.rounds} schools: p50 "
        f"{statistics.median(seconds):.3f} s, slowest {max(seconds):.3f} s, fastest "
        f"{min(seconds):.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
