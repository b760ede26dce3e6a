from django.apps import AppConfig


class TrustConfig(AppConfig):
    """Platform trust and safety: image moderation (NudeNet) and audio fingerprints
    (Chromaprint) of what schools upload, and the platform staff's queue of flags."""

    name = "trust"
    verbose_name = "Trust and safety"
