"""Reads of the team: members and invitations of the current school."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from teams.models import Invitation

User = get_user_model()


def team_members() -> QuerySet:
    """The school's owners and instructors (active or not), owners first, then by name."""
    return User.objects.filter(role__in=(User.Role.OWNER, User.Role.INSTRUCTOR)).order_by(
        "-role", "name", "email"
    )


def team_invitations() -> QuerySet[Invitation]:
    """The team's (instructor) invitations, newest first, with who sent them."""
    return Invitation.objects.filter(role=Invitation.Role.INSTRUCTOR).select_related("invited_by")
