"""Engagement API (API.md "Notes", "Likes", "Saved lists", "Follows"). One view per
operation; every operation acts on the signed-in account's own rows only."""

from django.http import HttpResponse
from django.middleware.csrf import get_token
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response

from courses.pagination import Pagination
from engagement import selectors, services
from engagement.api.serializers import (
    NoteOutput,
    SavedListOutput,
    SavedListSummaryOutput,
    list_payload,
)
from tenants.api import TenantApiView


class MemberApiView(TenantApiView):
    """A tenant API view for any signed-in account of the school (its own rows only)."""

    permission_classes = [permissions.IsAuthenticated]


# --- Notes ------------------------------------------------------------------------------------


class NoteFilterInput(serializers.Serializer):
    course = serializers.UUIDField(required=False)
    lecture = serializers.UUIDField(required=False)
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)


NOTE_FILTERS = [
    OpenApiParameter("course", OpenApiTypes.UUID, description="Only the notes of this course."),
    OpenApiParameter("lecture", OpenApiTypes.UUID, description="Only the notes of this lecture."),
    OpenApiParameter(
        "q", str, description="Full-text search (websearch syntax); results ranked, with snippet."
    ),
]


class NoteListApi(MemberApiView):
    """GET (paginated, filtered, searched) and POST /api/v1/notes."""

    pagination_class = Pagination

    class NoteCreateInput(serializers.Serializer):
        lecture_id = serializers.UUIDField()
        body = serializers.CharField(max_length=services.NOTE_MAX_LENGTH, trim_whitespace=False)
        timestamp = serializers.FloatField(required=False, allow_null=True, min_value=0)

    @extend_schema(parameters=NOTE_FILTERS, responses={200: NoteOutput(many=True)})
    def get(self, request):
        filters = NoteFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        notes = selectors.note_list(
            student=request.user,
            course_id=data.get("course"),
            lecture_id=data.get("lecture"),
            q=data.get("q", ""),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(notes, request, self)
        return paginator.get_paginated_response(NoteOutput(page, many=True).data)

    @extend_schema(request=NoteCreateInput, responses={201: NoteOutput})
    def post(self, request):
        data = self.NoteCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.note_create(student=request.user, **data.validated_data)
        note = selectors.note_get(student=request.user, note_id=note.pk)
        return Response(NoteOutput(note).data, status=status.HTTP_201_CREATED)


class NoteDetailApi(MemberApiView):
    """GET, PATCH and DELETE /api/v1/notes/{id}: the author's own note (404 for anyone else)."""

    class NoteUpdateInput(serializers.Serializer):
        body = serializers.CharField(
            max_length=services.NOTE_MAX_LENGTH, required=False, trim_whitespace=False
        )
        timestamp = serializers.FloatField(required=False, allow_null=True, min_value=0)

    @extend_schema(responses={200: NoteOutput})
    def get(self, request, note_id):
        return Response(NoteOutput(selectors.note_get(student=request.user, note_id=note_id)).data)

    @extend_schema(request=NoteUpdateInput, responses={200: NoteOutput})
    def patch(self, request, note_id):
        note = selectors.note_get(student=request.user, note_id=note_id)
        data = self.NoteUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.note_update(note=note, **data.validated_data)
        return Response(NoteOutput(note).data)

    @extend_schema(responses={204: None})
    def delete(self, request, note_id):
        services.note_delete(note=selectors.note_get(student=request.user, note_id=note_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class NoteExportApi(MemberApiView):
    """GET /api/v1/notes/export?course={id}: the caller's notes on a course as a Markdown
    attachment (``text/markdown; charset=utf-8``, ``nosniff``)."""

    class NoteExportInput(serializers.Serializer):
        course = serializers.UUIDField()

    @extend_schema(
        parameters=[OpenApiParameter("course", OpenApiTypes.UUID, required=True)],
        responses={
            (200, "text/markdown"): OpenApiResponse(
                OpenApiTypes.STR, description="The notes as a Markdown document."
            )
        },
    )
    def get(self, request):
        data = self.NoteExportInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        course = selectors.notes_export_course(
            student=request.user, course_id=data.validated_data["course"]
        )
        text = selectors.notes_markdown(student=request.user, course=course)
        response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="notes-{course.slug}.md"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


# --- Likes and follows ------------------------------------------------------------------------


class LikeOutput(serializers.Serializer):
    liked = serializers.BooleanField()


class LectureLikeApi(MemberApiView):
    """POST (like) and DELETE (unlike) /api/v1/lectures/{id}/like, idempotent; enrolled
    students of the lecture's course only (404 otherwise)."""

    @extend_schema(request=None, responses={200: LikeOutput})
    def post(self, request, lecture_id):
        services.lecture_like(student=request.user, lecture_id=lecture_id)
        return Response({"liked": True})

    @extend_schema(request=None, responses={200: LikeOutput})
    def delete(self, request, lecture_id):
        services.lecture_unlike(student=request.user, lecture_id=lecture_id)
        return Response({"liked": False})


class FollowOutput(serializers.Serializer):
    following = serializers.BooleanField()


class InstructorFollowApi(MemberApiView):
    """GET (state), POST (follow) and DELETE (unfollow) /api/v1/instructors/{id}/follow."""

    @extend_schema(responses={200: FollowOutput})
    def get(self, request, instructor_id):
        instructor = selectors.followable_instructor(instructor_id=instructor_id)
        services.follow_check(follower=request.user, instructor=instructor)
        # The public instructor page has no CSRF cookie of its own: set it for the follow.
        get_token(request._request)
        following = selectors.is_following(follower=request.user, instructor_id=instructor_id)
        return Response({"following": following})

    @extend_schema(request=None, responses={200: FollowOutput})
    def post(self, request, instructor_id):
        services.instructor_follow(follower=request.user, instructor_id=instructor_id)
        return Response({"following": True})

    @extend_schema(request=None, responses={200: FollowOutput})
    def delete(self, request, instructor_id):
        services.instructor_unfollow(follower=request.user, instructor_id=instructor_id)
        return Response({"following": False})


# --- Saved lists ------------------------------------------------------------------------------


class ListNameInput(serializers.Serializer):
    name = serializers.CharField(max_length=services.LIST_NAME_MAX_LENGTH)


class SavedListsApi(MemberApiView):
    """GET (paginated summaries, Watch later first) and POST /api/v1/lists."""

    pagination_class = Pagination

    @extend_schema(responses={200: SavedListSummaryOutput(many=True)})
    def get(self, request):
        services.watch_later_ensure(student=request.user)
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.saved_lists(student=request.user), request, self
        )
        return paginator.get_paginated_response(SavedListSummaryOutput(page, many=True).data)

    @extend_schema(request=ListNameInput, responses={201: SavedListOutput})
    def post(self, request):
        data = ListNameInput(data=request.data)
        data.is_valid(raise_exception=True)
        saved = services.saved_list_create(student=request.user, **data.validated_data)
        body = list_payload(student=request.user, saved_list=saved)
        return Response(body, status=status.HTTP_201_CREATED)


class SavedListDetailApi(MemberApiView):
    """GET, PATCH (rename) and DELETE /api/v1/lists/{id}."""

    @extend_schema(responses={200: SavedListOutput})
    def get(self, request, list_id):
        saved = selectors.saved_list_get(student=request.user, list_id=list_id)
        return Response(list_payload(student=request.user, saved_list=saved))

    @extend_schema(request=ListNameInput, responses={200: SavedListOutput})
    def patch(self, request, list_id):
        saved = selectors.saved_list_get(student=request.user, list_id=list_id)
        data = ListNameInput(data=request.data)
        data.is_valid(raise_exception=True)
        saved = services.saved_list_rename(saved_list=saved, **data.validated_data)
        return Response(list_payload(student=request.user, saved_list=saved))

    @extend_schema(responses={204: None})
    def delete(self, request, list_id):
        saved = selectors.saved_list_get(student=request.user, list_id=list_id)
        services.saved_list_delete(saved_list=saved)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SavedItemsApi(MemberApiView):
    """POST /api/v1/lists/{id}/items: ``{lecture_id}`` or ``{course_id}``, added last."""

    class SavedItemInput(serializers.Serializer):
        lecture_id = serializers.UUIDField(required=False)
        course_id = serializers.UUIDField(required=False)

    @extend_schema(request=SavedItemInput, responses={201: SavedListOutput})
    def post(self, request, list_id):
        saved = selectors.saved_list_get(student=request.user, list_id=list_id)
        data = self.SavedItemInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.saved_item_add(student=request.user, saved_list=saved, **data.validated_data)
        body = list_payload(student=request.user, saved_list=saved)
        return Response(body, status=status.HTTP_201_CREATED)


class SavedItemDetailApi(MemberApiView):
    """DELETE /api/v1/lists/{id}/items/{item_id}."""

    @extend_schema(responses={204: None})
    def delete(self, request, list_id, item_id):
        saved = selectors.saved_list_get(student=request.user, list_id=list_id)
        services.saved_item_remove(saved_list=saved, item_id=item_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SavedItemsOrderApi(MemberApiView):
    """PUT /api/v1/lists/{id}/items/order ``{item_ids}``: every item exactly once."""

    class SavedItemsOrderInput(serializers.Serializer):
        item_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1), allow_empty=True, max_length=1000
        )

    @extend_schema(request=SavedItemsOrderInput, responses={200: SavedListOutput})
    def put(self, request, list_id):
        saved = selectors.saved_list_get(student=request.user, list_id=list_id)
        data = self.SavedItemsOrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.saved_items_reorder(
            student=request.user, saved_list=saved, item_ids=data.validated_data["item_ids"]
        )
        return Response(list_payload(student=request.user, saved_list=saved))
