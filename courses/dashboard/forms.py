"""Forms of the dashboard's course and branding pages. Each validates everything before a view
writes, so an invalid submission changes nothing."""

import re
from decimal import Decimal

from django import forms

from courses import validators
from courses.images import (
    LOGO_BOX,
    THUMBNAIL_BOX,
    ImageRejected,
    image_reencode,
)
from courses.models import Course

HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class CourseForm(forms.Form):
    """A course's catalogue fields and an optional cover image, which is re-encoded as JPEG
    fitting 1280x720 into ``cleaned_data["thumbnail_bytes"]``.

    ``slug``, ``difficulty``, ``language``, ``currency`` and ``status`` may be left blank: a
    new course then gets the model's defaults (a slug from the title, a draft), an edited one
    keeps its values (``COURSE_OPTIONAL_FIELDS``). ``outcomes`` is one item per line; the
    checks are ``courses.validators``' (the API's).
    """

    title = forms.CharField(max_length=200)
    slug = forms.CharField(
        max_length=validators.SLUG_MAX_LENGTH,
        required=False,
        help_text="The course's address: lowercase letters, digits and hyphens.",
    )
    subtitle = forms.CharField(max_length=300, required=False)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=20000,
        help_text="Markdown.",
    )
    outcomes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label="What students will learn",
        help_text="One outcome per line: at most 20, each up to 200 characters.",
    )
    category = forms.CharField(max_length=100, required=False)
    difficulty = forms.ChoiceField(choices=[("", "—"), *Course.Difficulty.choices], required=False)
    language = forms.CharField(
        max_length=validators.LANGUAGE_MAX_LENGTH,
        required=False,
        help_text="A BCP 47 language tag such as en, pt-BR or zh-Hant.",
    )
    price = forms.DecimalField(
        min_value=Decimal("0"), max_digits=10, decimal_places=2, initial=Decimal("0")
    )
    currency = forms.CharField(
        max_length=3, required=False, help_text="ISO 4217 code such as USD or EUR."
    )
    status = forms.ChoiceField(choices=[("", "—"), *Course.Status.choices], required=False)
    thumbnail = forms.FileField(
        required=False,
        help_text="JPEG, PNG, GIF or WebP; resized to fit 1280x720.",
        widget=forms.FileInput(attrs={"accept": "image/*"}),
    )

    def _checked(self, name: str, check):
        value = self.cleaned_data.get(name, "")
        return check(value) if value else value

    def clean_slug(self):
        return self._checked("slug", validators.slug_validate)

    def clean_language(self):
        return self._checked("language", validators.language_validate)

    def clean_currency(self):
        return self._checked("currency", validators.currency_validate)

    def clean_outcomes(self):
        lines = [
            line for line in self.cleaned_data.get("outcomes", "").splitlines() if line.strip()
        ]
        return validators.outcomes_validate(lines)

    def clean_thumbnail(self):
        upload = self.cleaned_data.get("thumbnail")
        if not upload:
            self.cleaned_data["thumbnail_bytes"] = None
            return None
        try:
            self.cleaned_data["thumbnail_bytes"] = image_reencode(
                upload, box=THUMBNAIL_BOX, fmt="JPEG"
            )
        except ImageRejected as exc:
            raise forms.ValidationError(str(exc)) from exc
        return upload


class TitleForm(forms.Form):
    """A section's or a lecture's title."""

    title = forms.CharField(max_length=200)


class SectionForm(forms.Form):
    """A section's title and description (Markdown)."""

    title = forms.CharField(max_length=200)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=20000,
        help_text="Markdown.",
    )


class LectureForm(SectionForm):
    """A lecture's title, description (Markdown) and whether visitors may watch it for free."""

    free_preview = forms.BooleanField(
        required=False, label="Free preview: visitors may open it on the course page"
    )


class BrandingForm(forms.Form):
    """School name, primary colour (``#rrggbb``) and an optional logo, re-encoded as PNG
    fitting 512x512 into ``cleaned_data["logo_bytes"]``."""

    name = forms.CharField(max_length=200, label="School name")
    primary_color = forms.CharField(
        max_length=7,
        label="Primary colour",
        help_text="A hex colour such as #2f5bea.",
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    logo = forms.FileField(
        required=False,
        help_text="JPEG, PNG, GIF or WebP; resized to fit 512x512.",
        widget=forms.FileInput(attrs={"accept": "image/*"}),
    )
    remove_logo = forms.BooleanField(required=False, label="Remove the current logo")

    def clean_primary_color(self):
        value = self.cleaned_data["primary_color"].strip()
        if not HEX_COLOR.match(value):
            raise forms.ValidationError("Enter a colour as #rrggbb, for example #2f5bea.")
        return value.lower()

    def clean_logo(self):
        upload = self.cleaned_data.get("logo")
        if not upload:
            self.cleaned_data["logo_bytes"] = None
            return None
        try:
            self.cleaned_data["logo_bytes"] = image_reencode(upload, box=LOGO_BOX, fmt="PNG")
        except ImageRejected as exc:
            raise forms.ValidationError(str(exc)) from exc
        return upload
