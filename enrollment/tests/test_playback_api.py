"""Student course views, playback grants, tokenised HLS delivery and watch progress."""

import re
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings

from courses.models import Course
from enrollment.models import Enrollment
from tenants.testing import TenantClient, in_tenant, make_user
from tests.plugins.schools import lectures_of

pytestmark = pytest.mark.django_db


def enroll(tenant, student, course):
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=course)


def playback(tenant, student, course, lecture):
    client = TenantClient(tenant, user=student)
    return client.get(f"/api/v1/students/courses/{course.id}/lectures/{lecture.id}")


def body_of(response) -> bytes:
    """The whole body of a streaming response (segments stream through an async iterator)."""

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_student_course_list_and_detail(tenant, student, course, ready_lecture):
    enroll(tenant, student, course)
    client = TenantClient(tenant, user=student)

    listing = client.get("/api/v1/students/courses")
    detail = client.get(f"/api/v1/students/courses/{course.id}")

    assert listing.status_code == 200
    assert [(c["id"], c["progress"]) for c in listing.json()] == [(str(course.id), 0.0)]
    lectures = detail.json()["sections"][0]["lectures"]
    assert [(lec["title"], lec["ready"], lec["completed"]) for lec in lectures] == [
        ("Velocity", True, False),
        ("Acceleration", False, False),
    ]


def test_not_enrolled_is_403_and_unknown_course_404(tenant, student, course, ready_lecture):
    client = TenantClient(tenant, user=student)

    detail = client.get(f"/api/v1/students/courses/{course.id}")
    play = playback(tenant, student, course, ready_lecture)
    unknown = client.get("/api/v1/students/courses/00000000-0000-0000-0000-000000000000")

    assert (detail.status_code, detail.json()["error"]["code"]) == (403, "NOT_ENROLLED")
    assert (play.status_code, play.json()["error"]["code"]) == (403, "NOT_ENROLLED")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "NOT_FOUND")


def test_draft_course_is_404_to_students_enrolled_or_not(tenant, student, course, ready_lecture):
    enroll(tenant, student, course)
    outsider = make_user(tenant, "outsider@alpha.test")
    client = TenantClient(tenant, user=student)
    client.get("/api/v1/students/courses")  # outlines cached while published
    course.status = Course.Status.DRAFT
    with in_tenant(tenant):
        course.save(update_fields=["status"])

    listing = client.get("/api/v1/students/courses")
    answers = [
        client.get(f"/api/v1/students/courses/{course.id}"),
        playback(tenant, student, course, ready_lecture),
        client.post(
            "/api/v1/students/progress",
            {"lecture_id": str(ready_lecture.id), "position": 1.0, "watched": [[0, 1]]},
            format="json",
        ),
        TenantClient(tenant, user=outsider).get(f"/api/v1/students/courses/{course.id}"),
    ]
    assert (listing.status_code, listing.json()) == (200, [])
    assert [(a.status_code, a.json()["error"]["code"]) for a in answers] == [(404, "NOT_FOUND")] * 4

    course.status = Course.Status.PUBLISHED
    with in_tenant(tenant):
        course.save(update_fields=["status"])
    assert [c["id"] for c in client.get("/api/v1/students/courses").json()] == [str(course.id)]
    assert playback(tenant, student, course, ready_lecture).status_code == 200


def test_lecture_without_media_is_409_not_ready(tenant, student, course):
    enroll(tenant, student, course)
    second = lectures_of(tenant, course)[1]

    response = playback(tenant, student, course, second)

    assert (response.status_code, response.json()["error"]["code"]) == (409, "NOT_READY")


def test_playback_object_and_tokenised_playlists(tenant, student, course, ready_lecture):
    enroll(tenant, student, course)

    response = playback(tenant, student, course, ready_lecture)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "lecture_id",
        "playback_url",
        "expires_at",
        "duration",
        "position",
        "thumbnail_url",
        "storyboard_url",
        "preview_url",
        "captions",
    }
    assert body["captions"] == []
    assert body["playback_url"].startswith(
        f"http://alpha.localhost/media/hls/{ready_lecture.id}/v1/master.m3u8?token=v2."
    )
    assert body["duration"] == pytest.approx(2.0, abs=0.1)
    token = body["playback_url"].split("token=")[1]
    client = TenantClient(tenant)
    master = client.get(path_of(body["playback_url"]))
    assert master.status_code == 200
    assert master["Content-Type"] == "application/vnd.apple.mpegurl"
    assert master["Cache-Control"] == "private, no-store"
    text = master.content.decode()
    assert re.findall(r"^(\S+)$", text, flags=re.M)[-1] == f"240p/index.m3u8?token={token}"
    assert 'CODECS="avc1.' in text
    variant = client.get(f"/media/hls/{ready_lecture.id}/v1/240p/index.m3u8?token={token}")
    segments = [line for line in variant.content.decode().splitlines() if line.startswith("seg_")]
    assert segments == [f"seg_00000.ts?token={token}"]
    segment = client.get(f"/media/hls/{ready_lecture.id}/v1/240p/{segments[0]}")
    assert segment.status_code == 200
    assert segment["Content-Type"] == "video/mp2t"
    assert body_of(segment)[:1] == b"\x47"  # MPEG-TS sync byte


