from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """What visitors see without an account: the school's catalogue (home page and API), public
    course pages with their free previews, instructor pages, the sitemap."""

    name = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
