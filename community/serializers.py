"""The question and answer objects of API.md ("Lecture Q&A"), shared by the API, the lecture
panel's initial data and the live events. The context's ``user`` (the viewer, or ``None`` for
an event sent to every socket) fills ``is_mine``; ``voted`` is the set of question ids the
viewer voted for. Bodies are Markdown; ``body_html`` is ``tenants.markdown.markdown_render``'s
sanitised HTML. Titles are plain text (escape them)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from community.models import PostStatus
from tenants.markdown import markdown_render


def author_name(user) -> str:
    """What a post shows of its author: the account's name, never its e-mail address."""
    return user.name or "A member"


class PostAuthorOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return author_name(user)


class _PostOutput(serializers.Serializer):
    body = serializers.CharField()
    body_html = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=PostStatus.choices)
    pending_review = serializers.SerializerMethodField()
    is_mine = serializers.SerializerMethodField()
    author = PostAuthorOutput()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)

    def get_body_html(self, post) -> str:
        return str(markdown_render(post.body))

    def get_pending_review(self, post) -> bool:
        return post.status == PostStatus.PENDING

    def get_is_mine(self, post) -> bool:
        user = self.context.get("user")
        return bool(user is not None and post.author_id == user.pk)


class AnswerOutput(_PostOutput):
    id = serializers.IntegerField()
    question_id = serializers.IntegerField()
    is_instructor = serializers.BooleanField(source="is_instructor_answer")


class QuestionOutput(_PostOutput):
    id = serializers.IntegerField()
    course_id = serializers.UUIDField()
    lecture_id = serializers.UUIDField()
    title = serializers.CharField()
    timestamp = serializers.FloatField(allow_null=True)
    locked = serializers.BooleanField()
    resolved = serializers.BooleanField()
    vote_count = serializers.IntegerField()
    answer_count = serializers.IntegerField()
    has_instructor_answer = serializers.BooleanField(source="instructor_answered")
    voted = serializers.SerializerMethodField()
    updated_at = serializers.DateTimeField()

    def get_voted(self, question) -> bool:
        return question.pk in self.context.get("voted", ())


class QuestionDetailOutput(QuestionOutput):
    answers = serializers.SerializerMethodField()

    @extend_schema_field(AnswerOutput(many=True))
    def get_answers(self, question) -> list[dict]:
        return AnswerOutput(self.context["answers"], many=True, context=self.context).data