def test_poster_storyboard_and_preview_are_served_with_the_token(
    tenant, student, course, ready_lecture
):
    enroll(tenant, student, course)
    body = playback(tenant, student, course, ready_lecture).json()
    token = body["playback_url"].split("token=")[1]
    base = f"http://alpha.localhost/media/hls/{ready_lecture.id}/v1"
    client = TenantClient(tenant)

    assert body["thumbnail_url"] == f"{base}/poster.jpg?token={token}"
    assert body["storyboard_url"] == f"{base}/storyboard.vtt?token={token}"
    assert body["preview_url"] == f"{base}/preview.mp4?token={token}"
    poster = client.get(path_of(body["thumbnail_url"]))
    webp = client.get(f"/media/hls/{ready_lecture.id}/v1/poster.webp?token={token}")
    storyboard = client.get(path_of(body["storyboard_url"]))
    sprite = client.get(f"/media/hls/{ready_lecture.id}/v1/storyboard.jpg?token={token}")
    preview = client.get(path_of(body["preview_url"]))
    responses = [poster, webp, storyboard, sprite, preview]

    assert [r.status_code for r in responses] == [200] * 5
    assert [r["Content-Type"] for r in responses] == [
        "image/jpeg",
        "image/webp",
        "text/vtt; charset=utf-8",
        "image/jpeg",
        "video/mp4",
    ]
    assert {r["Cache-Control"] for r in responses} == {"private, no-store"}
    assert body_of(poster)[:3] == b"\xff\xd8\xff"
    assert body_of(webp)[8:12] == b"WEBP"
    # The 2 s tiny clip gives one 160x120 tile (4:3); the cue's URL carries the token.
    assert storyboard.content.decode() == (
        f"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard.jpg?token={token}#xywh=0,0,160,120\n"
    )
    assert body_of(sprite)[:3] == b"\xff\xd8\xff"
    assert body_of(preview)[4:8] == b"ftyp"
    without = client.get(f"/media/hls/{ready_lecture.id}/v1/poster.jpg")
    assert (without.status_code, without.json()["error"]["code"]) == (403, "INVALID_MEDIA_TOKEN")


def test_segments_support_range_requests(tenant, student, course, ready_lecture):
    enroll(tenant, student, course)
    token = playback(tenant, student, course, ready_lecture).json()["playback_url"].split("=")[1]
    url = f"/media/hls/{ready_lecture.id}/v1/240p/seg_00000.ts?token={token}"
    client = TenantClient(tenant)
    whole = body_of(client.get(url))

    part = client.get(url, HTTP_RANGE="bytes=188-375")
    tail = client.get(url, HTTP_RANGE="bytes=-188")
    beyond = client.get(url, HTTP_RANGE=f"bytes={len(whole)}-")

    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 188-375/{len(whole)}"
    assert body_of(part) == whole[188:376]
    assert body_of(tail) == whole[-188:]
    assert beyond.status_code == 416


def test_segment_token_check_makes_no_database_query(
    tenant, student, course, ready_lecture, django_assert_num_queries
):
    enroll(tenant, student, course)
    token = playback(tenant, student, course, ready_lecture).json()["playback_url"].split("=")[1]
    client = TenantClient(tenant)
    base = f"/media/hls/{ready_lecture.id}/v1"
    urls = [
        f"{base}/240p/seg_00000.ts?token={token}",
        f"{base}/240p/index.m3u8?token={token}",
        f"{base}/master.m3u8?token={token}",
        f"{base}/storyboard.jpg?token={token}",
        f"{base}/storyboard.vtt?token={token}",
        f"{base}/poster.jpg?token={token}",
        f"{base}/preview.mp4?token={token}",
        f"{base}/240p/seg_00000.ts?token=v2.k1.1.1.forged",
    ]
    with override_settings(TENANT_HOST_CACHE_SECONDS=5):
        client.get(urls[0])  # the first request of the host fills the host -> tenant cache

        for url in urls:
            # The tenant middleware answers from its host cache, the token check is HMAC only
            # and the file comes from storage: not one query (not even SET search_path).
            with django_assert_num_queries(0):
                response = client.get(url)
            assert response.status_code == (403 if "forged" in url else 200), url
            assert response["Cache-Control"] == "private, no-store"


