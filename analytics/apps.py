from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # The dashboards' video.processing events come from the media pipeline's hook.
        from analytics import realtime
        from media_pipeline import hooks

        hooks.asset_changed.register(realtime.video_processing_publish)
