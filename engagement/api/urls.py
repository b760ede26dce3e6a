from django.urls import path

from engagement.api import views

urlpatterns = [
    path("notes", views.NoteListApi.as_view(), name="notes"),
    path("notes/export", views.NoteExportApi.as_view(), name="notes-export"),
    path("notes/<int:note_id>", views.NoteDetailApi.as_view(), name="note-detail"),
    path("lectures/<uuid:lecture_id>/like", views.LectureLikeApi.as_view(), name="lecture-like"),
    path(
        "instructors/<int:instructor_id>/follow",
        views.InstructorFollowApi.as_view(),
        name="instructor-follow",
    ),
    path("lists", views.SavedListsApi.as_view(), name="lists"),
    path("lists/<int:list_id>", views.SavedListDetailApi.as_view(), name="list-detail"),
    path("lists/<int:list_id>/items", views.SavedItemsApi.as_view(), name="list-items"),
    path(
        "lists/<int:list_id>/items/order",
        views.SavedItemsOrderApi.as_view(),
        name="list-items-order",
    ),
    path(
        "lists/<int:list_id>/items/<int:item_id>",
        views.SavedItemDetailApi.as_view(),
        name="list-item-detail",
    ),
]