def test_media_requests_without_a_valid_token_are_403(
    tenant, other_tenant, student, course, ready_lecture
):
    enroll(tenant, student, course)
    token = playback(tenant, student, course, ready_lecture).json()["playback_url"].split("=")[1]
    other_lecture = lectures_of(tenant, course)[1]
    base = f"/media/hls/{ready_lecture.id}/v1"
    head, sig = token.rsplit(".", 1)
    forged = f"{head}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    version, kid, student_id, expires, _ = token.split(".")
    other_student = f"{version}.{kid}.{int(student_id) + 1}.{expires}.{sig}"
    longer = f"{version}.{kid}.{student_id}.{int(expires) + 3600}.{sig}"
    client = TenantClient(tenant)

    statuses = [
        client.get(f"{base}/master.m3u8").status_code,
        client.get(f"{base}/master.m3u8?token=").status_code,
        client.get(f"{base}/master.m3u8?token={forged}").status_code,
        client.get(f"{base}/master.m3u8?token={other_student}").status_code,
        client.get(f"{base}/master.m3u8?token={longer}").status_code,
        client.get(f"/media/hls/{other_lecture.id}/v1/master.m3u8?token={token}").status_code,
        client.get(f"{base}/240p/seg_00000.ts?token={forged}").status_code,
        TenantClient(other_tenant).get(f"{base}/master.m3u8?token={token}").status_code,
    ]

    assert statuses == [403] * 8


def test_expired_token_is_403(tenant, student, course, ready_lecture, monkeypatch):
    enroll(tenant, student, course)
    token = playback(tenant, student, course, ready_lecture).json()["playback_url"].split("=")[1]
    expires = int(token.split(".")[3])
    monkeypatch.setattr("media_pipeline.tokens.time.time", lambda: expires + 1)

    response = TenantClient(tenant).get(
        f"/media/hls/{ready_lecture.id}/v1/master.m3u8?token={token}"
    )

    assert response.status_code == 403


def test_path_traversal_is_404(tenant, student, course, ready_lecture):
    enroll(tenant, student, course)
    token = playback(tenant, student, course, ready_lecture).json()["playback_url"].split("=")[1]
    client = TenantClient(tenant)

    responses = [
        client.get(f"/media/hls/{ready_lecture.id}/v1/../sources/x.mp4?token={token}"),
        client.get(f"/media/hls/{ready_lecture.id}/v1/240p/..%2F..%2Fsources?token={token}"),
        client.get(f"/media/hls/{ready_lecture.id}/v1/240p/secret.txt?token={token}"),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]


def test_progress_merges_ranges_and_completes_at_90_percent(tenant, student, course, ready_lecture):
    enroll(tenant, student, course)
    client = TenantClient(tenant, user=student)
    url = "/api/v1/students/progress"

    first = client.post(
        url,
        {"lecture_id": str(ready_lecture.id), "position": 1.0, "watched": [[0, 1.0]]},
        format="json",
    )
    second = client.post(
        url,
        {"lecture_id": str(ready_lecture.id), "position": 1.9, "watched": [[0.5, 1.9], [5, 9]]},
        format="json",
    )

    assert first.status_code == 200
    duration = ready_lecture.video.duration
    assert first.json()["completed"] is False
    assert first.json()["completion"] == round(100 * 1.0 / duration, 2)
    assert second.json() == {
        "position": 1.9,
        "completion": round(100 * 1.9 / duration, 2),
        "completed": 1.9 / duration >= 0.9,
    }
    listing = client.get("/api/v1/students/courses").json()
    assert listing[0]["progress"] == (50.0 if second.json()["completed"] else 0.0)
    play = playback(tenant, student, course, ready_lecture).json()
    assert play["position"] == 1.9


def test_progress_bad_input_and_not_enrolled(tenant, student, course, ready_lecture):
    client = TenantClient(tenant, user=student)

    bad = client.post(
        "/api/v1/students/progress",
        {"lecture_id": "nope", "position": -1, "watched": [[1]]},
        format="json",
    )
    not_enrolled = client.post(
        "/api/v1/students/progress",
        {"lecture_id": str(ready_lecture.id), "position": 1, "watched": []},
        format="json",
    )

    assert bad.status_code == 400
    assert sorted(bad.json()["error"]["details"]) == ["lecture_id", "position", "watched.0"]
    assert (not_enrolled.status_code, not_enrolled.json()["error"]["code"]) == (403, "NOT_ENROLLED")


def test_student_api_on_another_school(tenant, other_tenant, student, course, ready_lecture):
    enroll(tenant, student, course)
    outsider = make_user(other_tenant, "student@beta.test")
    client = TenantClient(other_tenant, user=outsider)

    responses = [
        client.get(f"/api/v1/students/courses/{course.id}"),
        client.get(f"/api/v1/students/courses/{course.id}/lectures/{ready_lecture.id}"),
        client.post(
            "/api/v1/students/progress",
            {"lecture_id": str(ready_lecture.id), "position": 1, "watched": []},
            format="json",
        ),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert client.get("/api/v1/students/courses").json() == []
