"""``manage.py restore <archive> [--yes]``: replace the database and media with a backup's
(API.md: Management commands; tenants.backups)."""

import sys

from django.core.management.base import BaseCommand, CommandError

from tenants.backups import backup_restore
from tenants.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Restore a backup (a path or s3://bucket/key) over this installation's database and "
        "media, after checking its checksums and migrations. Stop web processes and workers "
        "first. Asks to type 'restore' unless --yes is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument("--yes", action="store_true", help="restore without asking")

    def handle(self, *args, **options):
        if not options["yes"]:
            self.stderr.write(
                "This replaces the whole database and all media with the backup's. "
                "Type 'restore' to confirm: ",
                ending="",
            )
            self.stderr.flush()
            typed = sys.stdin.readline().strip()
            if typed != "restore":
                raise CommandError(f"Not restored: {typed!r} is not 'restore'.")
        try:
            result = backup_restore(options["archive"])
        except (ApplicationError, OSError) as exc:
            raise CommandError(getattr(exc, "message", None) or str(exc)) from exc
        self.stdout.write(
            f"Restored {options['archive']}: {result.schemas} schemas, {result.rows} rows, "
            f"{result.files} media files in {result.seconds:.1f} s."
        )
