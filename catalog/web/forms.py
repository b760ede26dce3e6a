"""The home page's filter form (query string)."""

from django import forms

from catalog.selectors import PRICES
from courses.models import Course


class CatalogueForm(forms.Form):
    """``?category=&difficulty=&price=free|paid&sort=newest|popular|title`` (all optional).
    ``categories``: the school's categories offered in the menu."""

    category = forms.ChoiceField(required=False)
    difficulty = forms.ChoiceField(
        required=False, choices=[("", "Any level"), *Course.Difficulty.choices]
    )
    price = forms.ChoiceField(
        required=False, choices=[("", "Any price"), *((p, p.capitalize()) for p in PRICES)]
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[("newest", "Newest"), ("popular", "Most popular"), ("title", "Title")],
    )

    def __init__(self, *args, categories: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "All categories"), *((c, c) for c in categories)]
