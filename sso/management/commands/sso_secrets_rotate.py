"""``manage.py sso_secrets_rotate``: every school's provider secrets encrypted again with the
current ``SSO_SECRET_KEY`` (README, "Single sign-on": key rotation)."""

from django.core.management.base import BaseCommand
from django_tenants.utils import tenant_context

from sso.services import provider_secrets_rotate
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Encrypt the single sign-on client secrets of every school again with SSO_SECRET_KEY "
        "(the old key listed in SSO_SECRET_KEY_FALLBACKS until this has run)."
    )

    def handle(self, *args, **options):
        total = unreadable = 0
        for tenant in Tenant.objects.filter(kind=Tenant.Kind.SCHOOL).order_by("schema_name"):
            with tenant_context(tenant):
                rotated, lost = provider_secrets_rotate()
            total += rotated
            unreadable += lost
            if lost:
                self.stderr.write(
                    f"{tenant.subdomain}: {lost} secret(s) open with no configured key; "
                    "the owner must enter them again."
                )
        self.stdout.write(f"{total} secret(s) encrypted with the current key.")
