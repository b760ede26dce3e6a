"""The public catalogue API (``catalog.api``): list filters, sort and pages, course detail,
free previews (anonymous media tokens) and their rate limit."""

import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.throttling import SimpleRateThrottle

from courses.models import Course
from courses.services import course_create
from enrollment.models import Enrollment
from media_pipeline.tokens import InvalidMediaToken, media_token_verify
from tenants.testing import TenantClient, in_tenant, make_user
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db

LIST = "/api/v1/catalog/courses"


def summary(shop, key: str) -> dict:
    """The exact list item of ``shop``'s published courses."""
    ada = shop["ada"]
    teacher = [{"id": ada.pk, "name": "Ada Lovelace", "avatar_url": None}]
    if key == "rust":
        return {
            "slug": "rust-for-beginners",
            "title": "Rust for beginners",
            "subtitle": "Systems programming without fear",
            "cover_url": None,
            "category": "Programming",
            "difficulty": "beginner",
            "language": "en",
            "price": "49.00",
            "currency": "USD",
            "price_display": "$49.00",
            "total_duration": shop["welcome"].video.duration,
            "lecture_count": 3,
            "instructors": teacher,
            "url": "http://alpha.localhost/courses/rust-for-beginners/",
        }
    return {
        "slug": "watercolour",
        "title": "Watercolour",
        "subtitle": "",
        "cover_url": None,
        "category": "Art",
        "difficulty": "advanced",
        "language": "en",
        "price": "0.00",
        "currency": "USD",
        "price_display": "Free",
        "total_duration": 0.0,
        "lecture_count": 0,
        "instructors": teacher,
        "url": "http://alpha.localhost/courses/watercolour/",
    }


def test_list_is_public_and_exact(tenant, shop):
    response = TenantClient(tenant).get(LIST)
    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [summary(shop, "art"), summary(shop, "rust")],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sort=title", ["rust-for-beginners", "watercolour"]),
        ("sort=newest", ["watercolour", "rust-for-beginners"]),
        ("price=free", ["watercolour"]),
        ("price=paid", ["rust-for-beginners"]),
        ("difficulty=beginner", ["rust-for-beginners"]),
        ("difficulty=intermediate", []),
        ("category=programming", ["rust-for-beginners"]),
        ("category=Art&price=paid", []),
    ],
)
def test_list_filters_and_sorts(tenant, shop, query, expected):
    response = TenantClient(tenant).get(f"{LIST}?{query}")
    assert [c["slug"] for c in response.json()["results"]] == expected


def test_popular_counts_active_enrollments(tenant, shop):
    with in_tenant(tenant):
        Enrollment.objects.create(student=shop["sam"], course=shop["rust"])
        other = make_user(tenant, "revoked@alpha.test")
        from django.utils import timezone

        Enrollment.objects.create(student=other, course=shop["art"], revoked_at=timezone.now())
    response = TenantClient(tenant).get(f"{LIST}?sort=popular")
    assert [c["slug"] for c in response.json()["results"]] == ["rust-for-beginners", "watercolour"]


