"""The sign-in flow of a school's providers (included at the root of config/urls_tenants.py):
allauth's log-in and callback views under ``/sso/``, with the names allauth reverses.

Only these four routes of allauth are served: its account, sign-up, e-mail and connection
pages are not (the student site has its own), so the adapter (``sso.adapter``) ends every flow.
"""

from allauth.socialaccount.providers.github import views as github
from allauth.socialaccount.providers.openid_connect import views as openid_connect
from django.urls import path

urlpatterns = [
    path("sso/oidc/<str:provider_id>/login/", openid_connect.login, name="openid_connect_login"),
    path(
        "sso/oidc/<str:provider_id>/login/callback/",
        openid_connect.callback,
        name="openid_connect_callback",
    ),
    path("sso/github/login/", github.oauth2_login, name="github_login"),
    path("sso/github/login/callback/", github.oauth2_callback, name="github_callback"),
]
