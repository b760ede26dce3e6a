"""The Q&A panel beside the student's lecture page (``enrollment.hooks.lecture_panels``)."""

from django.middleware.csrf import get_token

from community import selectors
from community.serializers import QuestionOutput
from courses.selectors import course_managed

FIRST_PAGE = 20  # questions rendered with the page; the panel's script asks for more


def lecture_qa_panel(*, request, course_id, lecture_id, kind) -> dict:
    """The ``lecture_panels`` receiver: the panel ``{"id": "qa", "title": "Questions",
    "template": "community/panel.html", "context": {"config": {...}}, "script":
    "build/qa.js"}`` (``config`` is read by static/src/qa.js: the lecture id, the API and
    socket paths, the CSRF token, the viewer's id, whether timestamps apply, and the first
    page of questions sorted by votes).

    The lecture page collects panels once it has checked the student's access (the hook's
    contract), which is the Q&A's rule too (``community.selectors.lecture_access``), so the
    panel costs one query (the first page; two with votes to mark) and none for the lecture or
    the enrollment again."""
    user = request.user
    questions = list(selectors.lecture_questions(lecture_id=lecture_id, user=user)[:FIRST_PAGE])
    voted = selectors.voted_question_ids(user=user, question_ids=[q.pk for q in questions])
    config = {
        "lecture_id": str(lecture_id),
        "questions_url": f"/api/v1/lectures/{lecture_id}/questions",
        "question_url": "/api/v1/questions/",
        "answer_url": "/api/v1/answers/",
        "socket_path": f"/ws/lectures/{lecture_id}/questions/",
        "csrf_token": get_token(request),
        "user_id": user.pk,
        "moderator": course_managed(course_id=course_id, user=user),
        "timestamps": kind == "video",
        "questions": QuestionOutput(
            questions, many=True, context={"user": user, "voted": voted}
        ).data,
    }
    return {
        "id": "qa",
        "title": "Questions",
        "template": "community/panel.html",
        "context": {"config": config},
        "script": "build/qa.js",
    }
