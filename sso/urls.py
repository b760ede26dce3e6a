"""The sign-in flow of a school's providers (included at the root of config/urls_tenants.py):
allauth's log-in and callback views (``sso.views``) under ``/sso/``, with the names allauth
reverses.

Only these four routes of allauth are served: its account, sign-up, e-mail and connection
pages are not (the student site has its own), so the adapter (``sso.adapter``) ends every flow.
"""

from django.urls import path

from sso import views

urlpatterns = [
    path("sso/oidc/<str:provider_id>/login/", views.oidc_login, name="openid_connect_login"),
    path(
        "sso/oidc/<str:provider_id>/login/callback/",
        views.oidc_callback,
        name="openid_connect_callback",
    ),
    path("sso/github/login/", views.github_login, name="github_login"),
    path("sso/github/login/callback/", views.github_callback, name="github_callback"),
]
