"""Template context of every page on a school's host."""

from django.http import HttpRequest

from tenants.branding import brand_color, ink_on_page, text_on


def school(request: HttpRequest) -> dict:
    """``school`` (the request's tenant, or ``None`` on the platform host), ``brand_color``:
    the school's ``primary_color`` when it is a CSS hex colour (it is written into a
    ``<style>`` block, where HTML escaping does not protect), else the default blue
    (``tenants.branding.brand_color``); ``brand_text_color``: black or white, for text on
    ``brand_color`` (at least 4.58:1); ``brand_ink_color``: ``brand_color``, darkened when
    needed, for text and links on the light page (at least 4.5:1). Both from
    ``tenants.branding`` (WCAG 2.2 contrast)."""
    tenant = getattr(request, "tenant", None)
    is_school = tenant is not None and tenant.kind == "school"
    brand = brand_color(tenant)
    return {
        "school": tenant if is_school else None,
        "brand_color": brand,
        "brand_text_color": text_on(brand),
        "brand_ink_color": ink_on_page(brand),
    }
