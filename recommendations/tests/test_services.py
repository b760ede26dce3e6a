"""Recommendations' writes: course embeddings (made once per text and model, again after an edit
through the hooks of ``courses``), and the periodic refresh of trending, popularity and
co-enrolment neighbours with exact figures."""

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from django.core.cache import cache
from django.utils import timezone

from analytics.models import CourseDay
from courses import cache as course_cache
from courses.models import Course, Lecture
from courses.services import (
    course_update,
    lecture_create,
    lecture_delete,
    lecture_rename,
    section_create,
    section_rename,
)
from enrollment.models import Enrollment
from recommendations import content, embeddings, services
from recommendations.models import CourseEmbedding, CourseNeighbour, CourseScore
from recommendations.tests.conftest import published, refresh
from tenants.testing import in_tenant, make_user, tasks_run_on_commit

pytestmark = pytest.mark.django_db


def stored(course) -> tuple[str, str, bytes]:
    row = CourseEmbedding.objects.get(course=course)
    return row.model_id, row.text_hash, bytes(row.vector)


def test_the_text_is_the_course_in_outline_order_without_hidden_lectures(tenant):
    teacher = make_user(tenant, "t-text@alpha.test", role="instructor")
    with in_tenant(tenant):
        course = published(
            "Rust",
            by=teacher,
            description="Learn **Rust** [safely](https://rust.test).",
            category="Programming",
            lectures=("Ownership", "Borrowing", "Taken down"),
        )
        course_update(course=course, data={"subtitle": "Systems", "outcomes": ["Use cargo"]})
        Lecture.objects.filter(title="Taken down").update(hidden_by_platform=True)
        later = section_create(course=course, title="Advanced")
        lecture_create(section=later, title="Macros")
        text = content.course_text(Course.objects.get(pk=course.pk))
    assert text == (
        "Rust. Systems. Programming. Learn Rust safely. Use cargo. Lessons. Ownership. "
        "Borrowing. Advanced. Macros"
    )
    assert content.text_hash(text) == content.text_hash(text) != content.text_hash(text + ".")


def test_a_course_is_embedded_once_per_text_and_again_after_an_edit(
    tenant, django_capture_on_commit_callbacks
):
    teacher = make_user(tenant, "t-embed@alpha.test", role="instructor")
    with in_tenant(tenant):
        course = published("Guitar chords", by=teacher, lectures=("Open chords",))
        assert services.course_embed(course_id=course.pk) == "stored"
        first = stored(course)
        assert first[0] == embeddings.model_id()
        assert first[1] == content.text_hash("Guitar chords. Lessons. Open chords")
        assert np.array_equal(
            embeddings.vector_from_bytes(first[2]),
            embeddings.embed(["Guitar chords. Lessons. Open chords"])[0],
        )
        assert services.course_embed(course_id=course.pk) == "unchanged"
        assert stored(course) == first
        course_update(course=course, data={"title": "Guitar chords and scales"})
        assert services.course_embed(course_id=course.pk) == "stored"
        assert stored(course)[1] == content.text_hash(
            "Guitar chords and scales. Lessons. Open chords"
        )
        # A vector of another model is made again, though the text is the same.
        CourseEmbedding.objects.filter(course=course).update(model_id="older-model@0")
        assert services.course_embed(course_id=course.pk) == "stored"
        assert stored(course)[0] == embeddings.model_id()


def test_drafts_unknown_and_other_schools_courses_are_skipped(tenant, other_tenant):
    teacher = make_user(tenant, "t-skip@alpha.test", role="instructor")
    with in_tenant(tenant):
        course = published("Alpha only", by=teacher)
        course_update(course=course, data={"status": "draft"})
    with in_tenant(other_tenant):
        assert services.course_embed(course_id=course.pk) == "skipped"
        assert not CourseEmbedding.objects.exists()
    with in_tenant(tenant):
        assert services.course_embed(course_id=course.pk) == "skipped"
        course_update(course=course, data={"status": "archived"})
        assert services.course_embed(course_id=course.pk) == "skipped"
        assert not CourseEmbedding.objects.filter(course=course).exists()


