"""What ``recommendations`` does when ``courses`` reports a published or changed course
(``courses.hooks.course_published``, ``course_changed``, both sent once the change committed):
the course's embedding task is queued. A receiver never fails its caller (a broker that cannot
take the task is logged; the periodic refresh embeds the course later)."""

from __future__ import annotations

import logging
from uuid import UUID

from recommendations import tasks

logger = logging.getLogger(__name__)


def course_embed_queue(*, schema_name: str, course_id: UUID) -> None:
    """Queue ``recommendations.tasks.course_embed`` for the course."""
    try:
        tasks.course_embed.apply_async(
            kwargs={"schema_name": schema_name, "course_id": str(course_id)}
        )
    except Exception:
        logger.exception("Could not queue the embedding of course %s (%s)", course_id, schema_name)
