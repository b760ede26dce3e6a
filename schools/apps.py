from django.apps import AppConfig


class SchoolsConfig(AppConfig):
    """Schools as a service, in the public schema: the platform API (API keys, schools made
    and changed by staff programs), the "Create your school" sign-up of the platform host and
    its one-time log-in links, and the ``Idempotency-Key`` records of every host's API."""

    name = "schools"
    verbose_name = "Schools as a service"
