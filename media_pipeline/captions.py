"""A lecture's caption track: automatic transcription, instructors' edits and uploads, and its
publication beside the playing video version (ARCHITECTURE.md, Media pipeline: Captions).

The track is the lecture's ``captions`` asset and its ``CaptionCue`` rows. Its life:

* A video version becomes ready: the switch queues the track for that version
  (``tracks.captions_queue``) and sends ``media_pipeline.tasks.lecture_captions`` on commit.
  The run (``lecture_captions``) republishes an edited or uploaded track into the new version,
  or transcribes the version's audio (``speech``) into automatic cues. A lecture whose
  language the model cannot transcribe (``tiny.en`` is English only), or without speech, gets
  no automatic track: status ``awaiting_media`` and ``error`` saying why. A run that fails
  leaves the track ``failed`` with a reason and the lecture playable.
* An instructor replaces the cues (``captions_edit``), uploads a WebVTT or SubRip file
  (``captions_upload``), removes the track (``captions_delete``) or asks for a new
  transcription (``captions_transcribe``; an edited track only with ``discard_edits``). An
  edit wins over a run in progress: the run's result is dropped.
* Publishing (``track_publish``) writes ``hls/captions/<language>.vtt`` and ``.m3u8`` into the
  playing version's folder and rewrites its ``master.m3u8`` with a SUBTITLES rendition, so
  delivery stays free of database queries; ``version`` records which video version holds it.

Runs hold a lease like document conversions: the claim is the task id, the task's hard time
limit (``tracks.captions_time_limit``) is shorter than the lease timeout of the row, so
``captions_recover`` (beat, every minute) requeues a run whose worker died, or fails it after
TRANSCODE_MAX_ATTEMPTS attempts. ``hooks.captions_changed`` is sent on commit every time cues
are replaced or removed. Lock order: the video row, then the captions row.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection, transaction
from django.utils import timezone

from media_pipeline import hooks, speech, subtitles
from media_pipeline.leases import lease_take_over, video_of
from media_pipeline.models import CaptionCue, MediaAsset
from media_pipeline.playlists import MASTER_PLAYLIST, lowest_variant
from media_pipeline.tracks import (
    EDITED_ORIGINS,
    captions_get_or_create,
    captions_message,
    captions_of,
    captions_queue,
    captions_time_limit,
    cues_of,
    hls_start_pts,
)
from media_pipeline.transcoding import asset_changed, pending_claim
from tenants.errors import ApplicationError, Conflict, NotFound
from tenants.storage import lecture_version_prefix, storage_delete_prefix, storage_download

logger = logging.getLogger(__name__)

Status = MediaAsset.Status
Origin = MediaAsset.Origin

#: The language of a lecture no app answers for (``hooks.lecture_language``); a course's
#: language defaults to it too.
DEFAULT_LANGUAGE = "en"
#: Extra seconds past a run's hard time limit before its lease counts as lapsed.
LEASE_MARGIN = timedelta(seconds=60)

NO_SPEECH = "No speech was heard in this lecture, so it has no automatic captions."
NO_SOUND = "This lecture has no sound, so it has no automatic captions."


class CaptionsInvalid(ApplicationError):
    """400 ``VALIDATION_ERROR``: edited cues or an uploaded file that cannot be a track;
    ``details`` maps ``cues.<index>`` (or ``cues``) or ``file`` (messages naming the line) to
    messages."""

    code = "VALIDATION_ERROR"
    status = 400


@dataclass(frozen=True)
class PublishedTrack:
    """A track published beside a video version: its ``language`` (BCP 47), ``label`` (the
    language's name in itself) and ``vtt`` (path under the version's ``hls/``)."""

    language: str
    label: str
    vtt: str


def lecture_language(owner_id: UUID | str) -> str:
    """The language of lecture ``owner_id``: the first tag ``hooks.lecture_language``'s
    receivers answer (``courses``: the course's language), DEFAULT_LANGUAGE when none does."""
    for answer in hooks.lecture_language.collect(owner_id=owner_id):
        if answer:
            return answer
    return DEFAULT_LANGUAGE


def captions_track(owner_id: UUID | str) -> MediaAsset | None:
    """The lecture's captions asset, or ``None`` before it has one."""
    return captions_of(owner_id).first()


def captions_published(*, owner_id: UUID | str, version: int) -> PublishedTrack | None:
    """The track published into video ``version`` of lecture ``owner_id`` (one query), or
    ``None``: what a playback object lists (its URL is signed with the video's token)."""
    row = (
        captions_of(owner_id)
        .filter(status=Status.READY, version=version)
        .exclude(origin="")
        .exclude(language="")
        .values_list("language", flat=True)
        .first()
    )
    if row is None or not version:
        return None
    vtt, _ = subtitles.track_names(row)
    return PublishedTrack(language=row, label=subtitles.language_label(row), vtt=vtt)


def _changed(asset: MediaAsset, event: str) -> None:
    asset_changed(asset, version=asset.pending_version or asset.version, event=event)


def _cues_changed(owner_id: UUID, asset_id: UUID | None) -> None:
    """``hooks.captions_changed`` once the transaction commits."""
    transaction.on_commit(
        partial(
            hooks.captions_changed.send,
            schema_name=connection.schema_name,
            owner_id=owner_id,
            asset_id=asset_id,
        )
    )


def _cues_replace(asset: MediaAsset, cues: list[subtitles.Cue]) -> None:
    """Replace the asset's cue rows with ``cues`` (in order) and announce it on commit."""
    CaptionCue.objects.filter(asset=asset).delete()
    CaptionCue.objects.bulk_create(
        [
            CaptionCue(
                asset=asset,
                owner_id=asset.owner_id,
                position=position,
                start=round(cue.start, 3),
                end=round(cue.end, 3),
                text=cue.text,
            )
            for position, cue in enumerate(cues)
        ],
        batch_size=2000,
    )
    _cues_changed(asset.owner_id, asset.pk if cues else None)


# --------------------------------------------------------------------------- publishing


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _publish_files(hls_key: str, change) -> None:
    """Apply ``change(local hls folder)`` to a version's ``hls/`` in storage: in place with
    atomic renames locally; on S3 in a copy of the master, the lowest variant's playlist and
    first segment, whose changed files are then uploaded (a PutObject replaces atomically)."""
    if isinstance(default_storage, FileSystemStorage):
        change(Path(default_storage.path(hls_key)), _atomic_write)
        return
    with tempfile.TemporaryDirectory(prefix="lectern-captions-") as folder:
        local = Path(folder)
        storage_download(f"{hls_key}/{MASTER_PLAYLIST}", local / MASTER_PLAYLIST)
        variant = lowest_variant((local / MASTER_PLAYLIST).read_text(encoding="utf-8"))
        if variant is not None and ".." not in variant[0]:
            playlist = local / variant[0]
            playlist.parent.mkdir(parents=True, exist_ok=True)
            storage_download(f"{hls_key}/{variant[0]}", playlist)
            lines = playlist.read_text(encoding="utf-8").splitlines()
            first = next((x.strip() for x in lines if x.strip() and x[0] != "#"), None)
            if first and "/" not in first:
                storage_download(
                    f"{hls_key}/{Path(variant[0]).parent}/{first}", playlist.parent / first
                )
        written: list[str] = []

        def write(path: Path, text: str) -> None:
            _atomic_write(path, text)
            written.append(path.relative_to(local).as_posix())

        change(local, write)
        # The track's files first, the master last: a player never meets a rendition whose
        # files are missing.
        for name in sorted(written, key=lambda item: item == MASTER_PLAYLIST):
            data = (local / name).read_bytes()
            default_storage.save(f"{hls_key}/{name}", ContentFile(data))


def track_publish(*, asset: MediaAsset, video: MediaAsset) -> None:
    """Publish the locked captions ``asset`` into the playing version of the locked ``video``
    (its cues, or none: then the track is withdrawn): ``hls/captions/`` is replaced and the
    master playlist rewritten; ``asset.version`` is set to the video's version (0 when
    withdrawn). A video without a playing version, or whose files are gone, publishes
    nothing."""
    if not video.version:
        asset.version = 0
        return
    hls_key = f"{lecture_version_prefix(connection.schema_name, video.owner_id, video.version)}/hls"
    cues = cues_of(asset) if asset.language else []
    storage_delete_prefix(f"{hls_key}/{subtitles.CAPTIONS_DIR}")

    def change(folder: Path, write) -> None:
        master = folder / MASTER_PLAYLIST
        if cues:
            mpegts = hls_start_pts(folder)
            files = subtitles.track_files(
                cues, language=asset.language, duration=video.duration or 0.0, mpegts=mpegts
            )
            for name, text in files.items():
                write(folder / name, text)
            _, playlist = subtitles.track_names(asset.language)
            text = subtitles.master_subtitles_add(
                master.read_text(encoding="utf-8"),
                language=asset.language,
                label=subtitles.language_label(asset.language),
                uri=playlist,
            )
        else:
            text = subtitles.master_subtitles_remove(master.read_text(encoding="utf-8"))
        write(master, text)

    try:
        _publish_files(hls_key, change)
    except FileNotFoundError:
        # The version's files are gone (deleted under it): nothing plays there to caption.
        logger.warning("Version %s of lecture %s has no playlist", video.version, video.owner_id)
        asset.version = 0
        return
    asset.version = video.version if cues else 0


def _locked(lecture_id: UUID | str) -> tuple[MediaAsset | None, MediaAsset]:
    """The lecture's video and captions rows, locked in that order (captions created when
    missing). Inside a transaction."""
    video = video_of(lecture_id).select_for_update().first()
    return video, captions_get_or_create(lecture_id)


# --------------------------------------------------------------------------- instructors


def _replace_by_instructor(
    *, lecture_id: UUID, cues: list[subtitles.Cue], origin: str
) -> MediaAsset:
    language = lecture_language(lecture_id)
    with transaction.atomic():
        video, asset = _locked(lecture_id)
        _cues_replace(asset, cues)
        asset.origin = origin
        asset.language = language
        asset.model = ""
        asset.status = Status.READY
        asset.progress = 100.0
        asset.error = None
        asset.lease_claim = ""
        asset.lease_renewed_at = None
        if video is not None:
            track_publish(asset=asset, video=video)
        asset.save()
        _changed(asset, "ready")
    return asset


def captions_edit(*, lecture_id: UUID, cues: list[subtitles.Cue]) -> MediaAsset:
    """Replace the lecture's cues with ``cues`` (text cleaned: ``subtitles.cue_text_clean``)
    as an edited track in the lecture's language, published at once into the playing version.
    A transcription under way is overtaken (its result is dropped) and later video versions
    republish the track instead of transcribing. Raises ``CaptionsInvalid`` (details
    ``cues.<index>`` -> messages, ``subtitles.cues_problems``; ``cues`` for the whole list,
    which may not be empty) before anything changes."""
    cleaned = [
        subtitles.Cue(start=float(c.start), end=float(c.end), text=subtitles.cue_text_clean(c.text))
        for c in cues
    ]
    problems = subtitles.cues_problems(cleaned)
    if not cleaned:
        problems = {-1: ["A track needs at least one cue; delete the captions instead."]}
    if problems:
        raise CaptionsInvalid(
            "Some cues are not valid.",
            details={
                ("cues" if index < 0 else f"cues.{index}"): messages
                for index, messages in problems.items()
            },
        )
    ordered = sorted(cleaned, key=lambda cue: (cue.start, cue.end))
    return _replace_by_instructor(lecture_id=lecture_id, cues=ordered, origin=Origin.EDITED)


def captions_upload(*, lecture_id: UUID, data: bytes) -> MediaAsset:
    """Make an uploaded WebVTT or SubRip file (``subtitles.caption_file_parse``) the lecture's
    track, as ``captions_edit`` does, with origin ``uploaded``. Raises ``CaptionsInvalid``
    (details ``file``: ``["line 7: ..."]``) for a file that cannot be read, and for one over
    CAPTIONS_UPLOAD_MAX_BYTES; nothing changes then."""
    if len(data) > settings.CAPTIONS_UPLOAD_MAX_BYTES:
        message = f"The file is larger than {settings.CAPTIONS_UPLOAD_MAX_BYTES} bytes."
        raise CaptionsInvalid(message, details={"file": [message]})
    try:
        cues = subtitles.caption_file_parse(data)
    except subtitles.CaptionFileInvalid as exc:
        raise CaptionsInvalid(str(exc), details={"file": [str(exc)]}) from exc
    return _replace_by_instructor(lecture_id=lecture_id, cues=cues, origin=Origin.UPLOADED)


def captions_delete(*, lecture_id: UUID) -> None:
    """Remove the lecture's track: its cues go, the playing version stops listing it, and the
    track waits for an upload (a later video version is transcribed again). Raises
    ``NotFound`` when the lecture has no cues."""
    with transaction.atomic():
        video = video_of(lecture_id).select_for_update().first()
        asset = captions_of(lecture_id).select_for_update().first()
        if asset is None or not asset.cues.exists():
            raise NotFound("This lecture has no captions.")
        _cues_replace(asset, [])
        asset.origin = ""
        asset.model = ""
        asset.status = Status.AWAITING_MEDIA
        asset.error = None
        asset.progress = 0.0
        if video is not None:
            track_publish(asset=asset, video=video)
        asset.save()
        _changed(asset, "ready")


def captions_transcribe(*, lecture_id: UUID, discard_edits: bool = False) -> MediaAsset:
    """Transcribe the playing version of the lecture again (the task is sent on commit). The
    current cues stay published until the new ones replace them. Raises ``Conflict``: 409
    ``NOT_READY`` while the lecture has no playable video, 409 ``CAPTIONS_EDITED`` for an
    edited or uploaded track unless ``discard_edits``. A track already queued or being
    transcribed for that version is returned as it is."""
    schema = connection.schema_name
    with transaction.atomic():
        video, asset = _locked(lecture_id)
        if video is None or not video.version:
            raise Conflict("The lecture has no playable video yet.", code="NOT_READY")
        if asset.origin in EDITED_ORIGINS and not discard_edits:
            raise Conflict(
                "The captions were edited; transcribing again discards the edits "
                "(send discard_edits: true).",
                code="CAPTIONS_EDITED",
            )
        busy = asset.status in (Status.QUEUED, Status.PROCESSING)
        if busy and asset.pending_version == video.version:
            return asset
        if asset.origin in EDITED_ORIGINS:
            asset.origin = Origin.AUTOMATIC
        captions_queue(asset, version=video.version, duration=video.duration)
        _changed(asset, "queued")
        transaction.on_commit(
            captions_message(
                schema_name=schema,
                lecture_id=lecture_id,
                version=video.version,
                duration=video.duration,
            )
        )
    return asset


# --------------------------------------------------------------------------- runs


def _held(lecture_id: UUID | str, version: int, claim: str):
    return captions_of(lecture_id).filter(
        pending_version=version, status=Status.PROCESSING, lease_claim=claim
    )


def _lease_lapsed(asset: MediaAsset, now) -> bool:
    if asset.lease_renewed_at is None:
        return True
    limit = timedelta(seconds=captions_time_limit(asset.source_duration)) + LEASE_MARGIN
    return asset.lease_renewed_at < now - limit


def captions_begin(*, lecture_id: UUID | str, version: int, claim: str) -> MediaAsset | None:
    """Claim the track's run for video ``version`` as ``claim`` (status ``processing``, one
    more attempt, a fresh lease; ``transcoding.pending_claim``). Only while ``version`` plays:
    the first run for a version queues the track for it (``tracks.captions_queue``, the track
    made when missing). Claimable then: ``queued`` for that version, or ``processing`` under
    this claim or a lapsed lease. ``None`` when there is nothing to do (a newer version plays,
    the run is done, a live run holds it), and after TRANSCODE_MAX_ATTEMPTS attempts (the
    track is then ``failed``: runs never loop)."""
    now = timezone.now()
    with transaction.atomic():
        video = video_of(lecture_id).select_for_update().first()
        if video is None or video.version != version:
            return None
        asset = captions_get_or_create(lecture_id)
        if asset.pending_version < version:
            captions_queue(asset, version=version, duration=video.duration)
        return pending_claim(
            captions_of(lecture_id),
            version=version,
            claim=claim,
            now=now,
            alive=lambda asset: not _lease_lapsed(asset, now),
            exhausted=_exhausted,
        )


def _exhausted(asset: MediaAsset) -> None:
    _fail(
        asset,
        f"The captions could not be made after {settings.TRANSCODE_MAX_ATTEMPTS} attempts.",
    )


def _fail(asset: MediaAsset, message: str) -> None:
    asset.status = Status.FAILED
    asset.error = message
    asset.progress = 0.0
    asset.lease_claim = ""
    asset.save(update_fields=["status", "error", "progress", "lease_claim", "updated_at"])
    _changed(asset, "failed")


def _transcribe(
    *,
    lecture_id: UUID | str,
    version: int,
    model: speech.SpeechModel,
    language: str,
    duration: float | None,
) -> list[subtitles.Cue] | None:
    """The cues spoken in video ``version``'s lowest rendition, or ``None`` when it has no
    sound. Raises ``CaptionsRunFailed``."""
    prefix = f"{lecture_version_prefix(connection.schema_name, lecture_id, version)}/hls"
    with tempfile.TemporaryDirectory(prefix="lectern-speech-") as folder:
        work = Path(folder)
        try:
            local, playlist, has_audio = lowest_rendition_local(prefix, work)
        except (FileNotFoundError, OSError) as exc:
            raise CaptionsRunFailed(f"Version {version} of the video is gone.") from exc
        if not has_audio:
            return None
        audio = work / "audio.s16"
        try:
            speech.audio_extract(
                playlist=local / playlist,
                out=audio,
                timeout=captions_time_limit(duration),
            )
        except subprocess.CalledProcessError as exc:
            detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise CaptionsRunFailed(
                f"The audio could not be read ({detail[-1] if detail else exc.returncode})."
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise CaptionsRunFailed("Reading the audio took too long.") from exc
        words = speech.words_transcribe(audio, model=model, language=language)
    return speech.cues_from_words(words)


def lowest_rendition_local(prefix: str, work: Path) -> tuple[Path, str, bool]:
    """``(folder, variant playlist, has audio)`` of the lowest rendition of the version whose
    ``hls/`` is ``prefix``: the storage folder itself locally, a download into ``work`` on
    S3. Raises ``FileNotFoundError`` when its files are gone."""
    with default_storage.open(f"{prefix}/{MASTER_PLAYLIST}", "rb") as handle:
        master = handle.read().decode("utf-8")
    variant = lowest_variant(master)
    if variant is None or ".." in variant[0] or variant[0].startswith("/"):
        raise FileNotFoundError("the master playlist names no usable rendition")
    playlist, has_audio = variant
    if isinstance(default_storage, FileSystemStorage):
        return Path(default_storage.path(prefix)), playlist, has_audio
    local = work / "hls"
    (local / playlist).parent.mkdir(parents=True, exist_ok=True)
    storage_download(f"{prefix}/{playlist}", local / playlist)
    folder = Path(playlist).parent
    for line in (local / playlist).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "/" not in line and ".." not in line:
            storage_download(f"{prefix}/{folder.as_posix()}/{line}", local / folder / line)
    return local, playlist, has_audio


class CaptionsRunFailed(Exception):
    """A captions run cannot finish; ``message`` is readable by an instructor."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def lecture_captions(*, lecture_id: UUID | str, version: int, claim: str | None = None) -> str:
    """Run the lecture's track for video ``version`` as ``claim`` (the task id).

    An edited or uploaded track is republished into the version. Otherwise the lecture's
    language is asked (``lecture_language``): one the model cannot transcribe ends
    ``awaiting_media`` with the reason (an automatic track is then removed); else the version's
    audio is transcribed (``speech``), the cues stored in one transaction as an automatic
    track and published, or, without speech, the automatic track removed and the reason kept.

    Returns what happened: ``"skipped"`` (nothing to claim), ``"republished"``,
    ``"transcribed"``, ``"no_speech"``, ``"language"``, ``"overtaken"`` (an instructor's edit
    or a newer version came first) or ``"failed"`` (the reason is stored; the video plays on).
    """
    claim = claim or uuid.uuid4().hex
    asset = captions_begin(lecture_id=lecture_id, version=version, claim=claim)
    if asset is None:
        return "skipped"
    if asset.origin in EDITED_ORIGINS:
        return _finish(lecture_id=lecture_id, version=version, claim=claim, cues=None)
    language = lecture_language(lecture_id)
    model = speech.speech_model()
    code = speech.language_supported(model, language)
    if code is None:
        reason = (
            f"Automatic captions are not available in this lecture's language ({language}): "
            f"the speech model {model.name} transcribes "
            f"{'English only' if not model.multilingual else 'other languages'}. "
            "Upload a WebVTT or SubRip file instead."
        )
        return _finish(lecture_id=lecture_id, version=version, claim=claim, cues=[], reason=reason)
    try:
        cues = _transcribe(
            lecture_id=lecture_id,
            version=version,
            model=model,
            language=code,
            duration=asset.source_duration,
        )
    except CaptionsRunFailed as exc:
        with transaction.atomic():
            held = _held(lecture_id, version, claim).select_for_update().first()
            if held is not None:
                _fail(held, exc.message)
        return "failed"
    if cues is None:
        return _finish(
            lecture_id=lecture_id, version=version, claim=claim, cues=[], reason=NO_SOUND
        )
    return _finish(
        lecture_id=lecture_id,
        version=version,
        claim=claim,
        cues=cues,
        reason=None if cues else NO_SPEECH,
        language=language,
        model=model.name,
    )


def _finish(
    *,
    lecture_id: UUID | str,
    version: int,
    claim: str,
    cues: list[subtitles.Cue] | None,
    reason: str | None = None,
    language: str = "",
    model: str = "",
) -> str:
    """Store a run's outcome if the run still holds the track: ``cues`` None republishes the
    edited track; a list replaces an automatic track (empty: removed, ``reason`` kept)."""
    with transaction.atomic():
        video = video_of(lecture_id).select_for_update().first()
        asset = captions_of(lecture_id).select_for_update().first()
        if (
            video is None
            or asset is None
            or video.version != version
            or not _held(lecture_id, version, claim).exists()
        ):
            return "overtaken"
        if cues is None or asset.origin in EDITED_ORIGINS:
            outcome = "republished" if cues is None else "overtaken"
            asset.status, asset.error = Status.READY, None
        else:
            _cues_replace(asset, cues)
            asset.origin = Origin.AUTOMATIC if cues else ""
            asset.language = language or asset.language
            asset.model = model if cues else ""
            asset.status = Status.READY if cues else Status.AWAITING_MEDIA
            asset.error = reason
            if reason in (NO_SPEECH, NO_SOUND):
                outcome = "no_speech"
            elif cues:
                outcome = "transcribed"
            else:
                outcome = "language"
        asset.progress = 100.0 if asset.status == Status.READY else 0.0
        asset.lease_claim = ""
        track_publish(asset=asset, video=video)
        asset.save()
        _changed(asset, "ready")
    return outcome


def captions_abandon(*, lecture_id: UUID | str, version: int, claim: str, message: str) -> bool:
    """End the run ``claim`` that stopped on an unexpected error (the task's ``on_failure``):
    the track is ``failed`` with ``message``, only while this run holds it (or nothing claimed
    it yet). The cues and what is published stay. Returns whether it did."""
    with transaction.atomic():
        asset = captions_of(lecture_id).select_for_update().filter(pending_version=version).first()
        held = asset is not None and (
            asset.status == Status.QUEUED
            or (asset.status == Status.PROCESSING and asset.lease_claim == claim)
        )
        if not held:
            return False
        _fail(asset, message)
    return True


def captions_recover() -> dict[str, list[UUID]]:
    """Queue again the runs of the current school whose worker died: ``processing`` tracks
    whose lease is older than their run's hard time limit plus LEASE_MARGIN (so the run is
    over), under a new claim sent on commit; a track that used TRANSCODE_MAX_ATTEMPTS attempts
    is ``failed`` instead. Returns ``{"requeued": [lecture ids], "failed": [lecture ids]}``;
    the beat task of the same name runs it in every active school each minute."""
    schema = connection.schema_name
    result: dict[str, list[UUID]] = {"requeued": [], "failed": []}
    now = timezone.now()
    candidates = [
        owner
        for owner, renewed, duration in MediaAsset.objects.filter(
            kind=MediaAsset.Kind.CAPTIONS, status=Status.PROCESSING
        ).values_list("owner_id", "lease_renewed_at", "source_duration")
        if renewed is None
        or renewed < now - timedelta(seconds=captions_time_limit(duration)) - LEASE_MARGIN
    ]
    for lecture_id in candidates:
        with transaction.atomic():
            asset = (
                captions_of(lecture_id)
                .select_for_update(skip_locked=True)
                .filter(status=Status.PROCESSING)
                .first()
            )
            if asset is None or not _lease_lapsed(asset, timezone.now()):
                continue
            if asset.attempts >= settings.TRANSCODE_MAX_ATTEMPTS:
                _exhausted(asset)
                result["failed"].append(lecture_id)
                continue
            claim = lease_take_over(asset)
            transaction.on_commit(
                captions_message(
                    schema_name=schema,
                    lecture_id=lecture_id,
                    version=asset.pending_version,
                    duration=asset.source_duration,
                    task_id=claim,
                )
            )
            result["requeued"].append(lecture_id)
    return result