def test_publishing_and_editing_a_course_embed_it_through_the_hooks(tenant):
    teacher = make_user(tenant, "t-hooks@alpha.test", role="instructor")
    with in_tenant(tenant):
        with tasks_run_on_commit():
            course = published("Chess openings", by=teacher)
        assert stored(course)[1] == content.text_hash("Chess openings")
        with tasks_run_on_commit():
            section = section_create(course=course, title="Gambits")
        assert stored(course)[1] == content.text_hash("Chess openings. Gambits")
        with tasks_run_on_commit():
            lecture = lecture_create(section=section, title="Queen's gambit")
            section_rename(section=section, title="Classic gambits")
        assert stored(course)[1] == content.text_hash(
            "Chess openings. Classic gambits. Queen's gambit"
        )
        with tasks_run_on_commit():
            lecture_rename(lecture=lecture, title="King's gambit")
        assert stored(course)[1] == content.text_hash(
            "Chess openings. Classic gambits. King's gambit"
        )
        with tasks_run_on_commit():
            lecture_delete(lecture=lecture)
        assert stored(course)[1] == content.text_hash("Chess openings. Classic gambits")
        # A draft's edits queue the task too, which leaves it alone.
        with tasks_run_on_commit():
            draft = Course.objects.create(title="Draft", slug="draft-hooks")
            section_create(course=draft, title="Notes")
        assert not CourseEmbedding.objects.filter(course=draft).exists()


def test_stale_courses_are_the_published_ones_without_a_current_vector(tenant):
    teacher = make_user(tenant, "t-stale@alpha.test", role="instructor")
    with in_tenant(tenant):
        fresh, edited, other_model, missing = (
            published(title, by=teacher) for title in ("Fresh", "Edited", "Other", "Missing")
        )
        Course.objects.create(title="Draft", slug="draft-stale")
        services.embeddings_refresh(course_ids=[fresh.pk, edited.pk, other_model.pk])
        CourseEmbedding.objects.filter(course=other_model).update(model_id="older-model@0")
        # Saved after its vector was made, e.g. in the school admin (no hook).
        Course.objects.filter(pk=edited.pk).update(updated_at=timezone.now() + timedelta(seconds=5))
        stale = services.embeddings_stale()
        assert set(stale) == {edited.pk, other_model.pk, missing.pk}
        assert len(services.embeddings_stale(limit=2)) == 2
        result = services.embeddings_refresh(course_ids=stale)
        # The edited course's text did not change: it is checked, not run through the model.
        assert (result.stored, result.unchanged, result.skipped) == (2, 1, 0)
        Course.objects.filter(pk=edited.pk).update(updated_at=timezone.now() - timedelta(days=1))
        assert services.embeddings_stale() == []


def test_the_refresh_scores_trending_from_decayed_activity(
    tenant, django_capture_on_commit_callbacks
):
    teacher = make_user(tenant, "t-trend@alpha.test", role="instructor")
    students = [make_user(tenant, f"trend-{n}@alpha.test") for n in range(4)]
    now = timezone.now()
    with in_tenant(tenant):
        hot, quiet, old = (published(t, by=teacher) for t in ("Hot", "Quiet", "Old news"))
        draft = Course.objects.create(title="Draft", slug="draft-trend")
        for student, course, age in (
            (students[0], hot, timedelta(hours=0)),
            (students[1], hot, timedelta(days=2)),
            (students[2], old, timedelta(days=8)),
            (students[3], draft, timedelta(hours=1)),
        ):
            enrollment = Enrollment.objects.create(student=student, course=course)
            Enrollment.objects.filter(pk=enrollment.pk).update(enrolled_at=now - age)
        revoked = Enrollment.objects.create(student=students[3], course=hot)
        Enrollment.objects.filter(pk=revoked.pk).update(revoked_at=now)
        yesterday = (now - timedelta(days=1)).date()
        CourseDay.objects.create(course_id=quiet.pk, day=yesterday, views=6, watch_seconds=5400)
        CourseDay.objects.create(
            course_id=quiet.pk, day=(now - timedelta(days=9)).date(), views=100
        )
        with django_capture_on_commit_callbacks(execute=True):
            result = services.scores_refresh(now=now)
        rows = {row.course_id: row for row in CourseScore.objects.all()}
    assert (result.courses, result.trending) == (3, 2)
    assert set(rows) == {hot.pk, quiet.pk, old.pk}
    assert rows[hot.pk].trending == pytest.approx(10 * (1 + 0.5), abs=1e-5)
    assert (rows[hot.pk].enrollments_7d, rows[hot.pk].students) == (2, 2)
    middle = datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=now.tzinfo)
    weight = 0.5 ** ((now - middle).total_seconds() / (2 * 86400))
    assert rows[quiet.pk].trending == pytest.approx(weight * (6 * 1 + 1.5 * 4), abs=1e-5)
    assert (rows[quiet.pk].views_7d, rows[quiet.pk].watch_seconds_7d) == (6, 5400.0)
    assert (rows[old.pk].trending, rows[old.pk].enrollments_7d, rows[old.pk].students) == (
        0.0,
        0,
        1,
    )