def test_list_pages(tenant, shop):
    with in_tenant(tenant):
        for n in range(12):
            course_create(title=f"Extra {n:02d}", published=True, price=Decimal("5"))
    first = TenantClient(tenant).get(f"{LIST}?sort=title&price=paid").json()
    assert first["count"] == 13
    assert [c["slug"] for c in first["results"]] == [f"extra-{n:02d}" for n in range(12)]
    assert first["next"] == f"http://alpha.localhost{LIST}?page=2&price=paid&sort=title"
    second = TenantClient(tenant).get(first["next"]).json()
    assert [c["slug"] for c in second["results"]] == ["rust-for-beginners"]
    limited = TenantClient(tenant).get(f"{LIST}?sort=title&limit=5&page=3").json()
    assert [c["slug"] for c in limited["results"]] == [
        "extra-10",
        "extra-11",
        "rust-for-beginners",
        "watercolour",
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=cheapest", "sort"),
        ("price=cheap", "price"),
        ("difficulty=expert", "difficulty"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("limit=101", "limit"),
        ("category=" + "x" * 101, "category"),
    ],
)
def test_bad_query_values_are_400(tenant, shop, query, field):
    response = TenantClient(tenant).get(f"{LIST}?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and list(error["details"]) == [field]


def test_drafts_archived_and_other_schools_never_appear(tenant, other_tenant, shop):
    slugs = [c["slug"] for c in TenantClient(tenant).get(LIST).json()["results"]]
    assert "secret-draft" not in slugs and "old-course" not in slugs
    assert TenantClient(other_tenant).get(LIST).json()["count"] == 0
    for client, slug in [
        (TenantClient(tenant), "secret-draft"),
        (TenantClient(tenant), "old-course"),
        (TenantClient(other_tenant), "rust-for-beginners"),
        (TenantClient(tenant), "nope"),
    ]:
        response = client.get(f"{LIST}/{slug}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


def test_detail_is_exact_and_has_no_media_urls(tenant, shop):
    response = TenantClient(tenant).get(f"{LIST}/rust-for-beginners")
    assert response.status_code == 200
    duration = shop["welcome"].video.duration
    assert response.json() == {
        **summary(shop, "rust"),
        "description": "Learn *Rust* from scratch.",
        "description_html": "<p>Learn <em>Rust</em> from scratch.</p>\n",
        "outcomes": ["Write safe code", "Use cargo"],
        "sections": [
            {
                "id": str(shop["welcome"].section_id),
                "title": "Basics",
                "lectures": [
                    {
                        "id": str(shop["welcome"].id),
                        "title": "Welcome",
                        "kind": "video",
                        "duration": duration,
                        "free_preview": True,
                    },
                    {
                        "id": str(shop["ownership"].id),
                        "title": "Ownership",
                        "kind": "video",
                        "duration": None,
                        "free_preview": False,
                    },
                    {
                        "id": str(shop["article"].id),
                        "title": "Reading list",
                        "kind": "article",
                        "duration": None,
                        "free_preview": True,
                    },
                ],
            }
        ],
    }
    assert b"/media/" not in response.content and b"token" not in response.content


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_detail_description_html_is_inert(tenant, shop, payload):
    with in_tenant(tenant):
        course_create(title="X", slug="xss", description=payload, published=True)
    body = TenantClient(tenant).get(f"{LIST}/xss").json()
    assert body["description"] == payload
    assert_inert(body["description_html"])


# --- Free previews ---------------------------------------------------------------------------


def preview_path(shop, lecture, slug="rust-for-beginners") -> str:
    return f"{LIST}/{slug}/lectures/{lecture.id}/preview"


def test_preview_plays_for_a_visitor_with_an_anonymous_short_token(tenant, shop):
    welcome = shop["welcome"]
    before = time.time()
    response = TenantClient(tenant).get(preview_path(shop, welcome))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    body = response.json()
    version = welcome.video.version
    base = f"http://alpha.localhost/media/hls/{welcome.id}/v{version}/"
    token = parse_qs(urlsplit(body["playback_url"]).query)["token"][0]
    assert body == {
        "lecture_id": str(welcome.id),
        "playback_url": f"{base}master.m3u8?token={token}",
        "expires_at": body["expires_at"],
        "duration": welcome.video.duration,
        "position": 0.0,
        "thumbnail_url": f"{base}poster.jpg?token={token}",
        "storyboard_url": f"{base}storyboard.vtt?token={token}",
        "preview_url": f"{base}preview.mp4?token={token}",
        "captions": [],
    }
    grant = media_token_verify(
        token, tenant=tenant.schema_name, lecture_id=welcome.id, version=version
    )
    assert grant.student_id == 0  # the anonymous viewer
    assert int(before) + 600 <= grant.expires <= time.time() + 600
    client = TenantClient(tenant)
    assert client.get(urlsplit(body["playback_url"]).path + f"?token={token}").status_code == 200
    # Not another lecture, not another version, not after expiry.
    ownership = shop["ownership"]
    other = f"/media/hls/{ownership.id}/v{version}/master.m3u8?token={token}"
    assert client.get(other).status_code == 403
    assert (
        client.get(f"/media/hls/{welcome.id}/v{version + 1}/master.m3u8?token={token}").status_code
        == 403
    )
    with pytest.raises(InvalidMediaToken):
        media_token_verify(
            token,
            tenant=tenant.schema_name,
            lecture_id=welcome.id,
            version=version,
            now=grant.expires,
        )


def test_preview_refused_for_non_preview_lectures_drafts_and_other_schools(
    tenant, other_tenant, shop
):
    client = TenantClient(tenant)
    refused = [
        preview_path(shop, shop["ownership"]),  # not a free preview
        preview_path(shop, shop["article"]),  # an article: nothing plays
        preview_path(shop, shop["welcome"], slug="watercolour"),  # another course's lecture
    ]
    for path in refused:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND"
    response = TenantClient(other_tenant).get(preview_path(shop, shop["welcome"]))
    assert response.status_code == 404
    with in_tenant(tenant):
        rust = Course.objects.get(pk=shop["rust"].pk)
        rust.status = Course.Status.DRAFT
        rust.save()
    assert client.get(preview_path(shop, shop["welcome"])).status_code == 404


def test_preview_not_ready_is_409(tenant, shop):
    with in_tenant(tenant):
        ownership = shop["ownership"]
        ownership.free_preview = True
        ownership.save()
    response = TenantClient(tenant).get(preview_path(shop, ownership))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "NOT_READY"


def test_preview_is_rate_limited_per_ip(tenant, shop, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "preview_ip", "2/min")
    path = preview_path(shop, shop["welcome"])
    first_ip = TenantClient(tenant, REMOTE_ADDR="203.0.113.9")
    assert [first_ip.get(path).status_code for _ in range(2)] == [200, 200]
    limited = first_ip.get(path)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(limited["Retry-After"]) <= 61
    # Another IP has its own bucket; refused attempts count too.
    assert TenantClient(tenant).get(path).status_code == 200
