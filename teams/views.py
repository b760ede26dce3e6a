"""Pages of the team: the invitation link (``/invitations/<token>/``), the owner's Team page
(``/dashboard/team/``) and the class roster import of a course's students page
(``/dashboard/courses/<id>/students/import/``).

Reads go through ``teams.selectors``, writes through ``teams.services``.
"""

from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from courses.pages import error_page
from courses.permissions import instructor_required
from courses.selectors import course_get
from teams import selectors, services
from teams.models import Invitation
from tenants.accounts.forms import NewPasswordForm
from tenants.errors import ApplicationError


class AcceptForm(NewPasswordForm):
    """A new account from an invitation: name and the password typed twice."""

    field_order = ["name", "password1", "password2"]

    name = forms.CharField(label="Your name", max_length=150)


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail of the new instructor", max_length=254)


class RosterForm(forms.Form):
    file = forms.FileField(label="Roster (CSV with an email column, optional name)")


def _done(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    if invitation.role == Invitation.Role.INSTRUCTOR:
        messages.success(request, f"Welcome to the team of {request.tenant.name}!")
        return redirect("dashboard-courses")
    messages.success(request, f"You are enrolled in “{invitation.course.title}”.")
    return redirect("web-course", invitation.course_id)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """``/invitations/<token>/``: accept an invitation.

    An address without an account here gets a name and password form (the account is created
    with the invitation's role, and a roster's student is enrolled). An address with an
    account must accept signed in as it (a student is made an instructor, or enrolled); an
    owner or instructor invited to the team is told they already are one. Unknown links
    (another school's too) answer 404, used, withdrawn or expired ones 410.
    """
    try:
        invitation = services.invitation_for_token(token)
    except services.InvitationError as exc:
        return error_page(request, status=exc.status, title="Invitation", message=exc.message)
    user = request.user
    has_account = services.User.objects.filter(email__iexact=invitation.email).exists()
    context = {"invitation": invitation, "school_name": request.tenant.name}
    if has_account:
        signed_in_as_it = user.is_authenticated and user.email.lower() == invitation.email.lower()
        if not signed_in_as_it:
            context["login_url"] = f"{reverse('web-login')}?next={request.path}"
            return render(request, "teams/accept.html", context)
        if invitation.role == Invitation.Role.INSTRUCTOR and user.is_instructor:
            context["already"] = True
            return render(request, "teams/accept.html", context)
        if request.method == "POST":
            try:
                services.invitation_accept_existing(token=token, user=user)
            except ApplicationError as exc:
                return error_page(
                    request, status=exc.status, title="Invitation", message=exc.message
                )
            return _done(request, invitation)
        context["confirm"] = True
        return render(request, "teams/accept.html", context)
    form = AcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new_user = services.invitation_accept_new(
                token=token,
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password1"],
            )
        except services.InvitationError as exc:
            return error_page(request, status=exc.status, title="Invitation", message=exc.message)
        except ApplicationError as exc:
            for field, problems in (exc.details or {"__all__": [exc.message]}).items():
                target = "password1" if field == "password" else field
                for problem in problems:
                    form.add_error(target if target in form.fields else None, problem)
        else:
            login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
            return _done(request, invitation)
    context["form"] = form
    status = 400 if request.method == "POST" else 200
    return render(request, "teams/accept.html", context, status=status)


@instructor_required(owner_only=True)
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    """``/dashboard/team/`` (owner): the school's owners and instructors, the team's
    invitations with their status, and the form to invite an instructor by e-mail."""
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                email=form.cleaned_data["email"],
                role=Invitation.Role.INSTRUCTOR,
                invited_by=request.user,
            )
        except ApplicationError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("dashboard-team")
    invitations = [
        (invitation, services.invitation_status(invitation))
        for invitation in selectors.team_invitations()[:200]
    ]
    context = {"form": form, "members": selectors.team_members(), "invitations": invitations}
    status = 400 if request.method == "POST" else 200
    return render(request, "dashboard/team.html", context, status=status)


@instructor_required(owner_only=True)
@require_POST
def team_invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """``POST /dashboard/team/invitations/<id>/revoke/``: withdraw an invitation."""
    invitation = services.invitation_revoke(invitation_id=invitation_id)
    messages.success(request, f"Invitation of {invitation.email} withdrawn.")
    return redirect("dashboard-team")


@instructor_required
@require_POST
def roster_import(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``POST /dashboard/courses/<id>/students/import/`` with a roster CSV ``file``
    (``teams.services.roster_import``): the page of results, one row per line."""
    course = course_get(course_id=course_id, user=request.user, outline=False)
    form = RosterForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a CSV file to import.")
        return redirect("dashboard-students", course.pk)
    content = form.cleaned_data["file"].read(services.ROSTER_MAX_BYTES + 1)
    try:
        rows = services.roster_import(course=course, content=content, invited_by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard-students", course.pk)
    counts = {
        status: sum(1 for row in rows if row.status == status)
        for status in ("enrolled", "invited", "already_enrolled", "invalid")
    }
    context = {"course": course, "rows": rows, "counts": counts}
    return render(request, "dashboard/roster_results.html", context)
