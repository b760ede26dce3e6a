"""What ``sso`` answers the hooks of the apps below: the log-in page's buttons
(``enrollment.hooks.login_options``) and the refusal of students' passwords
(``tenants.accounts.services.password_sign_in_guards``)."""

from django.http import HttpRequest

from sso.providers import login_url
from sso.selectors import providers_enabled, sso_required
from tenants.errors import ApplicationError


class SsoRequired(ApplicationError):
    """The school signs its students in through its providers only (403)."""

    code = "SSO_REQUIRED"
    status = 403


SSO_REQUIRED_MESSAGE = (
    "Students of this school sign in with single sign-on: use a “Continue with …” button on "
    "the log-in page instead of a password."
)


def password_sign_in_guard(*, role: str) -> None:
    """Raise ``SsoRequired`` (403 ``SSO_REQUIRED``) for a student while the school requires
    single sign-on (``sso.selectors.sso_required``); owners and instructors always pass, so
    nobody is locked out of the dashboard."""
    if role == "student" and sso_required():
        raise SsoRequired(SSO_REQUIRED_MESSAGE)


def login_buttons(*, request: HttpRequest) -> dict | None:
    """The school's enabled providers as ``{"buttons": [{"name", "url"}], "notice"}`` (the
    notice tells students that passwords are refused), or ``None`` without any."""
    providers = providers_enabled()
    if not providers:
        return None
    notice = SSO_REQUIRED_MESSAGE if sso_required() else None
    return {
        "buttons": [{"name": p.name, "url": login_url(p)} for p in providers],
        "notice": notice,
    }
