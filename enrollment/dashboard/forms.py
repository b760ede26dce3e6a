"""Forms of the dashboard's access-code pages. Each validates everything before a view writes,
so an invalid submission changes nothing."""

from django import forms
from django.utils import timezone

from enrollment.services import MAX_CODES_PER_BATCH


class AccessCodeBatchForm(forms.Form):
    """A batch of codes: quantity 1..10000 and an optional expiry in the future."""

    quantity = forms.IntegerField(min_value=1, max_value=MAX_CODES_PER_BATCH, initial=10)
    expires_at = forms.DateTimeField(
        required=False,
        help_text="Optional. Codes cannot be redeemed after this moment.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def clean_expires_at(self):
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return value
