"""tenants.branding: WCAG 2.2 contrast of the colours derived from a school's colour."""

import pytest

from tenants.branding import (
    AA_TEXT_CONTRAST,
    PAGE_BACKGROUND,
    contrast_ratio,
    ink_on_page,
    relative_luminance,
    text_on,
)

# Every colour whose channels are multiples of 17 (#000, #001, ... #fff): 4,096 colours
# spread over the whole cube.
EVERY_SHORT_HEX = [f"#{r:x}{g:x}{b:x}" for r in range(16) for g in range(16) for b in range(16)]


def test_relative_luminance_and_contrast_match_the_wcag_definition():
    assert relative_luminance("#000000") == 0.0
    assert relative_luminance("#ffffff") == 1.0
    assert relative_luminance("#FFF") == 1.0
    assert relative_luminance("#ff0000") == pytest.approx(0.2126)
    assert contrast_ratio("#000", "#fff") == 21.0
    assert contrast_ratio("#fff", "#000") == 21.0
    assert contrast_ratio("#2f5bea", "#2f5bea") == 1.0
    # The grey that WCAG's own examples put at the 4.5:1 boundary on white.
    assert round(contrast_ratio("#767676", "#ffffff"), 2) == 4.54
    assert round(contrast_ratio("#777777", "#ffffff"), 2) == 4.48


@pytest.mark.parametrize(
    ("background", "text"),
    [
        ("#2f5bea", "#ffffff"),  # the default blue
        ("#1b2a4a", "#ffffff"),
        ("#ffd60a", "#000000"),
        ("#12ab34", "#000000"),
        ("#767676", "#000000"),  # 4.62:1 with black, 4.54:1 with white
        ("#FFF", "#000000"),
    ],
)
def test_text_on_picks_the_colour_that_contrasts_more(background, text):
    assert text_on(background) == text


def test_text_on_reaches_aa_on_every_colour():
    worst = min(contrast_ratio(text_on(colour), colour) for colour in EVERY_SHORT_HEX)

    assert worst >= 4.58  # sqrt(21), where white and black contrast equally


def test_ink_on_page_keeps_a_readable_colour_and_darkens_a_light_one():
    assert ink_on_page("#2f5bea") == "#2f5bea"
    assert ink_on_page("#ffd60a") == "#867005"
    assert ink_on_page("#ffffff") == "#717171"
    # #867005 is the lightest shade of #ffd60a that passes: one step lighter fails.
    assert contrast_ratio("#867005", PAGE_BACKGROUND) >= AA_TEXT_CONTRAST
    assert contrast_ratio("#877105", PAGE_BACKGROUND) < AA_TEXT_CONTRAST


def test_ink_on_page_reaches_aa_on_the_page_for_every_colour():
    worst = min(contrast_ratio(ink_on_page(colour), PAGE_BACKGROUND) for colour in EVERY_SHORT_HEX)

    assert worst >= AA_TEXT_CONTRAST


@pytest.mark.parametrize("colour", ["red", "#12345", "2f5bea", "#ggg", "", "#2f5bea;}"])
def test_a_colour_that_is_not_hex_is_refused(colour):
    with pytest.raises(ValueError, match="not a CSS hex colour"):
        text_on(colour)
    with pytest.raises(ValueError, match="not a CSS hex colour"):
        ink_on_page(colour)


def test_ink_on_a_page_too_dark_for_any_shade_is_refused():
    with pytest.raises(ValueError, match=r"no shade reaches 4\.5:1"):
        ink_on_page("#2f5bea", page="#333333")
