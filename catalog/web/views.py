"""Public pages of a school's host: the home page (the catalogue, with filters, sort and
pages), course pages (``/courses/<slug>/``) with their free previews, instructor pages, the
sitemap and robots.txt.

Every page runs on a school's host, inside its schema (``tenants.middleware``); another
school's slugs and ids answer 404 like unknown ones. Course data comes from the school's
cached catalogue and outlines (``courses.cache``).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.views.decorators.http import require_safe

from catalog import links, selectors
from catalog.hooks import course_page_sections, home_sections
from catalog.web.forms import CatalogueForm
from courses.cache import catalogue_page_get, catalogue_page_set, catalogue_version
from enrollment.selectors import enrollment_list_for_student
from tenants.errors import NotFound
from tenants.links import tenant_url
from tenants.markdown import markdown_render

# --- The home page ----------------------------------------------------------------------------

CATALOGUE_TEMPLATE = "courses/catalogue.html"
# Courses per page of the home page (a row of 3 or 4 cards, three rows).
CATALOGUE_PAGE_SIZE = 12
# What the anonymous home page is rendered from besides the catalogue and the school's
# branding: a deploy that changes any of these changes every stored page's fingerprint.
_PAGE_TEMPLATES = (
    CATALOGUE_TEMPLATE,
    "base.html",
    "courses/_catalogue_grid.html",
    "courses/_course_row.html",
)


@cache
def _page_code() -> str:
    """A digest of the templates and the stylesheet URL the home page is rendered with (read
    once per process: templates and static files change only with a deploy)."""
    digest = hashlib.sha256(static("css/lectern.css").encode())
    for name in _PAGE_TEMPLATES:
        digest.update(get_template(name).template.source.encode())
    return digest.hexdigest()


def _page_fingerprint(tenant) -> str:
    return f"{_page_code()}:{tenant.name}:{tenant.primary_color}:{tenant.logo}"


def _is_anonymous_without_state(request: HttpRequest) -> bool:
    """No session cookie (so no user and no session-stored messages) and no messages cookie:
    the page is the same for every such visitor."""
    return (
        settings.SESSION_COOKIE_NAME not in request.COOKIES
        and CookieStorage.cookie_name not in request.COOKIES
    )


def _catalogue_context(request: HttpRequest, enrolled: set) -> dict:
    form = CatalogueForm(request.GET or None, categories=selectors.catalogue_categories())
    form.is_valid()
    # The valid fields only (an unknown value is ignored); an unbound form has none.
    filters = getattr(form, "cleaned_data", {})
    courses = selectors.catalogue_search(
        category=filters.get("category") or None,
        difficulty=filters.get("difficulty") or None,
        price=filters.get("price") or None,
        sort=filters.get("sort") or "newest",
    )
    page = Paginator(courses, CATALOGUE_PAGE_SIZE).get_page(request.GET.get("page"))
    # Page links keep the filters and sort: the query without ``page``.
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "tenant": request.tenant,
        "form": form,
        "courses": [_card(request, c) for c in page.object_list],
        "page": page,
        "query": query.urlencode(),
        "filtered": bool(request.GET),
        "categories": selectors.catalogue_categories(),
        "enrolled": enrolled,
        # Rows of the apps above (catalog.hooks.home_sections: recommended for you, trending),
        # on the unfiltered first page only.
        "rows": (
            [] if request.GET else [row for row in home_sections.collect(request=request) if row]
        ),
    }


def _card(request: HttpRequest, course: dict[str, Any]) -> dict[str, Any]:
    return {
        **course,
        "url": reverse("catalog-course", kwargs={"slug": course["slug"]}),
        "cover_url": links.cover_url(request, course),
        "price_display": selectors.price_format(course["price"], course["currency"]),
    }


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The school's home page: its published courses (never drafts or archived ones) as cards
    linking to their public pages, with filters (category, difficulty, free/paid), a sort
    (newest, popular, title) and pages of ``CATALOGUE_PAGE_SIZE``; page links keep the query.
    A signed-in student's enrolled courses link to the course itself. Unknown filter values
    are ignored (the form shows them as errors).

    On the unfiltered first page, above the catalogue, the rows the apps above add
    (``catalog.hooks.home_sections``: "Recommended for you" for a signed-in account,
    "Trending").

    A visitor without a session or messages cookie asking for the unfiltered first page (no
    query string) gets the whole page from the cache: one Redis round trip reads the catalogue
    token and the stored page, served when rendered under that token with the same branding
    and templates, rendered and stored otherwise. Other queries are rendered from the cached
    catalogue (only ``sort=popular`` reads the database: enrollment counts).
    """
    if _is_anonymous_without_state(request) and not request.GET:
        fingerprint = _page_fingerprint(request.tenant)
        token, stored = catalogue_page_get(fingerprint)
        if stored is not None:
            return HttpResponse(stored)
        token = token or catalogue_version()
        response = render(request, CATALOGUE_TEMPLATE, _catalogue_context(request, set()))
        if not response.cookies:
            catalogue_page_set(token, fingerprint, response.content)
        return response
    enrolled: set = set()
    if request.user.is_authenticated:
        enrolled = set(
            enrollment_list_for_student(student=request.user).values_list("course_id", flat=True)
        )
    return render(request, CATALOGUE_TEMPLATE, _catalogue_context(request, enrolled))


