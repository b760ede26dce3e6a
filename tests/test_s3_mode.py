"""S3 storage mode end to end, against moto's S3 server over HTTP (``tests/s3.py``).

A uvicorn web server and a Celery worker run as subprocesses with ``STORAGE_BACKEND=s3`` and the
``AWS_*`` variables pointing at the server, exactly as a deployment on MinIO or AWS is
configured; the test process switches its own ``default_storage`` with ``override_settings``.
Every look at the bucket goes through a plain boto3 client, so what is asserted is what S3
holds.

The school is provisioned in-process with the custom domain ``127.0.0.1``: FFmpeg and the HTTP
clients then talk to the web server without a ``Host`` override, which matters because a
``Host`` header given to FFmpeg would also be sent to the S3 server after a redirect.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from celery import Celery

from media_pipeline.playlists import validate_media_path
from tests.plugins.media import ClipSpec
from tests.plugins.stack import (
    REPO_ROOT,
    VENV_BIN,
    _stop_process_group,
    decoded_media,
    web_start,
    worker_start,
)
from tests.s3 import PRESIGNED_LIFETIME, S3Endpoint

pytestmark = pytest.mark.timeout(180)

READY_TIMEOUT = 90.0  # seconds from the last uploaded byte to ``ready``
CLIP_SECONDS = 7  # two HLS segments (6 s + 1 s) per rendition
FIRST_CLIP = ("testsrc=s=640x368:r=25", ["360p", "368p"])  # lavfi source, expected ladder
SECOND_CLIP = ("testsrc=s=426x240:r=25", ["240p"])
NOT_A_VIDEO = b"Lecture 3 notes\nRemember to upload the video, not this file.\n"
DURATION_TOLERANCE = 0.25  # seconds, decoded playback vs the lecture's duration
# What S3 must answer for each stored file (the types media_pipeline.views serves locally).
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
}


# --------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def s3_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("s3-logs")


@pytest.fixture(scope="module")
def s3_school(django_db_setup, django_db_blocker):
    """A school with the custom domain ``127.0.0.1`` (see the module docstring), committed.

    Teardown drops it with its schema and removes its staging and work folders.
    """
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from tenants.models import Domain, Tenant
    from tenants.services import tenant_provision

    password = f"S3-{secrets.token_urlsafe(12)}"
    with django_db_blocker.unblock():
        # A run killed before its teardown leaves its school behind, holding the domain.
        for stale in Tenant.objects.filter(domains__domain="127.0.0.1"):
            stale.delete(force_drop=True)
        tenant = tenant_provision(
            subdomain=f"s3-{secrets.token_hex(4)}",
            name="S3 Academy",
            owner_email="owner@s3.test",
            owner_password=password,
            domain="127.0.0.1",
        ).tenant
        # Only verified custom domains are served (tenants.domains). This one stands for a
        # custom domain whose DNS proof passed: an address has no records to check, so it is
        # marked verified here, as a check would.
        Domain.objects.filter(domain="127.0.0.1").update(
            status=Domain.Status.VERIFIED, verified_at=timezone.now(), reason=""
        )
        connection.set_schema_to_public()
    try:
        yield {"tenant": tenant, "schema": tenant.schema_name, "password": password}
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            Tenant.objects.get(pk=tenant.pk).delete(force_drop=True)
            connection.set_schema_to_public()
        for folder in (settings.UPLOAD_STAGING_DIR, settings.TRANSCODE_WORK_DIR):
            shutil.rmtree(Path(folder) / tenant.schema_name, ignore_errors=True)


@pytest.fixture(scope="module")
def s3_stack(e2e_env, s3, s3_school, s3_logs):
    """uvicorn and a Celery worker in S3 mode; returns the web server's base URL.

    Their broker keys carry a prefix of their own (TEST_CELERY_KEY_PREFIX), so a local-mode
    worker of ``tests/test_end_to_end.py`` on the same Redis database never takes their tasks.
    """
    from django.conf import settings

    key_prefix = f"s3-mode-{secrets.token_hex(4)}:"
    env = {**e2e_env, **s3.environment(), "TEST_CELERY_KEY_PREFIX": key_prefix}
    node = f"s3-{secrets.token_hex(4)}@{socket.gethostname()}"
    control = Celery("s3-mode-ping", broker=settings.CELERY_BROKER_URL, set_as_current=False)
    control.conf.broker_transport_options = {"global_keyprefix": key_prefix}
    web, server = web_start(env, s3_logs / "uvicorn.log")
    worker = None
    try:
        worker = worker_start(env, s3_logs / "celery.log", node, control)
        yield server.base_url
    finally:
        control.close()
        if worker is not None:
            _stop_process_group(worker)
        _stop_process_group(web)
        _broker_keys_delete(key_prefix)


def _broker_keys_delete(key_prefix: str) -> None:
    """Remove the stack's queues, bindings and unacked entries from the broker database."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        for key in client.scan_iter(match=f"{key_prefix}*"):
            client.delete(key)
    finally:
        client.close()


