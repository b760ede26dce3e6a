"""``manage.py reactivate_tenant <subdomain>``: serve a suspended school again (API.md:
Management commands)."""

from django.core.management.base import BaseCommand, CommandError

from tenants.errors import ApplicationError
from tenants.services import tenant_get, tenant_reactivate


class Command(BaseCommand):
    help = "Reactivate a suspended school: its hosts serve it again."

    def add_arguments(self, parser):
        parser.add_argument("subdomain")

    def handle(self, *args, **options):
        try:
            tenant = tenant_get(options["subdomain"])
            changed = tenant_reactivate(tenant)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if changed:
            self.stdout.write(f"Reactivated {tenant.subdomain}.")
        else:
            self.stdout.write(f"{tenant.subdomain} was already active.")