# --- Course pages ----------------------------------------------------------------------------


def duration_text(seconds: float) -> str:
    """A length for people: ``"1 h 05 min"``, ``"12 min"``, ``"45 s"`` (rounded to the
    second; minutes from 1 minute on, hours from 1 hour on)."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def json_ld(data: dict[str, Any]) -> SafeString:
    """``data`` as JSON for a ``<script type="application/ld+json">`` element, escaped the way
    Django's ``json_script`` escapes (``<``, ``>`` and ``&`` as ``\\u`` escapes), so no text in
    it can close the element or open a comment."""
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
    escapes = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}
    return mark_safe(text.translate(escapes))  # noqa: S308 (escaped above)


def plain_summary(course: dict[str, Any], length: int = 160) -> str:
    """The meta description of a course: its subtitle, else the start of its description as
    plain text, at most ``length`` characters (what search engines show)."""
    text = course["subtitle"] or strip_tags(str(markdown_render(course["description"])))
    return Truncator(" ".join(text.split())).chars(length)


def _course_json_ld(
    request, page: selectors.CoursePage, url: str, root: str, image: str | None
) -> dict:
    """schema.org ``Course`` (https://schema.org/Course; Google's course rich result):
    name, description, provider (the school), offers (price, currency), instructors and the
    course's language."""
    course = page.course
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Course",
        "name": course["title"],
        "description": plain_summary(course, 500),
        "url": url,
        "inLanguage": course["language"],
        "educationalLevel": course["difficulty"],
        "provider": {
            "@type": "Organization",
            "name": request.tenant.name,
            "sameAs": f"{root}/",
        },
        "offers": {
            "@type": "Offer",
            "category": "Free" if not course["price"] else "Paid",
            "price": f"{course['price']:.2f}",
            "priceCurrency": course["currency"],
        },
        "hasCourseInstance": {
            "@type": "CourseInstance",
            "courseMode": "Online",
            "courseWorkload": f"PT{round(page.total_duration)}S",
            "instructor": [{"@type": "Person", "name": p["name"]} for p in page.instructors],
        },
    }
    if image:
        data["image"] = image
    return data


@require_safe
def course_page(request: HttpRequest, slug: str) -> HttpResponse:
    """``/courses/<slug>/``: a course's public page (``catalog.selectors.course_page_get`` says
    who may see what: drafts only to their instructors and the owner, as a preview marked
    ``noindex``; archived courses to their enrolled students and instructors; otherwise the
    urlconf's 404, an HTML page for browsers and the error body for scripts).

    Cover, title, subtitle, description (Markdown), outcomes, curriculum with durations,
    kinds and "Preview" marks, total duration, difficulty, language, instructors, price,
    the free-preview player (video previews play through
    ``/api/v1/catalog/courses/<slug>/lectures/<id>/preview``; article previews show their
    body), "Redeem a code" (or "Continue" for an enrolled student), the rows the apps above
    add (``catalog.hooks.course_page_sections``: "Students also took"), and in ``<head>`` the
    meta description, canonical URL, OpenGraph tags and schema.org ``Course`` JSON-LD.
    """
    try:
        page = selectors.course_page_get(slug=slug, viewer=request.user)
    except NotFound:
        raise Http404("No such course.") from None
    course = page.course
    root = tenant_url(request.tenant, "")  # one query: the school's primary domain
    url = root + reverse("catalog-course", kwargs={"slug": slug})
    cover = links.cover_url(request, course) if course["status"] == "published" else None
    previews = []
    sections = []
    for section in course["sections"]:
        rows = []
        for lecture in section["lectures"]:
            row = {
                **lecture,
                "duration_text": duration_text(lecture["duration"]) if lecture["duration"] else "",
                "preview_url": None,
                "body_html": None,
            }
            if lecture["free_preview"] and lecture["kind"] == "video" and lecture["ready"]:
                row["preview_url"] = reverse(
                    "catalog-preview", kwargs={"slug": slug, "lecture_id": lecture["id"]}
                )
                previews.append(row)
            elif lecture["free_preview"] and lecture["id"] in page.articles:
                row["body_html"] = markdown_render(page.articles[lecture["id"]])
            rows.append(row)
        sections.append({**section, "lectures": rows})
    context = {
        "course": course,
        "page": page,
        "sections": sections,
        "preview": previews[0] if previews else None,
        "description_html": markdown_render(course["description"]),
        "outcomes": [markdown_render(str(line)) for line in course["outcomes"]],
        "total_duration_text": duration_text(page.total_duration),
        "summary": plain_summary(course),
        "canonical_url": url,
        "cover_url": cover,
        "price_display": selectors.price_format(course["price"], course["currency"]),
        "instructors": [
            {**p, "avatar_url": links.avatar_url(request, p), "bio_html": markdown_render(p["bio"])}
            for p in page.instructors
        ],
        "json_ld": json_ld(_course_json_ld(request, page, url, root, cover)),
        "draft": course["status"] == "draft",
        # Rows of the apps above (catalog.hooks.course_page_sections): students also took.
        "rows": [
            row
            for row in course_page_sections.collect(request=request, course_id=course["id"])
            if row
        ],
    }
    return render(request, "catalog/course.html", context)


