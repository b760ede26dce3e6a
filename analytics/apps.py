from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Watch events, course views and live dashboard events come from enrollment's hooks.
        from analytics import receivers

        receivers.connect()

        # The dashboards' video.processing events come from the media pipeline's hook.
        from analytics import realtime
        from media_pipeline import hooks

        hooks.asset_changed.connect(realtime.video_processing_publish)
