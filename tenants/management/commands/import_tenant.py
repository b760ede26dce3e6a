"""``manage.py import_tenant <archive> --subdomain <new>``: a new school made of an archive of
``export_tenant`` (API.md: Management commands)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tenants.errors import ApplicationError
from tenants.portability import school_import
from tenants.services import format_bytes


class Command(BaseCommand):
    help = (
        "Create a school under a new subdomain from an export_tenant archive: its accounts "
        "(same passwords), courses, enrolments, progress and media. Nothing is left behind "
        "when it fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path)
        parser.add_argument("--subdomain", required=True)
        parser.add_argument("--name", help="the school's name (default: the archive's)")
        parser.add_argument("--domain", help="an extra custom domain for the school")

    def handle(self, *args, **options):
        try:
            result = school_import(
                options["archive"],
                options["subdomain"],
                name=options["name"],
                domain=options["domain"],
            )
        except (ApplicationError, OSError) as exc:
            raise CommandError(getattr(exc, "message", None) or str(exc)) from exc
        self.stdout.write(
            f"Imported {options['archive']} as {result.schema_name}: {result.tables} tables, "
            f"{result.rows} rows, {result.files} files ({format_bytes(result.media_bytes)}) "
            f"in {result.seconds:.1f} s."
        )
