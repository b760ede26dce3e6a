"""Plans, their assignment to schools and the monthly usage counters, in the public schema
(``plans`` is a shared app only: staff define plans for every school).

Every row names its school (``Tenant``); what a school stores and how many courses and students
it has are counted in its own schema when asked (``plans.hooks.usage_measure``), so they are
never copied here and cannot drift.
"""

from django.core.validators import MinValueValidator
from django.db import models

from tenants.models import Tenant


class Plan(models.Model):
    """Limits staff give schools. A null limit is unlimited.

    ``storage_bytes``: bytes of uploaded media the school keeps (the source files of its
    lectures' videos and presentations, and uploads in progress at their announced length);
    ``transcode_minutes``: minutes of source video transcoded per calendar month (UTC);
    ``courses``: courses in the school; ``students``: students with an active enrollment.
    """

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    storage_bytes = models.BigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)], help_text="Empty: unlimited."
    )
    transcode_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per calendar month (UTC). Empty: unlimited."
    )
    courses = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    students = models.PositiveIntegerField(
        null=True, blank=True, help_text="Students with an active enrollment. Empty: unlimited."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(storage_bytes__isnull=True) | models.Q(storage_bytes__gte=0),
                name="plan_storage_bytes_not_negative",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SchoolPlan(models.Model):
    """The plan assigned to one school. A school without a row has the PLANS_DEFAULT_PLAN plan
    (by slug), or no limits when that setting is empty."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="school_plan")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="schools")
    assigned_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant} - {self.plan}"


class UsageMonth(models.Model):
    """What one school used in one calendar month (UTC), added to atomically
    (``plans.services``): ``transcode_seconds`` of source video transcoded (once per version
    that became ready) and ``served_bytes`` of media files sent to viewers. ``month`` is the
    month's first day."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_months")
    month = models.DateField()
    transcode_seconds = models.FloatField(default=0.0)
    served_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="usage_month_per_school")
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.month:%Y-%m}"
