"""``manage.py recommendations_refresh [--schema NAME]``: embed every published course whose
vector is missing or out of date and recompute trending, popularity and co-enrolment, in one
school or in every active one (what the beat task does every 10 minutes, without its limit
on embeddings per run)."""

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from recommendations import services
from tenants.models import Tenant
from tenants.selectors import schools_active


class Command(BaseCommand):
    help = "Embed the courses that need it and refresh trending and co-enrolment (per school)."

    def add_arguments(self, parser):
        parser.add_argument("--schema", help="the school's schema name (default: every active)")

    def handle(self, *args, schema=None, **options):
        if schema:
            schools = list(Tenant.objects.filter(schema_name=schema, kind=Tenant.Kind.SCHOOL))
            if not schools:
                raise CommandError(f"No school with schema {schema!r}.")
        else:
            schools = list(schools_active())
        for tenant in schools:
            with tenant_context(tenant):
                result = services.school_refresh()
            self.stdout.write(
                f"{tenant.schema_name}: {result.embedded.stored} embedded, "
                f"{result.embedded.unchanged} unchanged; {result.scores.courses} courses scored, "
                f"{result.scores.trending} trending, {result.scores.neighbours} neighbours."
            )
