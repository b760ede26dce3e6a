"""The engagement pages in a real browser (Debian's headless Chromium against the session's
uvicorn server, worker and transcoded course of ``tests/browser/conftest.py``).

A student plays a lecture and writes a note "at the current time": the "Notes" panel lists it
with its mm:ss time, and clicking that time seeks the video there. On ``/notes/`` a search for
the stem of one of its words finds it with the word marked, and the course's export link
downloads the Markdown document holding it. Then the student likes the lecture (the state
survives a reload), saves it and the course to "Watch later", reorders the two on ``/lists/``
by dragging (SortableJS; the order is stored through the API), and follows the course's
instructor on the public instructor page. No script or style is refused by the CSP.
"""

import json
import secrets

import pytest

from tests.browser.test_api_docs import CSP_MESSAGE, VIOLATION_RECORDER
from tests.browser.test_student_site import fetch_in_page, player_ready

pytestmark = [pytest.mark.timeout(300), pytest.mark.django_db]

PASSWORD = "engage-pass-phrase-5"
NOTE_BODY = "Composite indexes speed up the **lookups** by course."
PLAY_TO = 3.0  # seconds of video played before the note is written


@pytest.fixture(scope="module")
def engaged(browser_course, e2e_school, django_db_blocker):
    """Two students of the session school, each enrolled in the browser course without an
    access code (the conftest's codes belong to test_student_site), and the course's owner."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import schema_context

    from enrollment.models import Enrollment

    emails = [f"engaged-{n}-{secrets.token_hex(3)}@e2e.test" for n in range(2)]
    with django_db_blocker.unblock():
        with schema_context(e2e_school.schema_name):
            User = get_user_model()
            owner = User.objects.get(email=e2e_school.owner_email)
            for email in emails:
                student = User.objects.create_user(email=email, password=PASSWORD, role="student")
                Enrollment.objects.create(student=student, course_id=browser_course.course_id)
        connection.set_schema_to_public()
    return {"students": emails, "owner_id": owner.pk}


def _open(chromium, base: str, email: str):
    """A new 1280x800 context logged in as ``email``: ``(context, page, console lines)``."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.add_init_script(VIOLATION_RECORDER)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.goto(f"{base}/login/?next=/my/courses/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/my/courses/")
    return context, page, console


def _api_json(page, url: str):
    status, body = fetch_in_page(page, url)
    return status, json.loads(body)


