"""Output shapes of the engagement API (API.md "Notes", "Saved lists"), shared by the views
and the pages (which embed the same JSON)."""

from django.urls import reverse
from rest_framework import serializers

from engagement import selectors
from engagement.selectors import lecture_duration, snippet_html, timestamp_label
from tenants.markdown import markdown_render


class NoteOutput(serializers.Serializer):
    id = serializers.IntegerField()
    course_id = serializers.UUIDField()
    lecture_id = serializers.UUIDField()
    course_title = serializers.CharField(source="course.title")
    lecture_title = serializers.CharField(source="lecture.title")
    timestamp = serializers.FloatField(allow_null=True)
    timestamp_label = serializers.SerializerMethodField()
    body = serializers.CharField()
    body_html = serializers.SerializerMethodField()
    snippet_html = serializers.SerializerMethodField()
    lecture_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_timestamp_label(self, note) -> str:
        return timestamp_label(note.timestamp)

    def get_body_html(self, note) -> str:
        return str(markdown_render(note.body))

    def get_snippet_html(self, note) -> str | None:
        headline = getattr(note, "headline", None)
        return None if headline is None else str(snippet_html(headline))

    def get_lecture_url(self, note) -> str:
        return reverse("web-lecture", args=[note.course_id, note.lecture_id])


class SavedCourseOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    slug = serializers.CharField()


class SavedLectureOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    kind = serializers.CharField()
    duration = serializers.SerializerMethodField()

    def get_duration(self, lecture) -> float | None:
        return lecture_duration(lecture)


class SavedItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    type = serializers.SerializerMethodField()
    course = SavedCourseOutput()
    lecture = SavedLectureOutput(allow_null=True)
    url = serializers.SerializerMethodField()
    added_at = serializers.DateTimeField(source="created_at")

    def get_type(self, item) -> str:
        return "course" if item.lecture_id is None else "lecture"

    def get_url(self, item) -> str:
        """The student's own page when enrolled, else the course's public page."""
        if item.course_id in self.context.get("enrolled", set()):
            if item.lecture_id is None:
                return reverse("web-course", args=[item.course_id])
            return reverse("web-lecture", args=[item.course_id, item.lecture_id])
        return reverse("catalog-course", args=[item.course.slug])


class SavedListSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    item_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SavedListOutput(SavedListSummaryOutput):
    items = SavedItemOutput(many=True)


def list_payload(*, student, saved_list) -> dict:
    """The list object of API.md ("Saved lists"): the list with its visible items in order."""
    items = selectors.saved_list_items(student=student, saved_list=saved_list)
    enrolled = set(
        selectors.enrolled_course_ids(student=student).values_list("course_id", flat=True)
    )
    saved_list.item_count = len(items)
    body = SavedListSummaryOutput(saved_list).data
    body["items"] = SavedItemOutput(items, many=True, context={"enrolled": enrolled}).data
    return body
