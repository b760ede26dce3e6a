"""``manage.py suspend_tenant <subdomain>``: stop serving a school (API.md: Management
commands)."""

from django.core.management.base import BaseCommand, CommandError

from tenants.errors import ApplicationError
from tenants.services import tenant_get, tenant_suspend


class Command(BaseCommand):
    help = "Suspend a school: its hosts answer 404 TENANT_SUSPENDED; nothing is deleted."

    def add_arguments(self, parser):
        parser.add_argument("subdomain")

    def handle(self, *args, **options):
        try:
            tenant = tenant_get(options["subdomain"])
            changed = tenant_suspend(tenant)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if changed:
            self.stdout.write(f"Suspended {tenant.subdomain}.")
        else:
            self.stdout.write(f"{tenant.subdomain} was already suspended.")
