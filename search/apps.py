from django.apps import AppConfig


class SearchConfig(AppConfig):
    """Search across a school: courses, lectures, transcripts, Q&A and the reader's own notes
    (PostgreSQL full-text search in the school's schema), autocomplete and search analytics."""

    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        # The index follows the rows it indexes (search.receivers): course, lecture and
        # question documents in the writes' transactions, transcripts by a task on commit.
        from community.hooks import question_saved
        from courses.hooks import course_saved, lecture_saved
        from media_pipeline.hooks import captions_changed
        from search import receivers

        course_saved.connect(receivers.course_saved)
        lecture_saved.connect(receivers.lecture_saved)
        question_saved.connect(receivers.question_saved)
        captions_changed.connect(receivers.captions_changed)