def _clip_spec(source: str) -> ClipSpec:
    """CLIP_SECONDS of the lavfi picture ``source`` (``testsrc=s=WxH:r=25``) with a 440 Hz
    tone, H.264/AAC in MP4."""
    picture, _, options = source.partition("=")
    values = dict(item.split("=") for item in options.split(":"))
    width, height = (int(n) for n in values["s"].split("x"))
    return ClipSpec(width, height, CLIP_SECONDS, fps=int(values["r"]), picture=picture)


@pytest.fixture(scope="module")
def clips(clip) -> tuple[Path, Path]:
    return clip(_clip_spec(FIRST_CLIP[0])), clip(_clip_spec(SECOND_CLIP[0]))


# --------------------------------------------------------------------------------- helpers


class Api:
    """JSON client for the school's host (``127.0.0.1:<port>``), optionally with a JWT."""

    def __init__(self, base_url: str, access: str | None = None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if access:
            self.session.headers["Authorization"] = f"Bearer {access}"

    def call(self, method: str, path: str, body: dict | None = None, **kwargs):
        return self.session.request(method, self.base_url + path, json=body, timeout=30, **kwargs)

    def ok(self, method: str, path: str, body: dict | None = None, status: int = 200) -> dict:
        response = self.call(method, path, body)
        assert response.status_code == status, (method, path, response.text)
        return response.json() if response.content else {}


def login(base_url: str, email: str, password: str) -> Api:
    tokens = Api(base_url).ok("POST", "/api/v1/auth/token", {"email": email, "password": password})
    return Api(base_url, tokens["access"])


def tus_upload(api: Api, lecture_id: str, data: bytes, filename: str) -> str:
    """Create a tus upload and send ``data`` in one PATCH; returns the upload id."""
    import base64

    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("lecture_id", lecture_id), ("filename", filename))
    )
    created = api.call(
        "POST",
        "/api/v1/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata,
        },
    )
    assert created.status_code == 201, created.text
    location = urlsplit(created.headers["Location"])
    sent = api.session.patch(
        api.base_url + location.path,
        data=data,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
        timeout=60,
    )
    assert sent.status_code == 204, sent.text
    assert sent.headers["Upload-Offset"] == str(len(data))
    return location.path.rsplit("/", 1)[1]


