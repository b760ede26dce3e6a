"""Public course pages, instructor pages, the home page's filters and pages, the sitemap and
robots.txt (``catalog.web.views``): exact elements, meta tags and JSON-LD; drafts, archived
courses and another school's slugs."""

import json
import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from courses.services import course_create
from tenants.links import tenant_url
from tenants.testing import browser, in_tenant, make_user
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self._open.append(attrs.get("id") or "")

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for name in self._open:
            if name:
                self.text[name] = self.text.get(name, "") + data


def parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def meta(html: str) -> dict[str, str]:
    """``name``/``property`` -> ``content`` of the page's meta tags, and ``canonical``."""
    found = {}
    for tag, attrs in parse(html).tags:
        if tag == "meta" and ("name" in attrs or "property" in attrs):
            found[attrs.get("name") or attrs["property"]] = attrs["content"]
        if tag == "link" and attrs.get("rel") == "canonical":
            found["canonical"] = attrs["href"]
    return found


def json_ld(html: str) -> dict:
    scripts = re.findall(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', html, re.S)
    assert len(scripts) == 1
    return json.loads(scripts[0])


def main_of(html: str) -> str:
    """The page's ``<main>`` (where every user text is rendered), without the known scripts."""
    return html.split('<main class="site-main">', 1)[1].split("</main>", 1)[0]


def text(html: str, element_id: str) -> str:
    return " ".join(parse(html).text[element_id].split())


def test_course_page_shows_the_course_to_a_visitor(tenant, shop):
    response = browser(tenant).get("/courses/rust-for-beginners/")
    assert response.status_code == 200
    html = response.content.decode()
    url = tenant_url(tenant, "/courses/rust-for-beginners/")
    duration = shop["welcome"].video.duration
    assert re.search(r"<title>Rust for beginners · Alpha Academy</title>", html)
    assert meta(html) == {
        "viewport": "width=device-width, initial-scale=1",
        "theme-color": meta(html)["theme-color"],
        "description": "Systems programming without fear",
        "canonical": url,
        "og:type": "website",
        "og:site_name": "Alpha Academy",
        "og:title": "Rust for beginners",
        "og:description": "Systems programming without fear",
        "og:url": url,
    }
    assert json_ld(html) == {
        "@context": "https://schema.org",
        "@type": "Course",
        "name": "Rust for beginners",
        "description": "Systems programming without fear",
        "url": url,
        "inLanguage": "en",
        "educationalLevel": "beginner",
        "provider": {
            "@type": "Organization",
            "name": "Alpha Academy",
            "sameAs": tenant_url(tenant, "/"),
        },
        "offers": {"@type": "Offer", "category": "Paid", "price": "49.00", "priceCurrency": "USD"},
        "hasCourseInstance": {
            "@type": "CourseInstance",
            "courseMode": "Online",
            "courseWorkload": f"PT{round(duration)}S",
            "instructor": [{"@type": "Person", "name": "Ada Lovelace"}],
        },
    }
    assert text(html, "course-title") == "Rust for beginners"
    assert text(html, "course-subtitle") == "Systems programming without fear"
    assert text(html, "course-price") == "$49.00"
    assert text(html, "course-difficulty") == "Beginner"
    assert text(html, "course-language") == "en"
    assert text(html, "course-duration") == f"3 lectures, {round(duration)} s"
    assert text(html, "course-category") == "Programming"
    assert '<div class="card markdown" id="course-description"' not in html
    assert "<p>Learn <em>Rust</em> from scratch.</p>" in html
    assert text(html, "course-outcomes") == "What you'll learn Write safe code Use cargo"
    rows = re.findall(
        r'<li class="curriculum__lecture" data-lecture-id="([^"]+)">(.*?)</li>', html, re.S
    )
    assert [row[0] for row in rows] == [
        str(shop["welcome"].id),
        str(shop["ownership"].id),
        str(shop["article"].id),
    ]
    cells = [" ".join(re.sub(r"<[^>]+>", " ", row[1]).split()) for row in rows]
    assert cells == [
        f"Welcome Video Preview {round(duration)} s",
        "Ownership Video",
        "Reading list Article Preview",
    ]
    preview_url = (
        f"/api/v1/catalog/courses/rust-for-beginners/lectures/{shop['welcome'].id}/preview"
    )
    assert html.count(f'data-preview-url="{preview_url}"') == 2  # the player's button, the row's
    assert "<p>Read <em>the book</em>.</p>" in html  # the article preview's body
    assert (
        text(html, "course-instructors") == "Instructor A Ada Lovelace Writes programs for engines."
    )
    assert f'<a href="/instructors/{shop["ada"].pk}/">Ada Lovelace</a>' in html
    assert '<a class="button" id="course-redeem" href="/redeem/?course=rust-for-beginners">' in html
    assert 'id="course-continue"' not in html
    assert '<script src="/static/build/preview.js" defer></script>' in html


def test_cover_is_the_og_image(tenant, shop):
    from courses.models import Course

    with in_tenant(tenant):
        art = Course.objects.get(pk=shop["art"].pk)
        art.thumbnail = f"tenants/{tenant.schema_name}/thumbnails/abcdef123456.jpg"
        art.save()
    html = browser(tenant).get("/courses/watercolour/").content.decode()
    cover = f"http://alpha.localhost/dashboard/courses/{shop['art'].pk}/thumbnail?v=ef123456.jpg"
    assert meta(html)["og:image"] == cover
    assert "og:image" not in meta(
        browser(tenant).get("/courses/rust-for-beginners/").content.decode()
    )
    assert json_ld(html)["image"] == meta(html)["og:image"]
    assert json_ld(html)["offers"] == {
        "@type": "Offer",
        "category": "Free",
        "price": "0.00",
        "priceCurrency": "USD",
    }
    assert text(html, "course-price") == "Free"


def test_enrolled_student_sees_continue(tenant, shop):
    with in_tenant(tenant):
        from enrollment.models import Enrollment

        Enrollment.objects.create(student=shop["sam"], course=shop["rust"])
    html = browser(tenant, shop["sam"]).get("/courses/rust-for-beginners/").content.decode()
    assert (
        f'<a class="button" id="course-continue" href="/courses/{shop["rust"].id}/">Continue</a>'
        in html
    )
    assert 'id="course-redeem"' not in html


@pytest.mark.parametrize("who", ["visitor", "student", "other instructor"])
def test_draft_is_404_except_to_its_instructors(tenant, shop, who):
    user = {
        "visitor": None,
        "student": shop["sam"],
        "other instructor": make_user(tenant, "other@alpha.test", role="instructor"),
    }[who]
    response = browser(tenant, user).get("/courses/secret-draft/")
    assert response.status_code == 404
    assert b"Secret draft" not in response.content


def test_draft_preview_for_its_instructor_is_noindex(tenant, shop):
    response = browser(tenant, shop["ada"]).get("/courses/secret-draft/")
    assert response.status_code == 200
    html = response.content.decode()
    assert meta(html)["robots"] == "noindex"
    assert (
        text(html, "draft-notice") == "This course is a draft: only its instructors see this page."
    )


def test_archived_course_answers_only_its_students(tenant, shop):
    assert browser(tenant).get("/courses/old-course/").status_code == 404
    other = make_user(tenant, "other-student@alpha.test")
    assert browser(tenant, other).get("/courses/old-course/").status_code == 404
    response = browser(tenant, shop["sam"]).get("/courses/old-course/")
    assert response.status_code == 200
    assert b'id="course-continue"' in response.content


def test_other_school_slug_and_unknown_slug_are_404(tenant, other_tenant, shop):
    response = browser(other_tenant).get("/courses/rust-for-beginners/")
    assert response.status_code == 404
    assert b"Rust" not in response.content
    assert browser(tenant).get("/courses/no-such-course/").status_code == 404


def test_student_course_route_by_uuid_is_still_the_student_page(tenant, shop):
    response = browser(tenant).get(f"/courses/{shop['rust'].id}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_course_page_reads_no_course_table_when_warm(tenant, shop):
    client = browser(tenant)
    assert client.get("/courses/rust-for-beginners/").status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/courses/rust-for-beginners/").status_code == 200
    reads = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith("SET ")]
    # The host's school, the article preview's body, the school's primary domain (canonical).
    assert len(reads) == 3
    assert ['"courses_lecture"."body"' in sql for sql in reads] == [False, True, False]


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_user_text_is_inert_in_the_page_and_the_json_ld(tenant, shop, payload):
    with in_tenant(tenant):
        ada = shop["ada"]
        ada.bio = payload
        ada.name = payload[:150]
        ada.save()
        course_create(
            title=payload[:200],
            slug="xss-course",
            subtitle=payload[:300],
            description=payload,
            outcomes=[payload],
            category=payload[:100],
            published=True,
            created_by=ada,
        )
    for url in ("/courses/xss-course/", f"/instructors/{ada.pk}/", "/"):
        response = browser(tenant).get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        body = re.sub(r'<script src="/static/build/preview.js" defer></script>', "", main_of(html))
        # The home page's own filter form (GET, same page); the options inside are checked.
        body = re.sub(r'<form method="get" action="/"[^>]*>', "<div>", body).replace(
            "</form>", "</div>"
        )
        assert_inert(body)
    html = browser(tenant).get("/courses/xss-course/").content.decode()
    data = json_ld(html)
    assert data["name"] == payload[:200]
    assert data["hasCourseInstance"]["instructor"] == [{"@type": "Person", "name": payload[:150]}]
    ld_text = re.search(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', html, re.S)[1]
    assert "<" not in ld_text and ">" not in ld_text
    head = html.split("</head>", 1)[0]
    assert head.count("<script") == 1  # the JSON-LD only: no script from a title
    assert meta(html)["og:title"] == payload[:200]


def test_instructor_page(tenant, shop):
    response = browser(tenant).get(f"/instructors/{shop['ada'].pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert text(html, "instructor-name") == "Ada Lovelace"
    assert "<p>Writes <strong>programs</strong> for engines.</p>" in html
    titles = re.findall(r'<h3><a href="([^"]+)">([^<]+)</a></h3>', html)
    assert titles == [
        ("/courses/watercolour/", "Watercolour"),
        ("/courses/rust-for-beginners/", "Rust for beginners"),
    ]


def test_instructor_pages_404(tenant, other_tenant, shop):
    lonely = make_user(tenant, "lonely@alpha.test", role="instructor")
    with in_tenant(tenant):
        course_create(title="Only a draft", created_by=lonely)
    for user_id in (shop["sam"].pk, lonely.pk, 999999):
        assert browser(tenant).get(f"/instructors/{user_id}/").status_code == 404
        assert browser(tenant).get(f"/instructors/{user_id}/avatar").status_code == 404
    assert browser(other_tenant).get(f"/instructors/{shop['ada'].pk}/").status_code == 404
    # Ada has no avatar: 404, on her school too.
    assert browser(tenant).get(f"/instructors/{shop['ada'].pk}/avatar").status_code == 404


def test_instructor_avatar_is_served_after_the_same_check(tenant, other_tenant, shop):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    key = default_storage.save(
        f"tenants/{tenant.schema_name}/avatars/ada.png", ContentFile(b"\x89PNG\r\n\x1a\nfake")
    )
    try:
        with in_tenant(tenant):
            shop["ada"].avatar = key
            shop["ada"].save()
        response = browser(tenant).get(f"/instructors/{shop['ada'].pk}/avatar")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content) == b"\x89PNG\r\n\x1a\nfake"
        html = browser(tenant).get("/courses/rust-for-beginners/").content.decode()
        assert f'src="http://alpha.localhost/instructors/{shop["ada"].pk}/avatar?v=' in html
        assert browser(other_tenant).get(f"/instructors/{shop['ada'].pk}/avatar").status_code == 404
    finally:
        default_storage.delete(key)


def _titles(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/courses/[^"]+/">([^<]+)</a></h3>', html)


def test_home_page_filters_sort_and_pages(tenant, shop):
    client = browser(tenant)
    assert _titles(client.get("/").content.decode()) == ["Watercolour", "Rust for beginners"]
    assert _titles(client.get("/?sort=title").content.decode()) == [
        "Rust for beginners",
        "Watercolour",
    ]
    assert _titles(client.get("/?price=free").content.decode()) == ["Watercolour"]
    assert _titles(client.get("/?price=paid").content.decode()) == ["Rust for beginners"]
    assert _titles(client.get("/?difficulty=advanced").content.decode()) == ["Watercolour"]
    # A value outside the menu is ignored (the other filters still apply).
    assert _titles(client.get("/?category=nope&price=free").content.decode()) == ["Watercolour"]
    assert _titles(client.get("/?category=Programming").content.decode()) == ["Rust for beginners"]
    with in_tenant(tenant):
        from enrollment.models import Enrollment

        Enrollment.objects.create(student=shop["sam"], course=shop["rust"])
    assert _titles(client.get("/?sort=popular").content.decode()) == [
        "Rust for beginners",
        "Watercolour",
    ]
    with in_tenant(tenant):
        for n in range(12):
            course_create(title=f"Extra {n:02d}", published=True, created_by=shop["ada"])
    first = client.get("/?sort=title&price=free").content.decode()
    assert _titles(first) == [f"Extra {n:02d}" for n in range(12)]
    assert '<a rel="next" href="?sort=title&amp;price=free&amp;page=2">Next &rarr;</a>' in first
    second = client.get("/?sort=title&price=free&page=2").content.decode()
    assert _titles(second) == ["Watercolour"]
    assert (
        '<a rel="prev" href="?sort=title&amp;price=free&amp;page=1">&larr; Previous</a>' in second
    )


def test_filtered_home_pages_are_not_served_from_the_anonymous_cache(tenant, shop):
    client = browser(tenant)
    assert _titles(client.get("/").content.decode()) == ["Watercolour", "Rust for beginners"]
    assert _titles(client.get("/?price=paid").content.decode()) == ["Rust for beginners"]
    assert _titles(client.get("/").content.decode()) == ["Watercolour", "Rust for beginners"]


def test_sitemap_and_robots(tenant, other_tenant, shop):
    response = browser(tenant).get("/sitemap.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    locs = re.findall(r"<loc>([^<]+)</loc>", response.content.decode())
    assert locs == [
        tenant_url(tenant, "/"),
        tenant_url(tenant, "/courses/watercolour/"),
        tenant_url(tenant, "/courses/rust-for-beginners/"),
        tenant_url(tenant, f"/instructors/{shop['ada'].pk}/"),
    ]
    lastmods = re.findall(r"<lastmod>([^<]+)</lastmod>", response.content.decode())
    with in_tenant(tenant):
        art = shop["course_model"].objects.get(pk=shop["art"].pk)
    assert len(lastmods) == 4 and lastmods[1] == art.updated_at.isoformat()
    other = browser(other_tenant).get("/sitemap.xml").content.decode()
    assert "rust-for-beginners" not in other and "alpha" not in other
    robots = browser(tenant).get("/robots.txt")
    assert robots["Content-Type"] == "text/plain; charset=utf-8"
    assert (
        robots.content.decode().splitlines()[-1] == f"Sitemap: {tenant_url(tenant, '/sitemap.xml')}"
    )
