"""What ``community`` tells the apps above it (``notifications``): a question or an answer was
published (posted clean, or released from the toxicity hold by a moderator).

Both are sent once the post has committed; payloads are primitives with ``schema_name``
naming the school. The list, with who fires and who listens, is in docs/ARCHITECTURE.md
("Layers and hooks"). A receiver must never fail the request: it catches and logs its errors.
"""

from tenants.hooks import Hook

question_published = Hook(
    "question_published",
    payload=("schema_name", "course_id", "lecture_id", "question_id", "author_id"),
)
"""Sent by ``community.services`` (``question_create``, a moderator's release of a held
question) on commit. Payload: ``schema_name`` (str), ``course_id`` and ``lecture_id`` (UUID),
``question_id`` (int), ``author_id`` (int, the asker)."""

answer_published = Hook(
    "answer_published",
    payload=(
        "schema_name",
        "course_id",
        "lecture_id",
        "question_id",
        "answer_id",
        "author_id",
        "question_author_id",
    ),
)
"""Sent by ``community.services`` (``answer_create``, a moderator's release of a held answer)
on commit. Payload: ``schema_name`` (str), ``course_id`` and ``lecture_id`` (UUID),
``question_id`` and ``answer_id`` (int), ``author_id`` (int, who answered) and
``question_author_id`` (int, who asked)."""

question_saved = Hook("question_saved", payload=("schema_name", "question_id"))
"""Sent by ``community.services`` (``question_create``, ``question_update``) inside the
transaction that wrote the question's title or body, whatever its status. Payload:
``schema_name`` (str) and ``question_id`` (int). Unlike the two above, a receiver's error
fails the write. Connected by ``search`` (the question's search document, written in the same
transaction; who may see it is decided when searching)."""
