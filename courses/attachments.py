"""Lecture attachments: storage keys, file names and signed, expiring download URLs.

A download URL is ``/media/attachments/<attachment id>?token=...``: the token is a media token
(``media_pipeline.tokens``: HMAC over tenant, viewer, id, version and expiry) made for the
attachment's id with version ``ATTACHMENT_TOKEN_VERSION``, so it opens that one file for that
viewer until it expires (ATTACHMENT_URL_LIFETIME); attachment ids never name a lecture, so a
lecture's media token opens no attachment and the other way round. URLs are issued only to the
course's instructors (the instructor API) and its enrolled students while the course is open
(the student API and pages); ``courses.downloads`` serves them, always as a download.
"""

from __future__ import annotations

import time
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote
from uuid import UUID

from django.conf import settings
from django.db import connection

from media_pipeline.tokens import media_token_sign
from tenants.storage import lecture_prefix

#: The media version every attachment token is made for (attachments have no versions).
ATTACHMENT_TOKEN_VERSION = 1


def attachment_key(schema_name: str, lecture_id: UUID | str, attachment_id: UUID | str) -> str:
    """``tenants/<schema>/lectures/<lecture>/attachments/<attachment id>``: under the lecture's
    prefix, so deleting the lecture's media (``media_pipeline.assets.assets_delete``) removes
    its attachments too. The name is not part of the key (it is stored on the row)."""
    return f"{lecture_prefix(schema_name, lecture_id)}/attachments/{attachment_id}"


def attachment_filename_clean(name: str) -> str:
    """The base name of an uploaded file's name (folders of either path style dropped, control
    characters removed, NFC, at most 255 characters); ``"file"`` when nothing is left."""
    base = PureWindowsPath(PurePosixPath(name).name).name
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if ch.isprintable())
    base = base.strip().strip(".")
    return base[:255] or "file"


def content_disposition(filename: str) -> str:
    """``attachment; filename*=UTF-8''<percent-encoded name>`` (RFC 6266, RFC 8187)."""
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}"


def attachment_url_path(*, attachment_id: UUID, viewer_id: int, now: float | None = None) -> str:
    """The signed download path of an attachment for account ``viewer_id`` in the current
    school, valid ATTACHMENT_URL_LIFETIME from ``now`` (Unix seconds)."""
    lifetime = settings.ATTACHMENT_URL_LIFETIME.total_seconds()
    expires = int((time.time() if now is None else now) + lifetime)
    token = media_token_sign(
        tenant=connection.schema_name,
        student_id=viewer_id,
        lecture_id=attachment_id,
        version=ATTACHMENT_TOKEN_VERSION,
        expires=expires,
    )
    return f"/media/attachments/{attachment_id}?token={token}"
