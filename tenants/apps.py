from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Schools"

    def ready(self):
        # Registers the OpenAPI extension of the tenant-bound JWT authentication.
        from tenants import openapi  # noqa: F401
