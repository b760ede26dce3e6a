"""What happens when an account's password changes.

Django's ``AbstractBaseUser.save()`` calls ``password_changed()`` of every validator in
AUTH_PASSWORD_VALIDATORS once a new password (``set_password``) has been saved, whatever set
it: the student site's reset flow, Django's password forms (the admin's included),
``manage.py changepassword`` or code. That is the one place every path goes through, so the
token revocation hangs there.
"""

from tenants.accounts import services


class PasswordChangeEndsTokens:
    """A password "validator" that validates nothing: on every password change it blacklists
    all refresh tokens of the account (``services.user_tokens_revoke``). Access tokens already
    stop at the change through their password fingerprint (``tenants.accounts.tokens``)."""

    def validate(self, password: str, user=None) -> None:
        return None

    def password_changed(self, password: str, user=None) -> None:
        if user is not None and user.pk is not None:
            services.user_tokens_revoke(user=user)

    def get_help_text(self) -> str:
        return "A new password signs you out on every device."
