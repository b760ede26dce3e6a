"""``manage.py platform_setup``: public tenant, clone template and (optionally) a staff login."""

from django.core.management.base import BaseCommand

from tenants.services import platform_setup


class Command(BaseCommand):
    help = "Create the public tenant, its domain and the schema template (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--staff-email")
        parser.add_argument("--staff-password")

    def handle(self, *args, staff_email=None, staff_password=None, **options):
        platform_setup(staff_email=staff_email, staff_password=staff_password)
        self.stdout.write("Platform ready.")
