"""End to end through real processes: provision -> tus upload -> Celery/FFmpeg HLS -> enroll ->
signed playback decoded by FFmpeg over HTTP, on the real sample clip.

Processes (``tests/plugins/stack.py``): ``manage.py provision_tenant``, uvicorn, a Celery worker
and FFmpeg as the HLS player. Timings (last uploaded byte -> ``ready`` and the bare FFmpeg ladder
command on the same file) are printed and recorded as properties, never asserted.
"""

import math
import re
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import av
import imageio_ffmpeg
import pytest
import requests
from tusclient.client import TusClient
from tusclient.uploader import Uploader

from media_pipeline.samples import sample_clip
from tests.plugins.stack import decoded_media

pytestmark = pytest.mark.timeout(300)

CHUNK_SIZE = 256 * 1024
READY_TIMEOUT = 180.0
EXPECTED_RUNGS = [("360p", 640, 360), ("480p", 854, 480), ("720p", 1280, 720)]
DURATION_TOLERANCE = 0.25  # seconds, decoded media vs the lecture's duration
PLAYBACK_FIELDS = {
    "lecture_id",
    "playback_url",
    "expires_at",
    "duration",
    "position",
    "thumbnail_url",
    "storyboard_url",
}
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


class Api:
    """JSON client for one school's host on the loopback server (optionally with a JWT)."""

    def __init__(self, server, host: str, access: str | None = None) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Host"] = host
        if access:
            self.session.headers["Authorization"] = f"Bearer {access}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.server.base_url + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return self.request("POST", path, json=body or {})

    def patch(self, path: str, body: dict) -> requests.Response:
        return self.request("PATCH", path, json=body)


