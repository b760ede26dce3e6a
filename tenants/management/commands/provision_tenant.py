"""``manage.py provision_tenant``: create a school (API.md: Management commands)."""

import secrets

from django.core.management.base import BaseCommand, CommandError

from tenants.errors import ApplicationError
from tenants.services import tenant_provision


class Command(BaseCommand):
    help = "Create a school: its tenant, schema, domain and owner account."

    def add_arguments(self, parser):
        parser.add_argument("--subdomain", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", help="generated and printed when omitted")
        parser.add_argument("--domain", help="an extra custom domain for the school")

    def handle(self, *args, **options):
        password = options["owner_password"] or secrets.token_urlsafe(12)
        try:
            result = tenant_provision(
                subdomain=options["subdomain"],
                name=options["name"],
                owner_email=options["owner_email"],
                owner_password=password,
                domain=options["domain"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"http://{result.domain}/")
        self.stdout.write(f"owner: {result.owner_email}")
        if not options["owner_password"]:
            self.stdout.write(f"password: {password}")