def test_notes_at_the_current_time_seek_search_and_export(browser_course, engaged, chromium):
    base = browser_course.base_url
    course, lecture = browser_course.course_id, browser_course.lecture_ids[0]
    context, page, console = _open(chromium, base, engaged["students"][0])
    page.goto(f"{base}/courses/{course}/lectures/{lecture}/")
    player_ready(page)

    # Play, pause past PLAY_TO: the form's label follows the player's position.
    page.evaluate("() => { const v = window.lecternPlayer.video; v.muted = true; v.play(); }")
    page.wait_for_function(
        f"() => window.lecternPlayer.video.currentTime >= {PLAY_TO}", timeout=30_000
    )
    page.evaluate("() => window.lecternPlayer.video.pause()")
    paused_at = page.evaluate("() => window.lecternPlayer.video.currentTime")
    label = f"00:{int(paused_at):02d}"
    page.wait_for_function(
        f"() => document.getElementById('note-time').textContent === '{label}'", timeout=5_000
    )
    assert page.is_checked("#note-at-time")
    page.fill("#note-body", "Composite indexs speed up lookups.")
    page.click("#note-form button[type=submit]")
    note = page.locator("#note-list li.note")
    note.wait_for(timeout=10_000)
    assert page.inner_text("#note-status") == "Saved."
    assert page.input_value("#note-body") == ""
    assert note.count() == 1
    assert note.locator(".note__time").inner_text() == label

    # Edit it (the prompt starts from the Markdown source), then write an untimed note and
    # delete it (after the confirmation).
    prompts = []

    def answer(dialog):
        prompts.append((dialog.type, dialog.message, dialog.default_value))
        dialog.accept(NOTE_BODY) if dialog.type == "prompt" else dialog.accept()

    page.on("dialog", answer)
    note.locator("[data-edit]").click()
    page.wait_for_function(
        "() => document.querySelector('#note-list .note__body strong')?.textContent === 'lookups'",
        timeout=5_000,
    )
    page.uncheck("#note-at-time")
    page.fill("#note-body", "Scratch <img src=x onerror=alert(1)>")
    page.click("#note-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelectorAll('#note-list li.note').length === 2", timeout=5_000
    )
    scratch = note.nth(1)  # untimed notes come last
    assert scratch.locator(".note__time").count() == 0
    assert scratch.locator(".note__body img").count() == 0
    assert scratch.locator(".note__body").inner_text() == "Scratch <img src=x onerror=alert(1)>"
    scratch.locator("[data-delete]").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#note-list li.note').length === 1", timeout=5_000
    )
    page.remove_listener("dialog", answer)
    assert prompts == [
        ("prompt", "Edit the note", "Composite indexs speed up lookups."),
        ("confirm", "Delete this note?", ""),
    ]
    assert note.locator(".note__time").inner_text() == label
    status, notes = _api_json(page, f"/api/v1/notes?lecture={lecture}")
    assert status == 200 and notes["count"] == 1
    stored = notes["results"][0]
    assert stored["timestamp"] == pytest.approx(paused_at, abs=0.1)
    assert stored["timestamp_label"] == label

    # Move away, then the note's time seeks back to it.
    page.evaluate("() => { window.lecternPlayer.video.currentTime = 12; }")
    page.wait_for_function(
        "() => !window.lecternPlayer.video.seeking"
        " && Math.abs(window.lecternPlayer.video.currentTime - 12) < 0.5",
        timeout=10_000,
    )
    note.locator(".note__time").click()
    page.wait_for_function(
        f"() => Math.abs(window.lecternPlayer.video.currentTime - {stored['timestamp']}) <= 0.5",
        timeout=10_000,
    )
    page.evaluate("() => window.lecternPlayer.video.pause()")
    assert (
        abs(page.evaluate("() => window.lecternPlayer.video.currentTime") - stored["timestamp"])
        <= 0.5
    )

    # The panel drawn by the server after a reload: the same note, the same time.
    page.reload()
    player_ready(page)
    assert page.locator("#note-list li.note").count() == 1
    assert page.inner_text("#note-list .note__time") == label

    # /notes/: "index" finds "indexes" (English stemming), marked in the snippet.
    page.click("#panel-notes a[href='/notes/']")
    page.wait_for_url(f"{base}/notes/")
    page.fill("#notes-q", "index")
    page.click("form.notes-search button[type=submit]")
    page.wait_for_url(lambda url: "q=index&" in url)
    results = page.locator("#note-results li.note")
    assert results.count() == 1
    assert results.locator("mark").all_inner_texts() == ["indexes"]
    assert results.locator(".note__snippet").inner_text() == (
        "Composite indexes speed up the **lookups** by course."
    )
    page.fill("#notes-q", "velocity")
    page.click("form.notes-search button[type=submit]")
    page.wait_for_url(lambda url: "q=velocity&" in url)
    assert page.inner_text("#notes-empty") == "No note matches “velocity”."

    # The course's export link downloads the Markdown document.
    with page.expect_download() as download_info:
        page.click(f"a[data-export='{course}']")
    download = download_info.value
    assert download.suggested_filename == "notes-browser-course.md"
    assert download.path().read_text(encoding="utf-8").splitlines() == [
        "# Notes: Browser course",
        "",
        "## Getting started",
        "",
        "### First steps",
        "",
        f"#### {label}",
        "",
        NOTE_BODY,
    ]
    assert page.evaluate("window.__cspViolations") == []
    context.close()
    assert not [line for line in console if line.startswith("error")], console
    assert [line for line in console if CSP_MESSAGE in line] == []


