"""Readable colours derived from a school's branding colour.

A school picks any colour (``Tenant.primary_color``), light or dark. Text drawn on it, and
text drawn in it on the site's light page, must stay readable, so the colours the pages use
are derived here with the WCAG 2.2 formulas (success criterion 1.4.3, "Contrast (Minimum)":
relative luminance and contrast ratio, https://www.w3.org/TR/WCAG22/#dfn-relative-luminance).
Colours are CSS hex strings, ``#rgb`` or ``#rrggbb``; results are ``#rrggbb`` in lower case.
"""

import re
from collections.abc import Iterable

__all__ = [
    "AA_TEXT_CONTRAST",
    "DEFAULT_BRAND_COLOR",
    "PAGE_BACKGROUND",
    "brand_color",
    "contrast_ratio",
    "ink_on_page",
    "relative_luminance",
    "text_on",
]

AA_TEXT_CONTRAST = 4.5
"""Minimum contrast ratio of normal-size text against its background (WCAG 2.2, 1.4.3, AA)."""

PAGE_BACKGROUND = "#f6f7fb"
"""Background of the student site's pages (``static/css/lectern.css``), the darkest of the
light surfaces links are drawn on (cards are white)."""

TEXT_LIGHT = "#ffffff"
TEXT_DARK = "#000000"
# Black and white: for every colour one of them reaches at least sqrt(21) = 4.58:1, the
# ratio where both are equal (luminance 0.179). A dark grey instead of black would fall
# below 4.5:1 for mid-tone colours (#1d2330 reaches only 3.99:1 there).

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def _channels(color: str) -> tuple[int, int, int]:
    if not _HEX.match(color):
        raise ValueError(f"not a CSS hex colour: {color!r}")
    digits = color[1:]
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _hex(channels: Iterable[int]) -> str:
    return "#" + "".join(f"{channel:02x}" for channel in channels)


def relative_luminance(color: str) -> float:
    """WCAG relative luminance of ``color``: 0.0 (black) to 1.0 (white).

    Raises:
        ValueError: ``color`` is not ``#rgb`` or ``#rrggbb``.
    """

    def linear(channel: int) -> float:
        srgb = channel / 255
        return srgb / 12.92 if srgb <= 0.04045 else ((srgb + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in _channels(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours, from 1.0 (same luminance) to 21.0 (black on white),
    whichever order they come in.

    Raises:
        ValueError: a colour is not ``#rgb`` or ``#rrggbb``.
    """
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_on(background: str) -> str:
    """The text colour for ``background``: white or black, whichever contrasts more (at least
    4.58:1 for any background). Ties go to white.

    Raises:
        ValueError: ``background`` is not ``#rgb`` or ``#rrggbb``.
    """
    if contrast_ratio(TEXT_LIGHT, background) >= contrast_ratio(TEXT_DARK, background):
        return TEXT_LIGHT
    return TEXT_DARK


def ink_on_page(color: str, page: str = PAGE_BACKGROUND) -> str:
    """``color`` for text and links on the light ``page``: unchanged when it already reaches
    AA_TEXT_CONTRAST against ``page``, else the lightest shade of it (all channels scaled
    down by the same factor, so the hue stays) that does.

    Raises:
        ValueError: a colour is not ``#rgb`` or ``#rrggbb``, or ``page`` is too dark for
            even black text to reach AA_TEXT_CONTRAST on it.
    """
    channels = _channels(color)
    if contrast_ratio(TEXT_DARK, page) < AA_TEXT_CONTRAST:
        raise ValueError(f"no shade reaches {AA_TEXT_CONTRAST}:1 on {page!r}")
    if contrast_ratio(_hex(channels), page) >= AA_TEXT_CONTRAST:
        return _hex(channels)
    # Contrast with a light page grows as the factor shrinks, so the first factor from the
    # top that passes is the lightest passing shade; steps of 1/255 move each channel by at
    # most one unit. Factor 0 is black, which passes (checked above).
    for step in range(254, -1, -1):
        shade = _hex(round(channel * step / 255) for channel in channels)
        if contrast_ratio(shade, page) >= AA_TEXT_CONTRAST:
            return shade
    return TEXT_DARK


DEFAULT_BRAND_COLOR = "#2f5bea"
"""The colour of a school that has not chosen a valid one."""


def brand_color(tenant) -> str:
    """The school's ``primary_color`` when it is a CSS hex colour (it is written into
    ``<style>`` blocks and ``style`` attributes, where HTML escaping does not protect), else
    ``DEFAULT_BRAND_COLOR``. ``tenant`` is a ``tenants.models.Tenant`` or None."""
    color = getattr(tenant, "primary_color", "") or ""
    return color if _HEX.match(color) else DEFAULT_BRAND_COLOR
