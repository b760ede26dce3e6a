"""Search in a real browser (Debian's headless Chromium against the session's uvicorn server
and transcoded course of ``tests/browser/conftest.py``).

A student types into the header's search box: suggestions appear under it (a typo too), the
arrow keys move through them (the ARIA combobox: ``aria-expanded``, ``aria-activedescendant``,
``aria-selected``), Escape closes them and Enter on one searches for its title: the results
page shows the course with the matched word marked. A search for a word spoken in the first
lecture finds its transcript at the cue's time, and the result opens the lecture page at
``?t=<seconds>``. No script or style is refused by the CSP, and the console has no error.
"""

import secrets
import time

import pytest

from tests.browser.test_api_docs import CSP_MESSAGE, VIOLATION_RECORDER

pytestmark = [pytest.mark.timeout(300), pytest.mark.django_db]

PASSWORD = "search-pass-phrase-7"
SPOKEN = "Marzipan"
CAPTIONS_TIMEOUT = 120.0  # seconds for the worker's captions run of the lecture


@pytest.fixture(scope="module")
def searcher(browser_course, e2e_school, django_db_blocker):
    """A student of the session school enrolled in the browser course, whose first lecture
    has captions (indexed as the captions code's hook would have them)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import tenant_context

    from enrollment.models import Enrollment
    from media_pipeline.models import CaptionCue, MediaAsset
    from search.services import transcript_index
    from tenants.models import Tenant

    email = f"searcher-{secrets.token_hex(3)}@e2e.test"
    lecture_id = browser_course.lecture_ids[0]
    with django_db_blocker.unblock():
        with tenant_context(Tenant.objects.get(schema_name=e2e_school.schema_name)):
            student = get_user_model().objects.create_user(
                email=email, password=PASSWORD, role="student"
            )
            Enrollment.objects.create(student=student, course_id=browser_course.course_id)
            # The worker transcribes the lecture after its transcode (a tone: no speech, no
            # cues). Once that run is over, the track becomes an uploaded one, which no later
            # run replaces.
            deadline = time.monotonic() + CAPTIONS_TIMEOUT
            while True:
                asset = MediaAsset.objects.filter(owner_id=lecture_id, kind="captions").first()
                if asset is not None and asset.status in ("ready", "failed", "awaiting_media"):
                    break
                assert time.monotonic() < deadline, "the lecture's captions run did not end"
                time.sleep(0.25)
            MediaAsset.objects.filter(id=asset.id).update(
                status="ready", origin="uploaded", language="en", error=None
            )
            CaptionCue.objects.filter(asset=asset).delete()
            CaptionCue.objects.bulk_create(
                CaptionCue(asset=asset, owner_id=lecture_id, position=n, start=a, end=b, text=t)
                for n, (a, b, t) in enumerate(
                    [(0.0, 4.0, "Welcome to the first steps."), (6.5, 9.0, f"{SPOKEN} is sweet.")]
                )
            )
            assert transcript_index(lecture_id=lecture_id) == 1
        connection.set_schema_to_public()
    return email


def test_suggestions_keyboard_and_highlighted_results(browser_course, searcher, chromium):
    base = browser_course.base_url
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(VIOLATION_RECORDER)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.goto(f"{base}/login/?next=/my/courses/")
    page.fill("#id_username", searcher)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/my/courses/")

    box = page.locator("#site-search-q")
    options = page.locator("#site-search-list [role=option]")
    # A typo ("brwser") still suggests the course.
    box.press_sequentially("brwser", delay=30)
    options.first.wait_for(timeout=10_000)
    assert box.get_attribute("aria-expanded") == "true"
    assert options.first.locator("span").inner_text() == "Browser course"
    box.press("Escape")
    assert page.locator("#site-search-list").is_hidden()
    assert box.get_attribute("aria-expanded") == "false"

    box.fill("")
    box.press_sequentially("brow", delay=30)
    page.wait_for_function(
        "() => document.querySelector('#site-search-list [role=option] span')?.textContent"
        " === 'Browser course'",
        timeout=10_000,
    )
    box.press("ArrowDown")
    first = options.first
    assert first.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")
    box.press("Enter")
    page.wait_for_url(f"{base}/search/?q=Browser+course", timeout=10_000)
    result = page.locator("#search-results li.search-result").first
    assert result.get_attribute("data-type") == "course"
    assert result.locator("h2 mark").first.inner_text() == "Browser"
    assert page.input_value("#site-search-q") == "Browser course"

    # A word of the transcript: found at its cue, and the result opens the player there.
    box.fill(SPOKEN.lower())
    box.press("Enter")
    page.wait_for_url(f"{base}/search/?q={SPOKEN.lower()}", timeout=10_000)
    hit = page.locator("#search-results li.search-result[data-type=transcript]")
    assert hit.count() == 1
    assert hit.locator(".search-result__time").inner_text() == "0:06"
    assert hit.locator(".search-result__snippet mark").inner_text() == SPOKEN
    hit.locator("h2 a").click()
    lecture = browser_course.lecture_ids[0]
    page.wait_for_url(
        f"{base}/courses/{browser_course.course_id}/lectures/{lecture}/?t=6", timeout=10_000
    )

    assert page.evaluate("() => window.__cspViolations") == []
    assert [line for line in console if CSP_MESSAGE in line] == []
    assert [line for line in console if line.startswith("error")] == []
    context.close()
