"""Where students get stuck: the lecture analytics count the published questions asked and the
notes taken at each 5 s bin of the retention curve (analytics.selectors.lecture_analytics),
counts only, never a note's contents."""

import uuid

import pytest

from analytics.rollups import BIN_SECONDS
from community.models import PostStatus, Question
from courses.services import course_create, lecture_create, section_create
from engagement.services import note_create
from enrollment.models import Enrollment
from tenants.testing import TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db

SECRET = "my private thought about bin three"


def test_questions_and_notes_are_counted_per_bin_without_contents(tenant):
    tag = uuid.uuid4().hex[:6]
    instructor = make_user(tenant, f"stuck-i-{tag}@x.test", role="instructor")
    students = [make_user(tenant, f"stuck-s{i}-{tag}@x.test") for i in range(2)]
    with in_tenant(tenant):
        course = course_create(title="Stuck", published=True, created_by=instructor)
        lecture = lecture_create(section=section_create(course=course, title="S"), title="L")
        lecture.video.duration = 20.0
        lecture.video.save()
        for student in students:
            Enrollment.objects.create(student=student, course=course)
        asked = [
            (4.0, PostStatus.PUBLISHED),  # bin 0
            (4.9, PostStatus.PUBLISHED),  # bin 0
            (5.0, PostStatus.PUBLISHED),  # bin 1: a bin starts at its start second
            (12.0, PostStatus.PENDING),  # held: not counted
            (12.5, PostStatus.HIDDEN),  # hidden: not counted
            (None, PostStatus.PUBLISHED),  # untimed: not counted
        ]
        for timestamp, status in asked:
            Question.objects.create(
                course=course,
                lecture=lecture,
                author=students[0],
                title="Why?",
                timestamp=timestamp,
                status=status,
            )
        note_create(student=students[0], lecture_id=lecture.id, body="start", timestamp=0.0)
        note_create(student=students[1], lecture_id=lecture.id, body=SECRET, timestamp=19.9)
        note_create(student=students[1], lecture_id=lecture.id, body="also 15", timestamp=15.0)
        note_create(student=students[1], lecture_id=lecture.id, body="untimed")

    response = TenantClient(tenant, user=instructor).get(f"/api/v1/lectures/{lecture.id}/analytics")

    assert response.status_code == 200
    body = response.json()
    assert body["bin_seconds"] == BIN_SECONDS == 5
    assert [(b["start"], b["questions"], b["notes"]) for b in body["retention"]] == [
        (0, 2, 1),
        (5, 1, 0),
        (10, 0, 0),
        (15, 0, 2),
    ]
    assert SECRET not in response.content.decode()
    assert "Why?" not in response.content.decode()
