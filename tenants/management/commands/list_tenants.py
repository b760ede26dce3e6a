"""``manage.py list_tenants [--json]``: every school with its usage (API.md: Management
commands)."""

import json

from django.core.management.base import BaseCommand

from tenants.models import Tenant
from tenants.services import format_bytes, tenant_usage

COLUMNS = ("subdomain", "name", "status", "domains", "students", "lecture hours", "storage")


class Command(BaseCommand):
    help = (
        "List every school: subdomain, name, status, domains, students, lecture hours and "
        "storage used (counted now, not from the cache)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json",
            action="store_true",
            help="print a JSON array of {subdomain, name, status, domains, students, "
            "lecture_hours, storage_bytes}",
        )

    def handle(self, *args, **options):
        rows = []
        schools = Tenant.objects.filter(kind=Tenant.Kind.SCHOOL).prefetch_related("domains")
        for tenant in schools.order_by("subdomain"):
            usage = tenant_usage(tenant, refresh=True)
            domains = sorted(tenant.domains.all(), key=lambda d: (not d.is_primary, d.domain))
            rows.append(
                {
                    "subdomain": tenant.subdomain,
                    "name": tenant.name,
                    "status": tenant.status,
                    "domains": [d.domain for d in domains],
                    "students": usage.students,
                    "lecture_hours": round(usage.lecture_hours, 2),
                    "storage_bytes": usage.storage_bytes,
                }
            )
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        table = [COLUMNS] + [
            (
                row["subdomain"],
                row["name"],
                row["status"],
                ",".join(row["domains"]),
                str(row["students"]),
                f"{row['lecture_hours']:.2f}",
                format_bytes(row["storage_bytes"]),
            )
            for row in rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
        for line in table:
            cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())
