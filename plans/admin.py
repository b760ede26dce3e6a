"""Plans on the platform admin site, and the schools' list and page with their plan and usage.

The kernel's ``TenantAdmin`` is registered again as ``SchoolPlanAdmin``, its subclass: the
list gains the plan and this month's usage against its limits, the school's page a plan
field (saved by ``plans.services.plan_assign``) and the same figures.
"""

from django import forms
from django.contrib import admin
from django.db import connection

from plans.models import Plan, SchoolPlan
from plans.selectors import SchoolUsage, school_usage, tenant_plan
from plans.services import plan_assign
from tenants.admin import PublicSchemaOnlyAdmin, TenantAdmin, platform_admin_site
from tenants.models import Tenant
from tenants.services import format_bytes


@admin.register(Plan, site=platform_admin_site)
class PlanAdmin(PublicSchemaOnlyAdmin):
    """Plans: limits in bytes, minutes a month and counts; empty is unlimited."""

    list_display = (
        "name",
        "slug",
        "storage",
        "transcode_minutes",
        "courses",
        "students",
        "school_count",
    )
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "storage_bytes", "transcode_minutes", "courses", "students")

    def has_add_permission(self, request):
        return connection.schema_name == "public" and admin.ModelAdmin.has_add_permission(
            self, request
        )

    def has_delete_permission(self, request, obj=None):
        # A plan some school has cannot be deleted (PROTECT): Django's page says which.
        return connection.schema_name == "public" and admin.ModelAdmin.has_delete_permission(
            self, request, obj
        )

    @admin.display(description="storage")
    def storage(self, plan: Plan) -> str:
        return "unlimited" if plan.storage_bytes is None else format_bytes(plan.storage_bytes)

    @admin.display(description="schools")
    def school_count(self, plan: Plan) -> int:
        return plan.schools.count()


class SchoolPlanForm(forms.ModelForm):
    """The school's fields plus its plan (empty: the default plan, PLANS_DEFAULT_PLAN)."""

    plan = forms.ModelChoiceField(
        queryset=Plan.objects.all(),
        required=False,
        empty_label="(default plan)",
        help_text="Empty: the installation's default plan, or no limits without one.",
    )

    class Meta:
        model = Tenant
        # The kernel admin's ``fields`` decide what is shown; this only adds ``plan``.
        fields = ("name", "status", "primary_color", "language")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["plan"] = (
                SchoolPlan.objects.filter(tenant=self.instance)
                .values_list("plan_id", flat=True)
                .first()
            )


def _against(used: str, limit: str | None) -> str:
    return used if limit is None else f"{used} / {limit}"


platform_admin_site.unregister(Tenant)


@admin.register(Tenant, site=platform_admin_site)
class SchoolPlanAdmin(TenantAdmin):
    """``TenantAdmin`` with each school's plan and usage (``plans.selectors.school_usage``:
    kept and reserved storage, transcode minutes and media served this month, courses,
    students), shown against the plan's limits."""

    form = SchoolPlanForm
    list_display = (
        *TenantAdmin.list_display[:-1],
        "plan_name",
        "plan_storage",
        "plan_transcode",
        "plan_served",
        "plan_courses",
        "plan_students",
        TenantAdmin.list_display[-1],
    )
    readonly_fields = (
        *TenantAdmin.readonly_fields,
        "plan_storage",
        "plan_transcode",
        "plan_served",
        "plan_courses",
        "plan_students",
    )
    fields = (
        *TenantAdmin.fields,
        "plan",
        "plan_storage",
        "plan_transcode",
        "plan_served",
        "plan_courses",
        "plan_students",
    )

    @staticmethod
    def school_usage(tenant: Tenant) -> SchoolUsage | None:
        """The school's plan usage, computed once per object shown (``None`` for the
        platform tenant and the template, which have no plan)."""
        if tenant.kind != Tenant.Kind.SCHOOL:
            return None
        if not hasattr(tenant, "_plan_usage"):
            tenant._plan_usage = school_usage(tenant)
        return tenant._plan_usage

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "plan" in form.changed_data:
            plan_assign(tenant=obj, plan=form.cleaned_data["plan"])

    @admin.display(description="plan")
    def plan_name(self, tenant: Tenant) -> str:
        if tenant.kind != Tenant.Kind.SCHOOL:
            return "-"
        plan = tenant_plan(tenant)
        return plan.name if plan else "unlimited"

    def _figure(self, tenant: Tenant, resource: str, used: str) -> str:
        usage = self.school_usage(tenant)
        if usage is None:
            return "-"
        limit = usage.limit(resource)
        if limit is None:
            return used
        shown = format_bytes(limit) if resource == "storage_bytes" else str(limit)
        return f"{_against(used, shown)} ({usage.percent(resource)} %)"

    @admin.display(description="plan storage")
    def plan_storage(self, tenant: Tenant) -> str:
        usage = self.school_usage(tenant)
        if usage is None:
            return "-"
        return self._figure(tenant, "storage_bytes", format_bytes(usage.used("storage_bytes")))

    @admin.display(description="transcode min. this month")
    def plan_transcode(self, tenant: Tenant) -> str:
        usage = self.school_usage(tenant)
        if usage is None:
            return "-"
        return self._figure(tenant, "transcode_minutes", f"{usage.transcode_minutes:.1f}")

    @admin.display(description="media served this month")
    def plan_served(self, tenant: Tenant) -> str:
        usage = self.school_usage(tenant)
        return "-" if usage is None else format_bytes(usage.served_bytes)

    @admin.display(description="courses")
    def plan_courses(self, tenant: Tenant) -> str:
        usage = self.school_usage(tenant)
        return "-" if usage is None else self._figure(tenant, "courses", str(usage.courses))

    @admin.display(description="enrolled students")
    def plan_students(self, tenant: Tenant) -> str:
        usage = self.school_usage(tenant)
        return "-" if usage is None else self._figure(tenant, "students", str(usage.students))
