from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Watch events, course views and live dashboard events come from enrollment's hooks.
        from analytics import receivers

        receivers.connect()
