"""What a course says, as the one text its embedding is made from."""

from __future__ import annotations

import hashlib
from typing import Any

from django.utils.html import strip_tags

from courses.models import Course, Lecture, Section
from tenants.markdown import markdown_render

#: Characters of the description kept: the model reads 256 word pieces (about 1,000
#: characters of English) in all, and the curriculum's titles come after the description.
DESCRIPTION_CHARS = 1000


def plain(markdown: str) -> str:
    """``markdown`` as plain text on one line: rendered through the sanitiser, tags dropped,
    whitespace collapsed (what a reader sees, without its syntax)."""
    return " ".join(strip_tags(str(markdown_render(markdown))).split())


def course_text(course: Course) -> str:
    """The text embedded for ``course`` (2 queries): its title, subtitle, category, the start
    of its description (``DESCRIPTION_CHARS``, as plain text), its outcomes, then its section
    titles, each followed by its lectures' titles, in the course's order. Lectures the
    platform hid are left out. Parts are trimmed of spaces and final full stops and joined
    with ``". "``; empty parts are skipped."""
    lectures: dict[Any, list[str]] = {}
    for section_id, title in (
        Lecture.objects.filter(section__course=course, hidden_by_platform=False)
        .order_by("order", "id")
        .values_list("section_id", "title")
    ):
        lectures.setdefault(section_id, []).append(title)
    parts = [
        course.title,
        course.subtitle,
        course.category,
        plain(course.description)[:DESCRIPTION_CHARS],
        *(str(line) for line in course.outcomes),
    ]
    for section_id, title in (
        Section.objects.filter(course=course).order_by("order", "id").values_list("id", "title")
    ):
        parts.append(title)
        parts.extend(lectures.get(section_id, []))
    kept = (part.strip().rstrip(".").strip() for part in parts)
    return ". ".join(part for part in kept if part)


def text_hash(text: str) -> str:
    """The sha256 of ``text`` (UTF-8) in hex: what ``CourseEmbedding.text_hash`` compares."""
    return hashlib.sha256(text.encode()).hexdigest()
