"""Template context of every page on a school's host."""

import re

from django.http import HttpRequest

from tenants.branding import ink_on_page, text_on

DEFAULT_BRAND_COLOR = "#2f5bea"
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def school(request: HttpRequest) -> dict:
    """``school`` (the request's tenant, or ``None`` on the platform host), ``brand_color``:
    the school's ``primary_color`` when it is a CSS hex colour (it is written into a
    ``<style>`` block, where HTML escaping does not protect), else the default blue;
    ``brand_text_color``: black or white, for text on ``brand_color`` (at least 4.58:1);
    ``brand_ink_color``: ``brand_color``, darkened when needed, for text and links on the
    light page (at least 4.5:1). Both from ``tenants.branding`` (WCAG 2.2 contrast)."""
    tenant = getattr(request, "tenant", None)
    is_school = tenant is not None and tenant.kind == "school"
    color = getattr(tenant, "primary_color", "") or ""
    brand = color if _HEX_COLOR.match(color) else DEFAULT_BRAND_COLOR
    return {
        "school": tenant if is_school else None,
        "brand_color": brand,
        "brand_text_color": text_on(brand),
        "brand_ink_color": ink_on_page(brand),
    }
