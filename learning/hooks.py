"""What ``learning`` tells the apps above it (``notifications``): a student earned an
achievement. The list of hooks is in docs/ARCHITECTURE.md ("Layers and hooks")."""

from tenants.hooks import Hook

achievement_earned = Hook(
    "achievement_earned",
    payload=("schema_name", "student_id", "kind", "course_id", "certificate_id"),
)
"""Fired by ``learning.services`` once a new achievement has committed (never twice for the
same achievement). Payload: ``schema_name`` (str), ``student_id`` (int), ``kind``
(``course_completed``, ``streak_7``, ``streak_30``), ``course_id`` (str UUID, or None for a
streak), ``certificate_id`` (str UUID of the course's certificate, or None)."""
