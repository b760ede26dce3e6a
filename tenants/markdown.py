"""Markdown that users write (course and lecture descriptions, articles, posts), rendered to
HTML that is safe to put on the school's pages.

Rendering is CommonMark with tables and strikethrough (``markdown-it-py``), with raw HTML
turned off (it is shown as text); the result then goes through ``nh3`` (the Rust ``ammonia``
sanitiser) with an allow-list of tags and attributes, so no script, style, frame, inline event
handler or ``javascript:``/``data:`` URL survives whatever the input. Links get
``rel="noopener noreferrer nofollow"``.
"""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# What rendered Markdown can produce, nothing more.
ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead",
        "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
    "code": {"class"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


def markdown_render(text: str) -> SafeString:
    """``text`` (Markdown, any length the caller's field allows) as sanitised HTML, marked safe
    for templates. Empty or blank text gives an empty string. Never raises for any input."""
    if not text or not text.strip():
        return mark_safe("")
    html = _md.render(text)
    # Safe: nh3 has removed everything outside the allow-lists above.
    return mark_safe(  # noqa: S308
        nh3.clean(
            html,
            tags=set(ALLOWED_TAGS),
            attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
            url_schemes=set(URL_SCHEMES),
            link_rel="noopener noreferrer nofollow",
        )
    )
