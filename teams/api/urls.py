from django.urls import path

from teams.api import views

urlpatterns = [
    path("school/invitations", views.InvitationApi.as_view(), name="invitations"),
    path(
        "school/invitations/<int:invitation_id>/revoke",
        views.InvitationRevokeApi.as_view(),
        name="invitation-revoke",
    ),
    path(
        "courses/<uuid:course_id>/enrollments/import",
        views.RosterImportApi.as_view(),
        name="course-enrollments-import",
    ),
]
