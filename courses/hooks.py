"""Explicit hooks: how a lower app asks or tells a higher one something without importing it.

Dependencies point one way (``tenants`` < ``tenants.accounts`` < ``media_pipeline`` <
``courses`` < ``enrollment`` < ``analytics``). When a lower app needs a higher one, for
instance ``courses`` must not delete a course that ``enrollment`` still has students in, the
lower app declares a ``Hook`` here (or in its own ``hooks`` module) and calls it; the higher
app connects its receiver in its ``AppConfig.ready()``. Every hook of the project is listed in
docs/ARCHITECTURE.md ("Hooks"), with who fires it, who listens and its payload.

Unlike Django signals, a hook is a plain list of functions called in order, with keyword
arguments only, and an exception raised by a receiver reaches the caller (a delete guard
refuses by raising). A receiver that must never fail its caller (a notification) catches its
own errors.

``Hook`` itself is the kernel's (``tenants.hooks``).
"""

from tenants.hooks import Hook

course_delete_guards = Hook("course_delete_guards", payload=("course",))
"""Asked before a course is deleted (``courses.services.course_delete``, and by
``courses.selectors.course_delete_refusal`` to tell the dashboard and the admin beforehand).
Payload: ``course`` (a ``Course`` of the current schema). A receiver refuses by raising an
``ApplicationError`` (409 ``Conflict``), whose message is shown to the user. Connected by
``enrollment`` (no course with enrollments is deleted)."""

lectures_deleted = Hook("lectures_deleted", payload=("schema_name", "lecture_ids"))
"""Sent by the lecture, section and course delete services (``courses.services``) inside their
transaction, after the lectures' rows are deleted, so what a receiver deletes goes or stays
with them. Payload: ``schema_name`` and ``lecture_ids`` (a list of UUIDs, possibly empty). A
receiver deletes what it keeps about those lectures. Connected by ``enrollment`` (watch
progress) and ``analytics`` (per-lecture rollups)."""

course_deleted = Hook("course_deleted", payload=("schema_name", "course_id"))
"""Sent by ``courses.services.course_delete`` inside its transaction, after the course's row
(and with it its sections and lectures) is deleted and ``lectures_deleted`` was sent for its
lectures. Payload: ``schema_name`` and ``course_id`` (UUID). A receiver deletes what it keeps
about the course itself. Connected by ``engagement`` (saved lists' course entries)."""

lecture_dependents_count = Hook("lecture_dependents_count", payload=("lecture_ids",))
"""Collected before a delete is confirmed (``courses.selectors.lectures_delete_impact``): what
deleting ``lecture_ids`` (a list of UUIDs) would take with it in the apps above. Each receiver
returns a dict of counts, summed by key: ``enrollment`` answers ``{"progress_records": n,
"students": m}`` (watch progress rows, and the distinct students they belong to)."""

course_cover_stored = Hook("course_cover_stored", payload=("schema_name", "course_id", "key"))
"""Sent by ``courses.services.course_create`` and ``course_update`` inside their transaction
when a new cover image is stored. Payload: ``schema_name``, ``course_id`` (UUID) and ``key``
(the image's storage key, a re-encoded JPEG). Receivers act once the change commits
(``transaction.on_commit``) and never fail the caller. Connected by ``trust`` (the cover is
scored by the image moderation)."""

lecture_notices = Hook("lecture_notices", payload=("lecture",))
"""Collected by the dashboard's lecture edit page (``courses.selectors.lecture_notices``):
what the apps above have to tell the lecture's instructors. Payload: ``lecture`` (a
``Lecture`` of the current schema). Each receiver returns a list of notices, dicts
``{"text": str, "url": str | None}`` (plain text, escaped by the page; ``url`` a link of
this school's dashboard or None). Connected by ``trust`` ("Same audio as lecture X")."""

course_published = Hook("course_published", payload=("schema_name", "course_id"))
"""Sent by ``courses.services.course_create`` (a course created published) and
``course_update`` (its ``status`` changed to ``published`` from ``draft`` or ``archived``)
once the change has committed. Payload: ``schema_name`` (str) and ``course_id`` (UUID).
``notifications`` tells the followers of the course's instructors."""

course_saved = Hook("course_saved", payload=("schema_name", "course_id"))
"""Sent inside the transaction of every save of a ``Course`` (services, dashboard, API, the
school admin: ``courses.cache``'s save receivers, which every path goes through). Payload:
``schema_name`` (str) and ``course_id`` (UUID). A receiver's error fails the save. Connected
by ``search`` (the course's search document, written in the same transaction)."""

lecture_saved = Hook("lecture_saved", payload=("schema_name", "lecture_id"))
"""Sent inside the transaction of every save of a ``Lecture``, as ``course_saved``. Payload:
``schema_name`` (str) and ``lecture_id`` (UUID). Connected by ``search`` (the lecture's search
document)."""

course_changed = Hook("course_changed", payload=("schema_name", "course_id"))
"""Sent once a change to what a course says has committed: ``courses.services.course_update``
(any of its fields or instructors), ``section_create``, ``section_rename``, ``section_update``,
``section_delete``, ``lecture_create``, ``lecture_rename``, ``lecture_update`` and
``lecture_delete``. Payload: ``schema_name`` (str) and ``course_id`` (UUID). Not sent for a new
course (``course_published`` covers a course created published) nor for a deleted one
(``course_deleted``). Unlike ``course_saved`` (every row save, inside its transaction), it
covers sections and deletes, once per operation and after the commit, so a receiver may queue
a task. ``recommendations`` embeds the course's text again when it changed."""
