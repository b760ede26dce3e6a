"""``manage.py platform_api_key --name NAME``: make a platform API key and print it once."""

from django.core.management.base import BaseCommand, CommandError

from schools.services import platform_api_key_create
from tenants.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Make a platform API key (Authorization: Bearer <key> on the platform host's "
        "/api/v1/platform/) and print it. Only its hash is kept: copy it now."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="What the key is for (1-100 chars).")

    def handle(self, *args, name: str, **options):
        try:
            row, raw = platform_api_key_create(name=name)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"Platform API key {row.prefix}… ({row.name}) made; it is shown once:")
        self.stdout.write(raw)
