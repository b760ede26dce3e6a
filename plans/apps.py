from django.apps import AppConfig


class PlansConfig(AppConfig):
    """Plans and quotas: the limits staff assign to schools and what each school uses
    (storage, transcode minutes, media bytes served, courses, students)."""

    name = "plans"
    verbose_name = "Plans and usage"
