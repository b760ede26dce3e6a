"""``manage.py export_tenant <subdomain> <archive>``: one school, its rows and its media, in an
archive another installation can import (API.md: Management commands)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tenants.errors import ApplicationError
from tenants.portability import school_export
from tenants.services import format_bytes


class Command(BaseCommand):
    help = (
        "Write a school's rows and media to an archive (.tar, or .tar.gz) that import_tenant "
        "reads on this or another installation of the same code."
    )

    def add_arguments(self, parser):
        parser.add_argument("subdomain")
        parser.add_argument("archive", type=Path)

    def handle(self, *args, **options):
        target = options["archive"]
        if target.exists():
            raise CommandError(f"{target} already exists; choose another name.")
        try:
            result = school_export(options["subdomain"], target)
        except (ApplicationError, OSError) as exc:
            raise CommandError(getattr(exc, "message", None) or str(exc)) from exc
        self.stdout.write(
            f"Exported {result.schema_name}: {result.tables} tables, {result.rows} rows, "
            f"{result.files} files ({format_bytes(result.media_bytes)}) to {target} "
            f"in {result.seconds:.1f} s."
        )
