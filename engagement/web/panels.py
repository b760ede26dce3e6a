"""The panels this app adds beside the student's lecture (``enrollment.hooks.lecture_panels``):
"Notes" (write, list, seek to, edit and delete one's notes on the lecture) and "Like and save"
(the student's own like, never a count, and "Save to list"). Both are driven by
``static/build/notes.js``."""

from django.middleware.csrf import get_token

from courses.models import Lecture
from engagement import selectors, services
from engagement.api.serializers import NoteOutput

SCRIPT = "build/notes.js"


def notes_panel(*, request, course_id, lecture_id, kind) -> dict:
    """The "Notes" panel: the student's notes on this lecture (timestamp order) and, for a
    video lecture, "at current time" from the player's ``lectern:time`` events."""
    notes = selectors.note_list(student=request.user, lecture_id=lecture_id)
    config = {
        "lecture_id": str(lecture_id),
        "course_id": str(course_id),
        "notes_api": "/api/v1/notes",
        "timed": kind == Lecture.Kind.VIDEO,
        "csrf_token": get_token(request),
    }
    return {
        "id": "notes",
        "title": "Notes",
        "template": "engagement/_notes_panel.html",
        "context": {"config": config, "notes": NoteOutput(notes, many=True).data},
        "script": SCRIPT,
    }


def keep_panel(*, request, course_id, lecture_id, kind) -> dict:
    """The "Like and save" panel: the student's like of the lecture (their own state only)
    and the lists it can be saved to (Watch later first; lists holding it already marked)."""
    services.watch_later_ensure(student=request.user)
    holding = selectors.lists_containing(student=request.user, lecture_id=lecture_id)
    lists = [
        {"id": item.id, "name": item.name, "saved": item.id in holding}
        for item in selectors.saved_lists(student=request.user)
    ]
    return {
        "id": "keep",
        "title": "Like and save",
        "template": "engagement/_keep_panel.html",
        "context": {
            "lecture_id": str(lecture_id),
            "liked": selectors.lecture_liked(student=request.user, lecture_id=lecture_id),
            "lists": lists,
        },
        "script": None,
    }
