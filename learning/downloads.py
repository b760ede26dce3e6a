"""Signed download links of certificate PDFs: only the owner gets one (from the API list or
their /my/ page), and a link works on its own school only, for an hour."""

from uuid import UUID

from django.core import signing
from django.db import connection
from django.urls import reverse

DOWNLOAD_MAX_AGE = 3600
"""Seconds a download link works."""


def _salt() -> str:
    return f"learning.certificate.{connection.schema_name}"


def certificate_download_url(*, certificate_id: UUID, student_id: int) -> str:
    """``/certificates/<hex>/pdf?token=…``: a link signed for this school, certificate and
    student, valid ``DOWNLOAD_MAX_AGE`` seconds."""
    token = signing.TimestampSigner(salt=_salt()).sign(
        f"{UUID(str(certificate_id)).hex}.{student_id}"
    )
    path = reverse("certificate-pdf", kwargs={"certificate_id": UUID(str(certificate_id)).hex})
    return f"{path}?token={token}"


def certificate_download_check(*, certificate_id: UUID, token: str) -> int | None:
    """The student id a download ``token`` was signed for, when it is this school's, for
    ``certificate_id`` and not expired; else ``None``."""
    try:
        value = signing.TimestampSigner(salt=_salt()).unsign(token, max_age=DOWNLOAD_MAX_AGE)
    except signing.BadSignature:
        return None
    hex_id, _, student_id = value.partition(".")
    if hex_id != UUID(str(certificate_id)).hex or not student_id.isdigit():
        return None
    return int(student_id)
