from django.apps import AppConfig


class SearchConfig(AppConfig):
    """Search across a school: courses, lectures, transcripts, Q&A and the reader's own notes
    (PostgreSQL full-text search in the school's schema), autocomplete and search analytics."""

    name = "search"
    verbose_name = "Search"
