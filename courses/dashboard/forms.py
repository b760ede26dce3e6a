"""Forms of the dashboard's course and branding pages. Each validates everything before a view
writes, so an invalid submission changes nothing."""

import re
from decimal import Decimal

from django import forms

from courses.images import (
    LOGO_BOX,
    THUMBNAIL_BOX,
    ImageRejected,
    image_reencode,
)

HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class CourseForm(forms.Form):
    """Title, texts, category, price (>= 0, 2 decimals) and an optional cover image, which is
    re-encoded as JPEG fitting 1280x720 into ``cleaned_data["thumbnail_bytes"]``."""

    title = forms.CharField(max_length=200)
    subtitle = forms.CharField(max_length=300, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    category = forms.CharField(max_length=100, required=False)
    price = forms.DecimalField(
        min_value=Decimal("0"), max_digits=10, decimal_places=2, initial=Decimal("0")
    )
    thumbnail = forms.FileField(
        required=False,
        help_text="JPEG, PNG, GIF or WebP; resized to fit 1280x720.",
        widget=forms.FileInput(attrs={"accept": "image/*"}),
    )

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
