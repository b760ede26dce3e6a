"""Invitations (the owner's team, class rosters) and their acceptance.

An invitation's link is ``/invitations/<token>/`` on the school's primary domain, valid
INVITATION_LIFETIME (7 days) and once. The token is 64 hex characters, HMAC-SHA256 (Django's
``salted_hmac`` with SECRET_KEY) of the school's schema, the invitation's id and a random
nonce: the database keeps the nonce and the SHA-256 of the token (the lookup key), so neither a
copy of the database nor the broker (tasks carry ids only) holds a usable link, and a token of
another school matches no row here.
"""

import csv
import hashlib
import io
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from kombu.exceptions import OperationalError

from courses.models import Course
from enrollment.services import enrollments_create
from teams.models import Invitation
from tenants.accounts.services import credentials_validate
from tenants.errors import ApplicationError, Conflict, NotFound
from tenants.links import tenant_url
from tenants.mail import mail_send

User = get_user_model()
logger = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(days=7)
TOKEN_SALT = "lectern.teams.invitation"  # noqa: S105 (an HMAC key salt, not a secret)
ROSTER_MAX_ROWS = 5000
ROSTER_MAX_BYTES = 1_000_000
# The invitation mail's templates (``tenants.mail``): essential, no unsubscribe link.
INVITATION_MAIL = "teams/email/invitation"


class InvitationError(ApplicationError):
    """An invitation link that cannot be used: ``INVITATION_INVALID`` (404: unknown, another
    school's), ``INVITATION_USED``, ``INVITATION_REVOKED``, ``INVITATION_EXPIRED`` (410)."""


def invitation_token(invitation: Invitation, *, schema_name: str | None = None) -> str:
    """The link token of ``invitation`` (64 hex characters; see the module)."""
    schema = schema_name or connection.schema_name
    value = f"{schema}:{invitation.pk}:{invitation.nonce}"
    return salted_hmac(TOKEN_SALT, value, algorithm="sha256").hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_status(invitation: Invitation, *, now=None) -> str:
    """``pending``, ``accepted``, ``revoked`` or ``expired`` (API.md "Team")."""
    now = now or timezone.now()
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    return "pending"


