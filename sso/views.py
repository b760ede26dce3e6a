"""allauth's sign-in views of both provider types, with two answers allauth leaves as 500s: a
provider that is not an enabled one of this school is 404 (allauth's GitHub views let
``SocialApp.DoesNotExist`` through), and a provider that cannot be reached is the school's
error page, 502 (allauth reads an OpenID Connect provider's discovery document before its own
error handling starts, so a provider that is down or answers something that is not JSON would
fail the request)."""

import logging
from functools import wraps

import requests
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.github import views as github
from allauth.socialaccount.providers.openid_connect import views as openid_connect
from django.http import Http404, HttpRequest, HttpResponse

from courses.pages import error_page

logger = logging.getLogger(__name__)

UNREACHABLE_MESSAGE = "The sign-in provider cannot be reached right now. Please try again later."


def _guarded(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except SocialApp.DoesNotExist:
            raise Http404("No such sign-in provider.") from None
        except (requests.RequestException, ValueError) as exc:
            logger.warning("sso provider unreachable: %s %r", request.path, exc)
            return error_page(
                request,
                status=502,
                title="Sign-in failed",
                message=UNREACHABLE_MESSAGE,
                login_again=True,
            )

    return wrapper


oidc_login = _guarded(openid_connect.login)
oidc_callback = _guarded(openid_connect.callback)
github_login = _guarded(github.oauth2_login)
github_callback = _guarded(github.oauth2_callback)
