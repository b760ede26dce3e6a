"""Form pieces shared by every page that makes an account (the student sign-up, the invitation
acceptance)."""

from django import forms


class NewPasswordForm(forms.Form):
    """A new password typed twice (``password1``, ``password2``); ``clean`` adds "The two
    passwords differ." to ``password2`` when they do. The password rules
    (AUTH_PASSWORD_VALIDATORS) are checked by ``tenants.accounts.services.user_create``.
    Subclasses add their own fields and order them with ``field_order``."""

    password1 = forms.CharField(
        label="Password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") != data["password1"]:
            self.add_error("password2", "The two passwords differ.")
        return data
