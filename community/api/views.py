"""Lecture Q&A and moderation API (API.md "Lecture Q&A", "Moderation"). One view per path;
HTTP only: reads through ``community.selectors``, writes through ``community.services``."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response

from community import selectors, services
from community.models import ModerationAction, PostStatus
from community.serializers import (
    AnswerOutput,
    PostAuthorOutput,
    QuestionDetailOutput,
    QuestionOutput,
)
from community.throttles import PostThrottle
from courses.pagination import Pagination
from tenants.api import InstructorApiView, TenantApiView


class QaApiView(TenantApiView):
    """A Q&A view for signed-in accounts (the selectors decide who sees what)."""

    permission_classes = [permissions.IsAuthenticated]


class PostingApiView(QaApiView):
    """A view whose POST is a new post, counted by the spam limit (``PostThrottle``)."""

    def get_throttles(self):
        if self.request.method == "POST":
            return [PostThrottle()]
        return []


def _questions_data(questions, user) -> list:
    voted = selectors.voted_question_ids(user=user, question_ids=[q.pk for q in questions])
    return QuestionOutput(questions, many=True, context={"user": user, "voted": voted}).data


def _question_detail(question, user) -> dict:
    answers = selectors.question_answers(question=question, user=user)
    voted = selectors.voted_question_ids(user=user, question_ids=[question.pk])
    context = {"user": user, "voted": voted, "answers": answers}
    return QuestionDetailOutput(question, context=context).data


class QuestionInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=10000, allow_blank=True, required=False, default="")
    timestamp = serializers.FloatField(required=False, allow_null=True, default=None)


class QuestionPatchInput(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(max_length=10000, allow_blank=True, required=False)
    timestamp = serializers.FloatField(required=False, allow_null=True)
    resolved = serializers.BooleanField(required=False)


class AnswerInput(serializers.Serializer):
    body = serializers.CharField(max_length=10000)


class ReportInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class ReportOutput(serializers.Serializer):
    reported = serializers.BooleanField()


class VoteOutput(serializers.Serializer):
    question_id = serializers.IntegerField()
    voted = serializers.BooleanField()
    vote_count = serializers.IntegerField()


class LectureQuestionsApi(PostingApiView):
    """GET (paginated, ``?sort=votes|newest|unanswered``) and POST (ask)
    /api/v1/lectures/{id}/questions."""

    pagination_class = Pagination

    class SortInput(serializers.Serializer):
        sort = serializers.ChoiceField(choices=selectors.SORTS, required=False, default="votes")

    @extend_schema(
        parameters=[OpenApiParameter("sort", str, enum=list(selectors.SORTS))],
        responses={200: QuestionOutput(many=True)},
    )
    def get(self, request, lecture_id):
        access = selectors.lecture_access(user=request.user, lecture_id=lecture_id)
        query = self.SortInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        questions = selectors.lecture_questions(
            lecture_id=access.lecture.pk, user=request.user, sort=query.validated_data["sort"]
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(questions, request, self)
        return paginator.get_paginated_response(_questions_data(page, request.user))

    @extend_schema(request=QuestionInput, responses={201: QuestionDetailOutput})
    def post(self, request, lecture_id):
        access = selectors.lecture_access(user=request.user, lecture_id=lecture_id)
        data = QuestionInput(data=request.data)
        data.is_valid(raise_exception=True)
        question = services.question_create(
            access=access, author=request.user, **data.validated_data
        )
        return Response(_question_detail(question, request.user), status=status.HTTP_201_CREATED)


class QuestionDetailApi(QaApiView):
    """GET, PATCH, DELETE /api/v1/questions/{id}."""

    @extend_schema(responses={200: QuestionDetailOutput})
    def get(self, request, question_id):
        question = selectors.question_get(user=request.user, question_id=question_id)
        return Response(_question_detail(question, request.user))

    @extend_schema(request=QuestionPatchInput, responses={200: QuestionDetailOutput})
    def patch(self, request, question_id):
        question = selectors.question_get(user=request.user, question_id=question_id)
        data = QuestionPatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        question = services.question_update(
            question=question, user=request.user, changes=data.validated_data
        )
        return Response(_question_detail(question, request.user))

    @extend_schema(responses={204: None})
    def delete(self, request, question_id):
        question = selectors.question_get(user=request.user, question_id=question_id)
        services.question_delete(question=question, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuestionAnswersApi(PostingApiView):
    """POST /api/v1/questions/{id}/answers."""

    @extend_schema(request=AnswerInput, responses={201: AnswerOutput})
    def post(self, request, question_id):
        question = selectors.question_get(user=request.user, question_id=question_id)
        data = AnswerInput(data=request.data)
        data.is_valid(raise_exception=True)
        answer = services.answer_create(
            question=question, author=request.user, body=data.validated_data["body"]
        )
        return Response(
            AnswerOutput(answer, context={"user": request.user}).data,
            status=status.HTTP_201_CREATED,
        )


class AnswerDetailApi(QaApiView):
    """PATCH, DELETE /api/v1/answers/{id}."""

    @extend_schema(request=AnswerInput, responses={200: AnswerOutput})
    def patch(self, request, answer_id):
        answer = selectors.answer_get(user=request.user, answer_id=answer_id)
        data = AnswerInput(data=request.data)
        data.is_valid(raise_exception=True)
        answer = services.answer_update(
            answer=answer, user=request.user, body=data.validated_data["body"]
        )
        return Response(AnswerOutput(answer, context={"user": request.user}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, answer_id):
        answer = selectors.answer_get(user=request.user, answer_id=answer_id)
        services.answer_delete(answer=answer, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuestionVoteApi(QaApiView):
    """POST (vote) and DELETE (take the vote back) /api/v1/questions/{id}/vote; idempotent."""

    def _vote(self, request, question_id, voted: bool):
        question = selectors.question_get(user=request.user, question_id=question_id)
        question = services.vote_set(question=question, user=request.user, voted=voted)
        body = {"question_id": question.pk, "voted": voted, "vote_count": question.vote_count}
        return Response(VoteOutput(body).data)

    @extend_schema(request=None, responses={200: VoteOutput})
    def post(self, request, question_id):
        return self._vote(request, question_id, True)

    @extend_schema(request=None, responses={200: VoteOutput})
    def delete(self, request, question_id):
        return self._vote(request, question_id, False)


class QuestionReportApi(QaApiView):
    """POST /api/v1/questions/{id}/report: 201 the first time, 200 again."""

    kind = "question"

    @extend_schema(request=ReportInput, responses={200: ReportOutput, 201: ReportOutput})
    def post(self, request, **ids):
        if self.kind == "answer":
            post = {"answer": selectors.answer_get(user=request.user, answer_id=ids["answer_id"])}
        else:
            question_id = ids["question_id"]
            post = {"question": selectors.question_get(user=request.user, question_id=question_id)}
        data = ReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.report_create(
            user=request.user, reason=data.validated_data["reason"], **post
        )
        return Response(
            ReportOutput({"reported": True}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class AnswerReportApi(QuestionReportApi):
    """POST /api/v1/answers/{id}/report: 201 the first time, 200 again."""

    kind = "answer"


class InboxQuestionOutput(QuestionOutput):
    course_title = serializers.CharField(source="course.title")
    lecture_title = serializers.CharField(source="lecture.title")


class InstructorQuestionsApi(InstructorApiView):
    """GET /api/v1/instructor/questions?status=unanswered|all (paginated)."""

    pagination_class = Pagination

    class StatusInput(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=["unanswered", "all"], required=False, default="unanswered"
        )

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=["unanswered", "all"])],
        responses={200: InboxQuestionOutput(many=True)},
    )
    def get(self, request):
        query = self.StatusInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        questions = selectors.instructor_inbox(
            user=request.user, status=query.validated_data["status"]
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(questions, request, self)
        data = InboxQuestionOutput(page, many=True, context={"user": request.user}).data
        return paginator.get_paginated_response(data)


class QueueItemOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["question", "answer"])
    id = serializers.IntegerField(source="post.pk")
    question_id = serializers.IntegerField(source="question.pk")
    course_id = serializers.UUIDField(source="question.course_id")
    lecture_id = serializers.UUIDField(source="question.lecture_id")
    question_title = serializers.CharField(source="question.title")
    body = serializers.CharField(source="post.body")
    body_html = serializers.SerializerMethodField()
    author = PostAuthorOutput(source="post.author")
    status = serializers.ChoiceField(choices=PostStatus.choices, source="post.status")
    reason = serializers.ChoiceField(choices=["toxicity", "reports"])
    toxicity = serializers.FloatField(source="post.toxicity")
    report_count = serializers.IntegerField(source="post.report_count")
    created_at = serializers.DateTimeField()

    def get_body_html(self, item) -> str:
        from tenants.markdown import markdown_render

        return str(markdown_render(item.post.body))


class ModerationQueueApi(InstructorApiView):
    """GET /api/v1/moderation/queue (paginated, oldest first)."""

    pagination_class = Pagination

    @extend_schema(responses={200: QueueItemOutput(many=True)})
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.moderation_queue(user=request.user), request, self
        )
        return paginator.get_paginated_response(QueueItemOutput(page, many=True).data)


class ModerationActionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.ChoiceField(choices=ModerationAction.Action.choices)
    target_kind = serializers.ChoiceField(choices=ModerationAction.Target.choices)
    target_id = serializers.CharField()
    course_id = serializers.UUIDField(allow_null=True)
    actor = serializers.SerializerMethodField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_actor(self, entry) -> str | None:
        return entry.actor_name or None


class ModerationActionsApi(InstructorApiView):
    """POST (act) and GET (the audit log, paginated, newest first) /api/v1/moderation/actions."""

    pagination_class = Pagination

    class ActionInput(serializers.Serializer):
        action = serializers.ChoiceField(choices=services.ACTIONS)
        question_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
        answer_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
        course_id = serializers.UUIDField(required=False)
        student_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
        until = serializers.DateTimeField(required=False, allow_null=True, default=None)
        reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(request=ActionInput, responses={201: ModerationActionOutput})
    def post(self, request):
        data = self.ActionInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.moderation_act(actor=request.user, **data.validated_data)
        return Response(ModerationActionOutput(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ModerationActionOutput(many=True)})
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.moderation_log(user=request.user), request, self
        )
        return paginator.get_paginated_response(ModerationActionOutput(page, many=True).data)
