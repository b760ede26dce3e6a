"""Trust and safety writes: scoring pictures and lectures, storing and matching audio
fingerprints, and the platform staff's decisions on flags.

The checks (``image_check``, ``lecture_check``) run in Celery tasks (``trust.tasks``) inside
the school they concern (``TenantTask``); their rows are in the public schema, which the
school's search path includes. The decisions (``flag_*``) run on the platform host and enter
the flag's school for what they change there.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context
from PIL import Image, UnidentifiedImageError

from courses.models import Course, Lecture
from courses.services import course_cover_remove, lecture_platform_hide
from media_pipeline.leases import video_of
from media_pipeline.models import MediaAsset
from media_pipeline.previews import POSTER_JPEG
from tenants.accounts.services import user_profile_update
from tenants.errors import ApplicationError, Conflict
from tenants.models import Tenant
from tenants.services import tenant_suspend
from tenants.storage import lecture_version_prefix
from trust import fingerprints, moderation
from trust.media import MediaUnavailable, lecture_media_extract
from trust.models import AudioFingerprint, AudioMatch, FingerprintHash, Flag
from trust.selectors import current_school

logger = logging.getLogger(__name__)

Subject = Flag.Subject

#: The staff's decisions on a flag (``flag_decide``): what each does, and the subjects it
#: applies to.
ACTIONS = {
    "hide_lecture": (Subject.LECTURE_POSTER, Subject.LECTURE_FRAMES, Subject.AUDIO_MATCH),
    "hide_image": (Subject.AVATAR, Subject.COURSE_COVER),
    "suspend_school": tuple(Subject.values),
    "dismiss": tuple(Subject.values),
}


# --- Flags -------------------------------------------------------------------------------------


def _flag_open(*, school: Tenant, subject: str, object_id: str, **fields) -> Flag:
    """The open flag of this item (``school``, ``subject``, ``object_id``, ``image_key``,
    ``media_version``, ``other_object_id``), created or updated with ``fields`` (a retried
    check updates it)."""
    key = {
        "school": school,
        "subject": subject,
        "object_id": object_id,
        "image_key": fields.pop("image_key", ""),
        "media_version": fields.pop("media_version", 0),
        "other_object_id": fields.pop("other_object_id", ""),
        "status": Flag.Status.OPEN,
    }
    try:
        with transaction.atomic():
            flag, _ = Flag.objects.update_or_create(**key, defaults=fields)
    except IntegrityError:  # another run opened it between the look-up and the insert
        flag = Flag.objects.get(**key)
    return flag


def _image_flag(
    *,
    subject: str,
    object_id: str,
    image: Image.Image,
    title: str,
    image_key: str = "",
    media_version: int = 0,
    at: float | None = None,
) -> tuple[list[moderation.Detection], Flag | None]:
    """Score ``image``; open (or update) a flag of ``subject`` when it is flagged. Returns the
    detections and the flag (None when not flagged)."""
    detections = moderation.image_score(image, at=at)
    flagged = moderation.flagging(detections)
    if not flagged:
        return detections, None
    flag = _flag_open(
        school=current_school(),
        subject=subject,
        object_id=object_id,
        image_key=image_key,
        media_version=media_version,
        kind=Flag.Kind.IMAGE,
        title=title[:300],
        detections=[item.as_dict() for item in flagged],
        evidence=moderation.evidence_jpeg(image),
    )
    logger.info("Flagged %s %s of %s", subject, object_id, connection.schema_name)
    return detections, flag


def _stored_image(key: str) -> Image.Image | None:
    """The picture stored at ``key``, or None when it is gone or no picture."""
    try:
        with default_storage.open(key, "rb") as handle:
            return moderation.image_open(handle.read())
    except (FileNotFoundError, UnidentifiedImageError, OSError):
        return None


@dataclass
class ImageCheck:
    """What ``image_check`` found: every NudeNet detection on the picture (highest score
    first) and the flag opened or updated, None when the picture is not flagged."""

    detections: list[moderation.Detection]
    flag: Flag | None


def image_check(*, subject: str, object_id: str, key: str) -> ImageCheck | None:
    """Score the picture ``key`` of ``subject`` (``avatar``: ``object_id`` a user id;
    ``course_cover``: a course id) in the current school and open a flag when it is flagged
    (``trust.moderation.flagging``). Nothing is done (None) when the account or course of the
    current school no longer has that picture (replaced or removed meanwhile: a new one is
    checked on its own). Raises ``ValueError`` for another ``subject``."""
    if subject == Subject.AVATAR:
        owner = get_user_model().objects.filter(pk=object_id, avatar=key).first()
        title = f"{owner.name or 'Account'} <{owner.email}>" if owner else ""
    elif subject == Subject.COURSE_COVER:
        owner = Course.objects.filter(pk=object_id, thumbnail=key).first()
        title = owner.title if owner else ""
    else:
        raise ValueError(f"image_check does not score {subject!r}")
    if owner is None:
        return None
    image = _stored_image(key)
    if image is None:
        return None
    detections, flag = _image_flag(
        subject=subject, object_id=str(object_id), image=image, title=title, image_key=key
    )
    return ImageCheck(detections=detections, flag=flag)


# --- Lectures ----------------------------------------------------------------------------------


@dataclass
class LectureCheck:
    """What ``lecture_check`` did, with its timings in seconds.

    Attributes:
        frames: Frames scored (besides the poster).
        flags: Flags opened or updated (poster, frames, audio matches).
        fingerprint: The stored fingerprint, None without audio.
        matches: Audio matches found (same school and other schools).
        seconds: ``{"extract", "images", "fingerprint", "match", "total"}``.
    """

    frames: int = 0
    flags: list[Flag] = field(default_factory=list)
    fingerprint: AudioFingerprint | None = None
    matches: list[AudioMatch] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _lecture_title(lecture: Lecture) -> str:
    return f"{lecture.section.course.title} / {lecture.title}"


def lecture_check(*, lecture_id: UUID | str, version: int) -> LectureCheck | None:
    """Check version ``version`` of a lecture of the current school once it is ready: score its
    poster and one frame per MODERATION_FRAME_INTERVAL seconds (flags ``lecture_poster`` and
    ``lecture_frames``), fingerprint its audio and match it (``fingerprint_store``); a
    lecture without sound, or with under about 3 s of it, keeps no fingerprint.

    Returns None, doing nothing, when the lecture is gone or plays another version (a newer
    one is checked by its own run), or its files are gone (``MediaUnavailable``, logged).
    Other errors (fpcalc or FFmpeg missing, database) propagate to the task, which retries.
    """
    started = time.monotonic()
    lecture = Lecture.objects.select_related("section__course").filter(pk=lecture_id).first()
    asset = video_of(lecture_id).first()
    if lecture is None or asset is None or asset.version != version:
        return None
    if asset.status not in (
        MediaAsset.Status.READY,
        MediaAsset.Status.QUEUED,
        MediaAsset.Status.PROCESSING,
    ):
        return None
    schema = connection.schema_name
    # Beside the transcodes' folders, not among them: TRANSCODE_WORK_DIR/<schema>/ holds only
    # the pipeline's runs, which its recovery cleans (no schema name has a dot). A check killed
    # midway leaves this folder until the next check of the same version, which empties it.
    work = Path(settings.TRANSCODE_WORK_DIR) / ".trust" / schema / f"{lecture_id}-v{version}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    result = LectureCheck()
    title = _lecture_title(lecture)
    try:
        try:
            media = lecture_media_extract(
                schema_name=schema, lecture_id=lecture_id, version=version, work=work
            )
        except MediaUnavailable as exc:
            logger.warning("Check of lecture %s v%s skipped: %s", lecture_id, version, exc.message)
            return None
        result.seconds["extract"] = time.monotonic() - started
        mark = time.monotonic()
        if media.poster is not None:
            poster_key = f"{lecture_version_prefix(schema, lecture_id, version)}/hls/{POSTER_JPEG}"
            with Image.open(media.poster) as poster:
                _, flag = _image_flag(
                    subject=Subject.LECTURE_POSTER,
                    object_id=str(lecture_id),
                    image=poster.convert("RGB"),
                    title=title,
                    image_key=poster_key,
                    media_version=version,
                )
            if flag is not None:
                result.flags.append(flag)
        flagged: list[moderation.Detection] = []
        evidence: tuple[float, Image.Image] | None = None
        for at, path in media.frames:
            with Image.open(path) as frame:
                image = frame.convert("RGB")
            hits = moderation.flagging(moderation.image_score(image, at=at))
            if hits:
                flagged += hits
                top = max(item.score for item in hits)
                if evidence is None or top > evidence[0]:
                    evidence = (top, image)
            result.frames += 1
        if evidence is not None:
            result.flags.append(
                _flag_open(
                    school=current_school(),
                    subject=Subject.LECTURE_FRAMES,
                    object_id=str(lecture_id),
                    media_version=version,
                    kind=Flag.Kind.IMAGE,
                    title=title[:300],
                    detections=[item.as_dict() for item in flagged],
                    evidence=moderation.evidence_jpeg(evidence[1]),
                )
            )
        result.seconds["images"] = time.monotonic() - mark
        mark = time.monotonic()
        values = fingerprints.fingerprint_file(media.audio) if media.audio else []
        result.seconds["fingerprint"] = time.monotonic() - mark
        mark = time.monotonic()
        if not values:  # no sound, or too little to fingerprint
            fingerprint_delete(lecture_ids=[lecture_id])
        else:
            result.fingerprint, result.matches, audio_flags = fingerprint_store(
                lecture_id=lecture_id, version=version, values=values
            )
            result.flags += audio_flags
        result.seconds["match"] = time.monotonic() - mark
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.seconds["total"] = time.monotonic() - started
    logger.info(
        "Checked lecture %s v%s of %s: %s frames, %s flags, %s matches in %.2f s",
        lecture_id,
        version,
        schema,
        result.frames,
        len(result.flags),
        len(result.matches),
        result.seconds["total"],
    )
    return result


# --- Audio fingerprints ------------------------------------------------------------------------


def _lecture_label(school: Tenant, lecture_id: UUID) -> str:
    """ "School: Course / Lecture" of a lecture of ``school`` (read in its schema)."""
    with tenant_context(school):
        lecture = Lecture.objects.select_related("section__course").filter(pk=lecture_id).first()
        name = _lecture_title(lecture) if lecture else f"lecture {lecture_id}"
    return f"{school.name}: {name}"


def fingerprint_store(
    *, lecture_id: UUID | str, version: int, values: list[int]
) -> tuple[AudioFingerprint, list[AudioMatch], list[Flag]]:
    """Store ``values`` (a raw fingerprint, unsigned 32-bit) as the fingerprint of version
    ``version`` of a lecture of the current school, replacing its earlier one (and that one's
    matches), then match it against the stored searchable fingerprints
    (``trust.fingerprints``: candidates by shared values, then BER at the best alignment).

    Every match is an ``AudioMatch``; a match with another school's lecture also opens an
    ``audio_match`` flag naming both lectures (``object_id`` this lecture,
    ``other_object_id`` the other one). Returns ``(fingerprint, matches, flags)``."""
    school = current_school()
    signed = fingerprints.to_signed(values)
    searchable = fingerprints.searchable(values)
    with transaction.atomic():
        AudioFingerprint.objects.filter(school=school, lecture_id=lecture_id).delete()
        stored = AudioFingerprint.objects.create(
            school=school,
            lecture_id=lecture_id,
            media_version=version,
            duration=round(len(values) * fingerprints.ITEM_SECONDS, 3),
            fingerprint=signed,
            searchable=searchable,
        )
        if searchable:
            FingerprintHash.objects.bulk_create(
                [FingerprintHash(value=value, fingerprint=stored) for value in sorted(set(signed))],
                batch_size=5000,
            )
    matches: list[AudioMatch] = []
    flags: list[Flag] = []
    if not searchable:
        return stored, matches, flags
    ids = fingerprints.candidates(values=signed, exclude_id=stored.pk)
    for other in AudioFingerprint.objects.filter(pk__in=ids).select_related("school"):
        comparison = fingerprints.compare(signed, other.fingerprint)
        logger.info(
            "Audio of %s/%s vs %s/%s: BER %.3f over %s items",
            school.schema_name,
            lecture_id,
            other.school.schema_name,
            other.lecture_id,
            comparison.ber,
            comparison.overlap,
        )
        if not fingerprints.is_match(comparison):
            continue
        match = AudioMatch.objects.create(
            fingerprint=stored,
            other=other,
            ber=round(comparison.ber, 4),
            offset=round(comparison.offset * fingerprints.ITEM_SECONDS, 2),
            overlap=round(comparison.overlap * fingerprints.ITEM_SECONDS, 2),
        )
        matches.append(match)
        if other.school_id != school.pk:
            flags.append(
                _flag_open(
                    school=school,
                    subject=Subject.AUDIO_MATCH,
                    object_id=str(lecture_id),
                    media_version=version,
                    kind=Flag.Kind.AUDIO,
                    title=_lecture_label(school, lecture_id)[:300],
                    other_school=other.school,
                    other_object_id=str(other.lecture_id),
                    other_title=_lecture_label(other.school, other.lecture_id)[:300],
                    similarity=round(comparison.similarity, 4),
                )
            )
    return stored, matches, flags


def fingerprint_delete(*, lecture_ids: list[UUID] | list[str]) -> int:
    """Delete the fingerprints (with their index rows and matches) of ``lecture_ids`` of the
    current school; returns how many fingerprints went."""
    _, per_model = AudioFingerprint.objects.filter(
        school=current_school(), lecture_id__in=list(lecture_ids)
    ).delete()
    return per_model.get(AudioFingerprint._meta.label, 0)


# --- The staff's decisions ---------------------------------------------------------------------


def _hide_image(flag: Flag) -> bool:
    if flag.subject == Subject.AVATAR:
        owner = get_user_model().objects.filter(pk=flag.object_id, avatar=flag.image_key).first()
        if owner is None:
            return False
        user_profile_update(user=owner, remove_avatar=True)
        return True
    return course_cover_remove(course_id=flag.object_id, key=flag.image_key)


def flag_decide(*, flag: Flag, action: str, user) -> bool:
    """Apply the staff's ``action`` (a key of ``ACTIONS``) to an open ``flag`` and close it
    (``actioned``, or ``dismissed`` for ``dismiss``) with ``user`` and the time.

    ``hide_lecture``: the lecture leaves the students' reach
    (``courses.services.lecture_platform_hide``); ``hide_image``: the avatar
    (``tenants.accounts.services.user_profile_update(remove_avatar=True)``) or course cover
    (``courses.services.course_cover_remove``) is removed when it is still the flagged one;
    ``suspend_school``: ``tenants.services.tenant_suspend`` of the flag's school; ``dismiss``:
    nothing. Returns whether the school's data changed (False: the item was already gone or
    hidden, or the school already suspended; the flag is closed all the same).

    Raises ``Conflict`` (409 ``FLAG_CLOSED``) for a flag no longer open and
    ``ApplicationError`` (400 ``VALIDATION_ERROR``) for an action that does not apply to the
    flag's subject.
    """
    if action not in ACTIONS or flag.subject not in ACTIONS[action]:
        raise ApplicationError(
            f"“{action}” does not apply to a {flag.get_subject_display().lower()} flag.",
            code="VALIDATION_ERROR",
            details={"action": [f"Not one of the actions of a {flag.subject} flag."]},
        )
    with transaction.atomic():
        locked = Flag.objects.select_for_update().select_related("school").get(pk=flag.pk)
        if locked.status != Flag.Status.OPEN:
            raise Conflict("This flag was already decided.", code="FLAG_CLOSED")
        changed = False
        if action == "suspend_school":
            changed = tenant_suspend(locked.school)
        elif action in ("hide_lecture", "hide_image"):
            with tenant_context(locked.school):
                if action == "hide_lecture":
                    changed = lecture_platform_hide(lecture_id=locked.object_id)
                else:
                    changed = _hide_image(locked)
        locked.status = Flag.Status.DISMISSED if action == "dismiss" else Flag.Status.ACTIONED
        locked.action = action
        locked.resolved_by = user
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["status", "action", "resolved_by", "resolved_at"])
    flag.refresh_from_db()
    return changed
