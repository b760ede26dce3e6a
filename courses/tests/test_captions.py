"""The captions of a video lecture as its instructors manage them: the API
(``/api/v1/lectures/{id}/captions...``) and the dashboard's captions page, their errors, who may
use them, and the XSS corpus on cue text (API, page, served WebVTT). Transcription itself is
media_pipeline/tests/test_captions.py's; the lectures here hold the session's 2 s clip."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from courses.services import lecture_create, section_create
from media_pipeline.models import CaptionCue, MediaAsset
from media_pipeline.tests.test_tokens import body_of
from tenants.testing import TenantClient, browser, in_tenant, make_user, tasks_run_on_commit
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db

TIMING = re.compile(r"\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}")
VTT = b"WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nHello there\n"


def _url(lecture, suffix: str = "") -> str:
    return f"/api/v1/lectures/{lecture.pk}/captions{suffix}"


def _page(course, lecture) -> str:
    return f"/dashboard/courses/{course.pk}/lectures/{lecture.pk}/captions/"


def _cues(tenant, lecture) -> list:
    with in_tenant(tenant):
        return list(
            CaptionCue.objects.filter(owner_id=lecture.pk).values_list("start", "end", "text")
        )


def test_get_before_any_track_says_so(tenant, instructor, ready_lecture):
    response = TenantClient(tenant, user=instructor).get(_url(ready_lecture))

    assert response.status_code == 200
    assert response.json() == {
        "lecture_id": str(ready_lecture.pk),
        "status": "awaiting_media",
        "origin": None,
        "language": "en",
        "label": "English",
        "model": None,
        "reason": None,
        "published": False,
        "cues": [],
    }


def test_put_replaces_the_cues_and_publishes_them(tenant, instructor, ready_lecture):
    api = TenantClient(tenant, user=instructor)
    cues = [
        {"start": 1.0, "end": 1.8, "text": "Second"},
        {"start": 0.2, "end": 0.9, "text": "First  line\n\nnext"},
    ]

    response = api.put(_url(ready_lecture), {"cues": cues}, format="json")

    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["origin"], body["published"]) == ("ready", "edited", True)
    assert body["cues"] == [
        {"start": 0.2, "end": 0.9, "text": "First line\nnext"},
        {"start": 1.0, "end": 1.8, "text": "Second"},
    ]
    vtt = api.get(_url(ready_lecture, "/vtt"))
    assert vtt.status_code == 200
    assert vtt["Content-Type"] == "text/vtt; charset=utf-8"
    assert vtt["X-Content-Type-Options"] == "nosniff"
    assert vtt["Content-Disposition"] == (
        f'attachment; filename="captions-{ready_lecture.pk}-en.vtt"'
    )
    assert vtt.content.decode() == (
        "WEBVTT\n\n1\n00:00:00.200 --> 00:00:00.900\nFirst line\nnext\n\n"
        "2\n00:00:01.000 --> 00:00:01.800\nSecond\n"
    )


def test_put_with_bad_cues_is_400_naming_each_and_changes_nothing(
    tenant, instructor, ready_lecture
):
    api = TenantClient(tenant, user=instructor)
    api.post(_url(ready_lecture, "/upload"), {"file": SimpleUploadedFile("a.vtt", VTT)})
    bad = [
        {"start": 0, "end": 1, "text": "ok"},
        {"start": 2, "end": 1, "text": "backwards"},
        {"start": 3, "end": 4, "text": ""},
    ]

    response = api.put(_url(ready_lecture), {"cues": bad}, format="json")
    empty = api.put(_url(ready_lecture), {"cues": []}, format="json")
    shape = api.put(_url(ready_lecture), {"cues": [{"start": "x"}]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["details"] == {
        "cues.1": ["The end must be after the start."],
        "cues.2": ["The cue has no text."],
    }
    assert empty.json()["error"]["details"] == {
        "cues": ["A track needs at least one cue; delete the captions instead."]
    }
    assert shape.status_code == 400
    assert set(shape.json()["error"]["details"]) == {"cues.0.start", "cues.0.end", "cues.0.text"}
    assert _cues(tenant, ready_lecture) == [(0.5, 1.5, "Hello there")]


def test_upload_names_the_wrong_line_and_a_good_file_replaces_the_track(
    tenant, instructor, ready_lecture
):
    api = TenantClient(tenant, user=instructor)
    bad = b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 --> 00:00:02,000\nno\n"

    refused = api.post(_url(ready_lecture, "/upload"), {"file": SimpleUploadedFile("a.srt", bad)})
    binary = api.post(
        _url(ready_lecture, "/upload"), {"file": SimpleUploadedFile("a.srt", b"1\n\xff\xfe")}
    )
    accepted = api.post(_url(ready_lecture, "/upload"), {"file": SimpleUploadedFile("a.vtt", VTT)})

    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == {
        "file": ["line 6: the cue ends (00:00:02,000) before it starts (00:00:03,000)."]
    }
    assert binary.json()["error"]["details"]["file"][0].startswith("line 2: the file is not UTF-8")
    assert accepted.status_code == 200
    assert (accepted.json()["origin"], accepted.json()["cues"]) == (
        "uploaded",
        [{"start": 0.5, "end": 1.5, "text": "Hello there"}],
    )


def test_an_upload_over_the_limit_is_refused(tenant, instructor, ready_lecture, settings):
    settings.CAPTIONS_UPLOAD_MAX_BYTES = len(VTT) - 1
    response = TenantClient(tenant, user=instructor).post(
        _url(ready_lecture, "/upload"), {"file": SimpleUploadedFile("a.vtt", VTT)}
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "file": [f"The file is larger than {len(VTT) - 1} bytes."]
    }
    assert _cues(tenant, ready_lecture) == []


def test_transcribe_asks_before_discarding_edits_and_delete_removes(
    tenant, instructor, ready_lecture
):
    from media_pipeline.captions import NO_SPEECH

    api = TenantClient(tenant, user=instructor)
    upload = {"file": SimpleUploadedFile("a.vtt", VTT)}
    api.post(_url(ready_lecture, "/upload"), upload)

    refused = api.post(_url(ready_lecture, "/transcribe"), {}, format="json")
    deleted = api.delete(_url(ready_lecture))
    again = api.delete(_url(ready_lecture))
    missing = api.get(_url(ready_lecture, "/vtt"))
    api.post(_url(ready_lecture, "/upload"), {"file": SimpleUploadedFile("a.vtt", VTT)})
    with tasks_run_on_commit():
        queued = api.post(
            _url(ready_lecture, "/transcribe"), {"discard_edits": True}, format="json"
        )
    after = api.get(_url(ready_lecture)).json()

    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "CAPTIONS_EDITED")
    assert (deleted.status_code, again.status_code, missing.status_code) == (204, 404, 404)
    assert (queued.status_code, queued.json()["status"]) == (202, "queued")
    # The task ran here (tasks_run_on_commit): the 2 s clip is a tone, not speech, so the
    # edits are gone and the reason is shown.
    assert (after["status"], after["origin"], after["reason"], after["cues"]) == (
        "awaiting_media",
        None,
        NO_SPEECH,
        [],
    )


def test_articles_have_no_captions_and_videos_without_media_cannot_be_transcribed(
    tenant, instructor, course
):
    api = TenantClient(tenant, user=instructor)
    with in_tenant(tenant):
        section = section_create(course=course, title="More")
        article = lecture_create(section=section, title="Read", kind="article", body="x")
        video = lecture_create(section=section, title="Soon")

    answers = [api.get(_url(article)), api.post(_url(video, "/transcribe"), {}, format="json")]

    assert [(a.status_code, a.json()["error"]["code"]) for a in answers] == [
        (409, "NOT_A_VIDEO"),
        (409, "NOT_READY"),
    ]


def test_students_and_other_instructors_cannot_reach_them(
    tenant, instructor, student, ready_lecture
):
    other = make_user(tenant, "other-teacher@alpha.test", role="instructor")

    answers = [
        TenantClient(tenant, user=student).get(_url(ready_lecture)).status_code,
        TenantClient(tenant, user=other).get(_url(ready_lecture)).status_code,
        TenantClient(tenant).get(_url(ready_lecture)).status_code,
    ]

    assert answers == [403, 404, 401]


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_cue_text_is_inert_in_the_api_the_page_and_the_served_file(
    payload, tenant, instructor, course, ready_lecture, student
):
    from media_pipeline.delivery import media_access_issue

    api = TenantClient(tenant, user=instructor)
    response = api.put(
        _url(ready_lecture), {"cues": [{"start": 0, "end": 1, "text": payload}]}, format="json"
    )
    page = browser(tenant, instructor).get(_page(course, ready_lecture))
    with in_tenant(tenant):
        video = MediaAsset.objects.get(owner_id=ready_lecture.pk, kind="video")
        access = media_access_issue(asset=video, viewer_id=student.pk)
    served = body_of(TenantClient(tenant).get(access.path("captions/en.vtt"))).decode()

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert page.status_code == 200
    assert_inert(_cue_table(page.content.decode()))
    lines = served.split("\n")
    timings = [line for line in lines if TIMING.fullmatch(line)]
    assert len(timings) == 1  # the payload made no cue of its own
    assert not [line for line in lines if line not in timings and ("<" in line or ">" in line)]


def _cue_table(html: str) -> str:
    """The page's cue table (where cue text is rendered) without the page's own form tags."""
    table = html.split('<section class="card" id="captions-cues">', 1)[1].split("</section>")[0]
    table = re.sub(r'<form method="post" novalidate>|</form>', "", table)
    return re.sub(r'<input type="hidden" name="csrfmiddlewaretoken"[^>]*>', "", table)


def test_the_dashboard_page_edits_adds_and_removes_cues(tenant, instructor, course, ready_lecture):
    page = browser(tenant, instructor)
    TenantClient(tenant, user=instructor).post(
        _url(ready_lecture, "/upload"),
        {"file": SimpleUploadedFile("a.vtt", VTT + b"\n00:00:01.600 --> 00:00:01.900\nBye\n")},
    )
    shown = page.get(_page(course, ready_lecture))

    saved = page.post(
        _page(course, ready_lecture),
        {
            "action": "save",
            "start": ["00:00:00.500", "00:00:01.600", "1.95", ""],
            "end": ["00:00:01.500", "00:00:01.900", "00:00:02.000", ""],
            "text": ["Hello again", "Bye", "Added", ""],
            "remove": ["1"],
        },
    )
    wrong = page.post(
        _page(course, ready_lecture),
        {"action": "save", "start": ["00:00:03.000"], "end": ["00:00:02.000"], "text": ["x"]},
    )
    unreadable = page.post(
        _page(course, ready_lecture),
        {"action": "save", "start": ["soon"], "end": ["1"], "text": ["x"]},
    )

    assert shown.status_code == 200
    assert b'value="00:00:01.600"' in shown.content and b">Bye</textarea>" in shown.content
    assert (saved.status_code, saved["Location"]) == (302, _page(course, ready_lecture))
    assert _cues(tenant, ready_lecture) == [(0.5, 1.5, "Hello again"), (1.95, 2.0, "Added")]
    assert wrong.status_code == 400 and b"The end must be after the start." in wrong.content
    assert unreadable.status_code == 400
    assert b"Times are HH:MM:SS.mmm, MM:SS.mmm or seconds." in unreadable.content
    assert _cues(tenant, ready_lecture) == [(0.5, 1.5, "Hello again"), (1.95, 2.0, "Added")]


def test_the_dashboard_page_uploads_asks_before_transcribing_and_removes(
    tenant, instructor, course, ready_lecture
):
    page = browser(tenant, instructor)
    bad = page.post(
        _page(course, ready_lecture),
        {"action": "upload", "file": SimpleUploadedFile("a.vtt", b"WEBVTT\n\nno timing\n")},
    )
    good = page.post(
        _page(course, ready_lecture), {"action": "upload", "file": SimpleUploadedFile("a.vtt", VTT)}
    )
    ask = page.post(_page(course, ready_lecture), {"action": "transcribe"})
    kept = _cues(tenant, ready_lecture)
    removed = page.post(_page(course, ready_lecture), {"action": "delete"})

    assert bad.status_code == 400
    assert "line 3: a cue needs a timing line" in bad.content.decode()
    assert good.status_code == 302
    assert ask.status_code == 200
    assert b"Discard my edits and transcribe" in ask.content
    assert kept == [(0.5, 1.5, "Hello there")]
    assert removed.status_code == 302 and _cues(tenant, ready_lecture) == []
