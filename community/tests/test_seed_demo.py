"""``seed_demo``'s Q&A step: questions with timestamps, instructor and student answers, a
resolved one, one in the inbox and one held in the moderation queue; a second run changes
nothing."""

import pytest

from analytics.management.commands.seed_demo import _demo_community
from community.models import Answer, ModerationAction, Question
from community.selectors import instructor_inbox, moderation_queue
from tenants.testing import in_tenant

pytestmark = pytest.mark.django_db


def test_the_demo_questions_are_made_once(qa):
    student = qa.students[0]

    def snapshot():
        return (
            sorted(
                Question.objects.values_list(
                    "title", "timestamp", "status", "resolved", "vote_count", "answer_count"
                )
            ),
            Answer.objects.count(),
            list(
                ModerationAction.objects.filter(course_id=qa.course.pk).values_list(
                    "action", "target_kind", "reason"
                )
            ),
        )

    with in_tenant(qa.tenant):
        _demo_community(
            course=qa.course, lecture=qa.lecture, student=student, instructor=qa.instructor
        )
        first = snapshot()
        _demo_community(
            course=qa.course, lecture=qa.lecture, student=student, instructor=qa.instructor
        )
        assert snapshot() == first
        inbox = [q.title for q in instructor_inbox(user=qa.instructor)]
        queue = [(i.kind, i.reason) for i in moderation_queue(user=qa.instructor)]
    questions, answers, actions = first
    assert [(t[1], t[2], t[3]) for t in questions] == [
        (8.0, "published", False),
        (None, "published", False),
        (None, "pending", False),
        (3.0, "published", True),
    ]
    assert (answers, actions) == (2, [("hold", "question", "toxicity 1.00")])
    assert inbox == [
        "Is there a quiz at the end of the course?",
        "Can I watch this lecture offline?",
    ]
    assert queue == [("question", "toxicity")]
