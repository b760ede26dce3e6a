"""Template filters of the Q&A pages: ``markdown`` (a post's sanitised HTML) and
``author_name`` (what a post shows of its author)."""

from django import template

from community.serializers import author_name as _author_name
from tenants.markdown import markdown_render

register = template.Library()


@register.filter
def markdown(text: str):
    """``text`` (Markdown) as sanitised HTML (``tenants.markdown.markdown_render``)."""
    return markdown_render(text)


@register.filter
def author_name(user) -> str:
    """The account's name, never its e-mail address."""
    return _author_name(user)
