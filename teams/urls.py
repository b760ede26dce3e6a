"""URLs of the team's pages (included at the root in config/urls_tenants.py): the invitation
link and the dashboard's Team and roster import pages."""

from django.urls import path

from teams import views

urlpatterns = [
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("dashboard/team/", views.team, name="dashboard-team"),
    path(
        "dashboard/team/invitations/<int:invitation_id>/revoke/",
        views.team_invitation_revoke,
        name="dashboard-team-invitation-revoke",
    ),
    path(
        "dashboard/courses/<uuid:course_id>/students/import/",
        views.roster_import,
        name="dashboard-roster-import",
    ),
]
