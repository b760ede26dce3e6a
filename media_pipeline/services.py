"""Lecture media processing: accept a validated source, transcode it to the HLS ladder, switch
versions atomically (ARCHITECTURE.md, Media pipeline)."""

import logging
import shutil
import subprocess
import tempfile
import time
from collections import deque
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection, transaction
from django.db.models import F

from courses.models import Lecture
from media_pipeline import ladder, previews
from media_pipeline.probe import MediaRejected, ProbeResult, demuxer_for, ffmpeg_binary, probe
from tenants.storage import lecture_version_prefix, storage_delete_prefix, storage_upload_tree

logger = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL = 1.0  # seconds between progress writes (ARCHITECTURE.md: throttled)


class TranscodeFailed(Exception):
    """FFmpeg could not produce the ladder; ``message`` is readable by an instructor."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def transcode_time_limit(duration: float) -> int:
    """Hard time limit of a transcode in seconds: 10 min plus 6x the source duration.

    On the reference 2-core machine the 1080p ladder encodes at about 1x real time with the
    ``veryfast`` preset, so 6x leaves room for slower machines without letting a stuck FFmpeg
    hold a worker forever. Always below CELERY_BROKER_TRANSPORT_OPTIONS visibility_timeout for
    sources up to MAX duration (6 h).
    """
    return int(600 + 6 * duration)


def lecture_source_accept(*, lecture_id: UUID, source_key: str, probe: ProbeResult) -> int:
    """Make ``source_key`` the lecture's pending source and queue its transcode.

    The new version is ``max(media_version, pending_version) + 1``; the current version keeps
    playing until the new one is ready. The previous source is deleted. The task is
    sent on commit. Returns the pending version. Must run inside a transaction.
    """
    from media_pipeline.tasks import lecture_transcode as lecture_transcode_task

    lecture = Lecture.objects.select_for_update().get(pk=lecture_id)
    # One source per lecture: the new one replaces any earlier (pending or already encoded).
    replaced = lecture.source_key
    version = max(lecture.media_version, lecture.pending_version) + 1
    lecture.source_key = source_key
    lecture.pending_version = version
    lecture.status = Lecture.Status.QUEUED
    lecture.progress = 0.0
    lecture.error = None
    lecture.transcode_attempts = 0
    if not lecture.media_version:
        lecture.duration = round(probe.duration, 3)
    lecture.save()
    schema = connection.schema_name
    limit = transcode_time_limit(probe.duration)

    def enqueue() -> None:
        if replaced and replaced != source_key:
            default_storage.delete(replaced)
        lecture_transcode_task.apply_async(
            kwargs={"schema_name": schema, "lecture_id": str(lecture_id), "version": version},
            time_limit=limit,
            soft_time_limit=limit - 30,
        )

    transaction.on_commit(enqueue)
    return version


def lecture_transcode_begin(*, lecture_id: UUID, version: int) -> Lecture | None:
    """Claim the transcode of ``version``: status ``processing`` and one more attempt.

    Returns ``None`` when there is nothing to do (the lecture is gone, the version was
    superseded, or it is already ready: tasks are idempotent by the row's state). Marks the
    lecture ``failed`` and returns ``None`` once TRANSCODE_MAX_ATTEMPTS is used up, so a video
    that kills FFmpeg or its worker never loops.
    """
    with transaction.atomic():
        updated = Lecture.objects.filter(
            pk=lecture_id,
            pending_version=version,
            status__in=[Lecture.Status.QUEUED, Lecture.Status.PROCESSING],
        ).update(
            status=Lecture.Status.PROCESSING,
            transcode_attempts=F("transcode_attempts") + 1,
            progress=0.0,
        )
        if not updated:
            return None
        lecture = Lecture.objects.get(pk=lecture_id)
        if lecture.transcode_attempts > settings.TRANSCODE_MAX_ATTEMPTS:
            lecture_transcode_fail(
                lecture_id=lecture_id,
                version=version,
                message="The video could not be processed after "
                f"{settings.TRANSCODE_MAX_ATTEMPTS} attempts.",
            )
            return None
    return lecture


def lecture_transcode_fail(*, lecture_id: UUID, version: int, message: str) -> None:
    """Mark the pending ``version`` failed with a readable ``message`` (no-op if superseded).

    A lecture that already plays an older version stays playable: only ``status``/``error``
    change; the failed source is deleted on commit.
    """
    with transaction.atomic():
        lecture = (
            Lecture.objects.select_for_update()
            .filter(pk=lecture_id, pending_version=version)
            .first()
        )
        if lecture is None or lecture.status == Lecture.Status.READY:
            return
        source = lecture.source_key
        lecture.status = Lecture.Status.FAILED
        lecture.error = message
        lecture.progress = 0.0
        lecture.source_key = ""
        lecture.save(update_fields=["status", "error", "progress", "source_key", "updated_at"])
        if source:
            transaction.on_commit(lambda: default_storage.delete(source))


def lecture_transcode(*, lecture_id: UUID, version: int) -> bool:
    """Transcode the pending source of a lecture into ``version`` and switch to it.

    One FFmpeg process decodes once and encodes every rung of ``ladder.ladder_for`` (see
    ``ladder.build_transcode_command``). Progress is stored at most once a second. The poster,
    storyboard and preview clip are made from the finished renditions (``previews``). Outputs are
    written to a work folder, copied to ``tenants/<schema>/lectures/<id>/v<version>/hls/`` and
    the lecture row switched in one UPDATE; the previous version is deleted after commit.
    Returns ``True`` when this call made the version ready. Raises nothing for bad media: the
    lecture ends ``failed`` with a readable error instead.
    """
    lecture = lecture_transcode_begin(lecture_id=lecture_id, version=version)
    if lecture is None:
        return False
    schema = connection.schema_name
    work = Path(settings.TRANSCODE_WORK_DIR) / schema / f"{lecture_id}-v{version}"
    shutil.rmtree(work, ignore_errors=True)  # leftovers of a killed attempt
    work.mkdir(parents=True)
    try:
        with _local_source(lecture.source_key, work) as source:
            container = Path(lecture.source_key).suffix.lstrip(".")
            try:
                info = probe(source, container=container)
            except MediaRejected as exc:
                raise TranscodeFailed(exc.message) from exc
            rungs = ladder.ladder_for(info.width, info.height)
            out_dir = work / "hls"
            out_dir.mkdir()
            for rung in rungs:
                (out_dir / rung.name).mkdir()
            command = ladder.build_transcode_command(
                ffmpeg=ffmpeg_binary(),
                source=str(source),
                demuxer=demuxer_for(container),
                rungs=rungs,
                out_dir=str(out_dir),
                has_audio=info.has_audio,
                preset=settings.TRANSCODE_PRESET,
            )
            _run_ffmpeg(command, duration=info.duration, lecture_id=lecture_id, version=version)
            renditions = ladder.write_master_playlist(
                str(out_dir), rungs, has_audio=info.has_audio, frame_rate=info.frame_rate
            )
            try:
                previews.previews_write(
                    ffmpeg=ffmpeg_binary(), out_dir=out_dir, rungs=rungs, duration=info.duration
                )
            except previews.PreviewError as exc:
                raise TranscodeFailed(exc.message) from exc
        prefix = lecture_version_prefix(schema, lecture_id, version)
        storage_delete_prefix(prefix)  # a partial copy from a killed attempt
        storage_upload_tree(out_dir, f"{prefix}/hls")
        return _lecture_switch(
            lecture_id=lecture_id, version=version, renditions=renditions, duration=info.duration
        )
    except TranscodeFailed as exc:
        logger.warning("Transcode of lecture %s v%s failed: %s", lecture_id, version, exc.message)
        lecture_transcode_fail(lecture_id=lecture_id, version=version, message=exc.message)
        storage_delete_prefix(lecture_version_prefix(schema, lecture_id, version))
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _local_source:
    """Context manager giving a local path for a storage key (downloaded when storage is remote)."""

    def __init__(self, key: str, work: Path) -> None:
        self.key, self.work, self.temp = key, work, None

    def __enter__(self) -> Path:
        if isinstance(default_storage, FileSystemStorage):
            return Path(default_storage.path(self.key))
        self.temp = tempfile.NamedTemporaryFile(
            dir=self.work, suffix=Path(self.key).suffix, delete=False
        )
        with default_storage.open(self.key, "rb") as remote, self.temp as local:
            shutil.copyfileobj(remote, local, length=1024 * 1024)
        return Path(self.temp.name)

    def __exit__(self, *exc) -> None:
        if self.temp is not None:
            Path(self.temp.name).unlink(missing_ok=True)


def _run_ffmpeg(command: list[str], *, duration: float, lecture_id: UUID, version: int) -> None:
    """Run FFmpeg, storing progress (<= 1 write/s); raises ``TranscodeFailed`` on failure."""
    stderr_tail: deque[str] = deque(maxlen=20)
    with tempfile.TemporaryFile(mode="w+") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1
        )
        last_write = 0.0
        try:
            for percent in ladder.parse_progress(process.stdout, duration):
                now = time.monotonic()
                if now - last_write >= PROGRESS_WRITE_INTERVAL and percent < 100:
                    last_write = now
                    Lecture.objects.filter(
                        pk=lecture_id, pending_version=version, status=Lecture.Status.PROCESSING
                    ).update(progress=round(percent, 1))
            returncode = process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr.seek(0)
        stderr_tail.extend(line.strip() for line in stderr if line.strip())
    if returncode != 0:
        detail = stderr_tail[-1] if stderr_tail else f"exit status {returncode}"
        raise TranscodeFailed(f"The video could not be transcoded ({detail}).")


def _lecture_switch(
    *, lecture_id: UUID, version: int, renditions: list[dict], duration: float
) -> bool:
    """Point the lecture at ``version`` in one UPDATE; delete the old version after commit.

    If the version was superseded meanwhile (a newer upload), the new outputs are discarded.
    """
    schema = connection.schema_name
    with transaction.atomic():
        lecture = (
            Lecture.objects.select_for_update()
            .filter(pk=lecture_id, pending_version=version, status=Lecture.Status.PROCESSING)
            .first()
        )
        if lecture is None:
            prefix = lecture_version_prefix(schema, lecture_id, version)
            transaction.on_commit(lambda: storage_delete_prefix(prefix))
            return False
        previous = lecture.media_version
        lecture.media_version = version
        lecture.status = Lecture.Status.READY
        lecture.progress = 100.0
        lecture.error = None
        lecture.renditions = renditions
        lecture.duration = round(duration, 3)
        lecture.save()
        if previous and previous != version:
            old = lecture_version_prefix(schema, lecture_id, previous)
            transaction.on_commit(lambda: storage_delete_prefix(old))
    return True
