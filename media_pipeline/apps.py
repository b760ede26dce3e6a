from django.apps import AppConfig


class MediaPipelineConfig(AppConfig):
    name = "media_pipeline"
    verbose_name = "Media pipeline"

    def ready(self) -> None:
        # Registers the Celery tasks in every process, so the services can send them by name
        # (transcoding.TRANSCODE_TASK) without importing the tasks module.
        from media_pipeline import assets, probe, tasks, uploads  # noqa: F401
        from plans.hooks import usage_measure as plan_usage_measure
        from tenants.health import readiness_check_register
        from tenants.services import usage_measure

        usage_measure.connect(assets.usage_measure_receiver)
        plan_usage_measure.connect(uploads.storage_measure)
        readiness_check_register("ffmpeg", probe.ffmpeg_check)
