from django.apps import AppConfig


class TrustConfig(AppConfig):
    """Platform trust and safety: image moderation (NudeNet) and audio fingerprints
    (Chromaprint) of what schools upload, and the platform staff's queue of flags."""

    name = "trust"
    verbose_name = "Trust and safety"

    def ready(self) -> None:
        # Checks are sent when a lecture's video becomes ready and a new avatar or course
        # cover is stored; deleted lectures take their fingerprints along; the lecture edit
        # page shows the lectures of the school with the same audio.
        from courses import hooks as course_hooks
        from media_pipeline import hooks as media_hooks
        from tenants.accounts import services as account_services
        from trust import receivers, selectors

        media_hooks.asset_changed.connect(receivers.lecture_ready)
        account_services.avatar_stored.connect(receivers.avatar_stored)
        course_hooks.course_cover_stored.connect(receivers.course_cover_stored)
        course_hooks.lectures_deleted.connect(receivers.lectures_deleted)
        course_hooks.lecture_notices.connect(selectors.lecture_notices)
