from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Schools"

    def ready(self):
        from django.db.backends.signals import connection_created

        # Registers the OpenAPI extension of the tenant-bound JWT authentication.
        from tenants import openapi  # noqa: F401
        from tenants.slow_queries import slow_query_recorder_install

        # Statements over SLOW_QUERY_MS are logged with their school and counted.
        connection_created.connect(slow_query_recorder_install, dispatch_uid="slow-query-recorder")
