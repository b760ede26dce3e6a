"""Celery tasks of ``learning``: thin wrappers that call services inside the school
(``tenants.tasks.TenantTask`` enters it from ``schema_name``)."""

from celery import shared_task

from learning import services
from tenants.tasks import TenantTask

CERTIFICATE_MAX_RETRIES = 4


class CertificateTask(TenantTask):
    """Marks the certificate ``failed`` when the task gives up after its retries."""

    abstract = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        with self.school(kwargs.get("schema_name", "")) as tenant:
            if tenant is not None:
                services.certificate_render_failed(certificate_id=kwargs["certificate_id"])


@shared_task(
    base=CertificateTask,
    name="learning.tasks.certificate_render",
    autoretry_for=(OSError,),
    max_retries=CERTIFICATE_MAX_RETRIES,
    # Waits of about 5, 10, 20, 40 s (with jitter) when the storage does not answer.
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    time_limit=120,
    soft_time_limit=100,
)
def certificate_render(*, schema_name: str, certificate_id: str) -> str | None:
    """Make and store the PDF of certificate ``certificate_id`` of school ``schema_name``
    (``services.certificate_render``); returns its storage key, ``None`` for an unknown id or
    a school that is gone."""
    return services.certificate_render(certificate_id=certificate_id)
