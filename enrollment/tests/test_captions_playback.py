"""A student's side of a lecture's captions: the playback object lists the track published
beside the playing version (language, label, signed URL), free previews too, and the lecture
page starts the player at ``?t=`` seconds (search results link there) instead of resuming."""

import json
import re

import pytest

from courses.models import Lecture
from enrollment.models import Enrollment, LectureProgress
from media_pipeline.captions import captions_upload
from tenants.testing import TenantClient, browser, in_tenant

pytestmark = pytest.mark.django_db

VTT = b"WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nHello there\n"


def _player(response) -> dict:
    data = re.search(
        r'<script id="player-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    return json.loads(data.group(1))


def test_the_playback_object_lists_the_published_track(tenant, student, course, ready_lecture):
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=course)
    api = TenantClient(tenant, user=student)
    url = f"/api/v1/students/courses/{course.id}/lectures/{ready_lecture.id}"

    before = api.get(url).json()
    with in_tenant(tenant):
        captions_upload(lecture_id=ready_lecture.pk, data=VTT)
    after = api.get(url).json()

    assert before["captions"] == []
    token = after["playback_url"].partition("token=")[2]
    assert after["captions"] == [
        {
            "language": "en",
            "label": "English",
            "url": f"http://alpha.localhost/media/hls/{ready_lecture.id}/v1/captions/en.vtt"
            f"?token={token}",
        }
    ]
    vtt = api.get(after["captions"][0]["url"].removeprefix("http://alpha.localhost"))
    assert vtt.status_code == 200


def test_a_free_preview_lists_the_track_too(tenant, course, ready_lecture):
    with in_tenant(tenant):
        Lecture.objects.filter(pk=ready_lecture.pk).update(free_preview=True)
        captions_upload(lecture_id=ready_lecture.pk, data=VTT)
    url = f"/api/v1/catalog/courses/{course.slug}/lectures/{ready_lecture.id}/preview"

    body = TenantClient(tenant).get(url).json()

    assert [(t["language"], t["label"]) for t in body["captions"]] == [("en", "English")]
    assert "/captions/en.vtt?token=" in body["captions"][0]["url"]


@pytest.mark.parametrize(
    ("query", "start"),
    [("", None), ("?t=1.25", 1.25), ("?t=0", 0.0), ("?t=-1", None), ("?t=nan", None),
     ("?t=abc", None), ("?t=99", None)],
)  # fmt: skip
def test_the_lecture_page_starts_at_t_over_the_resume_position(
    query, start, tenant, student, course, ready_lecture
):
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=course)
        LectureProgress.objects.create(student=student, lecture_id=ready_lecture.pk, position=1.5)
        captions_upload(lecture_id=ready_lecture.pk, data=VTT)
    page = browser(tenant, student).get(f"/courses/{course.id}/lectures/{ready_lecture.id}/{query}")

    config = _player(page)
    assert page.status_code == 200
    assert (config["start"], config["position"]) == (start, 1.5)
    assert [(t["language"], t["label"]) for t in config["captions"]] == [("en", "English")]
