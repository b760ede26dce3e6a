"""The results page ``/search/`` (without scripts), the header's search box, and the search
analytics on the instructors' overview (page and API)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from courses.services import course_create
from search import services
from tenants.testing import TenantClient, browser, in_tenant
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


def _results(html: str) -> list[tuple[str, str]]:
    """(type, link) of each result of the page, in order."""
    return re.findall(
        r'<li class="card search-result" data-type="(\w+)">.*?<h2 class="search-result__title">'
        r'<a href="([^"]+)">',
        html,
        flags=re.S,
    )


def test_the_page_lists_highlighted_results_with_filters_and_pages(world):
    page = browser(world.tenant, world.student)
    response = page.get("/search/", {"q": "tamarack OR sassafras OR rhubarb"})
    html = response.content.decode()
    assert response.status_code == 200
    assert [kind for kind, _ in _results(html)] == ["question", "transcript", "transcript", "note"]
    assert "4 results for “tamarack OR sassafras OR rhubarb”: " in html
    assert "<mark>Sassafras</mark> published question" in html
    assert html.count('class="search-result__time">0:04<') == 1
    assert '?t=4"' in html and 'href="/notes/?q=tamarack+OR+sassafras+OR+rhubarb"' in html
    filters = re.findall(r'<nav class="search-filters".*?</nav>', html, flags=re.S)[0]
    assert re.findall(r">([^<]+)</a>", filters) == [
        "All",
        "Courses",
        "Lectures",
        "Transcripts",
        "Q&amp;A",
        "My notes",
    ]
    only = page.get("/search/", {"q": "tamarack OR sassafras", "type": "transcript"})
    assert [kind for kind, _ in _results(only.content.decode())] == ["transcript", "transcript"]
    # Pages of results keep the query and the filter.
    with in_tenant(world.tenant):
        for n in range(23):
            course_create(title=f"Elderberry {n}", status="published")
    first = page.get("/search/", {"q": "elderberry", "type": "course"}).content.decode()
    assert len(_results(first)) == 20 and "Page 1 of 2" in first
    assert 'href="?q=elderberry&amp;type=course&amp;page=2" rel="next"' in first
    second = page.get("/search/", {"q": "elderberry", "type": "course", "page": "2"})
    assert len(_results(second.content.decode())) == 3
    past = page.get("/search/", {"q": "elderberry", "type": "course", "page": "3"})
    assert past.status_code == 404 and "Back to the first page" in past.content.decode()


def test_the_page_works_for_visitors_and_echoes_queries_inert(world):
    visitor = browser(world.tenant)
    html = visitor.get("/search/", {"q": "quillwort"}).content.decode()
    assert [link for _, link in _results(html)] == [f"/courses/{world.courses['published'].slug}/"]
    empty = visitor.get("/search/")
    assert empty.status_code == 200 and "search-results" not in empty.content.decode()
    for q in XSS_CORPUS:
        response = visitor.get("/search/", {"q": q})
        assert response.status_code == 200, q
        body = response.content.decode()
        # The answer's text (the forms themselves are the page's own) and both search boxes.
        assert_inert(body[body.index('id="search-status"') : body.index("</main>")])
        for box in re.findall(r'<input type="search"[^>]*>', body):
            assert_inert(box)
        assert len(re.findall(r'<input type="search"[^>]*>', body)) == 2


def test_school_pages_carry_the_search_combobox(world, tenant):
    html = browser(tenant).get("/").content.decode()
    box = re.search(
        r'<form class="site-search" role="search" method="get" action="/search/">', html
    )
    assert box is not None
    field = re.search(r'<input type="search" id="site-search-q"[^>]*>', html).group(0)
    for attribute in (
        'role="combobox"',
        'aria-autocomplete="list"',
        'aria-expanded="false"',
        'aria-controls="site-search-list"',
        'name="q"',
    ):
        assert attribute in field
    assert '<ul class="site-search__list" id="site-search-list" role="listbox"' in html
    assert 'src="/static/build/search.js"' in html
    # The platform's own pages are no school's: no box.
    from django.test import Client

    assert "site-search" not in Client(HTTP_HOST="localhost").get("/").content.decode()


def test_the_overview_shows_top_queries_and_queries_without_results(world):
    now = timezone.now()
    with in_tenant(world.tenant):
        for query, results, times in (("<b>hls</b>", 4, 3), ("ffmpeg", 0, 2)):
            for n in range(times):
                services.search_log(
                    query=query, type="", results=results, at=now - timedelta(hours=n)
                )
    page = browser(world.tenant, world.teacher).get("/dashboard/analytics/")
    html = page.content.decode()
    section = html[html.index('id="analytics-search"') :]
    section = section[: section.index("</section>")]
    assert_inert(section)
    assert re.findall(r"<tr><td>([^<]*)</td><td>(\d+)</td>", section) == [
        ("&lt;b&gt;hls&lt;/b&gt;", "3"),
        ("ffmpeg", "2"),
        ("ffmpeg", "2"),
    ]
    api = TenantClient(world.tenant, user=world.teacher).get("/api/v1/analytics/overview")
    assert api.json()["search"] == {
        "days": 30,
        "searches": 5,
        "top": [
            {"query": "<b>hls</b>", "searches": 3, "results": 4},
            {"query": "ffmpeg", "searches": 2, "results": 0},
        ],
        "no_results": [{"query": "ffmpeg", "searches": 2}],
    }