def login(server, host: str, email: str, password: str) -> Api:
    response = Api(server, host).post("/api/v1/auth/token", {"email": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"access", "refresh", "expires_in"} <= body.keys()
    return Api(server, host, body["access"])


def expect_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert "request_id" in error


class LoopbackUploader(Uploader):
    """tuspy's uploader, following the server's ``Location`` on the loopback address (the
    school's ``*.localhost`` name does not resolve here; the ``Host`` header still names it).
    Counts the PATCH requests it makes."""

    def __init__(self, *args, server, **kwargs) -> None:
        self.server = server
        self.patches = 0
        self.location = None
        super().__init__(*args, **kwargs)

    def set_url(self, url: str) -> None:
        self.location = url
        super().set_url(self.server.loopback(url))

    def upload_chunk(self) -> None:
        self.patches += 1
        super().upload_chunk()


def playlist_attributes(line: str) -> dict[str, str]:
    """Attributes of an ``#EXT-X-...:A=1,B="x,y"`` tag, quotes stripped."""
    text = line.partition(":")[2]
    return {key: value.strip('"') for key, value in _ATTRIBUTE.findall(text)}


def master_variants(text: str) -> list[tuple[dict[str, str], str]]:
    """``[(attributes, uri), ...]`` of every ``#EXT-X-STREAM-INF`` in a master playlist."""
    lines = [line.strip() for line in text.splitlines()]
    variants = []
    for index, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            uri = next(item for item in lines[index + 1 :] if item and not item.startswith("#"))
            variants.append((playlist_attributes(line), uri))
    return variants


def segment_uris(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def first_video_keyframe(path: Path) -> tuple[bool, bool]:
    """(first video packet is a keyframe, first decoded video frame is a keyframe)."""
    with av.open(str(path), format="mpegts") as media:
        stream = media.streams.video[0]
        packet_key = None
        for packet in media.demux(stream):
            if packet.size == 0:
                continue
            if packet_key is None:
                packet_key = packet.is_keyframe
            for frame in packet.decode():
                return bool(packet_key), bool(frame.key_frame)
    raise AssertionError(f"{path} has no decodable video frame")


def test_upload_transcode_enroll_play(
    e2e_school, web_server, celery_worker, tmp_path, record_property
):
    from django.conf import settings

    from media_pipeline import ladder
    from media_pipeline.probe import demuxer_for, ffmpeg_binary, sniff_container
    from media_pipeline.tokens import media_token_sign

    server = web_server
    host = server.host(e2e_school.subdomain)
    clip = sample_clip()

    # 1. Owner: JWT, course, section, lecture ------------------------------------------------
    owner = login(server, host, e2e_school.owner_email, e2e_school.owner_password)
    me = owner.get("/api/v1/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "owner"
    foreign = Api(server, server.host("alpha"), owner.session.headers["Authorization"][7:])
    assert foreign.get("/api/v1/auth/me").status_code == 401  # token of another school

    response = owner.post("/api/v1/courses", {"title": "Open Movies 101"})
    assert response.status_code == 201, response.text
    course = response.json()
    assert course["title"] == "Open Movies 101"
    assert course["published"] is False
    response = owner.post(f"/api/v1/courses/{course['id']}/sections", {"title": "Week 1"})
    assert response.status_code == 201, response.text
    section = response.json()
    response = owner.post(f"/api/v1/sections/{section['id']}/lectures", {"title": "Bunny"})
    assert response.status_code == 201, response.text
    lecture = response.json()
    assert lecture["status"] == "awaiting_media"
    assert lecture["section_id"] == section["id"]
    lecture_id = lecture["id"]
    response = owner.post(f"/api/v1/sections/{section['id']}/lectures", {"title": "Later"})
    assert response.status_code == 201, response.text
    other_lecture_id = response.json()["id"]

    # 2. tus upload in 256 KiB PATCHes -------------------------------------------------------
    client = TusClient(
        f"{server.base_url}/api/v1/uploads/",
        headers={"Host": host, "Authorization": owner.session.headers["Authorization"]},
    )
    uploader = LoopbackUploader(
        file_path=str(clip),
        client=client,
        server=server,
        chunk_size=CHUNK_SIZE,
        metadata={"lecture_id": lecture_id, "filename": "bigbuckbunny.mp4"},
        upload_checksum=True,
    )
    uploader.upload_chunk()  # creates the upload, then the first PATCH
    assert uploader.location.startswith(f"http://{host}/api/v1/uploads/")
    assert uploader.offset == CHUNK_SIZE
    response = owner.get(f"/api/v1/lectures/{lecture_id}")
    assert response.json()["status"] == "uploading"
    uploader.upload()
    t_last_byte = time.monotonic()
    size = clip.stat().st_size
    assert uploader.offset == size
    assert uploader.patches == math.ceil(size / CHUNK_SIZE)

    # 3. Poll until ready ------------------------------------------------------------------
    seen: list[tuple[str, float]] = []
    while True:
        response = owner.get(f"/api/v1/lectures/{lecture_id}")
        assert response.status_code == 200, response.text
        lecture = response.json()
        seen.append((lecture["status"], lecture["progress"]))
        if lecture["status"] == "ready":
            t_ready = time.monotonic()
            break
        assert lecture["status"] in ("queued", "processing"), lecture
        if time.monotonic() - t_last_byte > READY_TIMEOUT:
            pytest.fail(f"lecture not ready after {READY_TIMEOUT} s: {lecture}")
        time.sleep(0.25)
    upload_to_ready = t_ready - t_last_byte
    statuses = [status for status, _ in seen]
    progresses = [progress for _, progress in seen]
    assert {"queued", "processing"} & set(statuses), seen
    assert all(0.0 <= value <= 100.0 for value in progresses), seen
    assert progresses == sorted(progresses), f"progress went backwards: {seen}"
    assert lecture["progress"] == 100.0
    assert lecture["error"] is None
    assert lecture["media_version"] == 1
    assert [(r["name"], r["width"], r["height"]) for r in lecture["renditions"]] == EXPECTED_RUNGS
    for rendition in lecture["renditions"]:
        assert isinstance(rendition["bandwidth"], int) and rendition["bandwidth"] > 0, rendition
    duration = lecture["duration"]
    assert abs(duration - 5.3) < 0.2, duration

    # 4. Outputs on disk -------------------------------------------------------------------
    hls = (
        Path(settings.MEDIA_ROOT)
        / "tenants"
        / e2e_school.schema_name
        / "lectures"
        / lecture_id
        / "v1"
        / "hls"
    )
    master_text = (hls / "master.m3u8").read_text()
    variants = master_variants(master_text)
    assert [uri for _, uri in variants] == [f"{name}/index.m3u8" for name, _, _ in EXPECTED_RUNGS]
    for (attributes, _), (name, width, height), rendition in zip(
        variants, EXPECTED_RUNGS, lecture["renditions"], strict=True
    ):
        assert int(attributes["BANDWIDTH"]) == rendition["bandwidth"], name
        assert attributes["RESOLUTION"] == f"{width}x{height}"
        codecs = attributes["CODECS"].split(",")
        assert len(codecs) == 2 and codecs[0].startswith("avc1.") and codecs[1] == "mp4a.40.2"
    for name, _, _ in EXPECTED_RUNGS:
        playlist = (hls / name / "index.m3u8").read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist.splitlines()
        assert "#EXT-X-ENDLIST" in playlist.splitlines()
        listed = segment_uris(playlist)
        on_disk = sorted(path.name for path in (hls / name).glob("seg_*.ts"))
        assert listed == on_disk and on_disk, (name, listed, on_disk)
        for segment in on_disk:
            packet_key, frame_key = first_video_keyframe(hls / name / segment)
            assert packet_key and frame_key, f"{name}/{segment} does not start with a keyframe"

    # 5. Access codes, publishing, enrollment ----------------------------------------------
    response = owner.post(f"/api/v1/courses/{course['id']}/access-codes", {"quantity": 2})
    assert response.status_code == 201, response.text
    codes = response.json()["codes"]
    assert len(codes) == 2 and len(set(codes)) == 2
    assert all(re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code) for code in codes)
    response = owner.patch(f"/api/v1/courses/{course['id']}", {"published": True})
    assert response.status_code == 200, response.text
    assert response.json()["published"] is True

    anonymous = Api(server, host)
    students = []
    for number in (1, 2):
        email = f"student{number}@e2e.test"
        body = {"email": email, "password": "Plays-Bunny-42!", "name": f"Student {number}"}
        response = anonymous.post("/api/v1/auth/register", body)
        assert response.status_code == 201, response.text
        assert response.json()["role"] == "student"
        assert response.json()["email"] == email
        students.append(login(server, host, email, "Plays-Bunny-42!"))
    student, second = students

    response = student.post("/api/v1/students/enroll", {"code": codes[0]})
    assert response.status_code == 200, response.text
    enrolled = response.json()
    assert enrolled["course"]["id"] == course["id"]
    assert datetime.fromisoformat(enrolled["enrolled_at"].replace("Z", "+00:00"))
    expect_error(second.post("/api/v1/students/enroll", {"code": codes[0]}), 410, "CODE_USED")
    expect_error(
        second.post("/api/v1/students/enroll", {"code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"}),
        404,
        "INVALID_CODE",
    )
    response = student.get("/api/v1/students/courses")
    assert response.status_code == 200, response.text
    listed = response.json()
    listed = listed["results"] if isinstance(listed, dict) else listed
    assert [item["id"] for item in listed] == [course["id"]]
    expect_error(
        second.get(f"/api/v1/students/courses/{course['id']}/lectures/{lecture_id}"),
        403,
        "NOT_ENROLLED",
    )
    expect_error(
        student.get(f"/api/v1/students/courses/{course['id']}/lectures/{other_lecture_id}"),
        409,
        "NOT_READY",
    )

    # 6. Playback object and FFmpeg as the player ------------------------------------------
    response = student.get(f"/api/v1/students/courses/{course['id']}/lectures/{lecture_id}")
    assert response.status_code == 200, response.text
    playback = response.json()
    assert playback.keys() >= PLAYBACK_FIELDS
    assert playback["lecture_id"] == lecture_id
    assert playback["duration"] == duration
    assert playback["position"] == 0.0
    expires_at = datetime.fromisoformat(playback["expires_at"].replace("Z", "+00:00"))
    assert expires_at > datetime.now(UTC) + timedelta(minutes=55)
    url = urlsplit(playback["playback_url"])
    assert url.netloc == host
    assert url.path == f"/media/hls/{lecture_id}/v1/master.m3u8"
    token = parse_qs(url.query)["token"][0]
    master_url = server.loopback(playback["playback_url"])

    media = requests.Session()
    media.headers["Host"] = host
    response = media.get(master_url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    served = master_variants(response.text)
    assert [uri for _, uri in served] == [
        f"{name}/index.m3u8?token={token}" for name, _, _ in EXPECTED_RUNGS
    ]
    top = EXPECTED_RUNGS[-1][0]
    variant_url = f"{server.base_url}/media/hls/{lecture_id}/v1/{top}/index.m3u8?token={token}"
    response = media.get(variant_url, timeout=30)
    assert response.status_code == 200, response.text
    served_segments = segment_uris(response.text)
    on_disk = sorted(path.name for path in (hls / top).glob("seg_*.ts"))
    assert served_segments == [f"{name}?token={token}" for name in on_disk]
    segment_url = f"{server.base_url}/media/hls/{lecture_id}/v1/{top}/{served_segments[0]}"
    response = media.get(segment_url, timeout=30)
    assert response.status_code == 200
    assert response.content == (hls / top / on_disk[0]).read_bytes()
    response = media.get(segment_url, headers={"Range": "bytes=0-187"}, timeout=30)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == (
        f"bytes 0-187/{(hls / top / on_disk[0]).stat().st_size}"
    )
    assert len(response.content) == 188 and response.content[0] == 0x47  # MPEG-TS sync byte

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    played = tmp_path / "played.ts"
    command = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-headers",
        f"Host: {host}\r\n",
        "-i",
        master_url,
        "-map",
        f"0:p:{len(EXPECTED_RUNGS) - 1}",
        "-c",
        "copy",
        "-f",
        "mpegts",
        str(played),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    played_media = decoded_media(played)
    video_seconds, audio_seconds, frames = (
        played_media.video_seconds,
        played_media.audio_seconds,
        played_media.frames,
    )
    with av.open(str(played)) as remuxed:
        assert remuxed.streams.video[0].codec_context.width == 1280
        assert remuxed.streams.video[0].codec_context.height == 720
    assert abs(video_seconds - duration) < DURATION_TOLERANCE, (video_seconds, duration, frames)
    assert abs(audio_seconds - duration) < DURATION_TOLERANCE, (audio_seconds, duration)

    # 7. Tokens that must not play -----------------------------------------------------------
    bare_segment = segment_url.partition("?")[0]
    expect_error(media.get(bare_segment, timeout=30), 403, "INVALID_MEDIA_TOKEN")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    expect_error(
        media.get(f"{bare_segment}?token={tampered}", timeout=30), 403, "INVALID_MEDIA_TOKEN"
    )
    for lecture_ref in (other_lecture_id, str(uuid.uuid4())):
        swapped = f"{server.base_url}/media/hls/{lecture_ref}/v1/master.m3u8?token={token}"
        expect_error(media.get(swapped, timeout=30), 403, "INVALID_MEDIA_TOKEN")
    for path in (f"/media/hls/{lecture_id}/v1/master.m3u8", urlsplit(segment_url).path):
        response = requests.get(
            f"{server.base_url}{path}?token={token}",
            headers={"Host": server.host("alpha")},
            timeout=30,
        )
        assert response.status_code in (403, 404), response.text
    # A token signed with the server's key: valid until expiry, refused after it.
    _, _, student_id, _, _ = token.split(".")
    for offset, status in ((600, 200), (-1, 403)):
        signed = media_token_sign(
            tenant=e2e_school.schema_name,
            student_id=int(student_id),
            lecture_id=uuid.UUID(lecture_id),
            version=1,
            expires=int(time.time()) + offset,
        )
        assert media.get(f"{bare_segment}?token={signed}", timeout=30).status_code == status
    # The server logs at info level, as deployed, yet no playback token reaches its log (an
    # access log line per request would carry each ?token=).
    server_log = server.log.read_text()
    assert "Application startup complete" in server_log
    assert token not in server_log and "token=" not in server_log

    # 8. Timings: upload -> ready against the bare FFmpeg ladder on the same file -----------
    rungs = ladder.ladder_for(1280, 720)
    with tempfile.TemporaryDirectory(prefix="e2e-ladder-") as out_dir:
        for rung in rungs:
            (Path(out_dir) / rung.name).mkdir()
        bare = ladder.build_transcode_command(
            ffmpeg=ffmpeg_binary(),
            source=str(clip),
            demuxer=demuxer_for(sniff_container(clip)),
            rungs=rungs,
            out_dir=out_dir,
            has_audio=True,
            preset=settings.TRANSCODE_PRESET,
        )
        started = time.monotonic()
        result = subprocess.run(bare, capture_output=True, text=True, timeout=120, check=False)
        bare_seconds = time.monotonic() - started
        assert result.returncode == 0, result.stderr
    record_property("upload_to_ready_seconds", round(upload_to_ready, 3))
    record_property("bare_ffmpeg_seconds", round(bare_seconds, 3))
    record_property("statuses_seen", ",".join(dict.fromkeys(statuses)))
    record_property("played_video_seconds", round(video_seconds, 3))
    record_property("played_audio_seconds", round(audio_seconds, 3))
    print(
        f"\n[e2e] last upload byte -> ready: {upload_to_ready:.2f} s; "
        f"bare FFmpeg ladder: {bare_seconds:.2f} s; "
        f"overhead: {upload_to_ready - bare_seconds:+.2f} s\n"
        f"[e2e] statuses seen: {' -> '.join(dict.fromkeys(statuses))}; "
        f"progress values: {sorted(set(progresses))}\n"
        f"[e2e] played {top} over HTTP: video {video_seconds:.3f} s ({frames} frames), "
        f"audio {audio_seconds:.3f} s; lecture duration {duration} s"
    )
