"""A public school for the catalogue's tests: published, draft and archived courses of school
A, with a ready free-preview video, an article preview, outcomes and an instructor bio."""

from decimal import Decimal

import pytest
from django.core.cache import cache

from courses import cache as course_cache
from courses.models import Course, Lecture
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment
from tenants.testing import in_tenant, make_user


@pytest.fixture(autouse=True)
def _fresh_catalogue_versions(tenant, other_tenant):
    """Each test starts with new catalogue tokens in both schools (a rolled-back test's cached
    entries would otherwise stay current) and empty preview buckets."""
    for school in (tenant, other_tenant):
        with in_tenant(school):
            cache.delete(course_cache._CATALOGUE_VERSION)
            cache.delete_many([f"throttle_preview_ip_{ip}" for ip in ("127.0.0.1", "203.0.113.9")])


@pytest.fixture
def shop(tenant, ready_lecture_copy):
    """School A: instructor Ada (bio in Markdown), student Sam enrolled in the archived course;
    published "Rust for beginners" (USD 49, programming, beginner, 2 outcomes; section
    "Basics": "Welcome" a ready free-preview video, "Ownership" a video, "Reading list" a
    free-preview article), published "Watercolour" (free, art, advanced), a draft and an
    archived course."""
    ada = make_user(tenant, "ada@alpha.test", role="instructor")
    sam = make_user(tenant, "sam@alpha.test")
    with in_tenant(tenant):
        ada.name, ada.bio = "Ada Lovelace", "Writes **programs** for engines."
        ada.save()
        rust = course_create(
            title="Rust for beginners",
            subtitle="Systems programming without fear",
            description="Learn *Rust* from scratch.",
            outcomes=["Write safe code", "Use cargo"],
            category="Programming",
            difficulty="beginner",
            language="en",
            price=Decimal("49.00"),
            currency="USD",
            published=True,
            created_by=ada,
        )
        basics = section_create(course=rust, title="Basics")
        welcome = lecture_create(section=basics, title="Welcome")
        welcome.free_preview = True
        welcome.save()
        ownership = lecture_create(section=basics, title="Ownership")
        article = Lecture.objects.create(
            section=basics,
            title="Reading list",
            kind=Lecture.Kind.ARTICLE,
            body="Read *the book*.",
            free_preview=True,
            order=3,
        )
        art = course_create(
            title="Watercolour",
            category="Art",
            difficulty="advanced",
            published=True,
            created_by=ada,
        )
        draft = course_create(title="Secret draft", created_by=ada)
        archived = course_create(title="Old course", status="archived", created_by=ada)
        Enrollment.objects.create(student=sam, course=archived)
    welcome = ready_lecture_copy(tenant, welcome)
    return {
        "ada": ada,
        "sam": sam,
        "rust": rust,
        "art": art,
        "draft": draft,
        "archived": archived,
        "welcome": welcome,
        "ownership": ownership,
        "article": article,
        "course_model": Course,
    }
