"""URLs of the student site (included at the root of config/urls_tenants.py)."""

from django.urls import path

from enrollment.web import account, views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="web-login"),
    path("logout/", views.LogoutView.as_view(), name="web-logout"),
    path("signup/", views.signup, name="web-signup"),
    path("password-reset/", views.PasswordResetView.as_view(), name="web-password-reset"),
    path(
        "password-reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="web-password-reset-done",
    ),
    path(
        "password-reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="web-password-reset-complete",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="web-password-reset-confirm",
    ),
    path("account/", account.account, name="web-account"),
    path("account/email/<str:confirmation>/", account.email_confirm, name="web-email-confirm"),
    path("redeem/", views.redeem, name="web-redeem"),
    path("my/courses/", views.my_courses, name="web-my-courses"),
    path("courses/<uuid:course_id>/", views.course_detail, name="web-course"),
    path(
        "courses/<uuid:course_id>/lectures/<uuid:lecture_id>/",
        views.lecture_detail,
        name="web-lecture",
    ),
]