def wait_ready(api: Api, lecture_id: str, version: int) -> dict:
    """Poll the lecture until ``version`` is ready; fails on ``failed`` or after READY_TIMEOUT."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        lecture = api.ok("GET", f"/api/v1/lectures/{lecture_id}")
        if lecture["status"] == "ready" and lecture["media_version"] == version:
            return lecture
        assert lecture["status"] in ("queued", "processing", "ready"), lecture
        if time.monotonic() > deadline:
            pytest.fail(f"v{version} not ready after {READY_TIMEOUT} s: {lecture}")
        time.sleep(0.2)


def wait_gone(s3: S3Endpoint, prefix: str, timeout: float = 15.0) -> None:
    """Wait until nothing is left under ``prefix`` (deleted after the worker's commit)."""
    deadline = time.monotonic() + timeout
    while s3.objects(prefix):
        if time.monotonic() > deadline:
            pytest.fail(f"still in the bucket after {timeout} s: {sorted(s3.objects(prefix))}")
        time.sleep(0.1)


def playlist_uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def check_version_objects(s3: S3Endpoint, root: str, renditions: list[str]) -> dict[str, list]:
    """The objects of one version under ``root`` (``.../v<N>/hls/``): the master, one variant
    playlist per rendition listing exactly the segments stored beside it, every object a name
    the HLS view serves, stored with the content type S3 must answer for it. Returns
    ``{rendition: [segment names]}``."""
    keys = {key[len(root) :] for key in s3.objects(root)}
    for key in keys:
        rendition, _, filename = key.rpartition("/")
        assert validate_media_path(rendition, filename), key
        head = s3.client().head_object(Bucket=s3.bucket, Key=f"{root}{key}")
        assert head["ContentType"] == CONTENT_TYPES[Path(key).suffix], key
    master = s3.get(f"{root}master.m3u8")
    assert playlist_uris(master["Body"].decode()) == [f"{name}/index.m3u8" for name in renditions]
    segments = {}
    for name in renditions:
        listed = playlist_uris(s3.get(f"{root}{name}/index.m3u8")["Body"].decode())
        stored = sorted(key.split("/")[1] for key in keys if key.startswith(f"{name}/seg_"))
        assert listed == stored and len(stored) == 2, (name, listed, stored)
        segments[name] = stored
    assert {key.split("/")[0] for key in keys if "/" in key} == set(renditions)
    return segments


# ------------------------------------------------------------------ settings and storage helpers


# The django_db mark is what makes pytest-django create the test database when this module runs
# on its own: it sets up only the databases of marked tests, and the fixtures here use
# committed data through django_db_setup. This test itself does not touch the database.
@pytest.mark.django_db
def test_s3_settings_come_from_the_environment(e2e_env, s3):
    """What a web server or worker gets from STORAGE_BACKEND=s3 and the AWS_* variables under
    the test settings: the S3 media storage with SigV4 presigned URLs of 5 minutes, identical to
    what this module's test process uses."""
    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        "from django.core.files.storage import default_storage as d; "
        "print(json.dumps([settings.STORAGES, d.__class__.__name__, d.url('k')]))"
    )
    env = {**e2e_env, **s3.environment()}
    result = subprocess.run(
        [str(VENV_BIN / "python"), "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    storages, storage_class, url = json.loads(result.stdout.strip().splitlines()[-1])
    assert storages == s3.storages()
    assert storage_class == "MediaS3Storage"
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{s3.url}/{s3.bucket}/k?")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == [str(PRESIGNED_LIFETIME)]


def test_storage_helpers_on_s3(s3, s3_storage, tmp_path):
    """tenants.storage on a real S3 endpoint: upload_tree keys and content types, download,
    and delete_prefix removing exactly one lecture's objects."""
    from tenants.storage import storage_delete_prefix, storage_download, storage_upload_tree

    tree = tmp_path / "hls"
    files = {
        "master.m3u8": (b"#EXTM3U\n360p/index.m3u8\n", "application/vnd.apple.mpegurl"),
        "360p/index.m3u8": (b"#EXTM3U\nseg_00000.ts\n", "application/vnd.apple.mpegurl"),
        "360p/seg_00000.ts": (b"\x47" + bytes(187), "video/mp2t"),
        "storyboard.vtt": (b"WEBVTT\n", "text/vtt"),
        "poster.jpg": (b"\xff\xd8\xff", "image/jpeg"),
    }
    for name, (body, _) in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(body)
    lecture = uuid.uuid4()
    prefix = f"tenants/s3a/lectures/{lecture}/v1/hls"
    neighbours = [
        f"tenants/s3a/lectures/{lecture}0/v1/hls/master.m3u8",  # a longer key, same start
        f"tenants/s3ab/lectures/{lecture}/v1/hls/master.m3u8",  # a tenant whose name extends
        f"tenants/other/lectures/{lecture}/v1/hls/master.m3u8",  # same lecture id elsewhere
    ]
    for key in neighbours:
        s3.put(key, b"keep")

    keys = storage_upload_tree(tree, prefix)

    assert keys == [f"{prefix}/{name}" for name in sorted(files)]
    for name, (body, content_type) in files.items():
        stored = s3.get(f"{prefix}/{name}")
        assert (stored["Body"], stored["ContentType"]) == (body, content_type), name

    storage_download(f"{prefix}/360p/seg_00000.ts", tmp_path / "copy.ts")
    assert (tmp_path / "copy.ts").read_bytes() == files["360p/seg_00000.ts"][0]
    with pytest.raises(FileNotFoundError):
        storage_download(f"{prefix}/360p/seg_00001.ts", tmp_path / "missing.ts")

    storage_delete_prefix(f"tenants/s3a/lectures/{lecture}")
    storage_delete_prefix(f"tenants/s3a/lectures/{lecture}")  # idempotent

    assert s3.objects("tenants/") == set(neighbours)
    for key in neighbours:
        s3.client().delete_object(Bucket=s3.bucket, Key=key)


def test_download_streams_to_disk(s3, s3_storage, tmp_path):
    """A source is copied to the work folder without being held in memory: Python's peak
    allocation during storage_download stays under 8 MiB for a 64 MiB object (django-storages'
    open() would hold all of it, and more)."""
    from tenants.storage import storage_download

    size = 64 * 1024 * 1024
    data = secrets.token_bytes(size)
    s3.put("tenants/s3a/big.mp4", data)
    target = tmp_path / "big.mp4"

    # Warm up first: botocore loads its service model (~10 MiB) on the first request.
    s3.put("tenants/s3a/small.mp4", b"x" * 1024)
    storage_download("tenants/s3a/small.mp4", tmp_path / "small.mp4")
    s3.client().delete_object(Bucket=s3.bucket, Key="tenants/s3a/small.mp4")
    tracemalloc.start()
    try:
        storage_download("tenants/s3a/big.mp4", target)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        s3.client().delete_object(Bucket=s3.bucket, Key="tenants/s3a/big.mp4")

    assert target.read_bytes() == data
    assert peak < 8 * 1024 * 1024, (
        f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB object"
    )


# ------------------------------------------------------------------------------ end to end


def test_upload_transcode_play_replace_and_delete_on_s3(
    s3, s3_school, s3_stack, clips, tmp_path, django_db_blocker, record_property
):
    """One lecture's life in S3 mode through the real web server and worker: tus upload ->
    source object -> transcode -> tokenised playlists and presigned segment redirects played by
    FFmpeg -> a rejected upload that changes nothing -> v2 replacing v1 -> course deletion
    removing the lecture's objects and nothing else."""
    from django.conf import settings
    from django_tenants.utils import tenant_context

    from enrollment.models import Enrollment
    from media_pipeline.probe import ffmpeg_binary

    started = time.monotonic()
    schema, base = s3_school["schema"], s3_stack
    staging = Path(settings.UPLOAD_STAGING_DIR) / schema
    work = Path(settings.TRANSCODE_WORK_DIR) / schema
    owner = login(base, "owner@s3.test", s3_school["password"])
    course = owner.ok("POST", "/api/v1/courses", {"title": "Objects 101"}, status=201)
    section = owner.ok("POST", f"/api/v1/courses/{course['id']}/sections", {"title": "W1"}, 201)
    lecture_id = owner.ok(
        "POST", f"/api/v1/sections/{section['id']}/lectures", {"title": "Bars"}, status=201
    )["id"]
    lecture_root = f"tenants/{schema}/lectures/{lecture_id}/"

    # Objects that are not this lecture's and must outlive everything below.
    others = {
        f"tenants/alpha/lectures/{lecture_id}/v1/hls/master.m3u8": b"another school",
        f"tenants/{schema}0/lectures/{lecture_id}/sources/x.mp4": b"a schema name one longer",
        f"tenants/{schema}/lectures/{lecture_id}0/v1/hls/master.m3u8": b"a longer lecture key",
    }
    for key, body in others.items():
        s3.put(key, body)

    # 1. tus upload: staged on local disk, then the source object in the bucket -----------
    first, second = clips
    upload_1 = tus_upload(owner, lecture_id, first.read_bytes(), "bars.mp4")
    source_1 = f"{lecture_root}sources/{upload_1}.mp4"
    stored = s3.get(source_1)
    assert stored["Body"] == first.read_bytes()
    assert stored["ContentType"] == "video/mp4"
    assert {key for key in s3.objects(lecture_root) if "/sources/" in key} == {source_1}
    assert list(staging.iterdir()) == []

    # 2. The worker downloads the source and uploads v1's ladder ---------------------------
    lecture = wait_ready(owner, lecture_id, version=1)
    assert [r["name"] for r in lecture["renditions"]] == FIRST_CLIP[1]
    assert abs(lecture["duration"] - CLIP_SECONDS) < 0.1
    v1_root = f"{lecture_root}v1/hls/"
    segments_v1 = check_version_objects(s3, v1_root, FIRST_CLIP[1])
    v1_objects = s3.objects(v1_root)
    assert s3.objects(lecture_root) == {source_1} | v1_objects
    assert list(work.iterdir()) == []  # the downloaded source and outputs are gone

    # 3. A student gets the playback URL ----------------------------------------------------
    code = owner.ok("POST", f"/api/v1/courses/{course['id']}/access-codes", {"quantity": 1}, 201)
    owner.ok("PATCH", f"/api/v1/courses/{course['id']}", {"published": True})
    student_body = {"email": "student@s3.test", "password": "Plays-Bars-42!", "name": "Student"}
    Api(base).ok("POST", "/api/v1/auth/register", student_body, status=201)
    student = login(base, student_body["email"], student_body["password"])
    student.ok("POST", "/api/v1/students/enroll", {"code": code["codes"][0]})
    playback_path = f"/api/v1/students/courses/{course['id']}/lectures/{lecture_id}"
    playback = student.ok("GET", playback_path)
    url = urlsplit(playback["playback_url"])
    assert (url.scheme, url.netloc) == ("http", urlsplit(base).netloc)
    assert url.path == f"/media/hls/{lecture_id}/v1/master.m3u8"
    token = parse_qs(url.query)["token"][0]
    media = requests.Session()

    # 4. Playlists come from the bucket, rewritten with the token --------------------------
    response = media.get(playback["playback_url"], timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert playlist_uris(response.text) == [
        f"{name}/index.m3u8?token={token}" for name in FIRST_CLIP[1]
    ]
    hls_base = f"{base}/media/hls/{lecture_id}/v1"
    for name in FIRST_CLIP[1]:
        response = media.get(f"{hls_base}/{name}/index.m3u8?token={token}", timeout=30)
        assert response.status_code == 200, response.text
        assert playlist_uris(response.text) == [
            f"{segment}?token={token}" for segment in segments_v1[name]
        ]

    # 5. Segments: a redirect to a presigned URL on the S3 endpoint, valid 5 minutes -------
    top = FIRST_CLIP[1][-1]
    segment_key = f"{v1_root}{top}/{segments_v1[top][0]}"
    segment_url = f"{hls_base}/{top}/{segments_v1[top][0]}?token={token}"
    asked_at = datetime.now(UTC)
    response = media.get(segment_url, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    assert response.headers["Cache-Control"] == "private, no-store"
    presigned = urlsplit(response.headers["Location"])
    assert f"{presigned.scheme}://{presigned.netloc}" == s3.url
    assert presigned.path == f"/{s3.bucket}/{segment_key}"
    query = parse_qs(presigned.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == [str(PRESIGNED_LIFETIME)]
    assert query["X-Amz-Credential"][0].startswith(f"{s3.access_key}/")
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((signed_at - asked_at).total_seconds()) < 5
    fetched = requests.get(response.headers["Location"], timeout=30)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "video/mp2t"
    assert fetched.content == s3.get(segment_key)["Body"]
    ranged = requests.get(
        response.headers["Location"], headers={"Range": "bytes=0-187"}, timeout=30
    )
    assert ranged.status_code == 206
    assert ranged.content == fetched.content[:188] and ranged.content[0] == 0x47

    # 6. A tampered token is refused before any redirect -----------------------------------
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for path in (f"{top}/{segments_v1[top][0]}", "master.m3u8", f"{top}/index.m3u8"):
        response = media.get(f"{hls_base}/{path}?token={tampered}", allow_redirects=False)
        assert response.status_code == 403, (path, response.text)
        assert "Location" not in response.headers
        assert response.json()["error"]["code"] == "INVALID_MEDIA_TOKEN"

    # 7. FFmpeg plays the top rendition through the redirects ------------------------------
    played = tmp_path / "played.ts"
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-v", "error"]
    command += ["-protocol_whitelist", "http,tcp", "-i", playback["playback_url"]]
    command += ["-map", f"0:p:{len(FIRST_CLIP[1]) - 1}", "-c", "copy", "-f", "mpegts"]
    result = subprocess.run([*command, str(played)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    played_media = decoded_media(played)
    video_seconds, audio_seconds, size = (
        played_media.video_seconds,
        played_media.audio_seconds,
        played_media.size,
    )
    assert size == (640, 368)
    assert abs(video_seconds - lecture["duration"]) < DURATION_TOLERANCE, video_seconds
    assert abs(audio_seconds - lecture["duration"]) < DURATION_TOLERANCE, audio_seconds

    # 8. A rejected upload leaves the bucket as it was; v1 keeps playing -------------------
    before = s3.objects()
    tus_upload(owner, lecture_id, NOT_A_VIDEO, "notes.mp4")
    lecture = owner.ok("GET", f"/api/v1/lectures/{lecture_id}")
    assert (lecture["status"], lecture["media_version"]) == ("ready", 1)
    assert lecture["error"] == "The file is not a video: it looks like text."
    assert s3.objects() == before
    assert list(staging.iterdir()) == []
    assert media.get(playback["playback_url"], timeout=30).status_code == 200

    # 9. Re-upload: v2 replaces v1, the old source and every v1 object are deleted ----------
    upload_2 = tus_upload(owner, lecture_id, second.read_bytes(), "bars-2.mp4")
    source_2 = f"{lecture_root}sources/{upload_2}.mp4"
    lecture = wait_ready(owner, lecture_id, version=2)
    assert [r["name"] for r in lecture["renditions"]] == SECOND_CLIP[1]
    wait_gone(s3, f"{lecture_root}v1/")
    v2_root = f"{lecture_root}v2/hls/"
    check_version_objects(s3, v2_root, SECOND_CLIP[1])
    v2_objects = s3.objects(v2_root)
    assert s3.objects(lecture_root) == {source_2} | v2_objects
    assert s3.get(source_2)["Body"] == second.read_bytes()
    # The old version's playlists are gone; its segment URLs lead to S3's 404.
    response = media.get(playback["playback_url"], timeout=30)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")
    response = media.get(segment_url, allow_redirects=False, timeout=30)
    assert response.status_code == 302
    assert requests.get(response.headers["Location"], timeout=30).status_code == 404
    playback = student.ok("GET", playback_path)
    assert urlsplit(playback["playback_url"]).path == f"/media/hls/{lecture_id}/v2/master.m3u8"
    response = media.get(playback["playback_url"], timeout=30)
    assert playlist_uris(response.text) == [
        f"{name}/index.m3u8?{urlsplit(playback['playback_url']).query}" for name in SECOND_CLIP[1]
    ]

    # 10. Deleting the course removes every object under the lecture, and only those -------
    before = {key: s3.get(key)["Body"] for key in s3.objects()}
    response = owner.call("DELETE", f"/api/v1/courses/{course['id']}")
    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "COURSE_HAS_ENROLLMENTS",
    )
    assert {key: s3.get(key)["Body"] for key in s3.objects()} == before
    with django_db_blocker.unblock(), tenant_context(s3_school["tenant"]):
        Enrollment.objects.filter(course_id=course["id"]).delete()
    response = owner.call("DELETE", f"/api/v1/courses/{course['id']}")
    assert response.status_code == 204, response.text
    assert {key: s3.get(key)["Body"] for key in s3.objects()} == others
    assert list(staging.iterdir()) == [] and list(work.iterdir()) == []

    elapsed = time.monotonic() - started
    record_property("s3_end_to_end_seconds", round(elapsed, 2))
    print(
        f"\n[s3] upload -> v1 ready -> play -> v2 -> delete: {elapsed:.2f} s; "
        f"objects per version: v1 {len(v1_objects)}, v2 {len(v2_objects)}; "
        f"played {video_seconds:.3f} s video, {audio_seconds:.3f} s audio through the redirects"
    )