def _invitation_insert(*, email: str, role: str, invited_by, course: Course | None) -> Invitation:
    """Insert one invitation with its token hash (two statements: the hash needs the id)."""
    invitation = Invitation.objects.create(
        email=email,
        role=role,
        course=course,
        invited_by=invited_by,
        nonce=secrets.token_hex(16),
        token_hash=secrets.token_hex(32),  # replaced below, once the id is known
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    invitation.token_hash = _token_hash(invitation_token(invitation))
    invitation.save(update_fields=["token_hash"])
    return invitation


def _emails_enqueue(invitation_ids: list[int]) -> None:
    """On commit: queue ``teams.tasks.invitation_emails_send`` for ``invitation_ids`` (one task
    per INVITATION_BATCH ids)."""
    from teams.tasks import INVITATION_BATCH, invitation_emails_send

    schema_name = connection.schema_name
    for start in range(0, len(invitation_ids), INVITATION_BATCH):
        batch = invitation_ids[start : start + INVITATION_BATCH]
        transaction.on_commit(partial(_enqueue, invitation_emails_send, schema_name, batch))


def _enqueue(task, schema_name: str, invitation_ids: list[int]) -> None:
    try:
        task.delay(schema_name=schema_name, invitation_ids=invitation_ids)
    except OperationalError:
        logger.exception("Invitation e-mails %s not queued", invitation_ids)


def invitation_create(*, email: str, role: str, invited_by) -> Invitation:
    """Invite ``email`` to join the school as ``role`` (``instructor``); the e-mail with the
    link is sent by a worker once the invitation has committed.

    Raises ``ApplicationError`` 400 ``VALIDATION_ERROR`` for an invalid address or role, and
    ``Conflict`` 409 ``ALREADY_INSTRUCTOR`` when the address already has an owner or
    instructor account here. A pending invitation of the same address is revoked (the new link
    replaces it).
    """
    email = User.objects.normalize_email(email.strip()).lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ApplicationError(
            "The e-mail address is not valid.",
            code="VALIDATION_ERROR",
            details={"email": list(exc.messages)},
        ) from exc
    if role != Invitation.Role.INSTRUCTOR:
        raise ApplicationError(
            "Only instructors are invited here.",
            code="VALIDATION_ERROR",
            details={"role": ['"instructor" is the only role.']},
        )
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None and existing.is_instructor:
        raise Conflict(
            "This address already has an instructor account here.", code="ALREADY_INSTRUCTOR"
        )
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(
            email=email,
            role=role,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        ).update(revoked_at=now)
        invitation = _invitation_insert(email=email, role=role, invited_by=invited_by, course=None)
        _emails_enqueue([invitation.pk])
    return invitation


def invitation_revoke(*, invitation_id: int) -> Invitation:
    """Revoke an invitation of the team; idempotent (keeps the first ``revoked_at``). An
    accepted invitation stays accepted. Raises ``NotFound`` for an unknown id (or a roster
    invitation: those belong to their course)."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .filter(pk=invitation_id, role=Invitation.Role.INSTRUCTOR)
            .first()
        )
        if invitation is None:
            raise NotFound("Invitation not found.")
        if invitation.revoked_at is None and invitation.accepted_at is None:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
    return invitation


def invitation_emails_send(*, invitation_ids: list[int]) -> int:
    """Mail each pending, not yet mailed invitation of ``invitation_ids`` its link, in the
    school's name and colour, and mark it sent (so a retried batch does not mail it twice).
    Returns how many were sent. Raises what the e-mail backend raises."""
    tenant = connection.tenant
    sent = 0
    invitations = Invitation.objects.filter(
        pk__in=invitation_ids, sent_at__isnull=True
    ).select_related("course")
    for invitation in invitations:
        if invitation_status(invitation) != "pending":
            continue
        token = invitation_token(invitation)
        context = {
            "invitation": invitation,
            "accept_url": tenant_url(tenant, reverse("invitation-accept", args=[token])),
            "expires_at": invitation.expires_at,
        }
        mail_send(to=invitation.email, template=INVITATION_MAIL, context=context)
        Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now())
        sent += 1
    return sent


def invitation_for_token(token: str) -> Invitation:
    """The invitation of a link token, usable now. Raises ``InvitationError``
    ``INVITATION_INVALID`` (404) for an unknown token (another school's too),
    ``INVITATION_USED``, ``INVITATION_REVOKED`` or ``INVITATION_EXPIRED`` (410)."""
    invitation = (
        Invitation.objects.select_related("course")
        .filter(token_hash=_token_hash(token[:128]))
        .first()
    )
    if invitation is None:
        raise InvitationError(
            "This invitation link is not valid.", code="INVITATION_INVALID", status=404
        )
    status = invitation_status(invitation)
    messages = {
        "accepted": ("This invitation has already been used.", "INVITATION_USED"),
        "revoked": ("This invitation was withdrawn.", "INVITATION_REVOKED"),
        "expired": ("This invitation has expired.", "INVITATION_EXPIRED"),
    }
    if status in messages:
        message, code = messages[status]
        raise InvitationError(message, code=code, status=410)
    return invitation


def _claim(invitation: Invitation, user) -> None:
    """Mark ``invitation`` accepted by ``user`` with one conditional UPDATE: of two
    acceptances at once only one wins (the other gets ``INVITATION_USED``)."""
    claimed = Invitation.objects.filter(
        pk=invitation.pk,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).update(accepted_at=timezone.now(), accepted_by=user)
    if not claimed:
        raise InvitationError(
            "This invitation has already been used.", code="INVITATION_USED", status=410
        )


def _grant(invitation: Invitation, user) -> None:
    if invitation.role == Invitation.Role.INSTRUCTOR:
        if user.role == User.Role.STUDENT:
            User.objects.filter(pk=user.pk).update(role=User.Role.INSTRUCTOR)
            user.role = User.Role.INSTRUCTOR
    else:
        enrollments_create(course=invitation.course, student_ids=[user.pk])


def invitation_accept_new(*, token: str, name: str, password: str):
    """Accept an invitation for an address without an account here: creates the account
    (role of the invitation, ``name``, ``password`` checked by AUTH_PASSWORD_VALIDATORS), and
    for a roster invitation enrols it in the course. Returns the new user.

    Raises ``InvitationError`` (see ``invitation_for_token``), ``ApplicationError`` 400
    ``VALIDATION_ERROR`` for a weak password or a blank name, ``Conflict`` 409
    ``ACCOUNT_EXISTS`` when the address has an account here by now (accept while signed in
    as it instead). Nothing is written when anything fails.
    """
    with transaction.atomic():
        invitation = invitation_for_token(token)
        name = name.strip()
        if not name:
            raise ApplicationError(
                "Your name is required.",
                code="VALIDATION_ERROR",
                details={"name": ["This field is required."]},
            )
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise Conflict(
                "An account with this address exists: log in to accept.", code="ACCOUNT_EXISTS"
            )
        email = credentials_validate(email=invitation.email, password=password, name=name)
        user = User.objects.create_user(
            email=email, password=password, name=name[:150], role=invitation.role
        )
        _claim(invitation, user)
        _grant(invitation, user)
    return user


def invitation_accept_existing(*, token: str, user) -> None:
    """Accept an invitation as the signed-in ``user``, whose address it must be: a student is
    made an instructor (team invitation) or enrolled in the course (roster invitation).

    Raises ``InvitationError``, ``ApplicationError`` 403 ``WRONG_ACCOUNT`` for another
    address, ``Conflict`` 409 ``ALREADY_INSTRUCTOR`` for an owner or instructor invited to the
    team (nothing to accept; the invitation stays pending).
    """
    with transaction.atomic():
        invitation = invitation_for_token(token)
        if user.email.lower() != invitation.email.lower():
            raise ApplicationError(
                "This invitation is for another address.", code="WRONG_ACCOUNT", status=403
            )
        if invitation.role == Invitation.Role.INSTRUCTOR and user.is_instructor:
            raise Conflict("You are already an instructor here.", code="ALREADY_INSTRUCTOR")
        _claim(invitation, user)
        _grant(invitation, user)


# --- Class rosters --------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterRow:
    """One data row of a roster and what became of it: ``status`` ``enrolled``, ``invited``,
    ``already_enrolled`` or ``invalid`` (``reason`` says why)."""

    row: int
    email: str
    status: str
    reason: str = ""


def roster_parse(content: bytes) -> list[tuple[int, str, str]]:
    """``[(line, email, name)]`` of a roster CSV: UTF-8 with or without a BOM, a header row with
    ``email`` and optionally ``name`` (any order, case-insensitive), at most ROSTER_MAX_ROWS
    data rows and ROSTER_MAX_BYTES bytes; blank lines are skipped. ``line`` is the line number
    in the file (the header is line 1). Raises ``ApplicationError`` 400 ``INVALID_CSV`` naming
    the line of the problem."""

    def bad(message: str, line: int | None = None):
        details = {"file": [message if line is None else f"Line {line}: {message}"]}
        return ApplicationError(details["file"][0], code="INVALID_CSV", details=details)

    if len(content) > ROSTER_MAX_BYTES:
        raise bad(f"The file is larger than {ROSTER_MAX_BYTES} bytes.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise bad("the file is not UTF-8 text.", line) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise bad("The file is empty: a header row with an email column is required.")
        columns = [cell.strip().lower() for cell in header]
        if "email" not in columns:
            raise bad("the header must have an email column.", 1)
        email_at = columns.index("email")
        name_at = columns.index("name") if "name" in columns else None
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                raise bad(f"{len(cells)} fields, the header has {len(columns)}.", reader.line_num)
            if len(rows) == ROSTER_MAX_ROWS:
                raise bad(f"more than {ROSTER_MAX_ROWS} rows.", reader.line_num)
            name = cells[name_at].strip() if name_at is not None else ""
            rows.append((reader.line_num, cells[email_at].strip(), name))
    except csv.Error as exc:
        raise bad(str(exc), reader.line_num) from None
    return rows


def roster_import(*, course: Course, content: bytes, invited_by) -> list[RosterRow]:
    """Import a class roster CSV (``roster_parse``) into ``course``, in one transaction with
    bulk queries (one user lookup, one enrollment read, one ``bulk_create`` each for
    enrollments and invitations): students of the school are enrolled at once (no access
    code); addresses without an account are invited (the e-mails are sent by workers, in
    batches, once the import has committed) and enrolled when they accept.

    One ``RosterRow`` per data row, in file order: ``invalid`` for a malformed address, an
    owner's or instructor's address (they manage courses, they do not take them), or a repeat
    of an earlier row of the file (``reason`` says which); ``already_enrolled``; ``enrolled``;
    ``invited`` (also when a pending invitation to this course is replaced by a new one).
    Raises ``ApplicationError`` 400 ``INVALID_CSV`` for a file that cannot be read, and then
    nothing is written.
    """
    parsed = roster_parse(content)
    results: dict[int, RosterRow] = {}
    first_row: dict[str, int] = {}
    wanted: list[tuple[int, str]] = []
    for index, (_line, raw, _name) in enumerate(parsed, start=1):
        email = User.objects.normalize_email(raw).lower()
        try:
            validate_email(email)
        except DjangoValidationError:
            results[index] = RosterRow(index, raw, "invalid", "not an e-mail address")
            continue
        if email in first_row:
            reason = f"repeats row {first_row[email]}"
            results[index] = RosterRow(index, email, "invalid", reason)
            continue
        first_row[email] = index
        wanted.append((index, email))
    with transaction.atomic():
        accounts = {
            user.email.lower(): user
            for user in User.objects.filter(email__in=[email for _, email in wanted]).only(
                "id", "email", "role", "is_active"
            )
        }
        students: dict[int, tuple[int, str]] = {}
        invite: list[tuple[int, str]] = []
        for index, email in wanted:
            user = accounts.get(email)
            if user is None:
                invite.append((index, email))
            elif user.is_instructor:
                results[index] = RosterRow(index, email, "invalid", "an instructor account")
            elif not user.is_active:
                results[index] = RosterRow(index, email, "invalid", "a deactivated account")
            else:
                students[index] = (user.pk, email)
        outcome = enrollments_create(course=course, student_ids=[pk for pk, _ in students.values()])
        for index, (student_id, email) in students.items():
            results[index] = RosterRow(index, email, outcome[student_id])
        invitation_ids = _roster_invite(course=course, invite=invite, invited_by=invited_by)
        for index, email in invite:
            results[index] = RosterRow(index, email, "invited")
        _emails_enqueue(invitation_ids)
    return [results[index] for index in range(1, len(parsed) + 1)]


def _roster_invite(*, course: Course, invite: list[tuple[int, str]], invited_by) -> list[int]:
    """Bulk-insert the student invitations of a roster to ``course`` (pending ones of the same
    addresses to this course are revoked: the new link replaces them); returns their ids."""
    if not invite:
        return []
    now = timezone.now()
    emails = [email for _, email in invite]
    Invitation.objects.filter(
        course=course,
        email__in=emails,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    ).update(revoked_at=now)
    # The token hash needs the id: insert with a random placeholder, then set every hash in
    # one bulk UPDATE.
    rows = Invitation.objects.bulk_create(
        [
            Invitation(
                email=email,
                role=Invitation.Role.STUDENT,
                course=course,
                invited_by=invited_by,
                nonce=secrets.token_hex(16),
                token_hash=secrets.token_hex(32),
                expires_at=now + INVITATION_LIFETIME,
            )
            for email in emails
        ],
        batch_size=1000,
    )
    for row in rows:
        row.token_hash = _token_hash(invitation_token(row))
    Invitation.objects.bulk_update(rows, ["token_hash"], batch_size=1000)
    return [row.pk for row in rows]
