"""``manage.py delete_tenant <subdomain> [--yes]``: delete a school, its schema, domains and
media for good (API.md: Management commands)."""

import sys

from django.core.management.base import BaseCommand, CommandError

from tenants.errors import ApplicationError
from tenants.services import tenant_delete, tenant_get, tenant_require_school


class Command(BaseCommand):
    help = (
        "Delete a school for good: its media, schema, domains and tenant row. Asks to type the "
        "subdomain to confirm unless --yes is given. A failed run can be run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument(
            "--yes", action="store_true", help="delete without asking for confirmation"
        )

    def handle(self, *args, **options):
        try:
            tenant = tenant_get(options["subdomain"])
            tenant_require_school(tenant, "delete")
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if not options["yes"]:
            # The question goes to stderr, so stdout carries only the one-line result.
            self.stderr.write(
                f"This deletes {tenant.name!r} ({tenant.subdomain}): its schema, domains and "
                "all its media. Type the subdomain to confirm: ",
                ending="",
            )
            self.stderr.flush()
            typed = sys.stdin.readline()
            if typed.strip() != tenant.subdomain:
                raise CommandError(f"Not deleted: {typed.strip()!r} is not {tenant.subdomain!r}.")
        try:
            tenant_delete(tenant)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Deleted {tenant.subdomain}.")
