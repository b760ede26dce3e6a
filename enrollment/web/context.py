"""Template context of every page on a school's host."""

import re

from django.http import HttpRequest

DEFAULT_BRAND_COLOR = "#2f5bea"
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def school(request: HttpRequest) -> dict:
    """``school`` (the request's tenant, or ``None`` on the platform host) and
    ``brand_color``: the school's ``primary_color`` when it is a CSS hex colour (it is written
    into a ``<style>`` block, where HTML escaping does not protect), else the default blue."""
    tenant = getattr(request, "tenant", None)
    is_school = tenant is not None and tenant.kind == "school"
    color = getattr(tenant, "primary_color", "") or ""
    return {
        "school": tenant if is_school else None,
        "brand_color": color if _HEX_COLOR.match(color) else DEFAULT_BRAND_COLOR,
    }
