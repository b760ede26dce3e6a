from django.apps import AppConfig


class MediaPipelineConfig(AppConfig):
    name = "media_pipeline"
    verbose_name = "Media pipeline"

    def ready(self) -> None:
        # Registers the Celery tasks in every process, so the services can send them by name
        # (transcoding.TRANSCODE_TASK) without importing the tasks module.
        from media_pipeline import assets, probe, tasks  # noqa: F401
        from tenants.health import readiness_check_register
        from tenants.services import usage_measure

        usage_measure.connect(assets.usage_measure_receiver)
        readiness_check_register("ffmpeg", probe.ffmpeg_check)
