from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"

    def ready(self) -> None:
        # Password sign-in of students is refused while the school requires single sign-on
        # (the log-in form, POST /api/v1/auth/token, sign-up).
        from sso.receivers import password_sign_in_guard
        from tenants.accounts.services import password_sign_in_guards

        password_sign_in_guards.connect(password_sign_in_guard)

        # The log-in page's "Continue with ..." buttons.
        from enrollment.hooks import login_options
        from sso.receivers import login_buttons

        login_options.connect(login_buttons)