# --- Instructors ---------------------------------------------------------------------------


@require_safe
def instructor_page(request: HttpRequest, instructor_id: int) -> HttpResponse:
    """``/instructors/<id>/``: an instructor's name, avatar, bio (Markdown) and published
    courses. 404 for anyone without a published course (students, unknown ids, another
    school's ids, instructors whose courses are all drafts or archived)."""
    try:
        page = selectors.instructor_page_get(instructor_id=instructor_id)
    except NotFound:
        raise Http404("No such instructor.") from None
    person = page.person
    context = {
        "person": person,
        "avatar_url": links.avatar_url(request, person),
        "bio_html": markdown_render(person["bio"]),
        "courses": [_card(request, c) for c in page.courses],
        "canonical_url": links.instructor_url(request, person),
        "enrolled": set(),
    }
    return render(request, "catalog/instructor.html", context)


# Avatar file extension -> Content-Type (avatars are stored re-encoded, never as SVG).
AVATAR_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@require_safe
def instructor_avatar(request: HttpRequest, instructor_id: int) -> HttpResponse:
    """``/instructors/<id>/avatar``: the avatar image of an instructor with a public page (the
    same check as the page, every time); 404 otherwise or without one. The stored image is
    re-encoded at upload; its type is named by its extension (``AVATAR_TYPES``)."""
    try:
        key = selectors.instructor_avatar_key(instructor_id=instructor_id)
    except NotFound:
        raise Http404("No avatar.") from None
    if not default_storage.exists(key):
        raise Http404("No avatar.")
    content_type = AVATAR_TYPES.get(key.rpartition(".")[2].lower(), "image/jpeg")
    response = FileResponse(default_storage.open(key, "rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=300"
    return response


# --- Sitemap and robots.txt ------------------------------------------------------------------


@require_safe
def sitemap(request: HttpRequest) -> HttpResponse:
    """``/sitemap.xml`` (sitemaps.org 0.9): the home page, each published course's page and
    each instructor page, as absolute URLs on the school's primary domain, with ``lastmod``
    (the catalogue's newest change, the course's, the instructor's newest course's)."""
    entries = selectors.sitemap_entries()
    root = tenant_url(request.tenant, "")
    urls = []
    newest = None
    for kind, item in entries:
        if kind == "course":
            path = reverse("catalog-course", kwargs={"slug": item["slug"]})
        else:
            path = reverse("catalog-instructor", kwargs={"instructor_id": item["id"]})
        urls.append({"loc": root + path, "lastmod": item["updated_at"]})
        newest = max(newest or item["updated_at"], item["updated_at"])
    home_url = {"loc": f"{root}/", "lastmod": newest}
    return render(
        request,
        "catalog/sitemap.xml",
        {"urls": [home_url, *urls]},
        content_type="application/xml; charset=utf-8",
    )


@require_safe
def robots(request: HttpRequest) -> HttpResponse:
    """``/robots.txt``: everything but the dashboard, the API, media, accounts and the admin
    may be crawled; points at the school's sitemap."""
    lines = [
        "User-agent: *",
        *(
            f"Disallow: {path}"
            for path in ("/dashboard/", "/api/", "/media/", "/admin/", "/my/", "/redeem/")
        ),
        f"Sitemap: {tenant_url(request.tenant, reverse('catalog-sitemap'))}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
