"""``manage.py backup [--target T] [--keep N]``: the database and media in one archive
(API.md: Management commands; tenants.backups)."""

from django.core.management.base import BaseCommand, CommandError

from tenants.backups import backup_create
from tenants.errors import ApplicationError
from tenants.services import format_bytes


class Command(BaseCommand):
    help = (
        "Back up every schema (pg_dump) and the media with a checksummed manifest to a folder "
        "or s3://bucket/prefix, keeping the newest --keep backups there."
    )

    def add_arguments(self, parser):
        parser.add_argument("--target", help="folder or s3://bucket/prefix (BACKUP_TARGET)")
        parser.add_argument("--keep", type=int, help="backups kept in the target (BACKUP_KEEP)")

    def handle(self, *args, **options):
        if options["keep"] is not None and options["keep"] < 1:
            raise CommandError("--keep must be at least 1.")
        try:
            result = backup_create(options["target"], options["keep"])
        except (ApplicationError, OSError) as exc:
            raise CommandError(getattr(exc, "message", None) or str(exc)) from exc
        self.stdout.write(
            f"{result.location} ({format_bytes(result.size)}, {result.files} media files) "
            f"in {result.seconds:.1f} s."
        )
        for name in result.deleted:
            self.stdout.write(f"Deleted the older backup {name}.")
