"""Accounts in both admins: platform staff on the platform host, a school's accounts on its host
(the table exists in every schema)."""

from django.contrib import admin

from tenants.accounts.models import User
from tenants.admin import platform_admin_site, school_admin_site


@admin.register(User, site=platform_admin_site)
@admin.register(User, site=school_admin_site)
class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "role", "is_active", "is_staff", "date_joined")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("email", "name")
    fields = ("email", "name", "role", "is_active", "is_staff", "date_joined", "last_login")
    readonly_fields = ("date_joined", "last_login")