def test_like_save_reorder_and_follow(browser_course, engaged, chromium):
    base = browser_course.base_url
    course, lecture = browser_course.course_id, browser_course.lecture_ids[0]
    lecture_path = f"/courses/{course}/lectures/{lecture}/"
    context, page, console = _open(chromium, base, engaged["students"][1])

    # Like: the button turns, and stays so after a reload.
    page.goto(f"{base}{lecture_path}")
    like = page.locator("#like-button")
    assert (like.inner_text(), like.get_attribute("aria-pressed")) == ("♡ Like", "false")
    like.click()
    page.wait_for_function(
        "() => document.getElementById('like-button').getAttribute('aria-pressed') === 'true'",
        timeout=5_000,
    )
    assert like.inner_text() == "♥ Liked"
    page.reload()
    assert (like.inner_text(), like.get_attribute("aria-pressed")) == ("♥ Liked", "true")

    # Save the lecture to Watch later from the panel.
    assert page.locator("#save-list option").all_inner_texts() == ["Watch later"]
    page.click("#save-form button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('save-status').textContent !== ''", timeout=5_000
    )
    assert page.inner_text("#save-status") == "Saved to Watch later."
    assert page.locator("#save-list option").all_inner_texts() == ["Watch later (saved)"]

    # And the whole course from the course page's button.
    page.goto(f"{base}/courses/{course}/")
    page.click("#watch-later")
    page.wait_for_function("() => document.getElementById('watch-later').disabled", timeout=5_000)
    assert page.inner_text("#watch-later") == "In Watch later"

    # /lists/: both, in the order saved; drag the course above the lecture.
    page.goto(f"{base}/lists/")
    later = page.locator("section.saved-list[data-kind='watch_later']")
    items = later.locator("li.saved-item")
    assert items.locator("a").all_inner_texts() == [
        "First steps · Browser course",
        "Browser course · course",
    ]
    list_id = later.get_attribute("data-list-id")
    before = items.evaluate_all("(li) => li.map((x) => Number(x.dataset.itemId))")
    source = items.nth(1).locator(".drag-handle").bounding_box()
    target = items.nth(0).bounding_box()
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
    page.mouse.down()
    steps = 8
    for step in range(1, steps + 1):
        page.mouse.move(
            source["x"] + source["width"] / 2,
            source["y"] + (target["y"] + 2 - source["y"]) * step / steps,
        )
    page.mouse.up()
    page.wait_for_function(
        "() => document.getElementById('lists-status').textContent === 'Order saved.'",
        timeout=5_000,
    )
    status, stored = _api_json(page, f"/api/v1/lists/{list_id}")
    assert status == 200
    assert [item["id"] for item in stored["items"]] == before[::-1]
    assert [item["position"] for item in stored["items"]] == [1, 2]
    page.reload()
    assert later.locator("li.saved-item a").all_inner_texts() == [
        "Browser course · course",
        "First steps · Browser course",
    ]

    # Follow the course's instructor on their public page.
    page.goto(f"{base}/instructors/{engaged['owner_id']}/")
    button = page.locator("#follow-button")
    button.wait_for(timeout=5_000)
    assert (button.inner_text(), button.get_attribute("aria-pressed")) == ("Follow", "false")
    button.click()
    page.wait_for_function(
        "() => document.getElementById('follow-button').textContent === 'Following'",
        timeout=5_000,
    )
    assert button.get_attribute("aria-pressed") == "true"
    assert _api_json(page, f"/api/v1/instructors/{engaged['owner_id']}/follow") == (
        200,
        {"following": True},
    )
    page.reload()
    page.locator("#follow-button").wait_for(timeout=5_000)
    assert page.inner_text("#follow-button") == "Following"
    assert page.evaluate("window.__cspViolations") == []
    context.close()
    assert not [line for line in console if line.startswith("error")], console
    assert [line for line in console if CSP_MESSAGE in line] == []
