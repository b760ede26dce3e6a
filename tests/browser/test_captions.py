"""Captions in the real player: the session's espeak-ng lecture (tests/plugins/media.py
``speech_clip``) uploaded to the e2e school, transcoded and then transcribed by the session's
Celery worker (queues ``transcode`` and ``captions``), and indexed for search. An enrolled
student searches two spoken words from the header in Chromium; the transcript hit opens the
lecture at its cue's second (``?t=``). hls.js lists the master playlist's SUBTITLES
rendition as a text track that is off; media-chrome's captions button turns it on, hls.js
loads the WebVTT, and the cue active at the playing time holds the words spoken then, at the
times the database has (the WebVTT's X-TIMESTAMP-MAP puts them on the MPEG-TS timeline: without
it every cue would show about 1.5 s early). The button turns them off again.
"""

import json
import math
import secrets
import time

import pytest

from tests.browser.test_api_docs import CSP_MESSAGE, VIOLATION_RECORDER
from tests.browser.test_student_site import fetch_in_page, player_ready
from tests.plugins.browser import save_screenshot

pytestmark = [pytest.mark.timeout(600), pytest.mark.django_db]

PASSWORD = "captions-pass-phrase-3"
READY_TIMEOUT = 180.0  # seconds for the worker to transcode and transcribe the lecture
MAX_SHIFT = 0.12  # seconds: 3 frames at 25 fps, what the MPEG-TS start adds to a cue's time
# The first text track of the video whose kind is subtitles (hls.js adds it from the master
# playlist's EXT-X-MEDIA), as plain data.
SUBTITLES = """() => {
  const tracks = Array.from(window.lecternPlayer.video.textTracks)
    .filter((t) => t.kind === "subtitles");
  if (!tracks.length) return null;
  const t = tracks[0];
  const cues = Array.from(t.cues || []).map((c) => [c.startTime, c.endTime, c.text]);
  const active = Array.from(t.activeCues || []).map((c) => [c.startTime, c.endTime, c.text]);
  return { count: tracks.length, language: t.language, label: t.label, mode: t.mode,
           cues, active, time: window.lecternPlayer.video.currentTime };
}"""


