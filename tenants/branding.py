"""A school's colours as pages and e-mails may use them."""

import re

from tenants.models import Tenant

DEFAULT_BRAND_COLOR = "#2f5bea"
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def brand_color(tenant: Tenant | None) -> str:
    """The school's ``primary_color`` when it is a CSS hex colour (it is written into
    ``<style>`` blocks and ``style`` attributes, where HTML escaping does not protect), else
    the default blue."""
    color = getattr(tenant, "primary_color", "") or ""
    return color if _HEX_COLOR.match(color) else DEFAULT_BRAND_COLOR
