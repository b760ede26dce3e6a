"""What ``trust`` does when the apps below report something (their hooks), connected in
``TrustConfig.ready()``. Every check is a task sent once the change commits; a receiver never
fails its caller (a broker that cannot take the task is logged)."""

from __future__ import annotations

import logging
from functools import partial
from uuid import UUID

from django.db import transaction

from trust import services, tasks
from trust.models import Flag

logger = logging.getLogger(__name__)


def _send(task, **kwargs) -> None:
    try:
        task.apply_async(kwargs=kwargs)
    except Exception:
        logger.exception("Could not queue %s with %s", task.name, kwargs)


def lecture_ready(
    *, schema_name: str, owner_id: UUID, kind: str, version: int, event: str, **payload
) -> None:
    """``media_pipeline.hooks.asset_changed`` receiver: a lecture's video version became
    ready, so its poster, frames and audio are checked (``trust.tasks.lecture_check``) once
    the switch commits."""
    if event != "ready" or kind != "video":
        return
    transaction.on_commit(
        partial(
            _send,
            tasks.lecture_check,
            schema_name=schema_name,
            lecture_id=str(owner_id),
            version=version,
        )
    )


def avatar_stored(*, schema_name: str, user_id: int, key: str) -> None:
    """``tenants.accounts.services.avatar_stored`` receiver: score the new avatar on commit."""
    transaction.on_commit(
        partial(
            _send,
            tasks.image_check,
            schema_name=schema_name,
            subject=Flag.Subject.AVATAR.value,
            object_id=str(user_id),
            key=key,
        )
    )


def course_cover_stored(*, schema_name: str, course_id: UUID, key: str) -> None:
    """``courses.hooks.course_cover_stored`` receiver: score the new cover on commit."""
    transaction.on_commit(
        partial(
            _send,
            tasks.image_check,
            schema_name=schema_name,
            subject=Flag.Subject.COURSE_COVER.value,
            object_id=str(course_id),
            key=key,
        )
    )


def lectures_deleted(*, schema_name: str, lecture_ids: list[UUID]) -> None:
    """``courses.hooks.lectures_deleted`` receiver: the lectures' audio fingerprints (and
    their matches) go with them, in the same transaction. Flags stay: they are the staff's
    record."""
    if lecture_ids:
        services.fingerprint_delete(lecture_ids=lecture_ids)