@pytest.fixture(scope="module")
def captions_course(e2e_school, web_server, celery_worker, django_db_blocker, speech_clip):
    """A published English course of the session school with one lecture: the speech clip,
    uploaded, transcoded and transcribed by the worker; an enrolled student."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import tenant_context

    from courses.services import course_create, lecture_create, section_create
    from enrollment.models import Enrollment
    from media_pipeline.models import CaptionCue, MediaAsset
    from media_pipeline.uploads import upload_from_path
    from search.models import TranscriptPassage
    from tenants.models import Tenant

    email = f"listener-{secrets.token_hex(3)}@captions.test"
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(schema_name=e2e_school.schema_name)
        with tenant_context(tenant):
            User = get_user_model()
            owner = User.objects.get(email=e2e_school.owner_email)
            student = User.objects.create_user(email=email, password=PASSWORD, role="student")
            course = course_create(title="Captioned course", published=True, created_by=owner)
            lecture = lecture_create(
                section=section_create(course=course, title="Plants"), title="Photosynthesis"
            )
            Enrollment.objects.create(student=student, course=course)
            started = time.monotonic()
            upload_from_path(user=owner, lecture_id=lecture.id, path=speech_clip)
            while True:
                track = MediaAsset.objects.filter(owner_id=lecture.id, kind="captions").first()
                if track is not None and track.status in ("ready", "failed", "awaiting_media"):
                    break
                assert time.monotonic() - started < READY_TIMEOUT, "no captions in time"
                time.sleep(0.25)
            assert (track.status, track.version, track.error) == ("ready", 1, None)
            cues = list(
                CaptionCue.objects.filter(owner_id=lecture.id)
                .order_by("position")
                .values_list("start", "end", "text")
            )
            # The worker indexes the new transcript for search (captions_changed).
            while not TranscriptPassage.objects.filter(lecture_id=lecture.id).exists():
                assert time.monotonic() - started < READY_TIMEOUT, "transcript not indexed"
                time.sleep(0.25)
        connection.set_schema_to_public()
    return {
        "base": f"http://{web_server.host(e2e_school.subdomain)}",
        "course": str(course.id),
        "lecture": str(lecture.id),
        "student": email,
        "cues": cues,
        "seconds": round(time.monotonic() - started, 1),
    }


def test_the_captions_button_shows_the_spoken_words_at_their_time(
    captions_course, chromium, artifacts_dir, record_property
):
    base, course, lecture = (captions_course[k] for k in ("base", "course", "lecture"))
    cues = captions_course["cues"]
    record_property("upload_to_captions_seconds", captions_course["seconds"])
    assert len(cues) == 2, cues
    second = next(cue for cue in cues if "chlorophyll" in cue[2].lower())
    start_at = round(second[0] + 0.6, 3)
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(VIOLATION_RECORDER)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.goto(f"{base}/login/?next=/my/courses/")
    page.fill("#id_username", captions_course["student"])
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/my/courses/")

    # Words spoken in the lecture, searched from the header: the transcript hit names the
    # second its cue starts, and opening it starts the player there.
    page.fill("#site-search-q", "chlorophyll sunlight")
    page.press("#site-search-q", "Enter")
    page.wait_for_url(f"{base}/search/?q=chlorophyll+sunlight", timeout=10_000)
    hit = page.locator("#search-results li.search-result[data-type=transcript]")
    assert hit.count() == 1
    second_at = math.floor(second[0])
    assert hit.locator(".search-result__time").inner_text() == f"0:{second_at:02d}"
    assert [m.lower() for m in hit.locator(".search-result__snippet mark").all_inner_texts()] == [
        "chlorophyll",
        "sunlight",
    ]
    hit.locator("h2 a").click()
    page.wait_for_url(f"{base}/courses/{course}/lectures/{lecture}/?t={second_at}")
    player_ready(page)
    assert page.evaluate("() => window.lecternPlayer.startAt") == second_at
    page.wait_for_function(
        f"() => Math.abs(window.lecternPlayer.video.currentTime - {second_at}) < 0.3",
        timeout=15_000,
    )

    # A fractional ?t= (not the resume position) is honoured too, and stays while the player
    # is paused even when the page just left reports its last position (the account's socket
    # sends it as `lectern:resume`).
    page.goto(f"{base}/courses/{course}/lectures/{lecture}/?t={start_at}")
    player_ready(page)
    assert page.evaluate("() => window.lecternPlayer.startAt") == start_at
    page.wait_for_function(
        f"() => Math.abs(window.lecternPlayer.video.currentTime - {start_at}) < 0.3",
        timeout=15_000,
    )
    page.evaluate(
        "(lecture) => document.dispatchEvent(new CustomEvent('lectern:resume',"
        " {detail: {lecture_id: lecture, position: 0.5}}))",
        lecture,
    )
    page.wait_for_timeout(300)
    assert abs(page.evaluate("() => window.lecternPlayer.video.currentTime") - start_at) < 0.3

    # The subtitle rendition is a text track, off until the button is pressed.
    page.wait_for_function(f"() => ({SUBTITLES})() !== null", timeout=15_000)
    before = page.evaluate(SUBTITLES)
    assert (before["count"], before["language"], before["label"]) == (1, "en", "English")
    assert before["mode"] != "showing" and before["active"] == []

    page.click("media-captions-button")
    page.wait_for_function(
        f"() => {{ const s = ({SUBTITLES})(); return s.mode === 'showing'"
        f" && s.cues.length === {len(cues)} && s.active.length > 0; }}",
        timeout=20_000,
    )
    shown = page.evaluate(SUBTITLES)
    # hls.js starts its timeline at the segments' first decode time, the picture and sound of
    # the lecture's second 0 come two frames later (x264's B-frame delay): every cue is shifted
    # by exactly that, like the sound it captions. Without X-TIMESTAMP-MAP the shift would be
    # about -1.4 s.
    shifts = [
        (b_start - start, b_end - end)
        for (start, end, _), (b_start, b_end, _text) in zip(cues, shown["cues"], strict=True)
    ]
    shift = shifts[0][0]
    assert 0 <= shift <= MAX_SHIFT, shifts
    assert all(abs(a - shift) <= 0.002 and abs(b - shift) <= 0.002 for a, b in shifts), shifts
    active_start, active_end, active_text = shown["active"][0]
    assert "chlorophyll" in active_text.lower() and "sunlight" in active_text.lower()
    assert active_start <= shown["time"] <= active_end, shown
    save_screenshot(page, artifacts_dir, "captions-on.png")

    # Playing back from the first sentence shows the first cue, with its words.
    first = cues[0]
    page.evaluate(
        f"() => {{ const v = window.lecternPlayer.video; v.muted = true;"
        f" v.currentTime = {first[0] + 0.3}; v.play(); }}"
    )
    page.wait_for_function(
        f"() => {{ const s = ({SUBTITLES})(); return s.time > {first[0] + 0.5}"
        f" && s.active.some((c) => c[2].toLowerCase().includes('photosynthesis')); }}",
        timeout=15_000,
    )
    page.evaluate("() => window.lecternPlayer.video.pause()")

    # The button turns them off again.
    page.click("media-captions-button")
    page.wait_for_function(f"() => ({SUBTITLES})().mode !== 'showing'", timeout=10_000)

    # The playback object names the same track with a signed URL; the file is inert text.
    status, body = fetch_in_page(page, f"/api/v1/students/courses/{course}/lectures/{lecture}")
    assert status == 200
    listed = json.loads(body)["captions"]
    assert [(t["language"], t["label"]) for t in listed] == [("en", "English")]
    assert "/captions/en.vtt?token=" in listed[0]["url"]
    status, vtt = fetch_in_page(page, listed[0]["url"])
    assert status == 200 and vtt.startswith(b"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:")
    assert not [line for line in console if CSP_MESSAGE in line], console
    context.close()
