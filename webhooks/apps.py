from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Webhooks of a school (Standard Webhooks): the owner's endpoints, the events of the apps
    below sent to them, signed, retried and recorded per attempt."""

    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from community.hooks import question_published
        from enrollment.hooks import access_code_redeemed, enrollment_created, progress_recorded
        from learning.hooks import achievement_earned
        from media_pipeline.hooks import asset_changed
        from webhooks import receivers

        enrollment_created.connect(receivers.enrollment_created)
        access_code_redeemed.connect(receivers.access_code_redeemed)
        progress_recorded.connect(receivers.progress_recorded)
        achievement_earned.connect(receivers.achievement_earned)
        asset_changed.connect(receivers.asset_changed)
        question_published.connect(receivers.question_published)
