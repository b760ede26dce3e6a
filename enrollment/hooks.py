"""What ``enrollment`` tells the apps above it (``analytics``): a code was redeemed, a student
watched part of a lecture, a student opened a course or lecture page.

``enrollment`` fires these and never imports its listeners; ``analytics`` connects its
receivers in ``AnalyticsConfig.ready()`` (``analytics.receivers``). Every payload is primitives
only (ids, numbers, ISO strings), with ``schema_name`` naming the school, so a receiver may
publish it or hand it to a task as it is. The list, with who fires and who listens, is in
docs/ARCHITECTURE.md ("Hooks"). A receiver must never fail the request that fired the hook:
it catches and logs its own errors.
"""

from tenants.hooks import Hook

access_code_redeemed = Hook(
    "access_code_redeemed",
    payload=("schema_name", "course_id", "enrollment_id", "student_id", "enrolled_at"),
)
"""Fired by ``enrollment.services.access_code_redeem`` once the enrollment has committed.
Payload: ``schema_name`` (str), ``course_id`` (UUID), ``enrollment_id`` (int), ``student_id``
(int), ``enrolled_at`` (ISO 8601 str)."""

progress_recorded = Hook(
    "progress_recorded",
    payload=(
        "schema_name",
        "student_id",
        "course_id",
        "lecture_id",
        "ranges",
        "position",
        "completion",
        "completed",
    ),
)
"""Fired by ``enrollment.services.progress_record`` once a watch heartbeat has committed.
Payload: ``schema_name`` (str), ``student_id`` (int), ``course_id`` and ``lecture_id``
(UUID), ``ranges`` (the newly watched ``[start, end]`` seconds of this heartbeat, clipped to
the lecture, empty ranges dropped; may be empty), ``position`` (seconds), ``completion``
(percent 0-100) and ``completed`` (bool) as stored after the merge."""

course_viewed = Hook(
    "course_viewed",
    payload=("schema_name", "student_id", "course_id", "lecture_id"),
)
"""Fired by the student pages (``enrollment.web.views``) when an enrolled student opens a
course page (``lecture_id`` None) or a playable lecture page. Payload: ``schema_name`` (str),
``student_id`` (int), ``course_id`` (UUID), ``lecture_id`` (UUID or None). Called inside the
request, in the school's schema."""

enrollment_created = Hook(
    "enrollment_created",
    payload=("schema_name", "course_id", "enrollment_id", "student_id", "enrolled_at"),
)
"""Fired once per enrollment made without an access code (a class roster's
``enrollment.services.enrollments_create``) once it has committed. Payload as
``access_code_redeemed``'s; ``analytics`` announces it as a ``new_enrollment`` event."""

lecture_panels = Hook("lecture_panels", payload=("request", "course_id", "lecture_id", "kind"))
"""Collected by the student's lecture page (``enrollment.web.views.lecture_detail``) once the
student's access is checked, in the school's schema: each receiver returns ``None`` or a panel
``{"id": str, "title": str, "template": str, "context": dict, "script": str | None}`` shown
beside the lecture (``template`` is rendered with ``panel`` = ``context``; ``script`` is a path
under ``static/``, loaded with ``defer``). ``kind`` is the lecture's kind (``video``,
``article``, ``presentation``). A panel's script seeks the video by dispatching
``new CustomEvent("lectern:seek", {detail: {seconds}})`` on ``document`` (static/src/player.js);
the player announces its position with ``lectern:time`` events (``detail.seconds``) at most
once per whole second of playback, and after every seek and pause (the exact position)."""

enrollment_revoked = Hook(
    "enrollment_revoked",
    payload=("schema_name", "course_id", "enrollment_id", "student_id"),
)
"""Fired once an enrollment went from active to revoked has committed
(``enrollment.services.enrollment_revoke``, and ``access_code_batch_revoke`` with its
redeemed codes' enrollments, once per enrollment). Payload: ``schema_name`` (str),
``course_id`` (UUID), ``enrollment_id`` (int), ``student_id`` (int). Not fired for an
enrollment that was already revoked."""

enrollment_reinstated = Hook(
    "enrollment_reinstated",
    payload=("schema_name", "course_id", "enrollment_id", "student_id"),
)
"""Fired once a revoked enrollment given its access back has committed
(``enrollment.services.enrollment_reinstate``). Payload as ``enrollment_revoked``'s."""

account_sections = Hook("account_sections", payload=("request",))
"""Collected by the account page (``enrollment.web.account``, ``/account/``) for the signed-in
account, in the school's schema: each receiver returns ``None`` or a section
``{"id": str, "title": str, "template": str, "context": dict}`` shown as a card of the page
(``template`` is rendered with ``section`` = ``context``; its forms post to the app's own
URLs)."""

my_courses_sections = Hook("my_courses_sections", payload=("request",))
"""Collected by the student's "my courses" page (``enrollment.web.views.my_courses``) for the
signed-in account, in the school's schema: each receiver returns ``None`` or a row of course
cards ``{"id": str, "title": str, "courses": [card]}`` shown under the student's courses, a card
as ``catalog.hooks`` describes it (rendered by ``templates/courses/_course_row.html``).
Connected by ``recommendations`` ("Recommended for you")."""

login_options = Hook("login_options", payload=("request",))
"""Collected by the log-in and sign-up pages (``enrollment.web.views``), in the school's schema:
each receiver returns ``None`` or ``{"buttons": [{"name": str, "url": str}], "notice": str or
None}``: buttons that POST (with the CSRF token and ``next``) to ``url`` to sign in another way,
and a sentence shown above the password form. Connected by ``sso`` (the school's providers)."""
