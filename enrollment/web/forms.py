"""Forms of the student site."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from tenants.accounts.forms import NewPasswordForm
from tenants.accounts.services import (
    AVATAR_BOX,
    BIO_MAX_CHARS,
    password_sign_in_guards,
    time_zone_names,
)
from tenants.errors import ApplicationError
from tenants.images import ImageRejected, image_reencode


class EmailAuthenticationForm(AuthenticationForm):
    """Django's log-in form with the e-mail as user name, matched case-insensitively (accounts
    store e-mails lower-cased, ``tenants.accounts.models.UserManager``)."""

    username = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        # The API's wording (tenants.accounts.services.user_authenticate).
        "invalid_login": "The e-mail or password is not correct.",
    }

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()

    def confirm_login_allowed(self, user) -> None:
        """Django's check (active accounts only), then ``password_sign_in_guards``, whose
        refusal (e.g. a school that signs students in through its providers only) becomes the
        form's error; it runs only once the password matched."""
        super().confirm_login_allowed(user)
        try:
            password_sign_in_guards.send(role=user.role)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code.lower()) from exc


class SignupForm(NewPasswordForm):
    """A new student account: name, e-mail and the password typed twice. The password rules
    are AUTH_PASSWORD_VALIDATORS, checked by ``tenants.accounts.services.user_create``."""

    field_order = ["name", "email", "password1", "password2"]

    name = forms.CharField(
        label="Your name",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class RedeemForm(forms.Form):
    """An access code as the student typed it (``enrollment.codes`` normalises it)."""

    code = forms.CharField(
        label="Access code",
        max_length=64,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "placeholder": "XXXX-XXXX-XXXX-XXXX",
            }
        ),
    )


class ProfileForm(forms.Form):
    """Name, bio (Markdown, at most ``BIO_MAX_CHARS``), time zone (IANA) and an optional
    avatar, re-encoded here (``tenants.images.image_reencode``) so the view only stores it."""

    name = forms.CharField(label="Your name", max_length=150, required=False)
    bio = forms.CharField(
        label="About you",
        max_length=BIO_MAX_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Markdown. Shown beside your name where the school shows you.",
    )
    time_zone = forms.ChoiceField(label="Time zone")
    avatar = forms.FileField(
        label="Picture",
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        help_text="JPEG, PNG, GIF or WebP; shown at most 512 px wide.",
    )
    remove_avatar = forms.BooleanField(label="Remove my picture", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in time_zone_names()]

    def clean_avatar(self) -> bytes | None:
        upload = self.cleaned_data.get("avatar")
        if not upload:
            return None
        try:
            return image_reencode(upload, box=AVATAR_BOX, fmt="PNG")
        except ImageRejected as exc:
            raise forms.ValidationError(str(exc)) from exc


class PasswordChangeForm(forms.Form):
    """The current password and the new one twice; the rules are AUTH_PASSWORD_VALIDATORS,
    checked by ``tenants.accounts.services.user_password_change``."""

    current_password = forms.CharField(
        label="Current password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1 = forms.CharField(
        label="New password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label="New password again",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password2") != data["new_password1"]:
            self.add_error("new_password2", "The two passwords differ.")
        return data


class EmailChangeForm(forms.Form):
    """The new address and the current password."""

    new_email = forms.EmailField(
        label="New e-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label="Current password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class AccountDeleteForm(forms.Form):
    """The current password, to confirm the deletion."""

    password = forms.CharField(
        label="Current password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