def test_neighbours_are_the_co_enrolment_cosines_of_published_courses(
    campus, django_capture_on_commit_callbacks
):
    # python+data: s1, s2, s3; python+stats: s3; data alone: s4; paint+draw: s5; draft: s2.
    campus.enrol("s1", "python", "data")
    campus.enrol("s2", "python", "data", "draft")
    campus.enrol("s3", "python", "data", "stats")
    campus.enrol("s4", "data")
    campus.enrol("s5", "paint", "draw")
    with in_tenant(campus.tenant):
        Enrollment.objects.create(student=campus.students["s6"], course=campus.courses["paint"])
        Enrollment.objects.filter(student=campus.students["s6"]).update(revoked_at=timezone.now())
    result = refresh(campus.tenant, django_capture_on_commit_callbacks)
    c = campus.courses
    with in_tenant(campus.tenant):
        rows = {
            (row.course_id, row.other_id): (row.students, row.score)
            for row in CourseNeighbour.objects.all()
        }
    expected = {
        (c["python"].pk, c["data"].pk): (3, 3 / math.sqrt(3 * 4)),
        (c["data"].pk, c["python"].pk): (3, 3 / math.sqrt(4 * 3)),
        (c["python"].pk, c["stats"].pk): (1, 1 / math.sqrt(3 * 1)),
        (c["stats"].pk, c["python"].pk): (1, 1 / math.sqrt(1 * 3)),
        (c["data"].pk, c["stats"].pk): (1, 1 / math.sqrt(4 * 1)),
        (c["stats"].pk, c["data"].pk): (1, 1 / math.sqrt(1 * 4)),
        (c["paint"].pk, c["draw"].pk): (1, 1.0),
        (c["draw"].pk, c["paint"].pk): (1, 1.0),
        # The draft is never a neighbour, but its students' other courses are its neighbours.
        (c["draft"].pk, c["python"].pk): (1, 1 / math.sqrt(1 * 3)),
        (c["draft"].pk, c["data"].pk): (1, 1 / math.sqrt(1 * 4)),
    }
    assert rows.keys() == expected.keys()
    for key, (students, score) in expected.items():
        assert rows[key][0] == students
        assert rows[key][1] == pytest.approx(score)
    assert result.neighbours == len(expected)


def test_a_second_refresh_replaces_the_rows(campus, django_capture_on_commit_callbacks):
    campus.enrol("s1", "python", "data")
    refresh(campus.tenant, django_capture_on_commit_callbacks)
    with in_tenant(campus.tenant):
        Enrollment.objects.filter(
            student=campus.students["s1"], course=campus.courses["data"]
        ).delete()
    refresh(campus.tenant, django_capture_on_commit_callbacks)
    with in_tenant(campus.tenant):
        assert not CourseNeighbour.objects.exists()
        assert CourseScore.objects.count() == 5
        assert CourseScore.objects.get(course=campus.courses["data"]).students == 0


def test_the_catalogue_token_changes_only_when_the_trending_row_does(
    campus, django_capture_on_commit_callbacks
):
    def token():
        with in_tenant(campus.tenant):
            return cache.get(course_cache._CATALOGUE_VERSION)

    refresh(campus.tenant, django_capture_on_commit_callbacks)
    before = token()
    refresh(campus.tenant, django_capture_on_commit_callbacks)
    assert token() == before  # nothing trending, before and after
    campus.enrol("s1", "paint")
    refresh(campus.tenant, django_capture_on_commit_callbacks)
    changed = token()
    assert changed != before
    refresh(campus.tenant, django_capture_on_commit_callbacks)
    assert token() == changed
