"""The search API (API.md "Search"): the page envelope, ranking and weights, snippets and the
XSS corpus, transcript start times and links, language rules (stems, accents), errors, the
search log, and autocomplete (typos, prefixes, visibility)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection

from courses.services import course_create, lecture_create, section_create
from search.models import SearchLog
from search.tests.conftest import captions_store
from tenants.testing import TenantClient, browser, in_tenant, tasks_run_on_commit
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


def _get(client, path="/api/v1/search", **params):
    return client.get(path, params)


def _error(response) -> tuple[int, str, dict]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["details"]


def test_a_page_is_the_page_envelope_with_counts_and_result_objects(world):
    client = TenantClient(world.tenant, user=world.student)
    body = _get(client, q="sassafras or rhubarb or tamarack", limit=2).json()
    assert body["count"] == 4
    assert body["counts"] == {"question": 1, "transcript": 2, "note": 1}
    assert body["previous"] is None
    following = urlsplit(body["next"])
    assert (following.path, parse_qs(following.query)) == (
        "/api/v1/search",
        {"q": ["sassafras or rhubarb or tamarack"], "limit": ["2"], "page": ["2"]},
    )
    assert len(body["results"]) == 2
    second = client.get(body["next"]).json()
    assert parse_qs(urlsplit(second["previous"]).query) == {
        "q": ["sassafras or rhubarb or tamarack"],
        "limit": ["2"],
    }
    assert second["next"] is None
    ids = [(r["type"], r["id"]) for r in body["results"] + second["results"]]
    assert len(set(ids)) == 4
    question = next(r for r in body["results"] + second["results"] if r["type"] == "question")
    lecture = world.lectures["open"]
    assert question == {
        "type": "question",
        "id": str(world.questions["published"].pk),
        "title": "Sassafras published question",
        "title_html": "<mark>Sassafras</mark> published question",
        "snippet": "Why do leaves turn?",
        "snippet_html": "Why do leaves turn?",
        "url": f"/courses/{world.courses['published'].id}/lectures/{lecture.id}/"
        f"#question-{world.questions['published'].pk}",
        "course": {"id": str(world.courses["published"].id), "title": "Quillwort botany"},
        "lecture": {"id": str(lecture.id), "title": lecture.title},
        "start": None,
        "rank": question["rank"],
    }
    assert _get(client, q="sassafras", page=3).status_code == 404


def test_a_transcript_hit_starts_at_its_cue_and_links_the_player_there(world):
    client = TenantClient(world.tenant, user=world.student)
    results = _get(client, q="needles autumn", type="transcript").json()["results"]
    spoken = world.lectures["spoken"]
    course = world.courses["published"]
    assert [(r["start"], r["url"], r["title"]) for r in results] == [
        (8.5, f"/courses/{course.id}/lectures/{spoken.id}/?t=8", "Spoken lecture")
    ]
    assert results[0]["snippet_html"].count("<mark>") == 2
    # Matched across two cues ("tamarack" + "needles"): the passage's start.
    across = _get(client, q="tamarack needles", type="transcript").json()["results"]
    assert [r["start"] for r in across] == [0.0]
    # The teacher is not enrolled: the lecture's edit page of the dashboard.
    teacher = TenantClient(world.tenant, user=world.teacher)
    url = _get(teacher, q="needles", type="transcript").json()["results"][0]["url"]
    assert url == f"/dashboard/courses/{course.id}/lectures/{spoken.id}/edit/"


def test_titles_outrank_subtitles_outrank_descriptions_outrank_transcripts(tenant, world):
    with in_tenant(tenant), tasks_run_on_commit():
        by_field = {
            "title": course_create(title="Juniper", status="published"),
            "subtitle": course_create(title="One", subtitle="Juniper", status="published"),
            "description": course_create(title="Two", description="Juniper", status="published"),
        }
        lecture = lecture_create(
            section=section_create(course=by_field["title"], title="S"), title="Three"
        )
        captions_store(lecture, [(0.0, 2.0, "Juniper")])
    connection.set_schema_to_public()
    results = _get(TenantClient(tenant, user=world.owner), q="juniper").json()["results"]
    assert [(r["type"], r["course"]["id"]) for r in results] == [
        ("course", str(by_field["title"].id)),
        ("course", str(by_field["subtitle"].id)),
        ("course", str(by_field["description"].id)),
        ("transcript", str(by_field["title"].id)),
    ]
    ranks = [r["rank"] for r in results]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == 4


def test_words_match_by_stem_and_without_accents_in_the_schools_language(tenant, world):
    with in_tenant(tenant):
        course_create(title="Café résumés", description="Running the numbers", status="published")
    connection.set_schema_to_public()
    client = TenantClient(tenant)
    for q in ("cafe", "CAFÉ resume", "runs", "ran OR running"):
        assert [r["title"] for r in _get(client, q=q).json()["results"]] == ["Café résumés"], q
    assert _get(client, q='"numbers running"').json()["count"] == 0  # phrase order
    assert _get(client, q="café -numbers").json()["count"] == 0
    assert _get(client, q="the of and").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "counts": {},
        "results": [],
    }


def test_snippets_are_escaped_text_with_marks_only_around_matches(tenant, world):
    payloads = " ".join(XSS_CORPUS)
    with in_tenant(tenant):
        course = course_create(
            title="Hornbeam <b>bold</b> \x02fake\x03",
            subtitle="<script>alert(1)</script> hornbeam",
            description=f"Hornbeam {payloads} \x02not a mark\x03",
            status="published",
        )
    connection.set_schema_to_public()
    client = TenantClient(tenant)
    (result,) = _get(client, q="hornbeam").json()["results"]
    for html in (result["title_html"], result["snippet_html"]):
        assert_inert(html)
        assert html.count("<mark>") == html.count("</mark>") >= 1
        assert "<mark>" not in html.replace("<mark>Hornbeam</mark>", "").replace(
            "<mark>hornbeam</mark>", ""
        )
    assert result["title"] == "Hornbeam <b>bold</b> fake"
    assert result["title_html"] == "<mark>Hornbeam</mark> &lt;b&gt;bold&lt;/b&gt; fake"
    assert "&lt;img src=x onerror=alert(1)&gt;" in result["snippet_html"]
    assert "\x02" not in result["snippet"] + result["title"]
    assert result["course"]["id"] == str(course.id)
    # The corpus as queries: answered (never a 500), with inert HTML; suggestions are JSON
    # text (the header's script sets them with textContent).
    for q in XSS_CORPUS:
        response = _get(client, q=q)
        assert response.status_code == 200, q
        for item in response.json()["results"]:
            assert_inert(item["title_html"])
            assert_inert(item["snippet_html"])
        suggested = _get(client, "/api/v1/search/autocomplete", q=q)
        assert (suggested.status_code, suggested["Content-Type"]) == (200, "application/json")
    suggestions = _get(client, "/api/v1/search/autocomplete", q="hornbeam").json()["suggestions"]
    assert [s["text"] for s in suggestions] == ["Hornbeam <b>bold</b> \x02fake\x03"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"q": "ok", "type": "video"}, "type"),
        ({"q": "ok", "course": "nope"}, "course"),
        ({"q": "ok", "page": "0"}, "page"),
        ({"q": "ok", "limit": "101"}, "limit"),
    ],
)
def test_bad_parameters_answer_400_with_the_error_body(tenant, params, field):
    response = TenantClient(tenant).get("/api/v1/search", params)
    status, code, details = _error(response)
    assert (status, code, list(details)) == (400, "VALIDATION_ERROR", [field])


def test_each_search_is_logged_once_normalised_without_an_account(world):
    client = TenantClient(world.tenant, user=world.student)
    assert _get(client, q="  Sassafras   OR Rhubarb ", limit=1).json()["count"] == 2
    assert _get(client, q="Sassafras OR Rhubarb", limit=1, page=2).status_code == 200
    assert _get(client, q="nothing-here-at-all", type="course").json()["count"] == 0
    TenantClient(world.tenant).get("/api/v1/search/autocomplete", {"q": "sassafras"})
    with in_tenant(world.tenant):
        rows = list(SearchLog.objects.order_by("id").values_list("query", "type", "results"))
        assert {f.name for f in SearchLog._meta.fields} == {
            "id",
            "query",
            "type",
            "results",
            "created_at",
        }
    assert rows == [("sassafras or rhubarb", "", 2), ("nothing-here-at-all", "course", 0)]


def test_autocomplete_completes_prefixes_and_forgives_typos(tenant, world):
    with in_tenant(tenant):
        postgres = course_create(title="PostgreSQL for beginners", status="published")
        course_create(title="Postgres internals, a draft", status="draft")
        section = section_create(course=postgres, title="S")
        lecture_create(section=section, title="Indexes in PostgreSQL")
    connection.set_schema_to_public()
    anonymous = TenantClient(tenant)
    for q in ("postgre", "postgers", "POSTGRES", "beginers"):
        texts = [
            s["text"]
            for s in _get(anonymous, "/api/v1/search/autocomplete", q=q).json()["suggestions"]
        ]
        assert texts == ["PostgreSQL for beginners"], q
    owner = TenantClient(tenant, user=world.owner)
    suggestions = _get(owner, "/api/v1/search/autocomplete", q="postgre").json()["suggestions"]
    assert [(s["text"], s["type"]) for s in suggestions] == [
        ("PostgreSQL for beginners", "course"),
        ("Postgres internals, a draft", "course"),
        ("Indexes in PostgreSQL", "lecture"),
    ]
    assert suggestions[0]["url"] == f"/courses/{postgres.slug}/"
    short = _get(owner, "/api/v1/search/autocomplete", q="q").json()["suggestions"]
    assert [s["text"] for s in short] == ["Quillwort botany", "Quillwort botany lecture"]
    student = TenantClient(tenant, user=world.student)
    texts = {
        s["text"]
        for s in _get(student, "/api/v1/search/autocomplete", q="lecture").json()["suggestions"]
    }
    assert texts == {
        "Quillwort botany lecture",
        "Spoken lecture",
        "Yarrowby archive lecture",
    }
    status, code, details = _error(_get(anonymous, "/api/v1/search/autocomplete", q=""))
    assert (status, code, list(details)) == (400, "VALIDATION_ERROR", ["q"])


def test_searches_are_rate_limited_per_account_and_share_the_pages_budget(world, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "search", "3/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "search_autocomplete", "2/min")
    cache.clear()
    student = TenantClient(world.tenant, user=world.student)
    pages = browser(world.tenant, world.student)
    assert [_get(student, q="rhubarb").status_code for _ in range(2)] == [200, 200]
    assert pages.get("/search/", {"q": "rhubarb"}).status_code == 200
    limited = _get(student, q="rhubarb")
    assert _error(limited)[:2] == (429, "RATE_LIMITED")
    assert 1 <= int(limited["Retry-After"]) <= 61
    page = pages.get("/search/", {"q": "rhubarb"})
    assert page.status_code == 429 and 1 <= int(page["Retry-After"]) <= 61
    assert b"Too many searches" in page.content
    # The empty form is no search; autocomplete and other accounts have their own budgets.
    assert pages.get("/search/").status_code == 200
    assert [
        _get(student, "/api/v1/search/autocomplete", q="rhu").status_code for _ in range(3)
    ] == [200, 200, 429]
    assert _get(TenantClient(world.tenant, user=world.classmate), q="rhubarb").status_code == 200
    # Visitors are counted by client IP.
    visitor = TenantClient(world.tenant, REMOTE_ADDR="203.0.113.7")
    assert [_get(visitor, q="rhubarb").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert _get(TenantClient(world.tenant, REMOTE_ADDR="203.0.113.8"), q="x y").status_code == 200


def test_a_head_request_is_answered_but_not_logged(world):
    client = TenantClient(world.tenant, user=world.student)
    with in_tenant(world.tenant):
        before = SearchLog.objects.count()
    assert client.head("/api/v1/search", {"q": "rhubarb"}).status_code == 200
    assert (
        browser(world.tenant, world.student).head("/search/", {"q": "rhubarb"}).status_code == 200
    )
    with in_tenant(world.tenant):
        assert SearchLog.objects.count() == before
    assert _get(client, q="rhubarb").status_code == 200
    with in_tenant(world.tenant):
        assert SearchLog.objects.count() == before + 1
