"""Template context of every page on a school's host."""

from django.http import HttpRequest

from tenants.branding import brand_color


def school(request: HttpRequest) -> dict:
    """``school`` (the request's tenant, or ``None`` on the platform host) and
    ``brand_color``: the school's ``primary_color`` when it is a CSS hex colour (it is written
    into a ``<style>`` block, where HTML escaping does not protect), else the default blue
    (``tenants.branding.brand_color``)."""
    tenant = getattr(request, "tenant", None)
    is_school = tenant is not None and tenant.kind == "school"
    return {"school": tenant if is_school else None, "brand_color": brand_color(tenant)}
