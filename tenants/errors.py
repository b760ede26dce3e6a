"""The one family of domain errors; the API maps each to the error body of API.md."""

from typing import Any


class ApplicationError(Exception):
    """A domain rule was broken.

    ``code`` is the stable UPPER_SNAKE identifier of API.md, ``status`` the HTTP status the API
    answers with, ``details`` a JSON-serialisable mapping (field -> messages for validation).
    """

    code = "APPLICATION_ERROR"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}


class NotFound(ApplicationError):
    """The object does not exist in this tenant (an id of another tenant behaves the same)."""

    code = "NOT_FOUND"
    status = 404


class Conflict(ApplicationError):
    """The request conflicts with the current state of the object."""

    code = "CONFLICT"
    status = 409


class PermissionDenied(ApplicationError):
    """The caller is authenticated but may not do this."""

    code = "PERMISSION_DENIED"
    status = 403
